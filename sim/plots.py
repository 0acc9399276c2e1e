"""Figures from results tables: each function takes DataFrames and returns a matplotlib Figure.

Nothing here reaches into the model: the inputs are the tables of :class:`sim.Results`
(``daily``, ``summary``, ``wait_quantiles``, ``flows``, ``staffing``), of :func:`sim.compare` and
of :func:`sim.sweep`. Figures are built with :class:`matplotlib.figure.Figure`, never pyplot, so
they need no display and leave no global state behind (in Jupyter, a figure left as a cell's value
shows once matplotlib's inline backend is on: ``%matplotlib inline`` or ``import matplotlib.pyplot``).
Every level keeps one colour in every figure (:func:`level_colors`, the Okabe-Ito palette, which
reads for the common kinds of colour blindness). :func:`save` writes a figure as PNG and SVG.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, Patch, Polygon, Rectangle
from matplotlib.path import Path as CurvePath
from matplotlib.patheffects import withStroke
from matplotlib.ticker import MaxNLocator, PercentFormatter, StrMethodFormatter

OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442")
"""Okabe-Ito colours in the order levels take them (black is kept for ``all``, yellow comes last)."""
ALL_COLOR = "#000000"
NEUTRAL = "#8C8C8C"
CAPACITY_COLOR = "#222222"

METRIC_LABELS = {
    "occupancy": "Occupancy",
    "wait_p90_days": "90th-percentile wait (days)",
    "wait_p50_days": "Median wait (days)",
    "wait_mean_days": "Average wait (days)",
    "wait_over_target_share": "Share of admissions waiting over target",
    "waitlist_mean": "Average waitlist (people)",
    "waitlist_max": "Longest waitlist (people)",
    "blocked_days_per_year": "Patient-days held per year",
    "admissions_per_year": "Admissions per year",
    "referrals_per_year": "Referrals per year",
    "census_mean": "Average patients in care",
    "los_mean_days": "Average stay (days)",
    "gave_up_per_year": "Gave up waiting per year",
    "turned_away_per_year": "Turned away per year",
    "relapses_per_year": "Relapses per year",
    "readmit_30d_share": "Readmitted within 30 days",
    "patients_in_care_mean": "Average patients in care",
}
SHARE_METRICS = frozenset({"occupancy", "wait_over_target_share", "readmit_30d_share"})
KEY_WORDS = {"capacity": "capacity (places)", "referrals_per_year": "referrals per year"}

STYLE = {
    "font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10, "legend.fontsize": 9,
    "xtick.labelsize": 9, "ytick.labelsize": 9, "axes.spines.top": False, "axes.spines.right": False,
    "axes.grid": True, "grid.color": "#E5E5E5", "grid.linewidth": 0.8, "axes.axisbelow": True,
    "legend.frameon": False, "figure.titlesize": 13, "figure.titleweight": "bold",
}
BAND = (5, 95)
"""Percentiles across replications that the shaded bands span (90% of replications)."""


# ---------------------------------------------------------------------------- shared pieces
def level_colors(levels: Sequence[str]) -> dict[str, str]:
    """One colour per level, in scenario order, the same in every figure; ``all`` is black.

    More than seven levels reuse the palette from the start.
    """
    named = [level for level in levels if level != "all"]
    colors = {level: OKABE_ITO[index % len(OKABE_ITO)] for index, level in enumerate(named)}
    return {**colors, "all": ALL_COLOR}


def metric_label(metric: str) -> str:
    """A metric's name in a planner's words (the code name when there is none)."""
    return METRIC_LABELS.get(metric, metric.replace("_", " "))


def key_label(key: str) -> str:
    """A scenario key such as ``levels.php.capacity`` in words: ``php capacity (places)``."""
    parts = key.split(".")
    if parts[0] == "levels" and len(parts) >= 3:
        parts = parts[1:]
    return " ".join(KEY_WORDS.get(part, part.replace("_", " ")) for part in parts)


def save(figure: Figure, folder: str | Path, name: str) -> list[Path]:
    """Write ``figure`` to ``folder/name.png`` (150 dpi) and ``folder/name.svg``; return both paths."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    paths = [target / f"{name}.png", target / f"{name}.svg"]
    figure.savefig(paths[0], dpi=150, bbox_inches="tight", facecolor="white")
    # no date in the SVG, so the same figure always writes the same file
    figure.savefig(paths[1], bbox_inches="tight", facecolor="white", metadata={"Date": None})
    return paths


@contextmanager
def _style() -> Iterator[None]:
    with mpl.rc_context(STYLE):  # type: ignore[arg-type]  # the stubs spell every key as a Literal
        yield


def _levels_in(table: pd.DataFrame, levels: Sequence[str] | None) -> list[str]:
    """``levels`` if given, else the table's own levels as first seen (``all`` last)."""
    if levels is not None:
        return list(levels)
    seen = list(dict.fromkeys(table["level"]))
    return [level for level in seen if level != "all"] + (["all"] if "all" in seen else [])


def _error(table: pd.DataFrame, value: str = "mean", prefix: str = "") -> np.ndarray:
    """Error-bar lengths below and above ``value`` from ``ci_low``/``ci_high`` (0 where missing)."""
    low = (table[value] - table[f"{prefix}ci_low"]).clip(lower=0).fillna(0)
    high = (table[f"{prefix}ci_high"] - table[value]).clip(lower=0).fillna(0)
    return np.vstack([low.to_numpy(), high.to_numpy()])


def _empty(ax: Axes, message: str) -> None:
    ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center", color="0.4")


def _unit(metric: str) -> str:
    """The unit in a metric's label, as in ``days`` from ``90% start within (days)``."""
    label = metric_label(metric)
    return label[label.rfind("(") + 1: -1] if label.endswith(")") else label.lower()


def _days(days: float) -> str:
    return f"{days:g} day" + ("" if days == 1 else "s")


