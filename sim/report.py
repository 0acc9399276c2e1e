"""The report: one self-contained HTML file a planner can hand to a board.

Built from a :class:`~sim.results.Results` only (never the model): headline findings in plain
sentences generated from the numbers, the tables with intervals, the figures embedded as
images, a STRESS-DES checklist filled from the scenario, and the scenario as run.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import jinja2
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from . import plots
from .compare import NOT_COMPARED
from .metrics import LABELS, SYSTEM_METRICS
from .monthly import WAIT_METRICS, first_months_over
from .planning import Target, parse_target
from .results import Results, levels_reached, sweep_headline
from .scenario import Scenario
from .trust import GROWTH_KINDS
from .version import package_version

ENVIRONMENT = jinja2.Environment(loader=jinja2.PackageLoader("sim", "templates"),
                                 autoescape=jinja2.select_autoescape(["html"]))


def _value(results: Results, level: str, metric: str) -> tuple[float, float, float]:
    row = results.summary[(results.summary["level"] == level) & (results.summary["metric"] == metric)]
    if row.empty:
        return np.nan, np.nan, np.nan
    return float(row["mean"].iloc[0]), float(row["ci_low"].iloc[0]), float(row["ci_high"].iloc[0])


def _days(value: float) -> str:
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"


def findings(results: Results) -> list[str]:
    """Plain sentences about each level and the system, with their intervals."""
    sentences = []
    target = results.scenario.run.wait_target_days
    growing = {warning["level"] for warning in results.warnings if warning["kind"] in GROWTH_KINDS}
    for level in results.scenario.level_names:
        p90, low, high = _value(results, level, "wait_p90_days")
        waitlist = _value(results, level, "waitlist_mean")[0]
        occupancy = _value(results, level, "occupancy")[0]
        over = _value(results, level, "wait_over_target_share")[0]
        blocked = _value(results, level, "blocked_days_per_year")[0]
        text = (f"{level}: 90% of patients start within {_days(p90)} days ({_days(low)}-{_days(high)}); "
                f"the waitlist averages {waitlist:.0f} {'person' if round(waitlist) == 1 else 'people'} "
                f"and places are {occupancy:.0%} full")
        if np.isfinite(over) and over > 0.005:
            text += f"; {over:.0%} wait longer than {target:g} day{'s' if target != 1 else ''}"
        if np.isfinite(blocked) and blocked >= 1:
            text += f"; patients ready to move on spend {blocked:,.0f} days a year held here"
        if level in growing:
            text += " (but its waitlist keeps growing: these figures depend on the run's length; see the warning)"
        sentences.append(text + ".")
    readmit, low, high = _value(results, "all", "readmit_30d_share")
    if np.isfinite(readmit) and results.scenario.relapse is not None:
        first = results.scenario.level_names[0]
        sentences.append(f"{readmit:.1%} ({low:.1%}-{high:.1%}) of {first} discharges are readmitted to {first} "
                         "within 30 days.")
    relapses = _value(results, "all", "relapses_per_year")[0]
    if relapses > 0:
        sentences.append(f"{relapses:,.0f} people a year come back into care after leaving it (relapse).")
    return sentences


def checklist(results: Results) -> list[tuple[str, str]]:
    """STRESS-DES items (Monks et al. 2019), filled from the scenario and the run."""
    scenario, run, meta = results.scenario, results.scenario.run, results.meta
    stays = "; ".join(f"{name}: {spec.los.dist}" for name, spec in scenario.levels.items())
    warmup = (f"{run.warmup_days} days, chosen by MSER-5 from a pilot run" if "warmup" in meta
              else f"{run.warmup_days} days")
    return [
        ("1.1 Purpose", scenario.description.strip() or scenario.name),
        ("1.2 Outputs", "Per level: referrals, arrivals, admissions, census, occupancy, waitlist, waits (mean, median, "
                        "90th percentile, share over target), blocked days, stays, gave up, turned away; system: "
                        "relapses, 30-day readmission, patients in care; staff FTE and cost where staff are given."),
        ("1.3 Experimentation", f"{run.replications} independent replications of one scenario; comparisons and "
                                "sweeps use common random numbers."),
        ("2.1 Model overview", f"{len(scenario.levels)} levels of care ({', '.join(scenario.level_names)}), each with "
                               "places, a waitlist and a stay; patients move on by shares, may be held in place when "
                               "the next level is full, may give up waiting, and may relapse back into care."),
        ("2.2 Modelling approach", "Discrete-event simulation in SimPy; time in days, continuous."),
        ("3.1 Data sources", "See the comments in the scenario file; the bundled scenarios' figures, each graded as "
                             "sourced, partial or assumed, and their citations are in docs/sources.md."),
        ("3.2 Input parameters", f"Stay distributions: {stays}."),
        ("4.1 Initialisation", f"Warm-up {warmup}, not measured; starting state: "
                               + ("today's numbers (initial census and waitlist)"
                                  if any(spec.initial.census or spec.initial.waitlist for spec in
                                         scenario.levels.values()) else "empty")),
        ("4.2 Run length", f"{run.days} measured days per replication."),
        ("4.3 Estimation", "Mean across replications with a 95% Student-t confidence interval."),
        ("5.1 Software", f"continuum {meta.get('version', '')} (Python {meta.get('python', '')}, SimPy, NumPy)."),
        ("5.2 Random sampling", f"NumPy PCG64, one stream per (seed {run.seed}, replication, level, purpose); "
                                "inverse-transform sampling, one uniform per draw."),
        ("5.3 Model execution", f"{meta.get('executor', 'processes')} with {meta.get('jobs')} jobs; identical "
                                "numbers whichever runs it."),
        ("5.4 System", f"{meta.get('platform', '')}; wall time {meta.get('wall_time_seconds', '')} s."),
        ("6 Code access", "The continuum package and this scenario file reproduce every number here exactly."),
    ]


COLUMN_LABELS = {
    **LABELS,   # every metric's label from sim.metrics; the report's other columns below
    "fte_at_mean": "FTE at mean census", "fte_at_p90": "FTE at 90th percentile", "fte_at_capacity": "FTE at capacity",
    "cost_per_year_at_mean": "Cost a year (at mean)", "warning": "Warning",
}


PLAN_LABELS = {"current_capacity": "Today", "theory_guess": "Theory's guess", "planned_capacity": "Planned",
               "met": "Met", "note": "Note", "reached": "Reached in the verification run (mean, 95% interval)"}


def _table(frame: pd.DataFrame | None) -> str:
    """A table in the planner's words: readable headers, no index names."""
    if frame is None or frame.empty:
        return ""
    shown = frame.rename(columns=COLUMN_LABELS)
    shown.columns.name = None
    shown.index.names = [None] * shown.index.nlevels
    return shown.to_html(border=0, na_rep="-")


