"""Records -> tidy tables: per-replication metrics, daily series, episodes, and :class:`Results`.

Every metric is computed from the measured period ``[warmup_days, warmup_days + days)`` of
simulation time only: from the measured period's tallies (the engine keeps the warm-up's apart;
``run_replication`` hands these functions the measured ones) and the measured days' rows. Each metric's exact
definition, and how its ``all`` row is made, is in :mod:`sim.metrics` (and the README's tables).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from . import records
from .analysis import summarise
from .metrics import ALL_METRICS, DAYS_PER_YEAR, HEADLINE_METRICS, LEVEL_METRICS, SUMMED_METRICS, SYSTEM_METRICS
from .monthly import monthly_table, named
from .records import DAILY_FIELDS, DAY_FIELDS, STATE_FIELDS, SystemTally, Tally
from .scenario import EXITS, Scenario
from .settings import SettingsError
from .staffing import staffing_table

QUANTILES = np.round(np.linspace(0, 1, 101), 2)
"""Where the quantile function of waits is kept: every percentile."""


@dataclass
class ReplicationOutput:
    """What one replication hands back: its metrics, its days and (optionally) its episodes."""

    replication: int
    metrics: list[tuple[str, str, float]]
    days: np.ndarray          # (days, levels, DAY_FIELDS), simulation days from 0
    states: np.ndarray        # (days, STATE_FIELDS)
    episodes: dict[str, np.ndarray] | None = None
    wait_quantiles: np.ndarray | None = None   # (levels, len(QUANTILES)) measured waits (admissions and give-ups)
    flows: list[tuple[str, str, float]] = field(default_factory=list)   # (source, target, per year)
    monthly: np.ndarray | None = None   # (levels, months, MONTHLY_METRICS): sim.monthly.replication_months
    group_metrics: list[tuple[str, str, str, float]] = field(default_factory=list)   # (group, level, metric, value)
    group_flows: list[tuple[str, str, str, float]] = field(default_factory=list)   # (group, source, target, per year)
    group_monthly: np.ndarray | None = None   # (levels x groups, months, MONTHLY_METRICS), level by level


# ---------------------------------------------------------------------------- metrics
def _per_year(count: int, years: float) -> float:
    return count / years


def _ratio(total: float, count: int) -> float:
    return total / count if count else np.nan


def level_metrics(tally: Tally, days: np.ndarray, years: float) -> dict[str, float]:
    """The per-level metrics from one level's measured tally and its measured daily rows (the tally's waits over
    ``run.wait_target_days`` were counted as they came)."""
    waits = tally.wait_histogram
    p50, p90, p95 = waits.quantiles(np.array([0.5, 0.9, 0.95]))
    census, capacity = days[:, DAY_FIELDS.index("census")], days[:, DAY_FIELDS.index("capacity")]
    capacity_mean = float(capacity.mean())
    return {
        "referrals_per_year": _per_year(tally.referrals, years),
        "arrivals_per_year": _per_year(tally.arrivals, years),
        "admissions_per_year": _per_year(tally.admissions, years),
        "census_mean": float(census.mean()),
        "occupancy": float(census.mean()) / capacity_mean if capacity_mean > 0 else np.nan,
        "waitlist_mean": float(days[:, DAY_FIELDS.index("waitlist")].mean()),
        "waitlist_max": float(days[:, DAY_FIELDS.index("waitlist_max")].max()),
        "wait_mean_days": waits.mean_days(),
        "wait_p50_days": float(p50),
        "wait_p90_days": float(p90),
        "wait_p95_days": float(p95),
        "wait_over_target_share": waits.share_over_target(),
        "gave_up_or_turned_away_share": _ratio(tally.gave_up + tally.turned_away, tally.arrivals),
        "blocked_days_per_year": float(days[:, DAY_FIELDS.index("held")].sum()) / years,
        "los_mean_days": _ratio(tally.stay_days, tally.stays),
        "gave_up_per_year": _per_year(tally.gave_up, years),
        "turned_away_per_year": _per_year(tally.turned_away, years),
        "capacity_mean": capacity_mean,
        "closed_places_mean": float((days[:, DAY_FIELDS.index("places")] - capacity).mean()),
        "time_in_place_mean_days": _ratio(tally.place_days, tally.departures),
    }


def replication_metrics(scenario: Scenario, tallies: list[Tally], system: SystemTally,
                        days: np.ndarray) -> list[tuple[str, str, float]]:
    """Every metric of one replication as (level, metric, value)."""
    run = scenario.run
    years = run.days / DAYS_PER_YEAR
    warmup = run.resolved_warmup_days
    measured = days[warmup: warmup + run.days]
    rows: list[tuple[str, str, float]] = []
    per_level = []
    for index, (name, tally) in enumerate(zip(scenario.level_names, tallies, strict=True)):
        values = level_metrics(tally, measured[:, index], years)
        per_level.append(values)
        rows += [(name, metric, values[metric]) for metric in LEVEL_METRICS]
    totals = system_metrics(system, measured, years)
    totals.update({metric: float(sum(values[metric] for values in per_level)) for metric in SUMMED_METRICS})
    rows += [("all", metric, totals[metric]) for metric in ALL_METRICS]
    return rows


def group_replication_metrics(scenario: Scenario, tallies: list[list[Tally]],
                              days: np.ndarray) -> list[tuple[str, str, str, float]]:
    """Every level metric of one replication per patient group, as (group, level, metric, value).

    ``tallies`` are per level, per group; ``days`` the groups' daily rows, shape (days, levels x groups,
    DAY_FIELDS), level by level. A group's occupancy is the share of the level's places it fills; its
    capacity the level's. A level that does not accept the group has no rows for it. The ``all`` rows
    sum the summed metrics over the levels.
    """
    run = scenario.run
    years = run.days / DAYS_PER_YEAR
    warmup = run.resolved_warmup_days
    groups = scenario.group_names
    measured = days[warmup: warmup + run.days].reshape(-1, len(scenario.levels), len(groups), len(DAY_FIELDS))
    rows: list[tuple[str, str, str, float]] = []
    for group_index, group in enumerate(groups):
        per_level = []
        for level_index, (name, level) in enumerate(scenario.levels.items()):
            if level.accepts is not None and group not in level.accepts:
                continue   # a level that does not take the group has nothing to say about it
            values = level_metrics(tallies[level_index][group_index], measured[:, level_index, group_index], years)
            per_level.append(values)
            rows += [(group, name, metric, values[metric]) for metric in LEVEL_METRICS]
        rows += [(group, "all", metric, float(sum(values[metric] for values in per_level)))
                 for metric in SUMMED_METRICS]
    return rows


def system_metrics(system: SystemTally, days: np.ndarray, years: float) -> dict[str, float]:
    """The system's own metrics (``total="system"`` in :mod:`sim.metrics`) from its tally and measured days."""
    return {
        "relapses_per_year": _per_year(system.relapses, years),
        "readmit_30d_share": _ratio(system.readmissions, system.first_level_discharges),
        "patients_in_care_mean": float(days[:, :, DAY_FIELDS.index("census")].sum(axis=1).mean()),
    }


