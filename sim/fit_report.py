"""``fit_report.html``: a fitted scenario's evidence, for a sceptical clinician.

What the extract held and what was left out, each fitted part with how sure it is and from how
many records, a probability plot per fitted stay law (does the law follow the stays?), and the
back-test: the held-out days simulated from the state at the cut, with the observed line over the
bands. Same page and figure style as the run report (:mod:`sim.report`, :mod:`sim.figure_style`).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from . import plots
from .backtest import Backtest, expected_share
from .extract import AFTER_AS_OF
from .figure_style import house_style, level_colors
from .fit import Fit
from .fitting import survival_curve
from .metrics import MONTHLY
from .report import ENVIRONMENT, section
from .version import package_version

POOR_COVERAGE = 0.5
"""A level whose held-out days fall inside the simulated 90% band less often than this share of what a right
model would score (:func:`sim.backtest.expected_share`) is flagged."""


# ---------------------------------------------------------------------------- figures
def probability_plots(found: Fit) -> Figure:
    """One P-P panel per fitted law: the fitted chance of a stay this short against the share of stays seen
    (Kaplan-Meier, so stays still running count). On the diagonal, the law follows the stays."""
    fits = list(found.stay_fits.items())
    columns = min(4, len(fits))
    rows = math.ceil(len(fits) / columns)
    colors = level_colors(found.scenario.level_names)
    with house_style():
        figure = Figure(figsize=(3.2 * columns, 3.2 * rows), layout="constrained")
        axes = figure.subplots(rows, columns, squeeze=False).ravel()
        for ax, ((level, what), (fitted, data)) in zip(axes, fits, strict=False):
            color = colors.get(level.split("@")[-1], "black")     # a group's fit is keyed GROUP@LEVEL
            _probability_panel(ax, fitted, data, color, found.extract.resolution_days > 0)
            ax.set_title(f"{level}\n{_what(what)} ({fitted.best.family})", fontsize=9)
        for ax in axes[len(fits):]:
            ax.set_visible(False)
        figure.supxlabel("Fitted law: share of stays this short or shorter")
        figure.supylabel("Seen (Kaplan-Meier)")
    return figure


def _what(what: str) -> str:
    return {"all": "stays", "patience": "patience"}.get(what, f"stays to {what}")


def _probability_panel(ax: Axes, fitted, data, color: str, dates: bool) -> None:
    times, survival = survival_curve(data.days, data.censored, data.entered)
    law = fitted.best.law()
    model = law.cdf(times + (0.5 if dates else 0.0))
    ax.plot([0, 1], [0, 1], color="0.6", linewidth=1, linestyle="--")
    ax.plot(model, 1 - survival, color=color, linewidth=1.8)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")


def backtest_census(test: Backtest, levels: list[str]) -> Figure:
    """Per level, the held-out days' census: simulated 50% and 90% bands and the observed line."""
    colors = level_colors(levels)
    with house_style():
        figure = Figure(figsize=(10, 2.4 * len(levels)), layout="constrained")
        axes = figure.subplots(len(levels), 1, squeeze=False).ravel()
        for ax, level in zip(axes, levels, strict=True):
            rows = test.daily[test.daily["level"].eq(level)]
            when = pd.to_datetime(rows["date"])
            ax.fill_between(when, rows["p05"], rows["p95"], color=colors[level], alpha=0.18, linewidth=0)
            ax.fill_between(when, rows["p25"], rows["p75"], color=colors[level], alpha=0.35, linewidth=0)
            ax.plot(when, rows["observed"], color="black", linewidth=1.4)
            inside = rows["inside_90"].mean()
            ax.set_title(f"{level}: {inside:.0%} of observed days inside the 90% band")
            ax.set_ylabel("In care")
        figure.legend(handles=_band_handles(), loc="outside lower center", ncols=3)
    return figure


def backtest_admissions(test: Backtest, levels: list[str]) -> Figure:
    """Per level, admissions per month held out: the simulated 90% range and the observed count."""
    colors = level_colors(levels)
    with house_style():
        figure = Figure(figsize=(3.0 * len(levels), 3.0), layout="constrained")
        axes = figure.subplots(1, len(levels), squeeze=False).ravel()
        for ax, level in zip(axes, levels, strict=True):
            rows = test.monthly[test.monthly["level"].eq(level)].reset_index(drop=True)
            where = np.arange(len(rows))
            ax.bar(where, rows["p95"] - rows["p05"], bottom=rows["p05"], color=colors[level], alpha=0.3, width=0.7)
            ax.plot(where, rows["observed"], "o", color="black", markersize=4)
            ax.set_xticks(where, [str(month)[:7] for month in rows["month_start"]], rotation=60, fontsize=7)
            low, high = min(rows["p05"].min(), rows["observed"].min()), max(rows["p95"].max(), rows["observed"].max())
            ax.set_ylim(low - 0.05 * (high - low + 1), high + 0.05 * (high - low + 1))
            ax.set_title(level)
        axes[0].set_ylabel(MONTHLY["admissions"].label)
    return figure