def _bare(label: str) -> str:
    """A label without its trailing unit: ``php capacity (places)`` -> ``php capacity``."""
    return label[: label.rfind(" (")] if label.endswith(")") else label


def _wrap(text: str, width: int = 38) -> str:
    return "\n".join(textwrap.wrap(text, width)) or text


# ---------------------------------------------------------------------------- census over time
def census_over_time(daily: pd.DataFrame, levels: Sequence[str], warmup_days: int) -> Figure:
    """Patients in care (left) and waiting (right) per level over time, warm-up shaded.

    Lines are the median across replications, shaded bands hold 90% of replications (5th to
    95th percentile), the black step line is the usable capacity (dotted: places, where staff
    shortages close some). ``day`` counts from the end of warm-up.
    """
    with _style():
        colors = level_colors(levels)
        figure = Figure(figsize=(11, 1.9 * len(levels) + 1.3), layout="constrained")
        axes = figure.subplots(len(levels), 2, sharex=True, squeeze=False)
        replications = daily["replication"].nunique()
        for row, level in zip(axes, levels, strict=True):
            table = daily[daily["level"] == level]
            _median_band(row[0], table, "census", colors[level])
            _capacity_lines(row[0], table)
            _median_band(row[1], table, "waitlist", colors[level])
            row[0].set_ylabel("Patients in care")
            row[1].set_ylabel("Waiting (people)")
            for ax in row:
                ax.set_title(level, loc="left", color=colors[level], fontweight="bold")
                _shade_warmup(ax, table, warmup_days)
        for ax in axes[-1]:
            ax.set_xlabel("Day (0 = end of warm-up; measured from there on)")
        figure.legend(handles=_census_legend(daily, replications, warmup_days), loc="outside lower center",
                      ncols=5)
        figure.suptitle("Patients in care and waiting, day by day")
        return figure


def _percentiles(table: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    """Days and the (5th, 50th, 95th) percentiles of ``column`` across replications, per day;
    over runs longer than a year, as 7-day rolling averages (daily noise would hide the trend)."""
    wide = table.pivot_table(index="day", columns="replication", values=column, aggfunc="first")
    lines = np.nanpercentile(wide.to_numpy(dtype=float), [BAND[0], 50, BAND[1]], axis=1)
    window = _smoothing_days(len(wide))
    if window > 1:
        lines = pd.DataFrame(lines.T).rolling(window, center=True, min_periods=1).mean().to_numpy().T
    return wide.index.to_numpy(), lines


def _smoothing_days(days: int) -> int:
    return 7 if days > 365 else 1


def _median_band(ax: Axes, table: pd.DataFrame, column: str, color: str) -> None:
    days, (low, median, high) = _percentiles(table, column)
    ax.fill_between(days, low, high, color=color, alpha=0.25, linewidth=0)
    ax.plot(days, median, color=color, linewidth=1.2, zorder=3)
    ax.set_ylim(bottom=0, top=max(1.0, float(np.nanmax(high)) * 1.08))
    if column == "waitlist" and not np.nanmax(high) > 0:
        _empty(ax, "No one waited")


def _capacity_lines(ax: Axes, table: pd.DataFrame) -> None:
    days, (_, capacity, _) = _percentiles(table, "capacity")
    ax.plot(days, capacity, color=CAPACITY_COLOR, linewidth=1.0, drawstyle="steps-post", zorder=2)
    top = float(np.nanmax(capacity))
    if "places" in table and not np.allclose(table["places"], table["capacity"]):
        days, (_, places, _) = _percentiles(table, "places")
        ax.plot(days, places, color=CAPACITY_COLOR, linewidth=1.0, linestyle=":", drawstyle="steps-post", zorder=2)
        top = max(top, float(np.nanmax(places)))
    ax.set_ylim(top=max(ax.get_ylim()[1], top * 1.08))


def _shade_warmup(ax: Axes, table: pd.DataFrame, warmup_days: int) -> None:
    first = int(table["day"].min()) if len(table) else 0
    if warmup_days > 0 and first < 0:
        ax.axvspan(first, 0, color="0.92", linewidth=0, zorder=0)
        ax.set_xlim(first, int(table["day"].max()))


def _census_legend(daily: pd.DataFrame, replications: int, warmup_days: int) -> list:
    smoothing = _smoothing_days(daily["day"].nunique())
    median = f"Median of {replications} replications" + (f" ({smoothing}-day average)" if smoothing > 1 else "")
    handles = [Line2D([], [], color="0.3", linewidth=1.2, label=median),
               Patch(color="0.3", alpha=0.25, label="90% of replications within"),
               Line2D([], [], color=CAPACITY_COLOR, linewidth=1.2, label="Capacity (usable places)")]
    if "places" in daily and not np.allclose(daily["places"], daily["capacity"]):
        handles.append(Line2D([], [], color=CAPACITY_COLOR, linestyle=":", label="Places (incl. closed)"))
    if warmup_days > 0:
        handles.append(Patch(color="0.92", label="Warm-up (not measured)"))
    return handles


# ---------------------------------------------------------------------------- waits
def wait_curves(wait_quantiles: pd.DataFrame, levels: Sequence[str], target_days: float | None) -> Figure:
    """How long admitted patients waited: per level, the share admitted within each number of days.

    The line is the average of the replications' quantile functions; the band holds 90% of
    replications. The share over ``target_days`` in the legend is read from each replication's
    quantiles (to the nearest 1%) and averaged.
    """
    with _style():
        colors = level_colors(levels)
        figure = Figure(figsize=(9, 5), layout="constrained")
        ax = figure.subplots()
        drawn = [_wait_curve(ax, _quantile_table(wait_quantiles, level), level, colors[level], target_days)
                 for level in levels]
        longest = [value for value in drawn if value is not None]
        _wait_axes(ax, max([right for right, _ in longest], default=0.0), target_days)
        if not longest:
            _empty(ax, "No admissions in the measured period")
        elif max(most for _, most in longest) == 0:
            _empty(ax, "No one waited: every admission started the day it was referred")
        return figure


def _wait_curve(ax: Axes, wide: pd.DataFrame | None, level: str, color: str,
                target_days: float | None) -> tuple[float, float] | None:
    """Draw one level's curve and band; return the band's 99th-percentile wait and the longest
    wait (None without admissions)."""
    if wide is None:
        ax.plot([], [], color=color, label=f"{level}: no admissions")
        return None
    quantiles, waits = wide.index.to_numpy(), wide.to_numpy(dtype=float)
    low, high = np.nanpercentile(waits, BAND, axis=1)
    ax.fill_betweenx(quantiles, low, high, color=color, alpha=0.2, linewidth=0)
    ax.plot(np.nanmean(waits, axis=1), quantiles, color=color, linewidth=2,
            label=_wait_label(level, quantiles, waits, target_days))
    return float(np.nanmax(high[quantiles <= 0.99])), float(np.nanmax(waits))


def _quantile_table(wait_quantiles: pd.DataFrame, level: str) -> pd.DataFrame | None:
    """Quantiles as rows, replications as columns; None when no replication admitted anyone."""
    table = wait_quantiles[wait_quantiles["level"] == level]
    wide = table.pivot_table(index="quantile", columns="replication", values="wait_days", aggfunc="first",
                             dropna=False).sort_index()
    wide = wide.loc[:, wide.notna().any()]
    return None if wide.empty else wide


def _wait_label(level: str, quantiles: np.ndarray, waits: np.ndarray, target_days: float | None) -> str:
    if target_days is None:
        return level
    over = [1.0 - quantiles[column <= target_days].max(initial=0.0) for column in waits.T if np.isfinite(column).any()]
    share = float(np.mean(over))
    text = "none" if share == 0 else "<1%" if share < 0.01 else f"{share:.0%}"
    return f"{level}: {text} waited over {_days(target_days)}"


def _wait_axes(ax: Axes, widest: float, target_days: float | None) -> None:
    right = max(widest, 2.0 * target_days if target_days else 1.0, 1.0) * 1.05
    if target_days is not None:
        ax.axvline(target_days, color="0.2", linestyle="--", linewidth=1)
        ax.text(target_days, 0.02, f" target {_days(target_days)}", color="0.2", ha="left", va="bottom")
    ax.set_xlim(-0.01 * right, right)
    ax.set_ylim(0, 1.01)
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1))
    ax.set_xlabel("Days waited, from referral to admission")
    ax.set_ylabel("Share of admissions who\nwaited at most that long")
    ax.set_title("How long patients wait for a place (admissions in the measured period)", loc="left")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), title="Level (share over target)",
              alignment="left")


