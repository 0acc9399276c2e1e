"""Figures from results tables: each function takes DataFrames and returns a matplotlib Figure.

Nothing here reaches into the model: the inputs are the tables of :class:`sim.Results`
(``daily``, ``summary``, ``wait_quantiles``, ``flows``, ``staffing``, ``groups``), of :func:`sim.compare` and
of :func:`sim.sweep`. Figures are built with :class:`matplotlib.figure.Figure`, never pyplot, so
they need no display and leave no global state behind (in Jupyter, a figure left as a cell's value
shows once ``%matplotlib inline`` has run in the notebook).
Every level keeps one colour in every figure (:func:`level_colors`, the Okabe-Ito palette, which
reads for the common kinds of colour blindness). :func:`save` writes a figure as PNG and SVG, :func:`save_all`
many figures in several processes.

Like pandas and seaborn, every figure function also draws into axes you made, ``ax=``: one Axes
for a one-panel figure, a list or array of Axes (one per panel, row by row) for the others; it
returns the Figure holding them. Your figure keeps its own size, layout and title: the
function's overall title (``suptitle``) is left off, and a legend that would sit under its own
figure goes beside the last panel instead::

    figure = Figure(figsize=(16, 5), layout="constrained")
    left, right = figure.subplots(1, 2)
    sim.plots.wait_curves(results.wait_quantiles, levels, 14, ax=left)
    sim.plots.staffing_chart(results.staffing, ax=right)
"""

from __future__ import annotations

import io
import multiprocessing
import shutil
import textwrap
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.text import Annotation
from matplotlib.ticker import MaxNLocator, PercentFormatter, StrMethodFormatter

from sim.executors import local_workers, map_ordered
from sim.figure_style import CAPACITY_COLOR, empty, given_axes, house_style, level_colors, root_figure
from sim.flow_figure import flow_diagram as flow_diagram  # re-exported: sim.plots has every figure
from sim.metrics import LABELS, METRICS
from sim.results import levels_reached

SHARE_METRICS = frozenset(name for name, metric in METRICS.items() if metric.is_share)
"""The metrics that are shares: drawn in percent, their differences in percentage points."""
KEY_WORDS = {"capacity": "capacity (places)", "referrals_per_year": "referrals per year"}

BAND = (5, 95)
"""Percentiles across replications that the shaded bands span (90% of replications)."""

PanelAxes = Axes | Sequence[Axes] | np.ndarray | None
"""What ``ax=`` takes: None (a new Figure), an Axes, or a list or array of Axes, one per panel."""


# ---------------------------------------------------------------------------- shared pieces
def metric_label(metric: str) -> str:
    """A metric's label from :mod:`sim.metrics` (a name that is no metric, in words)."""
    return LABELS.get(metric, metric.replace("_", " "))


def key_label(key: str) -> str:
    """A scenario key such as ``levels.php.capacity`` in words: ``php capacity (places)``."""
    parts = key.split(".")
    if parts[0] == "levels" and len(parts) >= 3:
        parts = parts[1:]
    return " ".join(KEY_WORDS.get(part, part.replace("_", " ")) for part in parts)


PNG_DPI = 150
_PNGS: WeakKeyDictionary[Figure, bytes] = WeakKeyDictionary()


def png_bytes(figure: Figure) -> bytes:
    """``figure`` as a PNG (150 dpi), drawn once: the report's page and its ``figures/`` file share it."""
    if figure not in _PNGS:
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=PNG_DPI, bbox_inches="tight", facecolor="white")
        _PNGS[figure] = buffer.getvalue()
    return _PNGS[figure]


def save(figure: Figure, folder: str | Path, name: str) -> list[Path]:
    """Write ``figure`` to ``folder/name.png`` (150 dpi) and ``folder/name.svg``; return both paths.

    The SVG keeps the layout and the tight bounding box the PNG was drawn with, rather than laying
    the figure out a second time (the layout was most of the cost of each file).
    """
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    paths = [target / f"{name}.png", target / f"{name}.svg"]
    paths[0].write_bytes(png_bytes(figure))
    engine = figure.get_layout_engine()
    box = figure.get_tightbbox().padded(mpl.rcParams["savefig.pad_inches"])
    # no date and no random element ids in the SVG, so the same figure always writes the same file
    with mpl.rc_context({"svg.hashsalt": name, "figure.autolayout": False, "figure.constrained_layout.use": False}):
        figure.set_layout_engine(None)   # laid out already, by the PNG's drawing: no layout, no trial drawing
        try:
            figure.savefig(paths[1], bbox_inches=box, facecolor="white", metadata={"Date": None})
        finally:
            figure.set_layout_engine(engine)
    return paths