def flagged(table: pd.DataFrame, warnings: list[dict]) -> pd.DataFrame:
    """The level table with a ``warning`` column naming each level's warnings (none: unchanged)."""
    kinds: dict[str, list[str]] = {}
    for warning in warnings:
        kinds.setdefault(warning["level"], []).append(warning["kind"].replace("_", " "))
    if not kinds.keys() & set(table.index):
        return table
    return table.assign(warning=[", ".join(kinds.get(level, [])) for level in table.index])


Planned = tuple[str, str, Callable[[], Figure]]
"""A figure to draw: its file name, its caption and what draws it (a picklable ``partial`` of a
:mod:`sim.plots` function, so that another process can draw it: :func:`write_report`)."""
Drawn = Sequence[tuple[str, str, "Figure | bytes"]]
"""Figures with their file names and captions: drawn in this process, or as the PNG another drew."""


def figures(results: Results) -> list[tuple[str, str, Figure]]:
    """``(file name, caption, Figure)`` for every figure the results support."""
    return _drawn(_figure_plans(results))


def _drawn(planned: Sequence[Planned]) -> list[tuple[str, str, Figure]]:
    return [(name, caption, draw()) for name, caption, draw in planned]


def _figure_plans(results: Results) -> list[Planned]:
    scenario = results.scenario
    levels = scenario.level_names
    found: list[Planned] = [
        ("census_over_time", "Patients in care and waiting, per level: median over replications with a 90% band; "
                             "capacity as a line; warm-up shaded.",
         partial(plots.census_over_time, results.daily, levels, scenario.run.resolved_warmup_days)),
        ("wait_curves", f"Days waited before admission: share of admissions within each wait; the target "
                        f"({scenario.run.wait_target_days:g} days) marked.",
         partial(plots.wait_curves, results.wait_quantiles, levels, scenario.run.wait_target_days)),
        ("flow_diagram", "Patients a year from the community through each level to discharge, dropout and back by "
                         "relapse.", partial(plots.flow_diagram, results.flows, levels)),
        ("occupancy_and_blocking", "Occupancy and blocked days per level, with 95% intervals.",
         partial(plots.occupancy_and_blocking, results.summary, levels)),
    ]
    if results.staffing is not None and not results.staffing.empty:
        found.append(("staffing", "Staff needed by role and level (FTE at the mean census, 95% interval).",
                      partial(plots.staffing_chart, results.staffing)))
    return found


