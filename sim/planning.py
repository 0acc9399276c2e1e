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
import numbers
import operator
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from . import theory
from .outputs import staged_folder
from .results import LEVEL_METRICS, Results
from .run import run, with_run_settings
from .scenario import Level, Scenario, ScenarioError
from .settings import SettingsError, check_run_options, check_settings

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


SHARE_METRICS = ("occupancy", "wait_over_target_share")
"""Level metrics that are shares (0 to 1); every other level metric is 0 or more."""


def parse_target(text: str, source: str = "--target") -> Target:
    """``"wait_p90_days<=14"`` -> a :class:`Target`; bad text raises :class:`sim.settings.SettingsError`.

    ``source`` names where the text came from in the message (``--target``, ``sim.plan``).
    """
    found = TARGET_PATTERN.match(text) if isinstance(text, str) else None
    value = _number(found.group(3)) if found else None
    if found is None or value is None or found.group(1) not in LEVEL_METRICS:
        raise SettingsError(source, [_not_a_target(text)])
    target = Target(found.group(1), found.group(2), value)
    problem = target_problem(target)
    if problem:
        raise SettingsError(source, [problem])
    return target


def target_problem(target: Target) -> str | None:
    """What is wrong with a target (a level metric, ``<=`` or ``>=``, a value it can take), or ``None``."""
    if target.metric not in LEVEL_METRICS or target.comparison not in COMPARISONS:
        return _not_a_target(f"{target.metric}{target.comparison}{target.value}")
    if not isinstance(target.value, numbers.Real) or isinstance(target.value, bool):
        return f"{target.metric}{target.comparison}{target.value!r}: the value should be a number"
    value = target.value
    if target.metric == "occupancy":
        fits, allowed = 0 < value <= 1, "above 0 and at most 1 (e.g. occupancy<=0.9)"
    elif target.metric in SHARE_METRICS:
        fits, allowed = 0 <= value <= 1, "between 0 and 1"
    else:
        fits, allowed = 0 <= value < math.inf, "0 or more (no level can do better than 0)"
    return None if fits else f"{target}: a target for {target.metric} should be {allowed}"


def _not_a_target(text: Any) -> str:
    return (f"'{text}' is not METRIC<=VALUE or METRIC>=VALUE with a level metric "
            f"(e.g. wait_p90_days<=14, occupancy<=0.9); metrics: {', '.join(LEVEL_METRICS)}")


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:   # the pattern lets through text such as 1e or 1-2
        return None


def checked_targets(targets: Any, source: str = "sim.plan") -> list[Target]:
    """Targets from ``Target`` objects or texts, or a :class:`SettingsError` listing every problem."""
    example = "e.g. ['wait_p90_days<=14', 'occupancy<=0.9']"
    if isinstance(targets, str | Target) or not isinstance(targets, Iterable):
        raise SettingsError(source, [f"targets = {targets!r}: give a list of targets, {example}"])
    listed = list(targets)
    if not listed:
        raise SettingsError(source, [f"targets = []: give at least one target, {example}"])
    problems, wanted = [], []
    for item in listed:
        if isinstance(item, str):
            try:
                wanted.append(parse_target(item, source))
            except SettingsError as error:
                problems += error.problems
        elif isinstance(item, Target):
            wanted.append(item)
            if problem := target_problem(item):
                problems.append(problem)
        else:
            problems.append(f"{item!r} is not a target: give text such as 'wait_p90_days<=14' or a sim.Target")
    if problems:
        raise SettingsError(source, problems)
    return wanted


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
    """Erlang C's answer at the level's simulated arrival rate and time in place.

    A level nobody was admitted to (a new one, at 0 places today) has no time in place yet:
    its stays as the scenario gives them stand in, so the guess, and the search's ceiling
    above it, grow with the load the level will carry.
    """
    rows = results.summary[results.summary["level"] == level].set_index("metric")["mean"]
    arrivals_per_day = rows["arrivals_per_year"] / 365
    in_place = rows["time_in_place_mean_days"]
    if not in_place > 0:
        in_place = expected_stay_days(results.scenario.levels[level])
    if not (arrivals_per_day > 0 and in_place > 0):
        return 1
    limits = {t.metric: t.value for t in targets if t.comparison == "<="}
    return theory.servers_needed(arrivals_per_day, in_place,
                                 max_wait_p90_days=limits.get("wait_p90_days"),
                                 max_occupancy=limits.get("occupancy"))


def expected_stay_days(level: Level) -> float:
    """The mean stay at a level, each route's own stay weighted by its share."""
    return math.fsum(step.share * (step.los or level.los).sampler().mean for step in level.next.values())


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

    Raises
    ------
    sim.settings.SettingsError
        Before anything runs, for no targets, a target that is not ``METRIC<=VALUE`` or asks
        for a value its metric cannot take (a wait below 0, an occupancy above 1), or a bad
        setting; it is a :class:`sim.ScenarioError` and a ``ValueError``.
    """
    wanted = checked_targets(targets)
    given = check_settings("sim.plan", scenario=scenario, replications=replications, seed=seed,
                           max_capacity_factor=max_capacity_factor, curve_width=curve_width)
    run_options = check_run_options("sim.plan", run_options, set_here=("progress",))
    scenario = with_run_settings(given["scenario"], given["replications"], given["seed"])
    levels = _checked_levels(scenario, levels)
    baseline = run(scenario, progress=False, **run_options)
    rows: list[tuple[str, int, int, int | None, bool, str]] = []
    curves: list[pd.DataFrame] = []
    for level in levels:
        search = _Search(scenario, level, wanted, run_options)
        rows.append(_plan_level(search, baseline, given["max_capacity_factor"], given["curve_width"]))
        curves.append(search.curve())
        found = rows[-1][3]
        if found is not None:
            scenario = scenario.with_changes({f"levels.{level}.capacity": found})
            baseline = search.results(found)
    capacities = pd.DataFrame(rows, columns=["level", "current_capacity", "theory_guess", "planned_capacity",
                                             "met", "note"])
    return Plan(capacities=capacities, curve=pd.concat(curves, ignore_index=True),
                results=baseline, scenario=scenario, targets=wanted)


def _checked_levels(scenario: Scenario, levels: list[str] | None) -> list[str]:
    if levels is None:
        return scenario.level_names
    if isinstance(levels, str):
        raise SettingsError("--levels", [f"levels = {levels!r}: give a list of level names, e.g. [{levels!r}]"])
    unknown = [name for name in levels if name not in scenario.levels]
    if unknown:
        raise ScenarioError("--levels", [f"'{name}' is not a level; levels: {', '.join(scenario.level_names)}"
                                         for name in unknown])
    return levels


def _plan_level(search: _Search, baseline: Results, max_capacity_factor: float,
                curve_width: int) -> tuple[str, int, int, int | None, bool, str]:
    """One level's row of the plan: search from theory's guess, then run the curve around the answer."""
    level, wanted = search.level, search.targets
    current = max(step.capacity for step in search.scenario.levels[level].capacity)
    guess = theory_guess(baseline, level, wanted)
    ceiling = max(1, math.ceil(max_capacity_factor * max(current, guess)))
    found = search.smallest(guess, ceiling)
    if found is None:
        note = (f"no capacity up to {ceiling} meets {', '.join(map(str, wanted))}: look downstream "
                "(blocked beds) or at the targets")
        return level, current, guess, None, False, note
    for capacity in range(max(1, found - curve_width), found + curve_width + 1):
        search.results(capacity)
    return level, current, guess, found, True, (f"{found - 1} places do not meet the targets" if found > 1
                                                else "one place is enough")


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