def save_all(figures: Sequence[tuple[Figure | Callable[[], Figure], str]], folder: str | Path,
             jobs: int | None = 1) -> list[bytes]:
    """:func:`save` each ``(figure, name)`` in ``folder``, a figure given as itself or as what draws it (a
    picklable function of no arguments, such as a ``functools.partial`` of a function here); return their
    PNGs, in order (a figure given as itself keeps its PNG for :func:`png_bytes`).

    ``jobs``: processes to draw in (None: every core), where new processes start as copies of this
    one (``fork``: Linux up to Python 3.13), so at once with matplotlib loaded; elsewhere, and with
    ``jobs=1``, in this one. A figure comes out the same, byte for byte, whichever process draws it.
    Not from a program with threads of its own (a web server), which is not safe to fork.
    """
    workers = local_workers(jobs, len(figures)) if multiprocessing.get_start_method() == "fork" else 1
    pngs = map_ordered(_saved, [(figure, folder, name) for figure, name in figures], jobs=workers, progress=False)
    for (figure, _), png in zip(figures, pngs, strict=True):
        if isinstance(figure, Figure):
            _PNGS[figure] = png
    return pngs


def copied(source: str | Path, folder: str | Path, name: str) -> bytes:
    """A figure :func:`save` wrote to ``source`` (``name.png`` and ``name.svg``), copied to ``folder``; its PNG."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    for suffix in (".png", ".svg"):
        shutil.copyfile(Path(source) / f"{name}{suffix}", target / f"{name}{suffix}")
    return (target / f"{name}.png").read_bytes()


def _saved(job: tuple[Figure | Callable[[], Figure], str | Path, str]) -> bytes:
    """Draw (if need be) and save one figure; its PNG."""
    drawing, folder, name = job
    figure = drawing if isinstance(drawing, Figure) else drawing()
    save(figure, folder, name)
    return png_bytes(figure)


def _levels_in(table: pd.DataFrame, levels: Sequence[str] | None) -> list[str]:
    """``levels`` if given, else the table's own levels as first seen (``all`` last)."""
    if levels is not None:
        return list(levels)
    seen = list(table["level"].unique())   # in order of appearance; a loop over a long column's strings is slow
    return [level for level in seen if level != "all"] + (["all"] if "all" in seen else [])


def _colors(table: pd.DataFrame) -> dict[str, str]:
    """Colours for every level in ``table`` (scenario order), so a level drawn alone keeps its colour."""
    return level_colors(_levels_in(table, None))


def _error(table: pd.DataFrame, value: str = "mean", prefix: str = "") -> np.ndarray:
    """Error-bar lengths below and above ``value`` from ``ci_low``/``ci_high`` (0 where missing)."""
    low = (table[value] - table[f"{prefix}ci_low"]).clip(lower=0).fillna(0)
    high = (table[f"{prefix}ci_high"] - table[value]).clip(lower=0).fillna(0)
    return np.vstack([low.to_numpy(), high.to_numpy()])


def _unit(metric: str) -> str:
    """A metric's unit from :mod:`sim.metrics`, as in ``days`` (a name that is no metric, in words)."""
    return METRICS[metric].unit if metric in METRICS else metric.replace("_", " ")


def _days(days: float) -> str:
    return f"{days:g} day" + ("" if days == 1 else "s")


def _bare(label: str) -> str:
    """A label without its trailing unit: ``php capacity (places)`` -> ``php capacity``."""
    return label[: label.rfind(" (")] if label.endswith(")") else label


def _wrap(text: str, width: int = 38) -> str:
    return "\n".join(textwrap.wrap(text, width)) or text


def _canvas(ax: PanelAxes, shape: tuple[int, int], size: tuple[float, float], function: str, wanted: str,
            sharex: bool = False, sharey: bool = False) -> tuple[Figure, list[Axes], bool]:
    """Where a figure is drawn: a new Figure of ``shape`` panels (``ax`` None) or the caller's
    axes; its panels row by row; and whether the Figure is the function's own."""
    if ax is None:
        figure = Figure(figsize=size, layout="constrained")
        panels = figure.subplots(*shape, sharex=sharex, sharey=sharey, squeeze=False)
        return figure, list(panels.ravel()), True
    axes = given_axes(ax, shape[0] * shape[1], function, wanted)
    return root_figure(axes[0]), axes, False