def wait_quantiles(tallies: list[Tally]) -> np.ndarray:
    """Per level, measured waits (admissions, and give-ups at the wait they gave up after) at every percentile."""
    return np.asarray([tally.wait_histogram.quantiles(QUANTILES) for tally in tallies])


def flows(scenario: Scenario, tallies: list[Tally], system: SystemTally) -> list[tuple[str, str, float]]:
    """Yearly volumes between the community, the levels and the exits, in the measured period."""
    return _flows(scenario, tallies, system.relapses_to)


def group_flows(scenario: Scenario, tallies: list[list[Tally]],
                system: SystemTally) -> list[tuple[str, str, str, float]]:
    """:func:`flows` per patient group, as (group, source, target, per year); ``tallies`` per level, per group.

    Each group's flows come from its own tallies and relapses, so they add up to the levels' flows.
    """
    rows = []
    for index, group in enumerate(scenario.group_names):
        own = [by_group[index] for by_group in tallies]
        rows += [(group, *row) for row in _flows(scenario, own, system.group_relapses_to[index])]
    return rows


def _flows(scenario: Scenario, tallies: list[Tally], relapses_to: list[int]) -> list[tuple[str, str, float]]:
    years = scenario.run.days / DAYS_PER_YEAR
    destinations = [*scenario.level_names, *EXITS]
    rows = []
    for name, tally in zip(scenario.level_names, tallies, strict=True):
        rows.append(("community", name, tally.referrals / years))
        rows += [(name, to, count / years) for to, count in zip(destinations, tally.routes, strict=True) if count]
        rows += [(name, "gave_up", tally.gave_up / years), (name, "turned_away", tally.turned_away / years)]
    rows += [("relapse", name, count / years) for name, count in zip(scenario.level_names, relapses_to, strict=True)]
    return [row for row in rows if row[2] > 0]


