"""What every figure shares: one colour per level (Okabe-Ito), one matplotlib style, and where
a figure is drawn (its own Figure, or axes the caller gives as ``ax=``).

Used by :mod:`sim.plots` and :mod:`sim.flow_figure`, so that a level has the same colour in
every figure and the report.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.settings import SettingsError

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


def given_axes(ax: Any, count: int, function: str, wanted: str) -> list[Axes]:
    """The caller's ``ax`` as ``count`` Axes, row by row (an Axes, a list or an array of them).

    Raises
    ------
    sim.settings.SettingsError
        Not ``count`` matplotlib Axes; the message names the function and says what ``wanted`` is.
    """
    many = isinstance(ax, Sequence | np.ndarray) and not isinstance(ax, str)
    given = list(np.ravel(np.asarray(ax, dtype=object))) if many else [ax]
    if len(given) != count or not all(isinstance(each, Axes) for each in given):
        shown = f"{len(given)} Axes" if all(isinstance(each, Axes) for each in given) else type(ax).__name__
        raise SettingsError(f"sim.plots.{function}", [f"ax = {shown}: should be {wanted}"])
    for each in given:
        house_axes(each)
    return given


def house_axes(ax: Axes) -> None:
    """Give axes made elsewhere what :data:`STYLE` gives the figures' own: no top or right
    spine, a light grid behind the data."""
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(True, color=STYLE["grid.color"], linewidth=STYLE["grid.linewidth"])
    ax.set_axisbelow(True)


def root_figure(ax: Axes) -> Figure:
    """The Figure holding ``ax``, through any subfigures (what :func:`sim.plots.save` writes)."""
    figure = ax.figure
    return figure if isinstance(figure, Figure) else figure.figure