def _bottom_legend(figure: Figure, axes: list[Axes], own: bool, handles: list, ncols: int,
                   title: str | None = None) -> None:
    """The legend under the function's own figure; in the caller's, beside the last panel (their
    figure may hold other plots, whose legends would pile up underneath), with ``title`` saying
    what the left-off suptitle said."""
    if own:
        figure.legend(handles=handles, loc="outside lower center", ncols=ncols)
    else:
        axes[-1].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), title=title,
                        alignment="left")


# ---------------------------------------------------------------------------- census over time
def census_over_time(daily: pd.DataFrame, levels: Sequence[str], warmup_days: int, ax: PanelAxes = None) -> Figure:
    """Patients in care (left) and waiting (right) per level over time, warm-up shaded.

    Lines are the median across replications, shaded bands hold 90% of replications (5th to
    95th percentile), the black step line is the usable capacity (dotted: places, where staff
    shortages close some). ``day`` counts from the end of warm-up.

    ``ax``: two Axes per level, in care then waiting, row by row (e.g. ``figure.subplots(len(levels), 2)``);
    by default a Figure of its own.
    """
    with house_style():
        colors = _colors(daily)
        figure, panels, own = _canvas(ax, (len(levels), 2), (11, 1.9 * len(levels) + 1.3), "census_over_time",
                                      f"{2 * len(levels)} Axes, two per level (in care, waiting), e.g. "
                                      f"figure.subplots({len(levels)}, 2)", sharex=True)
        axes = np.reshape(np.asarray(panels, dtype=object), (len(levels), 2))
        replications = daily["replication"].nunique()
        for row, level in zip(axes, levels, strict=True):
            table = daily[daily["level"] == level]
            _median_band(row[0], table, "census", colors[level])
            _capacity_lines(row[0], table)
            _median_band(row[1], table, "waitlist", colors[level])
            row[0].set_ylabel("Patients in care")
            row[1].set_ylabel("Waiting (people)")
            for each in row:
                each.set_title(level, loc="left", color=colors[level], fontweight="bold")
                _shade_warmup(each, table, warmup_days)
        for each in axes[-1]:   # without a warm-up, day 0 is the run's first: today, where it starts from today
            each.set_xlabel("Day (0 = end of warm-up; measured from there on)" if warmup_days > 0
                            else "Day of the run (0 = its first day)")
        _bottom_legend(figure, panels, own, _census_legend(daily, replications, warmup_days), ncols=5)
        if own:
            figure.suptitle("Patients in care and waiting, day by day")
        return figure