# ---------------------------------------------------------------------------- tables
def metrics_table(outputs: list[ReplicationOutput]) -> pd.DataFrame:
    """One row per replication, level and metric."""
    rows = [(out.replication, level, metric, value) for out in outputs for level, metric, value in out.metrics]
    return pd.DataFrame(rows, columns=["replication", "level", "metric", "value"])


GROUP_COLUMNS = ["group", "level", "metric", "mean", "ci_low", "ci_high", "std", "replications"]
"""``groups.csv``: the summary's columns with the patient group first."""


def group_tables(outputs: list[ReplicationOutput]) -> tuple[pd.DataFrame, pd.DataFrame] | tuple[None, None]:
    """Per group: the summary (:data:`GROUP_COLUMNS`) and the replications' values; (None, None) without groups."""
    rows = [(out.replication, *row) for out in outputs for row in out.group_metrics]
    if not rows:
        return None, None
    table = pd.DataFrame(rows, columns=["replication", "group", "level", "metric", "value"])
    return summarise(table.drop(columns="replication"), by=("group", "level")), table


def levels_reached(groups: pd.DataFrame, group: str) -> list[str]:
    """The levels (not ``all``) that patients of ``group`` reached in the measured period: any arrived,
    or any were in a place, in some replication (``groups`` is :attr:`Results.groups`)."""
    rows = groups[(groups["group"] == group) & (groups["level"] != "all")
                  & groups["metric"].isin(["arrivals_per_year", "census_mean"])]
    return list(dict.fromkeys(rows.loc[rows["mean"] > 0, "level"]))


def daily_table(outputs: list[ReplicationOutput], scenario: Scenario) -> pd.DataFrame:
    """Per replication, day and level: time-averaged census, waitlist, held, usable capacity,
    places and closed places (places without the staff to run them); the day's largest
    waitlist. ``day`` counts from the start of the measured period, so warm-up days are
    negative (``period`` says which)."""
    levels = scenario.level_names
    frames = []
    for out in outputs:
        count = out.days.shape[0]
        day = np.repeat(np.arange(count) - scenario.run.resolved_warmup_days, len(levels))
        rows = out.days[:, :, : len(DAILY_FIELDS)].reshape(-1, len(DAILY_FIELDS))
        frame = pd.DataFrame(rows, columns=list(DAILY_FIELDS))
        frame.insert(0, "level", named(levels, np.tile(np.arange(len(levels)), count)))
        frame.insert(0, "day", day)
        frame.insert(0, "replication", out.replication)
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    table.insert(3, "period", named(["warm-up", "measured"], (table["day"] >= 0).to_numpy(dtype=np.int64)))
    table["waitlist_max"] = table["waitlist_max"].astype(np.int64)
    table["closed_places"] = table["places"] - table["capacity"]
    return table


def wait_quantile_table(outputs: list[ReplicationOutput], scenario: Scenario) -> pd.DataFrame:
    """``replication, level, quantile, wait_days``: each replication's quantile function of waits."""
    frames = [pd.DataFrame({"replication": out.replication,
                            "level": np.repeat(scenario.level_names, len(QUANTILES)),
                            "quantile": np.tile(QUANTILES, len(scenario.level_names)),
                            "wait_days": out.wait_quantiles.ravel()})
              for out in outputs if out.wait_quantiles is not None]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["replication", "level", "quantile", "wait_days"])


def flow_table(outputs: list[ReplicationOutput]) -> pd.DataFrame:
    """``source, target, per_year``: mean yearly volumes across replications (0 where one had none)."""
    rows = [(out.replication, *flow) for out in outputs for flow in out.flows]
    table = pd.DataFrame(rows, columns=["replication", "source", "target", "per_year"])
    totals = table.groupby(["source", "target"], sort=False)["per_year"].sum() / max(1, len(outputs))
    return totals.reset_index()