# ---------------------------------------------------------------------------- occupancy and blocking
def occupancy_and_blocking(summary: pd.DataFrame, levels: Sequence[str]) -> Figure:
    """Occupancy (with the 85% planning line) and patient-days held per year, per level, with 95% intervals."""
    with _style():
        colors = level_colors(levels)
        figure = Figure(figsize=(11, 4.6), layout="constrained")
        occupancy, blocked = figure.subplots(1, 2)
        _level_bars(occupancy, summary, levels, "occupancy", colors, lambda value: f"{value:.0%}")
        occupancy.axhline(0.85, color="0.25", linestyle="--", linewidth=1)
        occupancy.text(1.0, 0.85, "85%", transform=occupancy.get_yaxis_transform(), ha="left", va="center",
                       color="0.25")
        occupancy.set_ylim(0, max(1.0, occupancy.get_ylim()[1]))
        occupancy.yaxis.set_major_formatter(PercentFormatter(xmax=1))
        occupancy.set_ylabel("Average share of places in use")
        occupancy.set_title("Occupancy", loc="left")
        _level_bars(blocked, summary, levels, "blocked_days_per_year", colors, lambda value: f"{value:,.0f}")
        blocked.set_ylabel("Patient-days held per year")
        blocked.yaxis.set_major_locator(MaxNLocator(integer=True))
        blocked.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
        if not (summary[summary["metric"] == "blocked_days_per_year"]["mean"] > 0).any():
            _empty(blocked, "No one was held: every patient moved on when ready")
        blocked.set_title("Blocked days: ready to move on, held for want of a place next", loc="left")
        figure.suptitle("How full each level runs, and how long patients are held (mean, 95% interval)")
        return figure


def _level_bars(ax: Axes, summary: pd.DataFrame, levels: Sequence[str], metric: str, colors: dict[str, str],
                text: Callable[[float], str]) -> None:
    rows = summary[summary["metric"] == metric].set_index("level").reindex(list(levels))
    positions = np.arange(len(levels))
    ax.bar(positions, rows["mean"].fillna(0), color=[colors[level] for level in levels], width=0.6)
    ax.errorbar(positions, rows["mean"].fillna(0), yerr=_error(rows), fmt="none", ecolor="0.15", capsize=4)
    top = np.nanmax([rows["ci_high"].max(), rows["mean"].max(), 0.0])
    ax.set_ylim(0, top * 1.15 if top > 0 else 1.0)
    for position, (_, row) in zip(positions, rows.iterrows(), strict=True):
        label = "no data" if pd.isna(row["mean"]) else text(row["mean"])
        ax.annotate(label, (position, np.nanmax([row["ci_high"], row["mean"], 0.0])), xytext=(0, 4),
                    textcoords="offset points", ha="center", va="bottom")
    ax.set_xticks(positions, list(levels))
    pad = max(0.0, (3 - len(levels)) / 2)  # a lone bar keeps a bar's width, not the panel's
    ax.set_xlim(-0.5 - pad, len(levels) - 0.5 + pad)
    ax.grid(axis="x", visible=False)


