"""What every figure shares: one colour per level (Okabe-Ito) and one matplotlib style.

Used by :mod:`sim.plots` and :mod:`sim.flow_figure`, so that a level has the same colour in
every figure and the report.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import matplotlib as mpl
from matplotlib.axes import Axes

OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442")
"""Okabe-Ito colours in the order levels take them (black is kept for ``all``, yellow comes last)."""
ALL_COLOR = "#000000"
NEUTRAL = "#8C8C8C"
CAPACITY_COLOR = "#222222"

STYLE = {
    "font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10, "legend.fontsize": 9,
    "xtick.labelsize": 9, "ytick.labelsize": 9, "axes.spines.top": False, "axes.spines.right": False,
    "axes.grid": True, "grid.color": "#E5E5E5", "grid.linewidth": 0.8, "axes.axisbelow": True,
    "legend.frameon": False, "figure.titlesize": 13, "figure.titleweight": "bold",
}


def level_colors(levels: Sequence[str]) -> dict[str, str]:
    """One colour per level, in scenario order, the same in every figure; ``all`` is black.

    More than seven levels reuse the palette from the start.
    """
    named = [level for level in levels if level != "all"]
    colors = {level: OKABE_ITO[index % len(OKABE_ITO)] for index, level in enumerate(named)}
    return {**colors, "all": ALL_COLOR}


@contextmanager
def house_style() -> Iterator[None]:
    with mpl.rc_context(STYLE):  # type: ignore[arg-type]  # the stubs spell every key as a Literal
        yield


def empty(ax: Axes, message: str) -> None:
    """Say in the middle of ``ax`` why there is nothing to draw."""
    ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center", color="0.4")