def _percentiles(table: pd.DataFrame, column: str, percentiles: Sequence[float] = (BAND[0], 50, BAND[1]),
                 smooth: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Days and the percentiles (5th, 50th, 95th unless given) of ``column`` across replications, per day;
    over runs longer than a year, as 7-day rolling averages (daily noise would hide the trend) when ``smooth``."""
    wide = table.pivot_table(index="day", columns="replication", values=column, aggfunc="first")
    values = wide.to_numpy(dtype=float)
    # nanpercentile along rows is ~400x slower than percentile; gaps are rare (replications of unequal length)
    percentile = np.nanpercentile if np.isnan(values).any() else np.percentile
    lines = percentile(values, list(percentiles), axis=1)
    window = _smoothing_days(len(wide)) if smooth else 1
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
        empty(ax, "No one waited")


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


# ---------------------------------------------------------------------------- a forecast's fan
FAN = (5, 25, 50, 75, 95)
"""Percentiles across replications a fan chart draws: the 90% band, the 50% band and the median."""


def fan_chart(daily: pd.DataFrame, level: str, start_date: date | None = None, ax: PanelAxes = None) -> Figure:
    """One level's forecast: patients in care (top) and waiting (bottom) through the measured period.

    The line is the median across replications; the bands hold half of them (25th-75th percentile,
    dark) and nine in ten (5th-95th, light); the black step line is the usable capacity as it
    follows its schedule (dotted: places, where staff shortages close some). With ``start_date``
    (``run.start_date``) the x axis is the calendar, else days from day 0. ``ax``: two Axes, in care
    then waiting (e.g. ``figure.subplots(2, 1, sharex=True)``); by default a Figure of its own.
    """
    with house_style():
        table = daily[(daily["level"] == level) & (daily["day"] >= 0)]
        color = _colors(daily)[level]
        figure, axes, own = _canvas(ax, (2, 1), (10, 6.2), "fan_chart",
                                    "2 Axes (in care, waiting), e.g. figure.subplots(2, 1, sharex=True)", sharex=True)
        _fan(axes[0], table, "census", color, start_date)
        _capacity_steps(axes[0], table, start_date)
        _fan(axes[1], table, "waitlist", color, start_date)
        axes[0].set_ylabel("Patients in care")
        axes[1].set_ylabel("Waiting (people)")
        for each in axes:
            _calendar_axis(each, start_date)
        axes[-1].set_xlabel(f"Date (day 0 is {start_date.day} {start_date:%B %Y})" if start_date else
                            "Day (from day 0, the start of the measured period)")
        _bottom_legend(figure, axes, own, _fan_legend(table, color), ncols=5, title=level)
        if own:
            figure.suptitle(f"{level}: forecast of patients in care and waiting")
        return figure


def _when(days: np.ndarray, start_date: date | None) -> np.ndarray:
    """Days from day 0 as dates from ``start_date``, or as they are without one."""
    if start_date is None:
        return days
    return np.datetime64(start_date, "D") + days.astype(np.int64).astype("timedelta64[D]")


def _fan(ax: Axes, table: pd.DataFrame, column: str, color: str, start_date: date | None) -> None:
    days, (low, lower, median, upper, high) = _percentiles(table, column, FAN)
    when = _when(days, start_date)
    ax.fill_between(when, low, high, color=color, alpha=0.18, linewidth=0)
    ax.fill_between(when, lower, upper, color=color, alpha=0.4, linewidth=0)
    ax.plot(when, median, color=color, linewidth=1.4, zorder=3)
    ax.set_ylim(bottom=0, top=max(1.0, float(np.nanmax(high)) * 1.08))
    if column == "waitlist" and not np.nanmax(high) > 0:
        empty(ax, "No one waited")


def _capacity_steps(ax: Axes, table: pd.DataFrame, start_date: date | None) -> None:
    """The median usable capacity (and places, where they differ) day by day, as steps."""
    lines = ["capacity", *(["places"] if not np.allclose(table["places"], table["capacity"]) else [])]
    for column, style in zip(lines, ("-", ":"), strict=False):
        days, (median,) = _percentiles(table, column, (50,), smooth=False)   # a schedule steps, it never ramps
        # above the fan: a census pinned at capacity should read as full, not hide the limit
        ax.plot(_when(days, start_date), median, color=CAPACITY_COLOR, linewidth=1.0, linestyle=style,
                drawstyle="steps-post", zorder=4)
        ax.set_ylim(top=max(ax.get_ylim()[1], float(np.nanmax(median)) * 1.08))


def _calendar_axis(ax: Axes, start_date: date | None) -> None:
    if start_date is not None:
        locator = AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))


def _fan_legend(table: pd.DataFrame, color: str) -> list:
    smoothing = _smoothing_days(table["day"].nunique())
    median = "Median of replications" + (f" ({smoothing}-day average)" if smoothing > 1 else "")
    handles = [Line2D([], [], color=color, linewidth=1.4, label=median),
               Patch(color=color, alpha=0.4, label="Half of replications within"),
               Patch(color=color, alpha=0.18, label="Nine in ten within"),
               Line2D([], [], color=CAPACITY_COLOR, linewidth=1.0, label="Capacity (usable places)")]
    if not np.allclose(table["places"], table["capacity"]):
        handles.append(Line2D([], [], color=CAPACITY_COLOR, linestyle=":", label="Places (incl. closed)"))
    return handles


# ---------------------------------------------------------------------------- waits
def wait_curves(wait_quantiles: pd.DataFrame, levels: Sequence[str], target_days: float | None,
                ax: Axes | None = None) -> Figure:
    """How long admitted patients waited: per level, the share admitted within each number of days.

    The line is the average of the replications' quantile functions; the band holds 90% of
    replications. The share over ``target_days`` in the legend is read from each replication's
    quantiles (to the nearest 1%) and averaged. ``ax``: an Axes to draw in (default: a Figure of its own).
    """
    with house_style():
        colors = _colors(wait_quantiles)
        figure, (ax,), _ = _canvas(ax, (1, 1), (9, 5), "wait_curves", "one matplotlib Axes")
        drawn = [_wait_curve(ax, _quantile_table(wait_quantiles, level), level, colors[level], target_days)
                 for level in levels]
        longest = [value for value in drawn if value is not None]
        _wait_axes(ax, max([right for right, _ in longest], default=0.0), target_days)
        if not longest:
            empty(ax, "No admissions in the measured period")
        elif max(most for _, most in longest) == 0:
            empty(ax, "No one waited: every admission started the day it was referred")
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
    ax.set_xlabel("Days waited, from joining the waitlist to admission (or to giving up)")
    ax.set_ylabel("Share of waits (admissions,\ngive-ups) at most that long")
    ax.set_title("How long patients wait for a place (waits ended in the measured period)", loc="left")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), title="Level (share over target)",
              alignment="left")


# ---------------------------------------------------------------------------- occupancy and blocking
def occupancy_and_blocking(summary: pd.DataFrame, levels: Sequence[str], ax: PanelAxes = None) -> Figure:
    """Occupancy (with the 85% planning line) and patient-days held per year, per level, with 95% intervals.

    ``ax``: two Axes, occupancy then blocked days (e.g. ``figure.subplots(1, 2)``); by default a Figure of its own.
    """
    with house_style():
        colors = _colors(summary)
        figure, (occupancy, blocked), own = _canvas(ax, (1, 2), (11, 4.6), "occupancy_and_blocking",
                                                    "2 Axes (occupancy, blocked days), e.g. figure.subplots(1, 2)")
        _level_bars(occupancy, summary, levels, "occupancy", colors, lambda value: f"{value:.0%}")
        occupancy.axhline(0.85, color="0.25", linestyle="--", linewidth=1)
        occupancy.text(1.0, 0.85, "85%", transform=occupancy.get_yaxis_transform(), ha="left", va="center",
                       color="0.25")
        occupancy.set_ylim(0, max(1.0, occupancy.get_ylim()[1]))
        occupancy.yaxis.set_major_formatter(PercentFormatter(xmax=1))
        occupancy.set_ylabel("Average share of places in use")
        occupancy.set_title(metric_label("occupancy"), loc="left")
        _level_bars(blocked, summary, levels, "blocked_days_per_year", colors, lambda value: f"{value:,.0f}")
        blocked.set_ylabel(metric_label("blocked_days_per_year"))
        blocked.yaxis.set_major_locator(MaxNLocator(integer=True))
        blocked.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
        if not (summary[summary["metric"] == "blocked_days_per_year"]["mean"] > 0).any():
            empty(blocked, "No one was held: every patient moved on when ready")
        blocked.set_title("Blocked days: ready to move on, held for want of a place next", loc="left")
        if own:
            figure.suptitle("How full each level runs, and how long patients are held (mean, 95% interval)")
        return figure


def _level_bars(ax: Axes, summary: pd.DataFrame, levels: Sequence[str], metric: str, colors: dict[str, str],
                text: Callable[[float], str], missing: dict[str, str] | None = None) -> list[Annotation]:
    """Bars per level with 95% whiskers and their values; a level without a value says so (``missing``
    says why per level, else ``no data``). Returns those sayings."""
    rows = summary[summary["metric"] == metric].set_index("level").reindex(list(levels))
    positions = np.arange(len(levels))
    ax.bar(positions, rows["mean"].fillna(0), color=[colors[level] for level in levels], width=0.6)
    ax.errorbar(positions, rows["mean"].fillna(0), yerr=_error(rows), fmt="none", ecolor="0.15", capsize=4)
    top = np.nanmax([rows["ci_high"].max(), rows["mean"].max(), 0.0])
    ax.set_ylim(0, top * 1.15 if top > 0 else 1.0)
    sayings = []
    for position, (_, row) in zip(positions, rows.iterrows(), strict=True):
        label = (missing or {}).get(str(row.name), "no data") if pd.isna(row["mean"]) else text(row["mean"])
        drawn = ax.annotate(label, (position, np.nanmax([row["ci_high"], row["mean"], 0.0])), xytext=(0, 4),
                            textcoords="offset points", ha="center", va="bottom")
        if pd.isna(row["mean"]):
            sayings.append(drawn)
    ax.set_xticks(positions, list(levels))
    pad = max(0.0, (3 - len(levels)) / 2)  # a lone bar keeps a bar's width, not the panel's
    ax.set_xlim(-0.5 - pad, len(levels) - 0.5 + pad)
    ax.grid(axis="x", visible=False)
    return sayings


# ---------------------------------------------------------------------------- patient groups
def groups_chart(groups: pd.DataFrame, metrics: Sequence[str] = ("wait_mean_days", "census_mean"),
                 levels: Sequence[str] | None = None, ax: PanelAxes = None) -> Figure:
    """Each patient group's figures per level, side by side: a row of panels per metric, a panel per group.

    Bars are the mean across replications in the level's colour, whiskers the 95% interval; the
    panels of a row share their y axis, so the groups compare at a glance. ``groups`` is
    :attr:`sim.Results.groups`; ``levels`` default to every level but ``all``, in the order the
    groups' rows give (a level that refuses a group has none of its rows, so pass
    ``scenario.level_names`` to be sure of the scenario's order and colours). ``ax``: one Axes per
    metric and group, row by row (e.g. ``figure.subplots(len(metrics), groups)``); by default a
    Figure of its own.
    """
    with house_style():
        found = _merged_levels(groups)
        given = list(levels) if levels is not None else []
        shown = given or [level for level in found if level != "all"]
        colors = level_colors(given if set(found) - {"all"} <= set(given) else found)
        names = list(dict.fromkeys(groups["group"]))
        shape = (len(metrics), len(names))
        figure, panels, own = _canvas(ax, shape, (min(4.0 * len(names), 14.0) + 0.8, 3.2 * len(metrics) + 0.9),
                                      "groups_chart", f"{shape[0] * shape[1]} Axes, one per metric and group, "
                                      f"e.g. figure.subplots({shape[0]}, {shape[1]})")
        rows = np.reshape(np.asarray(panels, dtype=object), shape)
        sayings: list[tuple[Axes, Annotation]] = []
        for row, metric in zip(rows, metrics, strict=True):
            for panel, name in zip(row, names, strict=True):
                table, unused = _group_rows(groups, name, shown)
                drawn = _level_bars(panel, table, shown, metric, colors, _amount(metric), missing=unused)
                sayings += [(panel, saying) for saying in drawn]
            _shared_y(row, metric, own)
            row[0].set_ylabel(_wrap(metric_label(metric), 26))
        for panel, name in zip(rows[0], names, strict=True):
            panel.set_title(name, loc="left", fontweight="bold")
        if own:
            figure.suptitle("Patient groups by level (mean, 95% interval)")
            figure.align_ylabels(list(rows[:, 0]))
        _fit_labels(figure, panels, sayings)
        return figure


def _merged_levels(groups: pd.DataFrame) -> list[str]:
    """Every group's levels in one order that keeps each group's own (the scenario's) order: a group
    has no rows for a level that refuses it, so no one group need hold them all."""
    pending = [list(dict.fromkeys(rows["level"])) for _, rows in groups.groupby("group", sort=False)]
    order: list[str] = []
    while any(pending):
        heads = [levels[0] for levels in pending if levels]
        # a level no group puts after another one still to place; the first seen when the rows leave it open
        chosen = next((head for head in heads if not any(head in levels[1:] for levels in pending)), heads[0])
        order.append(chosen)
        pending = [[level for level in levels if level != chosen] for levels in pending]
    return order


def _group_rows(groups: pd.DataFrame, name: str, levels: list[str]) -> tuple[pd.DataFrame, dict[str, str]]:
    """One group's rows, without values at the levels none of its patients reached (they show ``not
    used``, not a zero bar), and those of ``levels`` (a level that refuses the group has no rows at all)."""
    rows = groups[groups["group"] == name]
    reached = levels_reached(groups, name)
    unused = {level: "not used" for level in levels if level not in reached and level != "all"}
    return rows.assign(mean=rows["mean"].where(~rows["level"].isin(list(unused)))), unused


def _fit_labels(figure: Figure, panels: Sequence[Axes], sayings: list[tuple[Axes, Annotation]]) -> None:
    """Where a panel is too narrow for its words as laid out: stand a ``not used`` wider than its bar's
    room on end, and slant the level names under the bars if neighbours run into each other."""
    figure.draw_without_rendering()   # the layout as it will be saved, and the labels' sizes in it
    for panel, saying in sayings:
        room = abs(panel.transData.transform((1, 0))[0] - panel.transData.transform((0, 0))[0])
        if saying.get_window_extent().width > 0.95 * room:
            saying.set_rotation(90)
    for panel in panels:
        boxes = [label.get_window_extent() for label in panel.get_xticklabels() if label.get_text()]
        if any(left.x1 + 3 > right.x0 for left, right in zip(boxes, boxes[1:], strict=False)):
            panel.tick_params(axis="x", labelrotation=30)
            for label in panel.get_xticklabels():
                label.set_horizontalalignment("right")


def _amount(metric: str) -> Callable[[float], str]:
    """How a bar's value is written: a share in percent, else to a tenth below 100."""
    if metric in SHARE_METRICS:
        return lambda value: f"{value:.0%}"
    return lambda value: f"{value:,.0f}" if abs(value) >= 100 else f"{value:.1f}"


def _shared_y(row: Sequence[Axes], metric: str, own: bool) -> None:
    """One y axis for a row of panels: the highest any of them needs; its numbers on the first panel
    only in the function's own figure."""
    top = max(panel.get_ylim()[1] for panel in row)
    for index, panel in enumerate(row):
        panel.set_ylim(0, top)
        if metric in SHARE_METRICS:
            panel.yaxis.set_major_formatter(PercentFormatter(xmax=1))
        if own and index:
            panel.tick_params(labelleft=False)


# ---------------------------------------------------------------------------- staffing
def staffing_chart(staffing: pd.DataFrame, levels: Sequence[str] | None = None, ax: Axes | None = None) -> Figure:
    """Full-time equivalents by level and role at the mean census (bar, 95% interval), with the
    FTE needed at the 90th-percentile census (diamond) and at full capacity (open circle).

    ``ax``: an Axes to draw in (default: a Figure of its own).
    """
    with house_style():
        table = staffing[staffing["level"] != "all"]
        levels = [level for level in _levels_in(table, levels) if level != "all"]
        colors = _colors(table)
        wide = {basis: group.set_index(["level", "role"])
                for basis, group in table.groupby("census_basis", sort=False)}
        rows = [key for level in levels for key in wide["mean"].index if key[0] == level]
        figure, (ax,), own = _canvas(ax, (1, 1), (9, 0.45 * len(rows) + 2.0), "staffing_chart",
                                     "one matplotlib Axes")
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
        if own:
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
IDENTICAL_FACE = "#D0D0D0"


def comparison_chart(comparison: pd.DataFrame,
                     metrics: Sequence[str] = ("wait_p90_days", "occupancy", "waitlist_mean"),
                     levels: Sequence[str] | None = None, ax: PanelAxes = None) -> Figure:
    """Each scenario's difference from the base per level and metric, with its 95% interval.

    Filled markers and thick lines are clear differences (the interval excludes zero); hollow
    markers could be chance; grey ones did not change in any replication. One panel per metric, levels down the side.
    ``ax``: one Axes per metric (e.g. ``figure.subplots(1, len(metrics))``); by default a Figure of its own.
    """
    with house_style():
        table = comparison[comparison["metric"].isin(metrics)]
        levels = _levels_in(table, levels)
        scenarios = list(dict.fromkeys(table["scenario"]))
        colors = _colors(table)
        size = (3.6 * len(metrics) + 1.2, 0.5 * len(levels) * max(2, len(scenarios)) + 2.2)
        figure, axes, own = _canvas(ax, (1, len(metrics)), size, "comparison_chart",
                                    f"{len(metrics)} Axes, one per metric, e.g. figure.subplots(1, {len(metrics)})",
                                    sharey=True)
        offsets = (np.arange(len(scenarios)) - (len(scenarios) - 1) / 2) * 0.7 / max(1, len(scenarios))
        for panel, metric in zip(axes, metrics, strict=True):
            rows = table[table["metric"] == metric]
            for index, scenario in enumerate(scenarios):
                _difference_marks(panel, rows[rows["scenario"] == scenario], levels, colors,
                                  MARKERS[index % len(MARKERS)], offsets[index])
            _difference_axes(panel, metric, rows)
            _level_ticks(panel, levels, colors)
        identical = any(_identical(row) for _, row in table.dropna(subset=["difference"]).iterrows())
        _bottom_legend(figure, axes, own, _comparison_legend(scenarios, identical), ncols=min(3, len(scenarios) + 2),
                       title="Alternative minus base\n(95% interval)")
        if own:
            figure.suptitle("Difference from the base scenario (alternative minus base, 95% interval)")
        return figure


def _level_ticks(ax: Axes, levels: list[str], colors: dict[str, str]) -> None:
    """Levels down the side in their colours; on every panel, as the caller's axes share no y axis
    (the function's own panels do, and show them on the first only)."""
    ax.set_yticks(-np.arange(len(levels)), levels)
    ax.set_ylim(-len(levels) + 0.5, 0.5)
    for label in ax.get_yticklabels():   # only the shown ones: none on the own figure's later panels
        label.set_color(colors[label.get_text()])


def _difference_marks(ax: Axes, rows: pd.DataFrame, levels: list[str], colors: dict[str, str], marker: str,
                      offset: float) -> None:
    for _, row in rows.iterrows():
        if row["level"] not in levels or pd.isna(row["difference"]):
            continue
        y = -levels.index(row["level"]) + offset
        clear = bool(row["clear"])
        face = colors[row["level"]] if clear else IDENTICAL_FACE if _identical(row) else "white"
        error = _error(pd.DataFrame([row]), "difference")
        ax.errorbar(row["difference"], y, xerr=error, fmt=marker, color=colors[row["level"]],
                    markerfacecolor=face, markersize=7, elinewidth=2.4 if clear else 1.0, capsize=0)


def _identical(row: pd.Series) -> bool:
    """No difference in any replication (the same patients, untouched by the change)."""
    return row["difference"] == 0 and row["ci_low"] == 0 and row["ci_high"] == 0


def _difference_axes(ax: Axes, metric: str, rows: pd.DataFrame) -> None:
    ax.axvline(0, color="0.3", linewidth=1)
    share = metric in SHARE_METRICS
    ax.set_title(_wrap(metric_label(metric), 30), loc="left")
    ax.set_xlabel("Change (percentage points)" if share else f"Change ({_unit(metric)})")
    if share:
        ax.xaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=None))
    ax.grid(axis="y", visible=False)
    if rows.empty:
        empty(ax, "not in this comparison")