# ---------------------------------------------------------------------------- staffing
def staffing_chart(staffing: pd.DataFrame, levels: Sequence[str] | None = None) -> Figure:
    """Full-time equivalents by level and role at the mean census (bar, 95% interval), with the
    FTE needed at the 90th-percentile census (diamond) and at full capacity (open circle)."""
    with _style():
        table = staffing[staffing["level"] != "all"]
        levels = [level for level in _levels_in(table, levels) if level != "all"]
        colors = level_colors(levels)
        wide = {basis: group.set_index(["level", "role"])
                for basis, group in table.groupby("census_basis", sort=False)}
        rows = [key for level in levels for key in wide["mean"].index if key[0] == level]
        figure = Figure(figsize=(9, 0.45 * len(rows) + 2.0), layout="constrained")
        ax = figure.subplots()
        positions = -np.arange(len(rows), dtype=float)
        mean = wide["mean"].loc[rows]
        ax.barh(positions, mean["fte"], color=[colors[level] for level, _ in rows], height=0.6)
        ax.errorbar(mean["fte"], positions, xerr=_error(mean, "fte", "fte_"), fmt="none", ecolor="0.15",
                    capsize=3)
        ends = _staffing_markers(ax, wide, rows, positions, mean)
        for position, value in zip(positions, mean["fte"], strict=True):
            ax.annotate(f"{value:,.1f}", (value, position + 0.3), xytext=(2, 1), textcoords="offset points",
                        ha="left", va="bottom", fontsize=9)
        ax.set_yticks(positions, [f"{level}: {role}" for level, role in rows])
        for label, (level, _) in zip(ax.get_yticklabels(), rows, strict=True):
            label.set_color(colors[level])
        ax.set_xlim(0, float(np.max(ends)) * 1.06)
        ax.grid(axis="y", visible=False)
        ax.set_xlabel("FTE (full-time equivalents)")
        ax.set_title(_wrap(_staffing_subtitle(staffing), 90), loc="left", fontsize=10, color="0.25")
        handles = [Patch(color="0.55", label="At the mean census (95% interval)"), *ax.get_legend_handles_labels()[0]]
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        figure.suptitle("Staff needed by level and role")
        return figure


def _fte_ci_high(rows: pd.DataFrame) -> np.ndarray:
    return np.fmax(rows["fte_ci_high"].to_numpy(dtype=float), rows["fte"].to_numpy(dtype=float))


def _staffing_markers(ax: Axes, wide: dict[str, pd.DataFrame], rows: list, positions: np.ndarray,
                      mean: pd.DataFrame) -> np.ndarray:
    """Mark FTE at the p90 census and at capacity; return where each row's marks end."""
    ends = _fte_ci_high(mean)
    styles: dict[str, dict[str, Any]] = {"p90": dict(marker="D", color="0.1", label="At the 90th-percentile census"),
              "capacity": dict(marker="o", markerfacecolor="white", color="0.1", label="At full capacity")}
    for basis, style in styles.items():
        if basis in wide:
            values = wide[basis].reindex(rows)["fte"].to_numpy(dtype=float)
            ax.plot(values, positions, linestyle="none", markersize=6, **style)
            ends = np.fmax(ends, np.nan_to_num(values))
    return ends


def _staffing_subtitle(staffing: pd.DataFrame) -> str:
    total = staffing[(staffing["level"] == "all") & (staffing["role"] == "all")].set_index("census_basis")
    if "mean" not in total.index:
        return "FTE at the mean census, 90th-percentile census and full capacity"
    row = total.loc["mean"]
    text = f"In total {row['fte']:,.0f} FTE at the mean census"
    if round(row["fte_ci_low"]) != round(row["fte_ci_high"]):
        text += f" ({row['fte_ci_low']:,.0f}-{row['fte_ci_high']:,.0f})"
    if "p90" in total.index:
        text += f", {total.loc['p90', 'fte']:,.0f} at the 90th percentile"
    if pd.notna(row.get("cost_per_year")):
        text += f"; about ${row['cost_per_year'] / 1e6:,.1f} million a year at the mean"
    return text


# ---------------------------------------------------------------------------- comparison
MARKERS = ("o", "s", "D", "^", "v", "P", "X")


def comparison_chart(comparison: pd.DataFrame,
                     metrics: Sequence[str] = ("wait_p90_days", "occupancy", "waitlist_mean"),
                     levels: Sequence[str] | None = None) -> Figure:
    """Each scenario's difference from the base per level and metric, with its 95% interval.

    Filled markers and thick lines are clear differences (the interval excludes zero); hollow
    markers could be chance. One panel per metric, levels down the side.
    """
    with _style():
        table = comparison[comparison["metric"].isin(metrics)]
        levels = _levels_in(table, levels)
        scenarios = list(dict.fromkeys(table["scenario"]))
        colors = level_colors(levels)
        figure = Figure(figsize=(3.6 * len(metrics) + 1.2, 0.5 * len(levels) * max(2, len(scenarios)) + 2.2),
                        layout="constrained")
        axes = figure.subplots(1, len(metrics), sharey=True, squeeze=False)[0]
        offsets = (np.arange(len(scenarios)) - (len(scenarios) - 1) / 2) * 0.7 / max(1, len(scenarios))
        for ax, metric in zip(axes, metrics, strict=True):
            rows = table[table["metric"] == metric]
            for index, scenario in enumerate(scenarios):
                _difference_marks(ax, rows[rows["scenario"] == scenario], levels, colors,
                                  MARKERS[index % len(MARKERS)], offsets[index])
            _difference_axes(ax, metric, rows)
        axes[0].set_yticks(-np.arange(len(levels)), levels)
        for label, level in zip(axes[0].get_yticklabels(), levels, strict=True):
            label.set_color(colors[level])
        figure.legend(handles=_comparison_legend(scenarios), loc="outside lower center",
                      ncols=min(3, len(scenarios) + 2))
        figure.suptitle("Difference from the base scenario (alternative minus base, 95% interval)")
        return figure