@dataclass(frozen=True)
class Embedded:
    """A figure on the page: its caption, and its PNG as base64, made when the page is rendered."""

    caption: str
    image: Figure | bytes

    @property
    def png(self) -> str:
        data = self.image if isinstance(self.image, bytes) else plots.png_bytes(self.image)
        return base64.b64encode(data).decode("ascii")


def section(title: str, note: str, table: pd.DataFrame | None, drawn: Drawn) -> dict:
    """An extra report section: a table and figures (for comparisons and sweeps)."""
    return {"title": title, "note": note, "table": _table(table),
            "figures": [Embedded(caption, figure) for _, caption, figure in drawn]}


def render(results: Results, drawn: Drawn, sections: list[dict] | None = None,
           groups: dict | None = None) -> str:
    """The report as one HTML string, figures embedded; ``sections`` come before the levels, the patient
    groups (:func:`groups_section`) after them."""
    scenario, run = results.scenario, results.scenario.run
    template = ENVIRONMENT.get_template("report.html")
    return template.render(
        sections=sections or [],
        title=scenario.name,
        description=scenario.description.strip(),
        method_sentence=(f"{run.replications} replications of {run.days} days each, measured after a warm-up of "
                         f"{run.warmup_days} days; seed {run.seed}; 95% confidence intervals across replications."),
        warnings=[warning["message"] for warning in results.warnings],
        findings=findings(results),
        level_table=_table(flagged(results.headline(), results.warnings)),
        system_table=_table(results.headline(SYSTEM_METRICS, ["all"])),
        groups=groups,
        staffing_table=_table(results.staffing_headline()),
        figures=[Embedded(caption, figure) for _, caption, figure in drawn],
        checklist=checklist(results),
        scenario_yaml=scenario.to_yaml(),
        version=results.meta.get("version", ""),
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def write_report(results: Results, folder: str | Path, sections: list[dict] | None = None,
                 extra_figures: Sequence[tuple[str, str, Figure]] = (), jobs: int | None = 1,
                 figures_from: str | Path | None = None) -> Path:
    """Write ``report.html`` and ``figures/*.png|svg`` into ``folder`` (an existing folder); a forecast
    (:func:`is_forecast`) gets its section first, with a fan chart per level. ``jobs``: processes to draw
    the figures in (:func:`sim.plots.save_all`; None: every core). ``figures_from``: a folder where the figures
    of these same ``results`` were written already (a plan's ``planned/figures``): copied, not drawn again."""
    folder = Path(folder)
    planned, fans = _figure_plans(results), _fan_plans(results) if is_forecast(results) else []
    by_group = _group_plans(results) if len(results.scenario.group_names) > 1 else []
    own = [(draw, name) for name, _, draw in [*planned, *fans, *by_group]]
    extra = [(figure, name) for name, _, figure in extra_figures]
    # every figure at once, in several processes where it may; the extra figures keep their PNGs for their sections
    pngs = iter(plots.save_all([*own, *extra], folder / "figures", jobs) if figures_from is None else
                [plots.copied(figures_from, folder / "figures", name) for _, name in own]
                + plots.save_all(extra, folder / "figures", jobs))
    drawn, fan_charts, group_charts = [[(name, caption, next(pngs)) for name, caption, _ in plans]
                                       for plans in (planned, fans, by_group)]
    forecast = [_forecast_part(results, fan_charts)] if fans else []
    groups = _groups_part(results, group_charts) if by_group else None
    path = folder / "report.html"
    path.write_text(render(results, drawn, [*forecast, *(sections or [])], groups), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------- patient groups
GROUP_TOTALS = ("referrals_per_year", "admissions_per_year", "waitlist_mean", "gave_up_per_year",
                "turned_away_per_year")
"""The overview's columns: each group's totals over the levels (level ``all`` of ``Results.groups``)."""


def groups_section(results: Results) -> tuple[dict, list[tuple[str, str, Figure]]]:
    """The patient groups side by side (their totals and :func:`sim.plots.groups_chart`), then a part per
    group: its headline table at the levels it reaches and its flow diagram."""
    drawn = _drawn(_group_plans(results))
    return _groups_part(results, drawn), drawn


def _group_plans(results: Results) -> list[Planned]:
    """The groups' chart, then each group's flow diagram."""
    assert results.groups is not None and results.group_flows is not None, "a run with groups has their tables"
    scenario = results.scenario
    levels = scenario.level_names
    chart = ("groups_chart", "Average wait and average patients in care per level, group by group (mean, 95% "
             "interval; each row of panels on one scale). 'not used': no patient of the group reached the level.",
             partial(plots.groups_chart, results.groups, levels=levels))
    return [chart, *((f"flow_diagram_{name}", f"{group}: patients a year from the community through each level it "
                      "reaches to discharge, dropout and back by relapse (its own relapses and returns).",
                      partial(plots.flow_diagram, results.group_flows, levels, group=group))
                     for name, group in zip(_file_names(scenario.group_names), scenario.group_names, strict=True))]


def _groups_part(results: Results, drawn: Drawn) -> dict:
    """The groups' section of the page around their figures (:func:`_group_plans`, drawn)."""
    assert results.groups is not None
    chart, *flows = drawn
    parts = []
    for group, (_, caption, image) in zip(results.scenario.group_names, flows, strict=True):
        reached = levels_reached(results.groups, group)
        parts.append({"title": group, "note": _group_note(results, group, reached),
                      "table": _table(results.headline(levels=reached, group=group)),
                      "figures": [Embedded(caption, image)]})
    note = (f"{len(parts)} patient groups share the levels' places, waitlists and staff; the tables above count "
            "them all together. Here each group on its own: mean across replications with its 95% interval; a "
            "group's occupancy is the share of the level's places it fills, so the groups' add up to the level's. "
            "Totals over the levels (a patient who passes through three levels is admitted three times):")
    return {"note": note, "table": _table(_group_totals(results)), "parts": parts,
            "figures": [Embedded(chart[1], chart[2])]}


def _group_totals(results: Results) -> pd.DataFrame:
    """A row per group, its :data:`GROUP_TOTALS` as ``mean (95% CI)``; a column no group has any of left out."""
    assert results.groups is not None
    totals = results.groups[(results.groups["level"] == "all") & (results.groups["mean"] > 0)]
    shown = [metric for metric in GROUP_TOTALS if metric in set(totals["metric"])]
    return pd.concat({group: results.headline(tuple(shown), ["all"], group=group).iloc[0]
                      for group in results.scenario.group_names}, axis=1).T


def _group_note(results: Results, group: str, reached: list[str]) -> str:
    """Where the group's patients come from, in a sentence, and which levels it never reaches."""
    assert results.group_flows is not None
    flows = results.group_flows[results.group_flows["group"] == group]
    referrals = flows.loc[flows["source"] == "community", "per_year"].sum()
    returns = flows.loc[flows["source"] == "relapse", "per_year"].sum()
    text = f"{referrals:,.0f} new referrals a year" + (f" and {returns:,.0f} back after relapse" if returns else "")
    unused = [level for level in results.scenario.level_names if level not in reached]
    if unused:
        text += f"; it never reached {', '.join(unused)}, left out below"
    return text + "."


# ---------------------------------------------------------------------------- a forecast
def is_forecast(results: Results) -> bool:
    """Whether the run forecasts from a given state: measured from its start (``warmup_days: 0``, from
    today's census and waitlist or from empty) or from a calendar date (``run.start_date``)."""
    run = results.scenario.run
    return results.monthly is not None and (run.warmup_days == 0 or run.start_date is not None)


def forecast_section(results: Results) -> tuple[dict, list[tuple[str, str, Figure]]]:
    """When each level's waits first exceed the target, the waits month by month, and a fan chart per level."""
    drawn = _drawn(_fan_plans(results))
    return _forecast_part(results, drawn), drawn


def _fan_plans(results: Results) -> list[Planned]:
    scenario = results.scenario
    return [(f"forecast_{name}", f"{level}: patients in care and waiting through the measured period, median "
             "across replications with the bands holding half of them and nine in ten; capacity as it follows "
             "its schedule.", partial(plots.fan_chart, results.daily, level, scenario.run.start_date))
            for name, level in zip(_file_names(scenario.level_names), scenario.level_names, strict=True)]


def _forecast_part(results: Results, drawn: Drawn) -> dict:
    """The forecast's section of the page around its fan charts (:func:`_fan_plans`, drawn)."""
    assert results.monthly is not None, "is_forecast() says whether there is a forecast"
    monthly, run = results.monthly, results.scenario.run
    target = run.wait_target_days
    start = f" ({run.start_date.isoformat()})" if run.start_date else ""
    note = (f"From day 0{start}, {monthly['month'].nunique()} months: the first month whose waits are above the "
            f"target of {target:g} days, then every month's mean wait / 90th-percentile wait in days (* over the "
            "target). Each is the mean across replications of the month's figure, over the waits that ended in it "
            "(admissions, and give-ups when they gave up); monthly.csv has them with their intervals and bands.")
    tables = _table(_first_over_table(monthly, target)) + _table(_waits_by_month(monthly, target))
    return {"title": "Forecast month by month", "note": note, "table": tables,
            "figures": [Embedded(caption, image) for _, caption, image in drawn]}


def _month_name(month: pd.Series) -> str:
    if isinstance(month["month_start"], str):
        return f"{pd.Timestamp(month['month_start']):%b %Y}"
    return f"month {int(month['month'])} (days {int(month['from_day'])}-{int(month['to_day'])})"


def _first_over_table(monthly: pd.DataFrame, target: float) -> pd.DataFrame:
    """Per level: the first month each wait is over the target, in words."""
    found = first_months_over(monthly, target)
    found["text"] = [f"{_month_name(row)}: {row['wait_days']:.1f} days" if pd.notna(row["month"]) else
                     f"never (at most {row['wait_days']:.1f} days)" if pd.notna(row["wait_days"]) else "no waits"
                     for _, row in found.iterrows()]
    wide = found.pivot(index="level", columns="metric", values="text").reindex(list(dict.fromkeys(found["level"])))
    return wide.rename(columns={metric: f"{LABELS[metric]}: first month over {target:g} days"
                                for metric in WAIT_METRICS})


def _waits_by_month(monthly: pd.DataFrame, target: float) -> pd.DataFrame:
    """Months down, levels across: ``mean wait / 90th-percentile wait`` (days), ``*`` where one is over target."""
    waits = monthly[monthly["metric"].isin(WAIT_METRICS)]
    wide = waits.pivot_table(index=["month", "level"], columns="metric", values="mean", sort=False, dropna=False)
    text = [f"{mean:.1f} / {p90:.1f}" + (" *" if max(mean, p90) > target else "") if pd.notna(p90) else "-"
            for mean, p90 in zip(wide["wait_mean_days"], wide["wait_p90_days"], strict=True)]
    table = pd.Series(text, index=wide.index).unstack("level")[list(dict.fromkeys(waits["level"]))]
    names = {row["month"]: _month_name(row) for _, row in waits.drop_duplicates("month").iterrows()}
    table.index = [names[month] for month in table.index]
    return table


def _file_names(levels: list[str]) -> list[str]:
    """A file name for each level's figure: its name with anything but letters, digits, - and _ as _."""
    names = ["".join(c if c.isalnum() or c in "-_" else "_" for c in level) for level in levels]
    return [name if names.count(name) == 1 else f"{index}_{name}" for index, name in enumerate(names)]


def comparison_section(table: pd.DataFrame) -> tuple[dict, list[tuple[str, str, Figure]]]:
    """The differences from the base, clearly real ones first, with their chart."""
    shown = table[table["metric"].isin(["wait_p90_days", "waitlist_mean", "occupancy", "blocked_days_per_year"])]
    shown = shown.assign(difference=shown.apply(
        lambda row: row["method"] if row["method"] in NOT_COMPARED.values() else
        f"{row['difference']:+.3g} ({row['ci_low']:.3g} to {row['ci_high']:.3g})"
        + (" clearly real" if row["clear"] else ""), axis=1))
    wide = shown.pivot_table(index=["scenario", "level"], columns="metric", values="difference", aggfunc="first",
                             sort=False)
    drawn = [("comparison", "Each scenario's difference from the base with its paired 95% interval (common random "
                            "numbers); filled marks are clearly real.", plots.comparison_chart(table))]
    note = ("Alternative minus base, per level: paired 95% intervals from common random numbers; 'clearly real' "
            "when the interval excludes zero.")
    return section("Compared with the base", note, wide, drawn), drawn



def write_sweep_report(scenario: Scenario, table: pd.DataFrame, grid_keys: list[str], folder: str | Path) -> Path:
    """``report.html`` for a sweep: the headline metrics at every point and a curve per grid key."""
    folder = Path(folder)
    drawn = [(f"sweep_{key.replace('.', '_')}", f"{key}: the 90th-percentile wait at each value, with its 95% "
              "interval (other keys at their first value when several are swept).", plots.sweep_curve(table, key))
             for key in grid_keys]
    for name, _, figure in drawn:
        plots.save(figure, folder / "figures", name)
    run = scenario.run
    note = (f"Every point ran {run.replications} replications on the same random numbers (seed {run.seed}); "
            "mean and 95% interval.")
    html = ENVIRONMENT.get_template("report.html").render(
        title=f"{scenario.name}: sweep of {', '.join(grid_keys)}", description=scenario.description.strip(),
        method_sentence=note, findings=[], sections=[section("Every point", note, sweep_headline(table), drawn)],
        level_table="", system_table="", staffing_table="", figures=[], checklist=[],
        scenario_yaml=scenario.to_yaml(), version=package_version(),
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))
    path = folder / "report.html"
    path.write_text(html, encoding="utf-8")
    return path


def _mark_plan(ax: Axes, target: Target, planned: int | None) -> None:
    """The target as a line and the planned capacity as a marker on a plan curve."""
    ax.axhline(target.value, color="#D55E00", linestyle="--", linewidth=1.2, label=f"target {target.comparison} "
               f"{target.value:g}")
    if planned is not None:
        ax.axvline(planned, color="0.2", linestyle=":", linewidth=1.2, label=f"planned: {planned} places")
    ax.legend(loc="best", frameon=False)


def plan_section(capacities: pd.DataFrame, curve: pd.DataFrame) -> tuple[dict, list[tuple[str, str, Figure]]]:
    """The planner's answer per level and, for each, its target metric against capacity."""
    drawn = []
    planned = capacities.set_index("level")["planned_capacity"]
    for (level, metric), rows in curve.groupby(["level", "metric"], sort=False):
        key = f"levels.{level}.capacity"
        table = rows.rename(columns={"capacity": key}).assign(point=range(len(rows)), std=np.nan,
                                                              replications=np.nan)
        table = table[[key, "point", "level", "metric", "mean", "ci_low", "ci_high", "std", "replications"]]
        figure = plots.sweep_curve(table, key, metric)
        target = parse_target(rows["target"].iloc[0])
        _mark_plan(figure.axes[0], target, None if pd.isna(planned[level]) else int(planned[level]))
        drawn.append((f"plan_{level}_{metric}", f"{level}: {metric} at each capacity tried (the other levels at "
                      f"their planned sizes), with its 95% interval; the target is {target}.", figure))
    note = ("The fewest places at every level that together meet every target with 95% confidence: theory's first "
            "guess (Erlang C at the traffic equations' arrival rates), then levels grown downstream first and trimmed "
            "by simulation on common random numbers. 'Met' is judged in a verification run on random numbers the "
            "search never saw; the rest of this report describes that run.")
    shown = capacities.set_index("level").rename(columns=PLAN_LABELS)
    return section("The capacity plan", note, shown, drawn), drawn
