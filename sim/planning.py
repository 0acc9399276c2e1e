"""The capacity planner: the fewest places per level that meet every target, with 95% confidence.

For each chosen level, in order from the most intensive: a first guess from queueing theory
(Erlang C, :func:`sim.theory.servers_needed`, at the arrival rate and time in place of a run of
the scenario as it is), then a search by simulation on common random numbers for the smallest
capacity at which every target holds with 95% confidence (the whole interval on the right side
of the target) while one place fewer does not. Levels planned earlier keep their planned
capacity; later ones keep the scenario's. Every capacity tried is kept as the trade-off curve.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from . import theory
from .outputs import staged_folder
from .results import Results
from .run import run, with_run_settings
from .scenario import Scenario, ScenarioError

TARGET_PATTERN = re.compile(r"^\s*([a-z0-9_]+)\s*(<=|>=)\s*([0-9.eE+-]+)\s*$")
COMPARISONS = {"<=": operator.le, ">=": operator.ge}
CURVE_COLUMNS = ["level", "capacity", "metric", "target", "mean", "ci_low", "ci_high", "met"]


@dataclass(frozen=True)
class Target:
    """``metric <= value`` (or ``>=``), required of each planned level with 95% confidence."""

    metric: str
    comparison: str
    value: float

    def met_by(self, low: float, high: float) -> bool:
        """The whole interval is on the right side of the target."""
        bound = high if self.comparison == "<=" else low
        return bool(math.isfinite(bound) and COMPARISONS[self.comparison](bound, self.value))

    def __str__(self) -> str:
        return f"{self.metric}{self.comparison}{self.value:g}"


def parse_target(text: str) -> Target:
    """``"wait_p90_days<=14"`` -> a :class:`Target`; bad text raises :class:`ScenarioError`."""
    from .results import LEVEL_METRICS

    found = TARGET_PATTERN.match(text)
    if not found or found.group(1) not in LEVEL_METRICS:
        raise ScenarioError("--target", [
            f"'{text}' is not METRIC<=VALUE or METRIC>=VALUE with a level metric "
            f"(e.g. wait_p90_days<=14, occupancy<=0.9); metrics: {', '.join(LEVEL_METRICS)}"])
    return Target(found.group(1), found.group(2), float(found.group(3)))


@dataclass
class Plan:
    """What the planner found.

    Attributes
    ----------
    capacities
        One row per planned level: current capacity, theory's first guess, planned capacity,
        whether every target is met there, and a note.
    curve
        Every capacity tried, per level and target metric: mean, 95% interval, met or not.
    results
        The run of the scenario at the planned capacities (with its staffing, if any).
    scenario
        The scenario with the planned capacities.
    """

    capacities: pd.DataFrame
    curve: pd.DataFrame
    results: Results
    scenario: Scenario
    targets: list[Target] = field(default_factory=list)


class _Search:
    """Runs of one scenario at different capacities of one level, remembered."""

    def __init__(self, scenario: Scenario, level: str, targets: Sequence[Target], run_options: dict[str, Any]):
        self.scenario, self.level, self.targets, self.run_options = scenario, level, targets, run_options
        self.tried: dict[int, Results] = {}

    def results(self, capacity: int) -> Results:
        if capacity not in self.tried:
            changed = self.scenario.with_changes({f"levels.{self.level}.capacity": capacity})
            self.tried[capacity] = run(changed, progress=False, **self.run_options)
        return self.tried[capacity]

    def met(self, capacity: int) -> bool:
        summary = self.results(capacity).summary
        rows = summary[summary["level"] == self.level].set_index("metric")
        return all(target.met_by(rows.loc[target.metric, "ci_low"], rows.loc[target.metric, "ci_high"])
                   for target in self.targets)

    def smallest(self, guess: int, ceiling: int) -> int | None:
        """The smallest capacity in [1, ceiling] that meets the targets (assuming more never hurts)."""
        high = max(1, min(guess, ceiling))
        low, step = 0, max(1, high // 20)   # capacity 0 is never tried: it counts as failing
        while not self.met(high):           # theory is usually close: widen the steps up from it
            if high >= ceiling:
                return None
            low, high, step = high, min(ceiling, high + step), step * 2
        if low == 0:
            probe = max(1, high - max(1, high // 20))   # and look just below it first
            if probe < high and not self.met(probe):
                low = probe
        while high - low > 1:
            middle = (low + high) // 2
            if self.met(middle):
                high = middle
            else:
                low = middle
        return high

    def curve(self) -> pd.DataFrame:
        rows = []
        for capacity, results in sorted(self.tried.items()):
            summary = results.summary[results.summary["level"] == self.level].set_index("metric")
            for target in self.targets:
                row = summary.loc[target.metric]
                rows.append((self.level, capacity, target.metric, str(target), row["mean"], row["ci_low"],
                             row["ci_high"], target.met_by(row["ci_low"], row["ci_high"])))
        return pd.DataFrame(rows, columns=CURVE_COLUMNS)


def theory_guess(results: Results, level: str, targets: Sequence[Target]) -> int:
    """Erlang C's answer at the level's simulated arrival rate and time in place."""
    rows = results.summary[results.summary["level"] == level].set_index("metric")["mean"]
    arrivals_per_day = rows["arrivals_per_year"] / 365
    in_place = rows["time_in_place_mean_days"]
    if not (arrivals_per_day > 0 and in_place > 0):
        return 1
    limits = {t.metric: t.value for t in targets if t.comparison == "<="}
    return theory.servers_needed(arrivals_per_day, in_place,
                                 max_wait_p90_days=limits.get("wait_p90_days"),
                                 max_occupancy=limits.get("occupancy"))


def plan(scenario: Scenario, targets: Sequence[Target | str], levels: list[str] | None = None,
         replications: int | None = None, seed: int | None = None, max_capacity_factor: float = 4.0,
         curve_width: int = 2, **run_options: Any) -> Plan:
    """Find the smallest capacity per level meeting every target with 95% confidence.

    Parameters
    ----------
    scenario
        The scenario as it is today.
    targets
        ``Target`` objects or texts like ``"wait_p90_days<=14"``, ``"occupancy<=0.9"``; each is
        required of every planned level.
    levels
        Levels to plan, default all; planned in the scenario's order (most intensive first).
    curve_width
        Also run this many capacities either side of the answer, for the trade-off curve.
    max_capacity_factor
        The search gives up above this multiple of the larger of today's capacity and theory's
        guess, and says so (a target no capacity can meet, e.g. because a full level downstream
        keeps patients in their beds).
    **run_options
        Passed to :func:`sim.run` (``jobs``, ``executor``, ...).
    """
    wanted = [parse_target(t) if isinstance(t, str) else t for t in targets]
    scenario = with_run_settings(scenario, replications, seed)
    levels = scenario.level_names if levels is None else levels
    unknown = [name for name in levels if name not in scenario.levels]
    if unknown:
        raise ScenarioError("--levels", [f"'{name}' is not a level; levels: {', '.join(scenario.level_names)}"
                                         for name in unknown])
    baseline = run(scenario, progress=False, **run_options)
    rows: list[tuple[str, int, int, int | None, bool, str]] = []
    curves: list[pd.DataFrame] = []
    for level in levels:
        current = max(step.capacity for step in scenario.levels[level].capacity)
        guess = theory_guess(baseline, level, wanted)
        ceiling = max(1, math.ceil(max_capacity_factor * max(current, guess)))
        search = _Search(scenario, level, wanted, run_options)
        found = search.smallest(guess, ceiling)
        if found is not None:
            for capacity in range(max(1, found - curve_width), found + curve_width + 1):
                search.results(capacity)
        curves.append(search.curve())
        if found is None:
            note = (f"no capacity up to {ceiling} meets {', '.join(map(str, wanted))}: look downstream "
                    "(blocked beds) or at the targets")
            rows.append((level, current, guess, None, False, note))
            continue
        scenario = scenario.with_changes({f"levels.{level}.capacity": found})
        rows.append((level, current, guess, found, True, f"{found - 1} places do not meet the targets"
                     if found > 1 else "one place is enough"))
        baseline = search.results(found)
    capacities = pd.DataFrame(rows, columns=["level", "current_capacity", "theory_guess", "planned_capacity",
                                             "met", "note"])
    return Plan(capacities=capacities, curve=pd.concat(curves, ignore_index=True),
                results=baseline, scenario=scenario, targets=wanted)


def write_plan(found: Plan, folder: str | Path, overwrite: bool = False) -> Path:
    """``plan.csv``, ``plan_curve.csv`` and the planned run's folder (``planned/``), whole or not at all.

    ``overwrite``: replace a folder continuum did not write; see :meth:`Results.to_folder`.
    """
    with staged_folder(folder, "plan", [found.scenario.source], overwrite) as staging:
        found.capacities.to_csv(staging / "plan.csv", index=False)
        found.curve.to_csv(staging / "plan_curve.csv", index=False)
        found.results.to_folder(staging / "planned", report=True)
        from .report import plan_section, write_report  # the report draws on plots and results

        planned, drawn = plan_section(found.capacities, found.curve)
        write_report(found.results, staging, [planned], drawn)
    return Path(folder)