def group_flow_table(outputs: list[ReplicationOutput]) -> pd.DataFrame | None:
    """``group, source, target, per_year``: :func:`flow_table` per patient group; None without groups."""
    rows = [(out.replication, *flow) for out in outputs for flow in out.group_flows]
    if not rows:
        return None
    table = pd.DataFrame(rows, columns=["replication", "group", "source", "target", "per_year"])
    totals = table.groupby(["group", "source", "target"], sort=False)["per_year"].sum() / max(1, len(outputs))
    return totals.reset_index()


def states_table(outputs: list[ReplicationOutput], scenario: Scenario) -> pd.DataFrame:
    """Where every patient was at the end of each day (the conservation check's counts)."""
    frames = []
    for out in outputs:
        frame = pd.DataFrame(out.states, columns=list(STATE_FIELDS))
        frame.insert(0, "day", np.arange(len(frame)) + 1 - scenario.run.resolved_warmup_days)
        frame.insert(0, "replication", out.replication)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def episodes_table(outputs: list[ReplicationOutput], scenario: Scenario) -> pd.DataFrame | None:
    """One row per episode (a patient's visit to a level); times in measured-period days.

    ``period`` (the last column) is ``warm-up`` for an episode that arrived before day 0, else
    ``measured``: an episode belongs to the period it arrived in, as a day of ``daily`` does.
    """
    kept = [(out.replication, out.episodes) for out in outputs if out.episodes is not None]
    if not kept:
        return None
    names = [*scenario.level_names, *EXITS]
    warmup = scenario.run.resolved_warmup_days
    status_names = np.asarray(records.STATUSES)
    frames = []
    for replication, cols in kept:
        route = cols["route"]
        frames.append(pd.DataFrame({
            "replication": replication,
            "patient": cols["patient"],
            "level": np.asarray(scenario.level_names)[cols["level"]],
            "source": np.asarray(records.SOURCES)[cols["source"]],
            **{f"{name}_day": cols[name] - warmup for name in records.EPISODE_TIMES},
            "wait_days": cols["admitted"] - cols["arrived"],
            "stay_days": cols["stay_ended"] - cols["admitted"],
            "held_days": cols["left"] - cols["stay_ended"],
            "status": status_names[cols["status"]],
            "route": np.where(route >= 0, np.asarray(names)[np.maximum(route, 0)], "elsewhere"),
            # appended last: scripts read the columns before it by position
            "period": np.where(cols["arrived"] < warmup, "warm-up", "measured"),
            **({"group": np.asarray(scenario.group_names)[cols["group"]]} if scenario.groups else {}),
        }))
    return pd.concat(frames, ignore_index=True)