def _comparison_legend(scenarios: list[str], identical: bool) -> list:
    handles = [Line2D([], [], marker=MARKERS[i % len(MARKERS)], color="0.3", linestyle="none", markersize=7,
                      label=_wrap(name, 45)) for i, name in enumerate(scenarios)]
    handles += [Line2D([], [], marker="o", color="0.3", markersize=7, linewidth=2.4, label="Clear difference"),
                Line2D([], [], marker="o", color="0.3", markerfacecolor="white", markersize=7, linewidth=1.0,
                       label="Could be chance (interval spans 0)")]
    if identical:
        handles.append(Line2D([], [], marker="o", color="0.3", markerfacecolor=IDENTICAL_FACE, markersize=7,
                              linestyle="none", label="The same in every replication"))
    return handles


# ---------------------------------------------------------------------------- sweep
def sweep_curve(sweep: pd.DataFrame, key: str, metric: str = "wait_p90_days",
                levels: Sequence[str] | None = None, ax: PanelAxes = None) -> Figure:
    """``metric`` against the swept ``key`` per level, mean and 95% interval band.

    Other keys of the grid, if any, get one panel per combination of their values. ``ax``: one
    Axes per panel (one Axes for a grid of one key); by default a Figure of its own.
    """
    with house_style():
        keys = list(sweep.columns[: sweep.columns.get_loc("point")])
        others = [other for other in keys if other != key]
        table = sweep[sweep["metric"] == metric]
        levels = _levels_in(table, levels)
        colors = _colors(table)
        groups = list(table.groupby(others, sort=False)) if others else [((), table)]
        figure, axes, own = _canvas(ax, (1, len(groups)), (min(4.5 * len(groups), 13) + 2.2, 4.6), "sweep_curve",
                                    f"{len(groups)} Axes, one per combination of the other grid keys' values"
                                    if others else "one matplotlib Axes", sharey=True)
        for panel, (values, rows) in zip(axes, groups, strict=True):
            _sweep_panel(panel, rows, key, metric, levels, colors)
            if others:
                named = values if isinstance(values, tuple) else (values,)
                panel.set_title(", ".join(f"{key_label(o)} = {v}" for o, v in zip(others, named, strict=True)),
                                loc="left")
        axes[0].set_ylabel(metric_label(metric))
        axes[-1].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), title="Level")
        if own:
            figure.suptitle(f"{_bare(metric_label(metric))} by {_bare(key_label(key))}")
        if not others:
            axes[0].set_title(_sweep_note(metric), loc="left", fontsize=9.5, color="0.3")
        return figure


def _sweep_note(metric: str) -> str:
    note = "Mean across replications and 95% interval"
    return note + ("; 90% of waits (to admission, or to giving up) end within it" if metric == "wait_p90_days"
                   else "")


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