def _band_handles() -> list:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    return [Patch(color="0.5", alpha=0.35, label="simulated 50% band"),
            Patch(color="0.5", alpha=0.18, label="simulated 90% band"),
            Line2D([], [], color="black", label="observed")]


# ---------------------------------------------------------------------------- tables and text
def stays_table(found: Fit) -> pd.DataFrame:
    """The chosen law per level and route, with its mean, interval and counts."""
    table = found.tables["stays"]
    chosen = table[table["chosen"]].copy()
    chosen["mean (95% CI)"] = [f"{m:.1f} ({low:.1f}-{high:.1f})" for m, low, high in
                               chosen[["mean_days", "mean_ci_low", "mean_ci_high"]].itertuples(index=False)]
    runner_up = table[~table["chosen"]].groupby(["level", "route"])["delta_aic"].min().rename("AIC to the next")
    chosen = chosen.join(runner_up, on=["level", "route"])
    return chosen[["level", "route", "family", "mean (95% CI)", "n_ended", "n_censored", "n_truncated",
                   "AIC to the next"]].round(1)


def warnings_of(found: Fit) -> list[str]:
    """Reasons not to trust the fit as it stands: places assumed, many rows left out, a poor back-test."""
    found_warnings = []
    capacity = found.tables.get("capacity")
    if capacity is not None and capacity["source"].str.contains("assumption").any():
        assumed = ", ".join(capacity.loc[capacity["source"].str.contains("assumption"), "level"])
        found_warnings.append(f"Places at {assumed} are the highest census seen, not known places: give --base "
                              "with the real capacity before planning with this scenario.")
    referrals = found.tables.get("referrals")
    if referrals is not None and "source" in referrals:
        kept = ", ".join(referrals.loc[referrals["source"].eq("base scenario"), "level"])
        found_warnings.append(f"Referrals at {kept} are the base scenario's, not fitted: the extract is too short to "
                              "tell their new referrals from returns of people who left care before it began.")
    bad = int((found.problems["reason"] != AFTER_AS_OF).sum())    # rows after --as-of were left out on purpose
    share = bad / max(1, bad + len(found.extract.episodes))
    if share > 0.05:
        found_warnings.append(f"{share:.0%} of the extract's rows could not be used (see the table of rows left "
                              "out): the fit may miss what they held.")
    if found.backtest is not None:
        coverage = found.backtest.coverage
        poor = coverage["share_days_inside_90"] < POOR_COVERAGE * coverage["expected_share"]
        for row in coverage[poor].itertuples():
            found_warnings.append(f"Back-test: only {row.share_days_inside_90:.0%} of {row.level}'s held-out days "
                                  f"fall inside the simulated 90% band, where a right model would score about "
                                  f"{row.expected_share:.0%}: the fitted model misses something there.")
    return found_warnings


def sections(found: Fit) -> tuple[list[dict], list[tuple[str, str, Figure]]]:
    """The report's sections in order, and every figure drawn (to be saved as files too)."""
    levels = [name for name in found.scenario.level_names if name in set(found.extract.episodes["level"])]
    drawn: list[tuple[str, str, Figure]] = []
    parts = [section("What the extract held", _held_note(found), _shown(found.extract.problem_counts()), [])]
    if found.backtest is not None:
        test = found.backtest
        figures = [("backtest_census", "Held-out days: census simulated from the state at the cut (bands) and "
                                       "observed (line).", backtest_census(test, levels)),
                   ("backtest_admissions", "Held-out months: admissions simulated (90% range) and observed "
                                           "(dots).", backtest_admissions(test, levels))]
        drawn += figures
        parts.append(section(f"Back-test: the last {test.holdout_days} days held out", _backtest_note(test),
                             _shown(test.coverage.round(3)), figures))
    probability = [("probability_plots", "Each fitted law against the stays it was fitted to (P-P plot; on the "
                                         "dashed diagonal, the law follows the data).", probability_plots(found))]
    drawn += probability
    parts.append(section("Stays and patience", "The law chosen by AIC among exponential, gamma, lognormal, Weibull "
                         "(and the empirical one when nothing is censored), fitted by maximum likelihood with "
                         "day-rounded, censored and truncated stays as they are.", _shown(stays_table(found)),
                         probability))
    for name, title, note in TABLES:
        if name in found.tables and not found.tables[name].empty:
            table = found.tables[name]
            table = table[table["decides"].astype(bool)] if "decides" in table else table
            parts.append(section(title, note, _shown(table.round(4)), []))
    return parts, drawn