# ---------------------------------------------------------------------------- results
@dataclass
class Results:
    """Everything one run produced, as tidy pandas DataFrames.

    Attributes
    ----------
    summary
        One row per level and metric: ``level, metric, mean, ci_low, ci_high, std, replications``
        (95% Student-t interval across replications).
    replications
        One row per replication, level and metric (``value``).
    daily
        Per replication, day and level: census, waitlist, held, waitlist_max, capacity.
    patients
        Per replication and day: how many patients are waiting, in treatment, held, at risk of
        relapse, gone, and created so far.
    episodes
        One row per episode when the run kept them, else ``None``: ``replication, patient, level,
        source, arrived_day, admitted_day, stay_ended_day, left_day, wait_days, stay_days,
        held_days, status, route, period`` and, with patient groups, ``group`` (``period``:
        ``warm-up`` or ``measured``, by the day the episode arrived).
    staffing
        FTE and cost per level, role and census basis (mean, 90th percentile, capacity) with 95%
        intervals (``sim.staffing.COLUMNS``); ``None`` when no level has staff.
    wait_quantiles
        ``replication, level, quantile, wait_days``: every percentile of the waits of admissions
        in the measured period (for wait curves).
    flows
        ``source, target, per_year``: yearly volumes from the community into each level, between
        levels, to the exits, given up, turned away, and back by relapse (mean over replications).
    warnings
        Why some numbers cannot be trusted (a waitlist growing without bound, a warm-up at its
        limit, intervals too wide to read): ``level, kind, message, evidence`` each, as in
        ``run.json`` (see :mod:`sim.trust`); empty when there is nothing to say.
    monthly
        Per level, month of the measured period and metric (arrivals, admissions, census, waitlist,
        mean and 90th-percentile wait): the mean across replications with its 95% interval, and
        the replications' 5th, 25th, 50th, 75th and 95th percentiles (``sim.monthly.COLUMNS``);
        ``monthly.csv``. ``None`` for results made without monthly figures.
    groups
        With patient groups (``groups`` in the scenario), every level metric per group:
        ``group, level, metric, mean, ci_low, ci_high, std, replications`` (``groups.csv``; level
        ``all`` sums the summed metrics); ``None`` without groups.
    group_replications
        The per-replication values behind ``groups`` (``replication, group, level, metric, value``).
    group_flows
        ``flows`` per patient group: ``group, source, target, per_year``, each group's own referrals,
        moves, exits and returns after relapse, adding up to ``flows``; ``None`` without groups.
    group_monthly
        ``monthly`` per patient group (its columns and a last one, ``group``); ``monthly.csv`` holds both,
        the totals with ``group`` ``all``. ``None`` without groups.
    """

    scenario: Scenario
    summary: pd.DataFrame
    replications: pd.DataFrame
    daily: pd.DataFrame
    patients: pd.DataFrame
    episodes: pd.DataFrame | None = None
    staffing: pd.DataFrame | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    wait_quantiles: pd.DataFrame | None = None
    flows: pd.DataFrame | None = None
    monthly: pd.DataFrame | None = None
    groups: pd.DataFrame | None = None
    group_replications: pd.DataFrame | None = None
    group_flows: pd.DataFrame | None = None
    group_monthly: pd.DataFrame | None = None

    @classmethod
    def from_outputs(cls, scenario: Scenario, outputs: list[ReplicationOutput], meta: dict[str, Any]) -> Results:
        table = metrics_table(outputs)
        daily = daily_table(outputs, scenario)
        groups, group_replications = group_tables(outputs)
        return cls(
            scenario=scenario,
            summary=summarise(table.drop(columns="replication")),
            replications=table,
            daily=daily,
            patients=states_table(outputs, scenario),
            episodes=episodes_table(outputs, scenario),
            staffing=staffing_table(scenario, daily),
            meta=meta,
            wait_quantiles=wait_quantile_table(outputs, scenario),
            flows=flow_table(outputs),
            monthly=_monthly(outputs, scenario),
            groups=groups,
            group_replications=group_replications,
            group_flows=group_flow_table(outputs),
            group_monthly=_monthly(outputs, scenario, by_group=True) if groups is not None else None,
        )

    @property
    def warnings(self) -> list[dict[str, Any]]:
        """Why some numbers cannot be trusted, one dict per warning (``run.json``'s ``warnings``)."""
        return self.meta.get("warnings", [])

    def headline(self, metrics: tuple[str, ...] = HEADLINE_METRICS, levels: list[str] | None = None,
                 group: str | None = None) -> pd.DataFrame:
        """A compact table for people: levels as rows, metrics as columns, ``mean (95% CI)``; with
        ``group``, that patient group's figures (from :attr:`groups`)."""
        levels = self.scenario.level_names if levels is None else levels
        table = self.summary if group is None else self._group_summary(group)
        rows = table[table["metric"].isin(metrics) & table["level"].isin(levels)]
        text = pd.DataFrame({"level": rows["level"], "metric": rows["metric"],
                             "text": rows.apply(estimate_text, axis=1)})
        wide = text.pivot(index="level", columns="metric", values="text")
        return wide.loc[[n for n in levels if n in wide.index], [m for m in metrics if m in wide.columns]]

    def _group_summary(self, group: str) -> pd.DataFrame:
        if self.groups is None or group not in self.scenario.group_names:
            names = ", ".join(self.scenario.group_names) or "none: the scenario has no groups"
            raise SettingsError("Results.headline", [f"group = {group!r}: should be one of the run's groups ({names})"])
        return self.groups[self.groups["group"] == group]

    def staffing_headline(self) -> pd.DataFrame | None:
        """FTE by level and role at the mean census, its 90th percentile and full capacity, and
        the yearly cost at the mean: ``mean (95% interval)``. None without staff in the scenario."""
        if self.staffing is None or self.staffing.empty:
            return None
        table = self.staffing.rename(columns={"fte": "mean", "fte_ci_low": "ci_low", "fte_ci_high": "ci_high"})
        table["text"] = table.apply(estimate_text, axis=1)
        wide = table.pivot(index=["level", "role"], columns="census_basis", values="text")
        wide = wide.reindex(columns=["mean", "p90", "capacity"]).add_prefix("fte_at_")
        cost = self.staffing[self.staffing["census_basis"] == "mean"].set_index(["level", "role"])["cost_per_year"]
        wide["cost_per_year_at_mean"] = cost.map(lambda value: "-" if pd.isna(value) else f"${value:,.0f}")
        order = list(dict.fromkeys(zip(self.staffing["level"], self.staffing["role"], strict=True)))
        return wide.loc[order]

    def run_sentence(self) -> str:
        """The run in words: ``20 replications, 1825 days measured after 1825 days of warm-up, seed 2026``."""
        run = self.scenario.run
        return (f"{run.replications} replications, {run.days} days measured after {run.warmup_days} days "
                f"of warm-up, seed {run.seed}")

    def __repr__(self) -> str:
        """What a console shows: the run in a sentence and the headline tables (not every table)."""
        grouped = ", groups, group_replications, group_monthly, group_flows" if self.groups is not None else ""
        return "\n".join([f"Results({self.scenario.name!r}: {self.run_sentence()}; tables: summary, replications, "
                          f"daily, monthly, patients, staffing, flows, wait_quantiles{grouped})",
                          *(f"warning: {warning['message']}" for warning in self.warnings),
                          self.headline().to_string(), self.headline(SYSTEM_METRICS, ["all"]).to_string()])

    def _repr_html_(self) -> str:
        """What a notebook shows: the run in a sentence and the headline tables with intervals."""
        lines = [f"<h4>{html.escape(self.scenario.name)}</h4>",
                 f"<p>{self.run_sentence()}. Mean (95% interval); every metric in <code>.summary</code>, "
                 "per replication in <code>.replications</code>, per day in <code>.daily</code>.</p>",
                 *(f'<p style="color:#b00020">Warning: {html.escape(warning["message"])}</p>'
                   for warning in self.warnings)]
        return "\n".join([*lines, self.headline().to_html(), self.headline(SYSTEM_METRICS, ["all"]).to_html()])