def _difference_marks(ax: Axes, rows: pd.DataFrame, levels: list[str], colors: dict[str, str], marker: str,
                      offset: float) -> None:
    for _, row in rows.iterrows():
        if row["level"] not in levels or pd.isna(row["difference"]):
            continue
        y = -levels.index(row["level"]) + offset
        clear = bool(row["clear"])
        error = _error(pd.DataFrame([row]), "difference")
        ax.errorbar(row["difference"], y, xerr=error, fmt=marker, color=colors[row["level"]],
                    markerfacecolor=colors[row["level"]] if clear else "white", markersize=7,
                    elinewidth=2.4 if clear else 1.0, capsize=0)


def _difference_axes(ax: Axes, metric: str, rows: pd.DataFrame) -> None:
    ax.axvline(0, color="0.3", linewidth=1)
    share = metric in SHARE_METRICS
    ax.set_title(_wrap(metric_label(metric), 30), loc="left")
    ax.set_xlabel("Change (percentage points)" if share else f"Change ({_unit(metric)})")
    if share:
        ax.xaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=None))
    ax.grid(axis="y", visible=False)
    if rows.empty:
        _empty(ax, "not in this comparison")


def _comparison_legend(scenarios: list[str]) -> list:
    handles = [Line2D([], [], marker=MARKERS[i % len(MARKERS)], color="0.3", linestyle="none", markersize=7,
                      label=_wrap(name, 45)) for i, name in enumerate(scenarios)]
    handles += [Line2D([], [], marker="o", color="0.3", markersize=7, linewidth=2.4, label="Clear difference"),
                Line2D([], [], marker="o", color="0.3", markerfacecolor="white", markersize=7, linewidth=1.0,
                       label="Could be chance (interval spans 0)")]
    return handles


# ---------------------------------------------------------------------------- sweep
def sweep_curve(sweep: pd.DataFrame, key: str, metric: str = "wait_p90_days",
                levels: Sequence[str] | None = None) -> Figure:
    """``metric`` against the swept ``key`` per level, mean and 95% interval band.

    Other keys of the grid, if any, get one panel per combination of their values.
    """
    with _style():
        keys = list(sweep.columns[: sweep.columns.get_loc("point")])
        others = [other for other in keys if other != key]
        table = sweep[sweep["metric"] == metric]
        levels = _levels_in(table, levels)
        colors = level_colors(levels)
        groups = list(table.groupby(others, sort=False)) if others else [((), table)]
        figure = Figure(figsize=(min(4.5 * len(groups), 13) + 2.2, 4.6), layout="constrained")
        axes = figure.subplots(1, len(groups), sharey=True, squeeze=False)[0]
        for ax, (values, rows) in zip(axes, groups, strict=True):
            _sweep_panel(ax, rows, key, metric, levels, colors)
            if others:
                named = values if isinstance(values, tuple) else (values,)
                ax.set_title(", ".join(f"{key_label(o)} = {v}" for o, v in zip(others, named, strict=True)),
                             loc="left")
        axes[0].set_ylabel(metric_label(metric))
        axes[-1].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), title="Level")
        figure.suptitle(f"{_bare(metric_label(metric))} by {_bare(key_label(key))}")
        if not others:
            axes[0].set_title(_sweep_note(metric), loc="left", fontsize=9.5, color="0.3")
        return figure


def _sweep_note(metric: str) -> str:
    note = "Mean across replications and 95% interval"
    return note + ("; 90% of admissions start within the plotted wait" if metric == "wait_p90_days" else "")


def _sweep_panel(ax: Axes, rows: pd.DataFrame, key: str, metric: str, levels: list[str],
                 colors: dict[str, str]) -> None:
    numeric = pd.api.types.is_numeric_dtype(rows[key])
    ticks = list(dict.fromkeys(rows[key]))
    for level in levels:
        line = rows[rows["level"] == level]
        if line.empty:
            continue
        line = line.sort_values(key) if numeric else line
        x = line[key].to_numpy(dtype=float) if numeric else np.array([ticks.index(v) for v in line[key]])
        ax.fill_between(x, line["ci_low"], line["ci_high"], color=colors[level], alpha=0.2, linewidth=0)
        ax.plot(x, line["mean"], color=colors[level], marker="o", linewidth=2, label=level)
    if not numeric:
        ax.set_xticks(range(len(ticks)), [str(tick) for tick in ticks])
    elif len(ticks) <= 12:
        ax.set_xticks(sorted(float(tick) for tick in ticks), [f"{tick:g}" for tick in sorted(ticks)])
    if metric in SHARE_METRICS:
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1))
    ax.set_ylim(bottom=0)
    ax.set_xlabel(key_label(key))



# ---------------------------------------------------------------------------- flow diagram
SOURCE_NAMES = {"community": "New referrals", "relapse": "Back after relapse"}
EXIT_NAMES = {"discharged": "Discharged", "dropped_out": "Dropped out", "gave_up": "Gave up waiting",
              "turned_away": "Turned away"}
RETURN_EXITS = ("discharged", "dropped_out")
SOURCE_COLORS = {"community": "#BBBBBB", "relapse": "#7A7A7A"}
NODE_WIDTH = 0.1
"""Node width in columns (columns are 1 apart)."""
FLOW_SIZE = (12.0, 7.2)
FLOW_AXES = (0.0, 0.08, 1.0, 0.84)
"""Figure size (inches) and the diagram's place in it; fixed, so data units per point are known."""
POINTS = {"lane": 14.0, "relapse_lane": 30.0, "header": 34.0, "label": 10.5, "node_label": 22.0}
"""Heights in points: each step-up lane, the relapse lane, column headers; label spacing."""


@dataclass
class _Flows:
    """Yearly volumes by kind: into a level from outside, between levels, out of care, back by relapse."""

    into: dict[tuple[str, str], float] = field(default_factory=dict)
    moves: dict[tuple[str, str], float] = field(default_factory=dict)
    out: dict[tuple[str, str], float] = field(default_factory=dict)
    returns: dict[str, float] = field(default_factory=dict)

    @staticmethod
    def add(book: dict, key: object, volume: float) -> None:
        book[key] = book.get(key, 0.0) + volume