KEYS = ("group", "level", "route", "kind", "exit", "to", "reason", "model", "family")
"""Columns that name a row: a shown table's index."""
LEFT_OUT = ("parameters", "log_likelihood", "decides", "against")
"""Columns kept in the CSV files but left out of the page (long or technical)."""


def _shown(table: pd.DataFrame) -> pd.DataFrame:
    """A table as the page shows it: named by its key columns, without the long ones."""
    keys = [column for column in KEYS if column in table]
    return table.drop(columns=[column for column in LEFT_OUT if column in table]).set_index(keys) if keys else table


TABLES = [
    ("routes", "Routes", "Where stays ended (a next episode within a day is a transfer), where those who gave up "
                         "waiting went, and where returns came back to; 95% Wilson intervals."),
    ("referrals", "Referrals", "New patients per level: a patient's first episode in the extract, less the expected "
                               "returns of people who left care before it began; the rate at the as-of date."),
    ("referral_tests", "Growth and seasons", "The likelihood-ratio tests that decided a yearly trend and monthly "
                                             "seasons (seasons tested with the trend in); a part is kept only when "
                                             "its p-value is below 5% divided by the number of levels, so that "
                                             "chance seldom invents one anywhere (every test is in "
                                             "fit_referral_tests.csv)."),
    ("relapse", "Relapse", "A cure model per way of leaving care: the share who ever return and the delay, those "
                           "not back by the as-of date censored there."),
    ("stay_differences", "Do stays differ by destination?", "A likelihood-ratio test of one law for all routes "
                                                            "against one per route; a route gets its own stays when "
                                                            "p < 0.001 and its mean differs by 10% or more."),
    ("capacity", "Places", "Places are not in the records: the base scenario's, else the highest census seen."),
]


def _held_note(found: Fit) -> str:
    extract = found.extract
    per_level = extract.episodes["level"].value_counts()
    counts = ", ".join(f"{level} {count:,}" for level, count in per_level.items())
    return (f"{extract.source}: {len(extract.episodes):,} episodes used ({counts}), from "
            f"{extract.start:%Y-%m-%d} to {extract.as_of:%Y-%m-%d}; {len(found.problems):,} rows left out, "
            "counted below by reason with example row numbers.")


def _backtest_note(test: Backtest) -> str:
    replications = test.results.scenario.run.replications
    return (f"The scenario fitted on the extract up to the cut, run {replications} times over the held-out days "
            f"from the state the extract showed at the cut. With {replications} replications a right model has "
            f"about {expected_share(replications):.0%} of observed days inside the 90% band (not 90%: the band's "
            "ends are themselves estimated); far fewer says the model misses something. The bands hold the "
            "simulation's randomness, not the doubt in the fitted numbers, and days in a row are alike, so over a "
            "few months the share is itself uncertain.")


def write_fit_report(found: Fit, folder: str | Path) -> Path:
    """``fit_report.html`` and ``figures/*.png|svg`` in ``folder`` (an existing folder)."""
    folder = Path(folder)
    parts, drawn = sections(found)
    for name, _, figure in drawn:
        plots.save(figure, folder / "figures", name)
    html = ENVIRONMENT.get_template("report.html").render(
        sections=parts, title=f"Fitted from {found.extract.source}", description=found.scenario.description,
        method_sentence="Every number of the fitted scenario, with how it was fitted, how sure it is and from how "
                        "many records; the fitted file's comments say the same beside each key.",
        warnings=warnings_of(found), findings=[], scenario_yaml=found.to_yaml(), scenario_title="The fitted scenario",
        scenario_note="As written to the fitted file: each fitted key with a comment on where it came from.",
        version=package_version(),
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))
    path = folder / "fit_report.html"
    path.write_text(html, encoding="utf-8")
    return path
