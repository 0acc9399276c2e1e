"""The Sankey-style flow diagram: patients a year from referral through each level to leaving care.

Takes :attr:`sim.Results.flows`, or :attr:`sim.Results.group_flows` and a patient group;
:func:`flow_diagram` is also :func:`sim.plots.flow_diagram`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, Polygon, Rectangle
from matplotlib.path import Path as CurvePath
from matplotlib.patheffects import withStroke

from sim.figure_style import NEUTRAL, empty, given_axes, house_style, level_colors, root_figure
from sim.settings import SettingsError

SOURCE_NAMES = {"community": "New referrals", "relapse": "Back after relapse"}
EXIT_NAMES = {"discharged": "Discharged", "dropped_out": "Dropped out", "gave_up": "Gave up waiting",
              "turned_away": "Turned away"}
RETURN_EXITS = ("discharged", "dropped_out")
SOURCE_COLORS = {"community": "#BBBBBB", "relapse": "#7A7A7A"}
NODE_WIDTH = 0.1
"""Node width in columns (columns are 1 apart)."""
FLOW_TITLE = "How patients move through care (people a year, average of replications)"
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


def flow_diagram(flows: pd.DataFrame, levels: Sequence[str], ax: Axes | None = None,
                 group: str | None = None) -> Figure:
    """Patients a year from referral through each level to leaving care: a Sankey-style diagram.

    Reads left to right: where people come from (new referrals, relapse), one column per level in
    scenario order, how they leave. Band widths are to scale and labelled in people a year; a band
    has the colour of the level people leave. Steps back up to a more intensive level are arrows
    over the top; the dashed loop carries people who left care and relapsed back into it.

    ``group``: draw one patient group's flows from :attr:`sim.Results.group_flows` (its referrals,
    moves, exits and returns after relapse), with only the levels its patients reach, each in
    the colour it has in every figure. ``ax``: an Axes to draw in (default: a Figure of its own,
    12 x 7.2 inches); the title goes on the axes and the footnote under them. The room for labels
    is measured in the axes as they are when called, so give the figure its final size first;
    about 7 x 4 inches or more reads well.
    """
    with house_style():
        own = ax is None
        figure, ax = _flow_canvas(ax)
        colors = level_colors(levels)
        if group is not None:
            flows, levels = _group_flows(flows, levels, group)
        book = _sort_flows(flows, levels)
        title = FLOW_TITLE if group is None else FLOW_TITLE.replace("patients", f"{group} patients", 1)
        if own:
            figure.suptitle(title)
        else:
            ax.set_title(title, loc="left")
        if not (book.into or book.moves or book.out):
            empty(ax, "No patient flows to show" if group is None else f"No flows of patient group {group!r} to show")
            ax.set_axis_off()
            return figure
        diagram = _FlowDiagram(book, list(levels), ax, height_points=ax.get_window_extent().height * 72 / figure.dpi,
                               colors=colors)
        note = _flow_note(diagram, diagram.draw())
        if own:
            figure.text(0.5, 0.015, note, ha="center", va="bottom", fontsize=9, color="0.3")
        else:
            ax.text(0.5, 0.0, note, transform=ax.transAxes, ha="center", va="top", fontsize=9, color="0.3")
        return figure


def _group_flows(flows: pd.DataFrame, levels: Sequence[str], group: str) -> tuple[pd.DataFrame, list[str]]:
    """One group's flows and the levels its patients reach (every level of ``levels`` they enter or leave)."""
    if "group" not in flows:
        raise SettingsError("sim.plots.flow_diagram", [f"group = {group!r}: needs the flows per patient group "
                                                       "(Results.group_flows), not a table without a group column"])
    own = flows[(flows["group"] == group) & (flows["per_year"] > 0)]
    reached = set(own["source"]) | set(own["target"])
    return own, [level for level in levels if level in reached]


def _flow_canvas(ax: Axes | None) -> tuple[Figure, Axes]:
    """The function's own Figure and axes at a fixed place, or the caller's axes and their Figure."""
    if ax is None:
        figure = Figure(figsize=FLOW_SIZE)
        return figure, figure.add_axes(FLOW_AXES)
    (given,) = given_axes(ax, 1, "flow_diagram", "one matplotlib Axes")
    return root_figure(given), given


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

    def __init__(self, book: _Flows, levels: list[str], ax: Axes, height_points: float,
                 colors: dict[str, str] | None = None) -> None:
        self.book, self.levels, self.ax, self.height_points = book, levels, ax, height_points
        self.colors = colors or level_colors(levels)   # a group's diagram keeps the colours of every level
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
        # axes too short for the headroom (a small panel of the caller's) get a crowded top, not a broken scale
        height_points = max(self.height_points, 2 * self.headroom)
        span = -self.bottom * 1.02 / (1 - self.headroom / height_points)
        self.per_point = span / height_points
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