@dataclass
class _Node:
    x: float
    top: float
    height: float
    used: dict[str, float] = field(default_factory=lambda: {"in": 0.0, "out": 0.0})

    def take(self, volume: float, face: str) -> float:
        """The top of the next ``volume`` on the ``in`` (left) or ``out`` (right) face."""
        top = self.top - self.used[face]
        self.used[face] += volume
        return top


@dataclass
class _Band:
    x0: float
    top0: float
    x1: float
    top1: float
    volume: float
    color: str
    curve: str            # bend just after the start ("start") or just before the end ("end")
    hatch: str | None = None


def _sort_flows(flows: pd.DataFrame, levels: Sequence[str]) -> _Flows:
    """Sort rows into kinds; an exit as source (people relapsing after leaving by it) counts as relapse."""
    book = _Flows()
    for source, target, volume in flows[["source", "target", "per_year"]].itertuples(index=False):
        if not volume > 0:
            continue
        if source in levels:
            book.add(book.moves if target in levels else book.out, (source, target), volume)
        elif target in levels:
            if source in RETURN_EXITS:
                book.add(book.returns, source, volume)
                source = "relapse"
            book.add(book.into, (source, target), volume)
        elif target == "relapse":
            book.add(book.returns, source, volume)
    return book


def flow_diagram(flows: pd.DataFrame, levels: Sequence[str]) -> Figure:
    """Patients a year from referral through each level to leaving care: a Sankey-style diagram.

    Reads left to right: where people come from (new referrals, relapse), one column per level in
    scenario order, how they leave. Band widths are to scale and labelled in people a year; a band
    has the colour of the level people leave. Steps back up to a more intensive level are arrows
    over the top; the dashed loop carries people who left care and relapsed back into it.
    """
    with _style():
        figure = Figure(figsize=FLOW_SIZE)
        ax = figure.add_axes(FLOW_AXES)
        book = _sort_flows(flows, levels)
        figure.suptitle("How patients move through care (people a year, average of replications)")
        if not (book.into or book.moves or book.out):
            _empty(ax, "No patient flows to show")
            ax.set_axis_off()
            return figure
        diagram = _FlowDiagram(book, list(levels), ax, height_points=FLOW_AXES[3] * FLOW_SIZE[1] * 72)
        left_off = diagram.draw()
        figure.text(0.5, 0.015, _flow_note(diagram, left_off), ha="center", va="bottom", fontsize=9, color="0.3")
        return figure


def _flow_note(diagram: _FlowDiagram, left_off: int) -> str:
    """The footnote: how to read the diagram, naming only what it shows."""
    first = ["Band widths to scale. A band has the colour of the level people leave; light grey: new referrals"]
    if "relapse" in diagram.nodes:
        first.append("hatched: back after relapse")
    second = ["Arrows over the top: steps up to a more intensive level."] if diagram.step_ups else []
    if "relapse" in diagram.nodes:
        second.append("Dashed loop: people who left care and relapsed.")
    if left_off:
        second.append(f"Numbers on {left_off} thin bands left off for room.")
    return "; ".join(first) + "." + ("\n" + " ".join(second) if second else "")