def _monthly(outputs: list[ReplicationOutput], scenario: Scenario, by_group: bool = False) -> pd.DataFrame | None:
    kept = [out.group_monthly if by_group else out.monthly for out in outputs]
    found = [values for values in kept if values is not None]
    return monthly_table(found, scenario, by_group) if found and len(found) == len(outputs) else None


def estimate_text(row: pd.Series) -> str:
    """``mean (low-high)`` with three significant figures on the mean, the interval alike."""
    mean, low, high = row["mean"], row["ci_low"], row["ci_high"]
    if not np.isfinite(mean):
        return "-"
    magnitude = int(np.floor(np.log10(abs(mean)))) if mean else 0
    decimals = min(3, max(0, 2 - magnitude))
    if not np.isfinite(low):
        return f"{mean:,.{decimals}f}"
    return f"{mean:,.{decimals}f} ({low:,.{decimals}f}-{high:,.{decimals}f})"


def sweep_headline(table: pd.DataFrame, metrics: tuple[str, ...] = HEADLINE_METRICS,
                   levels: list[str] | None = None) -> pd.DataFrame:
    """A compact table for people: a row per point and level, a column per metric, ``mean (95% CI)``.

    ``levels`` defaults to every level but ``all``.
    """
    keys = list(table.columns[: table.columns.get_loc("point")])
    if levels is None:
        levels = [level for level in table["level"].unique() if level != "all"]
    rows = table[table["metric"].isin(metrics) & table["level"].isin(levels)]
    text = rows.assign(text=[estimate_text(row) for _, row in rows.iterrows()])
    wide = text.pivot_table(index=["point", *keys, "level"], columns="metric", values="text",
                            aggfunc="first", sort=False)
    return wide.droplevel("point")[[metric for metric in metrics if metric in wide.columns]]