class _FlowDiagram:
    """Layout and drawing of :func:`flow_diagram`.

    Levels sit on a staircase, level ``i`` in column ``i + 1`` and alone in its row, so a band
    running flat along a row never crosses another level's box; bands bend in one column gap.
    """

    def __init__(self, book: _Flows, levels: list[str], ax: Axes, height_points: float) -> None:
        self.book, self.levels, self.ax, self.height_points = book, levels, ax, height_points
        self.colors = level_colors(levels)
        self.exit_x = len(levels) + 1.0
        self.forward = {key: v for key, v in book.moves.items() if levels.index(key[1]) > levels.index(key[0])}
        self.step_ups = [(a, b, v) for (a, b), v in book.moves.items() if (a, b) not in self.forward]
        self.nodes: dict[str, _Node] = {}
        self.bands: list[_Band] = []
        self.labels: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
        self.left_off = 0
        self._place_levels()
        self.sources = self._place_column(_totals(book.into, 0), 0.0, self._row_of_targets)
        self.exits = self._place_column(_totals(book.out, 1), self.exit_x, self._row_of_sources)
        self._route()
        self._set_limits()

    # -- layout
    def _place_levels(self) -> None:
        heights = [max(self._band_volume(level, 1), self._band_volume(level, 0), 1e-9) for level in self.levels]
        self.gap = 0.09 * max(sum(heights), 1e-9)
        top = 0.0
        for index, (level, height) in enumerate(zip(self.levels, heights, strict=True)):
            self.nodes[level] = _Node(index + 1.0, top, height)
            top -= height + self.gap
        self.bottom = top + self.gap

    def _band_volume(self, level: str, side: int) -> float:
        """People a year in bands entering (``side`` 1) or leaving (0) ``level``."""
        books = (self.book.into, self.forward) if side == 1 else (self.forward, self.book.out)
        return sum(v for book in books for key, v in book.items() if key[side] == level)

    def _row_of_targets(self, name: str) -> float:
        return self._centre([(b, v) for (a, b), v in self.book.into.items() if a == name])

    def _row_of_sources(self, name: str) -> float:
        return self._centre([(a, v) for (a, b), v in self.book.out.items() if b == name])

    def _centre(self, weights: list[tuple[str, float]]) -> float:
        """The volume-weighted height of the centres of the levels a column node joins."""
        return sum((self.nodes[n].top - self.nodes[n].height / 2) * v for n, v in weights) / sum(
            v for _, v in weights)

    def _place_column(self, volumes: dict[str, float], x: float, centre: Callable[[str], float]) -> list[str]:
        """Stack a column top-down, each node near the levels it joins; the relapse loop's ends on top."""
        wanted = {name: centre(name) for name in volumes}
        first = RETURN_EXITS if x > 0 else ("relapse",)  # where the relapse loop leaves and arrives
        order = sorted(volumes, key=lambda name: (name not in first, -wanted[name]))
        floor = 0.0
        for name in order:
            top = min(wanted[name] + volumes[name] / 2, floor)
            self.nodes[name] = _Node(x, top, volumes[name])
            floor = top - volumes[name] - self.gap
        self.bottom = min(self.bottom, floor + self.gap)
        return order

    def _route(self) -> None:
        """Give every band its slot on both faces; slot order keeps bands from crossing their neighbours."""
        ends: dict[tuple[str, str], float] = {}
        for index, level in enumerate(self.levels):
            sources = [(a, level) for a in reversed(self.levels[:index]) if (a, level) in self.forward]
            sources += [(a, level) for a in self.sources if (a, level) in self.book.into]
            for key in sources:
                ends[key] = self._take(level, "in", key, label=True)
        for source in self.sources:
            for level in self.levels:
                if (source, level) in self.book.into:
                    self._band(source, level, ends[(source, level)], self.book.into, "start")
        for level in self.levels:
            for name in self.exits:
                if (level, name) in self.book.out:
                    end = self._take(name, "in", (level, name))
                    self._band(level, name, end, self.book.out, "end", label=True)
            for target in self.levels:
                if (level, target) in self.forward:
                    self._band(level, target, ends[(level, target)], self.forward, "start")

    def _take(self, name: str, face: str, key: tuple[str, str], label: bool = False) -> float:
        volume = {**self.book.into, **self.book.moves, **self.book.out}[key]
        top = self.nodes[name].take(volume, face)
        if label:
            self.labels.setdefault((name, face), []).append((top - volume / 2, volume, self.nodes[name].x))
        return top

    def _band(self, source: str, target: str, end: float, book: dict, curve: str, label: bool = False) -> None:
        start = self._take(source, "out", (source, target), label)
        color = self.colors.get(source) or SOURCE_COLORS.get(source, NEUTRAL)
        self.bands.append(_Band(self.nodes[source].x, start, self.nodes[target].x, end, book[(source, target)],
                                color, curve, "///" if source == "relapse" else None))

    def _set_limits(self) -> None:
        """Fix the axes' limits; the headroom above the diagram is given in points, so solve for the scale."""
        self.lanes = _lanes([(self.nodes[b].x, self.nodes[a].x) for a, b, _ in self.step_ups])
        self.headroom = (max(self.lanes, default=-1) + 1.5) * POINTS["lane"] + POINTS["relapse_lane"] + \
            POINTS["header"]
        span = -self.bottom * 1.02 / (1 - self.headroom / self.height_points)
        self.per_point = span / self.height_points
        self.ax.set_ylim(self.headroom * self.per_point - span, self.headroom * self.per_point)
        self.ax.set_xlim(-1.3, self.exit_x + 1.3)
        self.ax.set_axis_off()

    def _lane_y(self, lane: float) -> float:
        return (lane + 1) * POINTS["lane"] * self.per_point

    # -- drawing
    def draw(self) -> int:
        """Draw everything; return how many bands' numbers were left off for want of room."""
        for band in self.bands:
            self.ax.add_patch(Polygon(_band_outline(band), closed=True, facecolor=band.color, alpha=0.45,
                                      edgecolor="white" if band.hatch else "none", linewidth=0,
                                      hatch=band.hatch))
        for name, node in self.nodes.items():
            color = self.colors.get(name, SOURCE_COLORS.get(name, NEUTRAL))
            self.ax.add_patch(Rectangle((node.x - NODE_WIDTH / 2, node.top - node.height), NODE_WIDTH,
                                        node.height, facecolor=color, edgecolor="none"))
        self._draw_volumes()
        self._draw_column_labels()
        self._draw_step_ups()
        self._draw_relapse_loop()
        self._draw_headers()
        return self.left_off

    def _text(self, x: float, y: float, text: str, **style: Any) -> None:
        self.ax.text(x, y, text, path_effects=[withStroke(linewidth=3, foreground="white")], **style)

    def _draw_volumes(self) -> None:
        for (_, face), items in self.labels.items():
            kept, heights = _fitting(items, POINTS["label"] * self.per_point)
            self.left_off += len(items) - len(kept)
            for (_, volume, x), y in zip(kept, heights, strict=True):
                offset = NODE_WIDTH / 2 + 0.04
                self._text(x - offset if face == "in" else x + offset, y, f"{volume:,.0f}", fontsize=8.5,
                           ha="right" if face == "in" else "left", va="center", color="0.1")

    def _draw_column_labels(self) -> None:
        for names, side, words in ((self.sources, -1, SOURCE_NAMES), (self.exits, 1, EXIT_NAMES)):
            centres = _spread([self.nodes[n].top - self.nodes[n].height / 2 for n in names],
                              POINTS["node_label"] * self.per_point)
            for name, y in zip(names, centres, strict=True):
                node = self.nodes[name]
                self._text(node.x + side * (NODE_WIDTH / 2 + 0.06), y,
                           f"{words.get(name, name.replace('_', ' '))}\n{node.height:,.0f}",
                           ha="right" if side < 0 else "left", va="center", fontsize=9.5)

    def _draw_step_ups(self) -> None:
        offsets = _endpoint_offsets(self.step_ups)
        for (source, target, volume), lane in zip(self.step_ups, self.lanes, strict=True):
            start_x = self.nodes[source].x + offsets[(source, target, "from")]
            end_x = self.nodes[target].x + offsets[(source, target, "to")]
            y = self._lane_y(lane)
            path = CurvePath([(start_x, self.nodes[source].top), (start_x, y), (end_x, y),
                              (end_x, self.nodes[target].top)])
            width = max(1.0, volume / self.per_point)
            self.ax.add_patch(FancyArrowPatch(path=path, arrowstyle="-|>", mutation_scale=6 + 2 * width,
                                              linewidth=width, color=self.colors[source], joinstyle="round"))
            self._text((start_x + end_x) / 2, y, f"{volume:,.0f}", ha="center", va="bottom", fontsize=8,
                       color=self.colors[source])

    def _draw_relapse_loop(self) -> None:
        if "relapse" not in self.nodes or not self.exits:
            return
        y = self._lane_y(max(self.lanes, default=-1) + 1) + POINTS["relapse_lane"] * 0.35 * self.per_point
        start, end = self.nodes[self.exits[0]], self.nodes["relapse"]
        self.ax.plot([start.x, start.x, end.x, end.x], [start.top, y, y, end.top + 6 * self.per_point],
                     color=SOURCE_COLORS["relapse"], linewidth=2, linestyle=(0, (4, 2)))
        self.ax.annotate("", xy=(end.x, end.top), xytext=(end.x, end.top + 8 * self.per_point),
                         arrowprops={"arrowstyle": "-|>", "color": SOURCE_COLORS["relapse"], "linewidth": 2})
        self._text((start.x + end.x) / 2, y + 3 * self.per_point, self._relapse_text(), ha="center",
                   va="bottom", fontsize=9, color="0.25")

    def _relapse_text(self) -> str:
        total = self.nodes["relapse"].height
        parts = [f"{v:,.0f} after {EXIT_NAMES.get(e, e).lower()}" for e, v in self.book.returns.items()]
        return f"Relapse: {total:,.0f} a year come back into care" + (f" ({', '.join(parts)})" if parts else "")

    def _draw_headers(self) -> None:
        y = self.headroom * self.per_point - 4 * self.per_point
        for x, text in ((0.0, "Came from"), (self.exit_x, "Left care")):
            self.ax.text(x, y, text, ha="center", va="top", fontsize=10.5, fontweight="bold", color="0.3")
        for level in self.levels:
            node = self.nodes[level]
            arrivals = self._band_volume(level, 1) + sum(v for _, b, v in self.step_ups if b == level)
            self.ax.text(node.x, y, level, ha="center", va="top", fontsize=10.5, fontweight="bold",
                         color=self.colors[level])
            self.ax.text(node.x, y - 14 * self.per_point, f"{arrivals:,.0f} arrive", ha="center", va="top",
                         fontsize=9, color="0.25")


def _totals(book: dict[tuple[str, str], float], side: int) -> dict[str, float]:
    """Volumes summed by the key's ``side`` (0 source, 1 target), in first-seen order."""
    totals: dict[str, float] = {}
    for key, volume in book.items():
        totals[key[side]] = totals.get(key[side], 0.0) + volume
    return totals


def _band_outline(band: _Band, steps: int = 40) -> np.ndarray:
    """A band of constant vertical thickness: flat, one smooth bend within a column gap, flat."""
    x0, x1 = band.x0 + NODE_WIDTH / 2, band.x1 - NODE_WIDTH / 2
    if band.curve == "start":
        bend = (x0, min(x1, band.x0 + 1 - NODE_WIDTH / 2))
    else:
        bend = (max(x0, band.x1 - 1 + NODE_WIDTH / 2), x1)
    u = np.linspace(0, 1, steps)
    xs = np.concatenate([[x0], bend[0] + (bend[1] - bend[0]) * u, [x1]])
    ys = np.concatenate([[band.top0], band.top0 + (band.top1 - band.top0) * u * u * (3 - 2 * u), [band.top1]])
    top = np.column_stack([xs, ys])
    return np.vstack([top, (top - [0.0, band.volume])[::-1]])


def _spread(heights: list[float], spacing: float) -> list[float]:
    """Heights moved apart to at least ``spacing``, keeping their order and, on average, their place."""
    order = np.argsort(heights)[::-1]
    wanted = np.asarray(heights, dtype=float)[order]
    placed = wanted.copy()
    for index in range(1, len(placed)):
        placed[index] = min(placed[index], placed[index - 1] - spacing)
    placed += (wanted - placed).mean() / 2 if len(placed) else 0.0
    for index in range(1, len(placed)):
        placed[index] = min(placed[index], placed[index - 1] - spacing)
    result = np.empty_like(placed)
    result[order] = placed
    return list(result)


def _fitting(items: list[tuple[float, float, float]], spacing: float) -> tuple[list, list[float]]:
    """The labels (height, volume, x) that fit within 1.5 label heights of their band once spread
    apart, the smallest volumes left off first, and their heights."""
    kept = list(items)
    while kept:
        heights = _spread([y for y, _, _ in kept], spacing)
        if all(abs(h - y) <= 1.5 * spacing for h, (y, _, _) in zip(heights, kept, strict=True)):
            return kept, heights
        kept.remove(min(kept, key=lambda item: item[1]))
    return [], []


def _lanes(spans: list[tuple[float, float]]) -> list[int]:
    """A lane per span (left, right) so that no two spans sharing a lane overlap; short spans lowest."""
    lanes = [0] * len(spans)
    taken: list[list[tuple[float, float]]] = []
    for index in sorted(range(len(spans)), key=lambda i: spans[i][1] - spans[i][0]):
        left, right = spans[index]
        lane = next((n for n, used in enumerate(taken)
                     if all(right + 0.2 < a or left - 0.2 > b for a, b in used)), len(taken))
        if lane == len(taken):
            taken.append([])
        taken[lane].append((left, right))
        lanes[index] = lane
    return lanes


def _endpoint_offsets(step_ups: list[tuple[str, str, float]]) -> dict[tuple[str, str, str], float]:
    """Sideways offsets so the arrows leaving or reaching the same box stand apart."""
    ends: dict[str, list[tuple[str, str, str]]] = {}
    for source, target, _ in step_ups:
        ends.setdefault(source, []).append((source, target, "from"))
        ends.setdefault(target, []).append((source, target, "to"))
    return {end: (index - (len(items) - 1) / 2) * 0.09 for items in ends.values() for index, end in enumerate(items)}
