"""The capacity planner: the fewest places at every chosen level that together meet every target.

Levels are planned together, because a level's waits depend on the levels around it: a full
step-down keeps patients in their beds upstream, and more places upstream send more patients
down. The search:

1. **Theory's start.** Every level's arrival rate from the traffic equations (referrals,
   transfers and relapses), its mean stay from the scenario, and Erlang C's smallest capacity
   meeting the level's targets that have a formula (waits, occupancy, waits over the target).
2. **Passes until nothing changes.** Downstream first (a level's answer depends most on the
   levels it sends patients to), each level is set to the smallest capacity meeting its own
   targets with 95% confidence with every other level at its current plan, by simulation on
   common random numbers. Passes repeat until a whole pass changes no level, so every level
   meets its targets at the final capacities together, and one place fewer at any level breaks
   one of its targets.
3. **Verification on fresh random numbers.** The plan is run again on another seed; ``met``
   says whether each level met every target in that run, not in the search.

A level's search brackets its answer from where it stands (theory's guess at first), walking one
place, then two, four, ... up or down, and bisects the bracket. A capacity is judged first on its
first :data:`SCREENING_REPLICATIONS` replications, and run whole (adding the rest: the same random
numbers) only where their intervals do not yet lie on one side of the targets. The answer, and
one place fewer, are always judged on whole runs, so screening saves runs but never moves the
answer. The runs around each answer (for the curves and the notes) go to the pool together.

Every capacity tried for a level, with the other levels at their planned sizes, is its curve.
"""

from __future__ import annotations

import math
import numbers
import operator
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pandas as pd

from . import theory, trust, workload
from .analysis import t_interval
from .executors import map_ordered, resolve_backend
from .metrics import METRICS, PLANNABLE_METRICS, Metric
from .results import GROUP_COLUMNS, ReplicationOutput, Results, group_tables, metrics_table
from .run import gathered, run, run_replication, with_run_settings
from .scenario import Scenario
from .settings import SettingsError, check_run_options, check_settings

TARGET_PATTERN = re.compile(r"^\s*(?:([^\s:<>=][^:<>=]*?)\s*:\s*)?([a-z0-9_]+)\s*(<=|>=)\s*([0-9.eE+-]+)\s*$")
COMPARISONS = {"<=": operator.le, ">=": operator.ge}
CURVE_COLUMNS = ["level", "capacity", "metric", "target", "mean", "ci_low", "ci_high", "met", "replications"]
PLAN_COLUMNS = ["level", "current_capacity", "theory_guess", "planned_capacity", "met", "note", "reached"]
VERIFICATION_SEED_OFFSET = 1_000_003
"""The verification run's seed is the scenario's plus this: random numbers the search never saw."""
MOST_PASSES = 8
VERIFICATION_ROUNDS = 4


@dataclass(frozen=True)
class Target:
    """``metric <= value`` (or ``>=``) with 95% confidence, at one level or (``level=None``) at every planned level.

    With a ``group`` (a scenario's patient group) the target is on that group's figure at its level (a group's
    target names its level): ``adolescent@php: wait_p90_days<=14``.
    """

    metric: str
    comparison: str
    value: float
    level: str | None = None
    group: str | None = None

    def met_by(self, low: float, high: float) -> bool:
        """The whole interval is on the right side of the target."""
        bound = high if self.comparison == "<=" else low
        return bool(math.isfinite(bound) and COMPARISONS[self.comparison](bound, self.value))

    def applies_to(self, level: str) -> bool:
        return self.level is None or self.level == level

    def __str__(self) -> str:
        where = f"{self.group}@{self.level}:" if self.group else f"{self.level}:" if self.level else ""
        return f"{where}{self.metric}{self.comparison}{self.value:g}"

    def figures(self, results: Results, level: str) -> pd.Series:
        """The target's metric at ``level`` in these results (``mean``, ``ci_low``, ``ci_high``): all groups
        together, or its group's."""
        if self.group is None:
            table = results.summary
            rows = table[(table["level"] == level) & (table["metric"] == self.metric)]
        else:
            table = results.groups if results.groups is not None else pd.DataFrame(columns=GROUP_COLUMNS)
            rows = table[(table["group"] == self.group) & (table["level"] == level) & (table["metric"] == self.metric)]
        return rows.iloc[0]


def parse_target(text: str, source: str = "--target") -> Target:
    """``"wait_p90_days<=14"``, ``"iop: wait_p90_days <= 14"`` or ``"adolescent@iop: wait_p90_days<=14"`` (a
    patient group at a level) -> a :class:`Target`.

    Bad text raises :class:`sim.settings.SettingsError`; ``source`` names where the text came from.
    """
    found = TARGET_PATTERN.match(text) if isinstance(text, str) else None
    value = _number(found.group(4)) if found else None
    if found is None or value is None or found.group(2) not in PLANNABLE_METRICS:
        raise SettingsError(source, [_not_a_target(text)])
    where = found.group(1)
    group, level = where.split("@", 1) if where and "@" in where else (None, where)
    if group is not None and not (group.strip() and level.strip()):
        raise SettingsError(source, [f"'{text}': a group's target names the group and its level, GROUP@LEVEL:METRIC"
                                     f"<=VALUE (e.g. adolescent@php: wait_p90_days<=14)"])
    target = Target(found.group(2), found.group(3), value, level.strip() if level else level,
                    group.strip() if group else None)
    problem = target_problem(target)
    if problem:
        raise SettingsError(source, [problem])
    return target


def target_problem(target: Target) -> str | None:
    """What is wrong with a target (a plannable metric, ``<=`` or ``>=``, a value it can take), or ``None``."""
    if target.metric not in PLANNABLE_METRICS or target.comparison not in COMPARISONS:
        return _not_a_target(f"{target.metric}{target.comparison}{target.value}")
    if not isinstance(target.value, numbers.Real) or isinstance(target.value, bool):
        return f"{target.metric}{target.comparison}{target.value!r}: the value should be a number"
    metric = METRICS[target.metric]
    if _can_take(metric, target.value):
        return None
    return f"{target}: a target for {metric.name} should be {_allowed(metric)}"


def _can_take(metric: Metric, value: float) -> bool:
    """The value lies within the metric's bounds (above the lower one where a target cannot sit on it)."""
    low, high = metric.lower_bound, metric.upper_bound
    above = low < value if metric.target_above_lower_bound else low <= value
    return above and (value <= high if high is not None else value < math.inf)


def _allowed(metric: Metric) -> str:
    """The values a target for the metric can take, in words."""
    low, high = metric.lower_bound, metric.upper_bound
    if high is None:
        return f"{low:g} or more (no level can do better than {low:g})"
    if metric.target_above_lower_bound:
        return f"above {low:g} and at most {high:g} (e.g. {metric.name}<={0.9 * high:g})"
    return f"between {low:g} and {high:g}"


def _not_a_target(text: Any) -> str:
    return (f"'{text}' is not METRIC<=VALUE or METRIC>=VALUE with a level metric, for one level written "
            f"LEVEL:METRIC<=VALUE, for a patient group at a level GROUP@LEVEL:METRIC<=VALUE (e.g. wait_p90_days<=14, "
            f"iop:occupancy<=0.9, adolescent@php:wait_p90_days<=14); metrics: "
            f"{', '.join(PLANNABLE_METRICS)}")


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:   # the pattern lets through text such as 1e or 1-2
        return None


def checked_targets(targets: Any, source: str = "sim.plan") -> list[Target]:
    """Targets from ``Target`` objects or texts, or a :class:`SettingsError` listing every problem."""
    example = "e.g. ['wait_p90_days<=14', 'iop:occupancy<=0.9']"
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
        One row per planned level (:data:`PLAN_COLUMNS`): today's capacity, theory's first guess,
        the planned capacity, whether every target of the level was met in the verification run,
        a note in words, and the values reached there.
    curve
        Every capacity tried per level with the other levels at their planned sizes, per target:
        mean, 95% interval, met or not (on the search's random numbers), and the replications
        they come from (fewer for a capacity the search ruled out on its screening alone).
    results
        The verification run: the scenario at the planned capacities on fresh random numbers.
    scenario
        The scenario with the planned capacities.
    passes
        Passes over the levels the search took to settle.
    """

    capacities: pd.DataFrame
    curve: pd.DataFrame
    results: Results
    scenario: Scenario
    targets: list[Target] = field(default_factory=list)
    passes: int = 0


# ---------------------------------------------------------------------------- runs and searches
class _Runs:
    """Runs of the scenario at sets of planned capacities, on one seed (common random numbers), remembered.

    A capacity can be judged first on its first :data:`SCREENING_REPLICATIONS` replications
    (:meth:`screened`); its whole run then only adds the replications after them. Replications of
    several capacities needed at once run as one map over the executor (one pool for them all).
    With ``warmup_days: auto`` (a pilot per capacity) or ``precision`` (replications added until
    precise) a capacity is only ever run whole, by :func:`sim.run`.
    """

    def __init__(self, scenario: Scenario, run_options: dict[str, Any]):
        self.scenario, self.run_options = scenario, run_options
        self.done: dict[tuple[tuple[str, int], ...], Results] = {}
        """Whole runs: every replication of the scenario's ``run.replications``."""
        self.begun: dict[tuple[tuple[str, int], ...], list[ReplicationOutput]] = {}
        """The first replications of capacities only screened so far."""
        self.by_replication = scenario.run.warmup_days != "auto" and run_options.get("precision") is None

    def results(self, capacities: dict[str, int]) -> Results:
        """The whole run at these capacities."""
        self.complete([capacities])
        return self.done[_key(capacities)]

    def complete(self, many: Sequence[dict[str, int]]) -> None:
        """Run every capacity set not yet run whole, their replications in one map."""
        missing = list({_key(capacities): capacities for capacities in many if _key(capacities) not in self.done})
        if not self.by_replication:
            for key in missing:
                self.done[key] = run(with_capacities(self.scenario, dict(key)), progress=False, **self.run_options)
            return
        scenarios = [with_capacities(self.scenario, dict(key)) for key in missing]
        started = time.perf_counter()
        outputs = self._simulate([(chosen, len(self.begun.get(key, [])), chosen.run.replications)
                                  for key, chosen in zip(missing, scenarios, strict=True)])
        for key, chosen, added in zip(missing, scenarios, outputs, strict=True):
            self.done[key] = gathered(chosen, self.begun.pop(key, []) + added, self._backend(chosen), started)

    def screened(self, capacities: dict[str, int], judged: dict[str, list[Target]]) -> bool | None:
        """Whether the judged levels meet their targets, decided on the first replications alone where their
        intervals there lie on one side of the targets (one missed, or all met); ``None`` where they do not."""
        key = _key(capacities)
        if key in self.done or not self.by_replication or self.scenario.run.replications < 2 * SCREENING_REPLICATIONS:
            return None
        if key not in self.begun:
            self.begun[key] = self._simulate([(with_capacities(self.scenario, capacities), 0,
                                               SCREENING_REPLICATIONS)])[0]
        table = metrics_table(self.begun[key])
        groups = group_tables(self.begun[key])[1]
        verdicts = [_verdict(target, _values(table, groups, level, target)) for level, targets in judged.items()
                    for target in targets]
        return False if False in verdicts else True if all(verdicts) else None

    def tried(self) -> dict[tuple[tuple[str, int], ...], tuple[Results, int]]:
        """Every capacity set run, whole or screened only, with the replications its results are from."""
        screened = {key: (gathered(with_capacities(self.scenario, dict(key)), outputs, {}, time.perf_counter()),
                          len(outputs)) for key, outputs in self.begun.items()}
        return {**screened, **{key: (results, results.scenario.run.replications) for key, results in self.done.items()}}

    def _simulate(self, wanted: list[tuple[Scenario, int, int]]) -> list[list[ReplicationOutput]]:
        """Replications ``first`` to ``last - 1`` of each scenario, in one map over the executor."""
        items = [(chosen, number) for chosen, first, last in wanted for number in range(first, last)]
        for chosen, _, _ in wanted:
            workload.check(chosen, self.run_options.get("limits"))
        keep = bool(self.run_options.get("keep_episodes"))
        outputs = iter(map_ordered(partial(_replicate, keep_episodes=keep), items, progress=False,
                                   **self._backend(self.scenario, len(items))))
        return [[next(outputs) for _ in range(first, last)] for _, first, last in wanted]

    def _backend(self, scenario: Scenario, count: int | None = None) -> dict[str, Any]:
        return resolve_backend(scenario.run.replications if count is None else count,
                               **{name: self.run_options[name] for name in ("jobs", "executor", "address")
                                  if name in self.run_options})


SCREENING_REPLICATIONS = 6
"""Replications a capacity is judged on first (in the search, with 12 replications or more): its whole run only
where their intervals do not yet separate from the targets."""
SCREENING_CONFIDENCE = 0.95
"""A screening decides where every target's interval at this confidence lies on one side of it. A screening that
misleads costs runs, never the answer: the answer and one place fewer are always judged on whole runs."""


def _replicate(item: tuple[Scenario, int], keep_episodes: bool = False) -> ReplicationOutput:
    """:func:`sim.run.run_replication` of a ``(scenario, replication)`` pair (one task of a map)."""
    return run_replication(*item, keep_episodes=keep_episodes)


def _key(capacities: dict[str, int]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(capacities.items()))


def _values(table: pd.DataFrame, groups: pd.DataFrame | None, level: str, target: Target) -> pd.Series:
    """The target's metric at ``level`` per replication: all groups together, or its group's."""
    if target.group is None:
        return table.loc[(table["level"] == level) & (table["metric"] == target.metric), "value"]
    if groups is None:
        return pd.Series(dtype=float)
    return groups.loc[(groups["group"] == target.group) & (groups["level"] == level)
                      & (groups["metric"] == target.metric), "value"]


def _verdict(target: Target, values: pd.Series) -> bool | None:
    """Met, missed, or ``None`` (undecided) on these replications' interval at :data:`SCREENING_CONFIDENCE`."""
    _, low, high, _, _ = t_interval(values, SCREENING_CONFIDENCE)
    if target.met_by(low, high):
        return True
    nearest = low if target.comparison == "<=" else high    # the bound closest to meeting the target
    return False if math.isfinite(nearest) and not COMPARISONS[target.comparison](nearest, target.value) else None


def with_capacities(scenario: Scenario, capacities: dict[str, int]) -> Scenario:
    """The scenario with these levels at these capacities (a schedule becomes one number)."""
    return scenario.with_changes({f"levels.{level}.capacity": places for level, places in capacities.items()})


def meets(results: Results, level: str, targets: Sequence[Target]) -> bool:
    """Whether every target holds at the level with 95% confidence in these results."""
    return all(target.met_by(row["ci_low"], row["ci_high"])
               for row, target in ((target.figures(results, level), target) for target in targets))


@dataclass
class _LevelSearch:
    """The smallest capacity of one level at which the judged levels meet their targets, the others held."""

    runs: _Runs
    capacities: dict[str, int]
    level: str
    judged: dict[str, list[Target]]
    """The levels whose targets must hold, each with its own targets."""
    floor: int = 1
    """The fewest places considered: enough to carry the level's demand without people giving up."""

    def met(self, capacity: int, screening: bool = False) -> bool:
        """Whether the judged levels meet their targets with the level at ``capacity``: in the whole run, or
        (``screening``) on the first replications where those decide."""
        capacities = {**self.capacities, self.level: capacity}
        verdict = self.runs.screened(capacities, self.judged) if screening else None
        if verdict is not None:
            return verdict
        results = self.runs.results(capacities)
        return all(meets(results, level, targets) for level, targets in self.judged.items())

    def holds(self, capacity: int) -> bool:
        """Met on the whole run, unless the first replications already miss clearly (a level then searched: the
        search judges its own answer on whole runs)."""
        return self.runs.screened({**self.capacities, self.level: capacity}, self.judged) is not False \
            and self.met(capacity)

    def smallest(self, start: int, ceiling: int) -> int | None:
        """The smallest capacity in [floor, ceiling] meeting the targets (more places are assumed never to hurt).

        Searched on screenings first; then the answer, and one place fewer, on whole runs (searching on from
        there if a screening misled), so the answer is the one whole runs alone would give.
        """
        screened = self._search(start, ceiling, screening=True)
        return self._search(ceiling if screened is None else screened, ceiling, screening=False)

    def _search(self, start: int, ceiling: int, screening: bool) -> int | None:
        """A bracket from ``start`` (a capacity that misses just below one that meets), then bisection."""
        high = max(self.floor, min(start, ceiling))
        if self.met(high, screening):
            low, step = high - 1, 1
            while low >= self.floor and self.met(low, screening):   # walk down in growing steps: usually one
                high, step = low, step * 2
                low = max(self.floor - 1, high - step)
        else:
            low, step = high, 1
            while not self.met(high, screening):    # walk up in growing steps from theory's guess
                if high >= ceiling:
                    return None
                low, high, step = high, min(ceiling, high + step), step * 2
        while high - low > 1:                    # low misses (or is below the floor), high meets
            middle = (low + high) // 2
            low, high = (low, middle) if self.met(middle, screening) else (middle, high)
        return high


# ---------------------------------------------------------------------------- theory's start
def theory_start(scenario: Scenario, levels: Sequence[str], targets: Sequence[Target]) -> dict[str, int]:
    """Erlang C's capacity per level at its arrival rate from the traffic equations and its mean stay."""
    loads = offered_loads(scenario, levels)
    wait_target = scenario.run.wait_target_days
    return {level: theory_capacity(*loads[level], [t for t in targets if t.applies_to(level)], wait_target)
            for level in levels}


def stable_floors(scenario: Scenario, levels: Sequence[str]) -> dict[str, int]:
    """The fewest places that carry each level's demand (its offered load, rounded down, plus one).

    Below it a level is stable only because people give up: the planner never goes there, however
    short the waits of those who stay would be.
    """
    return {level: math.floor(rate * stay) + 1 for level, (rate, stay) in offered_loads(scenario, levels).items()}


def offered_loads(scenario: Scenario, levels: Sequence[str]) -> dict[str, tuple[float, float]]:
    """Per level: arrivals a day by the traffic equations over the measured period, and the mean stay.

    The same figures the run's overload check uses (:func:`sim.trust.offered_loads`), so a plan is
    never one its own run would call overloaded by theory; NaN arrivals (a closed loop) count as none.
    """
    table = trust.offered_loads(scenario, pd.Series(dtype=float)).fillna({"arrivals_per_day": 0.0})
    return {level: (float(table.loc[level, "arrivals_per_day"]), float(table.loc[level, "stay_days"]))
            for level in levels}


def theory_capacity(arrivals_per_day: float, mean_stay_days: float, targets: Sequence[Target],
                    wait_target_days: float) -> int:
    """The fewest places at which an M/M/c queue meets every target that has a formula (at least 1)."""
    if not (arrivals_per_day > 0 and mean_stay_days > 0):
        return 1
    load = arrivals_per_day * mean_stay_days
    places = math.floor(load) + 1
    while places < 10 * load + 100:
        figures = theory.mmc(arrivals_per_day, mean_stay_days, places)
        values = [(target, _theory_value(figures, target.metric, wait_target_days)) for target in targets]
        if all(value is None or COMPARISONS[target.comparison](value, target.value) for target, value in values):
            break
        places += 1
    return places


def _theory_value(figures: theory.QueueFigures, metric: str, wait_target_days: float) -> float | None:
    """The metric by M/M/c theory (its ``theory`` figure in :mod:`sim.metrics`), or None without a formula."""
    found = METRICS[metric]
    if found.theory is None:
        return None   # the simulation alone decides
    if found.quantile is not None:
        return figures.wait_percentile_days(found.quantile)
    if found.theory == "wait_over":
        return figures.wait_over(wait_target_days)
    return float(getattr(figures, found.theory))


# ---------------------------------------------------------------------------- the plan
def plan(scenario: Scenario, targets: Sequence[Target | str], levels: list[str] | None = None,
         replications: int | None = None, seed: int | None = None, max_capacity_factor: float = 4.0,
         curve_width: int = 1, **run_options: Any) -> Plan:
    """The fewest places at every chosen level that together meet every target with 95% confidence.

    See the module docstring for the search: theory's start, passes downstream first until no
    level changes, and a verification run on fresh random numbers that decides ``met``.

    Parameters
    ----------
    scenario
        The scenario as it is today.
    targets
        ``Target`` objects or texts: ``"wait_p90_days<=14"`` (every planned level),
        ``"iop: wait_mean_days <= 8"`` (one level), ``"occupancy<=0.9"``.
    levels
        Levels to plan, default all; the others keep their capacity.
    max_capacity_factor
        A level's search gives up above this multiple of the larger of today's capacity and
        theory's guess, and says why in words (a full level downstream keeping patients in
        their beds, a wait that does not come from a lack of places).
    curve_width
        Also run this many capacities either side of each level's answer, for the trade-off curve.
    **run_options
        Passed to :func:`sim.run` (``jobs``, ``executor``, ``limits``, ...).

    Raises
    ------
    sim.settings.SettingsError
        Before anything runs, for no targets, a target that is not ``[LEVEL:]METRIC<=VALUE`` or
        asks for a value its metric cannot take, a target's level that is not planned, or a bad
        setting; it is a :class:`sim.ScenarioError` and a ``ValueError``.
    """
    wanted = checked_targets(targets)
    given = check_settings("sim.plan", scenario=scenario, replications=replications, seed=seed,
                           max_capacity_factor=max_capacity_factor, curve_width=curve_width)
    run_options = check_run_options("sim.plan", run_options, set_here=("progress",))
    scenario = with_run_settings(given["scenario"], given["replications"], given["seed"])
    levels = _checked_levels(scenario, levels, wanted)
    start = theory_start(scenario, levels, wanted)
    ceilings = {level: max(1, math.ceil(given["max_capacity_factor"] * max(_current(scenario, level), start[level])))
                for level in levels}
    runs = _Runs(scenario, run_options)
    planned, reachable, passes = _settle(runs, start, ceilings, levels, wanted)
    curve = _curves(runs, planned, levels, wanted, given["curve_width"])
    searched = runs.results(planned)
    planned, added, verification = _verify(scenario, planned, reachable, wanted, run_options)
    rows = [_plan_row(scenario, level, start[level], planned[level], reachable[level], ceilings[level],
                      [t for t in wanted if t.applies_to(level)], verification, searched, added[level],
                      _missed_with_one_fewer(runs, planned, level, reachable, wanted))
            for level in levels]
    return Plan(capacities=pd.DataFrame(rows, columns=PLAN_COLUMNS).astype({"planned_capacity": "Int64"}),
                curve=curve, results=verification, scenario=with_capacities(scenario, planned), targets=wanted,
                passes=passes)


def _current(scenario: Scenario, level: str) -> int:
    return max(step.capacity for step in scenario.levels[level].capacity)


def _checked_levels(scenario: Scenario, levels: list[str] | None, targets: Sequence[Target]) -> list[str]:
    if isinstance(levels, str):
        raise SettingsError("--levels", [f"levels = {levels!r}: give a list of level names, e.g. [{levels!r}]"])
    chosen = scenario.level_names if levels is None else levels
    problems = [f"'{name}' is not a level; levels: {', '.join(scenario.level_names)}"
                for name in chosen if name not in scenario.levels]
    problems += [f"{target}: '{target.level}' is not a planned level; planned: {', '.join(chosen)}"
                 for target in targets if target.level is not None and target.level not in chosen]
    groups = scenario.group_names
    for target in (t for t in targets if t.group is not None):
        accepts = scenario.levels[target.level].accepts if target.level in scenario.levels else None
        if target.group not in groups:
            problems.append(f"{target}: '{target.group}' is not a patient group; groups: "
                            f"{', '.join(groups) or 'none (the scenario has no groups)'}")
        elif target.level is None:
            problems.append(f"{target}: a group's target names its level, GROUP@LEVEL:METRIC<=VALUE")
        elif accepts is not None and target.group not in accepts:
            problems.append(f"{target}: {target.level} does not take {target.group} (it accepts {', '.join(accepts)})")
    if problems:
        raise SettingsError("--levels" if levels is not None else "--target", problems)
    return list(chosen)


def _settle(runs: _Runs, start: dict[str, int], ceilings: dict[str, int], levels: Sequence[str],
            targets: Sequence[Target]) -> tuple[dict[str, int], dict[str, bool], int]:
    """Grow levels to their targets, downstream first, until a pass changes none; then trim each.

    Growing: a level missing one of its own targets gets the smallest capacity that meets them,
    the others where they are; a level never shrinks here, so the passes end (at the ceilings at
    worst). Trimming: each level, from the most intensive, loses the places it can lose while every
    planned level still meets its targets, because theory's start or an early pass (sized while a
    level below was still too small and blocked it) can leave more than is needed.
    """
    own = {level: [t for t in targets if t.applies_to(level)] for level in levels}
    floors = stable_floors(runs.scenario, levels)
    planned, reachable = dict(start), dict.fromkeys(levels, True)
    passes = 0
    while passes < MOST_PASSES:
        passes += 1
        changed = False
        for level in reversed(levels):
            search = _LevelSearch(runs, planned, level, {level: own[level]}, floors[level])
            if search.holds(planned[level]):
                continue
            found = search.smallest(planned[level], ceilings[level])
            reachable[level] = found is not None
            changed = changed or planned[level] != (found or ceilings[level])
            planned[level] = found or ceilings[level]
        if not changed:
            break
    judged = {level: own[level] for level in levels if reachable[level]}
    for level in levels:
        if reachable[level]:
            planned[level] = _LevelSearch(runs, planned, level, judged, floors[level]).smallest(
                planned[level], planned[level]) or planned[level]
    return planned, reachable, passes


def _verify(scenario: Scenario, planned: dict[str, int], reachable: dict[str, bool], targets: Sequence[Target],
            run_options: dict[str, Any]) -> tuple[dict[str, int], dict[str, int], Results]:
    """Run the plan on random numbers the search never saw; a level that misses a target there gets a
    place more and the plan runs again, on new numbers each time (:data:`VERIFICATION_ROUNDS` at most)."""
    planned, added = dict(planned), dict.fromkeys(planned, 0)
    for round_number in range(1, VERIFICATION_ROUNDS + 1):
        seed = scenario.run.seed + round_number * VERIFICATION_SEED_OFFSET
        verification = run(with_capacities(scenario, planned), seed=seed, progress=False, **run_options)
        missed = [level for level in planned if reachable[level]
                  and not meets(verification, level, [t for t in targets if t.applies_to(level)])]
        if not missed or round_number == VERIFICATION_ROUNDS:
            return planned, added, verification
        for level in missed:
            planned[level] += 1
            added[level] += 1
    raise AssertionError("unreachable: the last round returns")


def _curves(runs: _Runs, planned: dict[str, int], levels: Sequence[str], targets: Sequence[Target],
            width: int) -> pd.DataFrame:
    """Each level's capacities around its answer, and every one tried, with the others at their planned sizes.

    The capacities around the answers and one place below each (for its note) are run whole, in one map;
    a capacity the search only screened shows its first replications (``replications`` says how many).
    """
    runs.complete([{**planned, level: capacity} for level in levels
                   for capacity in range(max(1, planned[level] - max(width, 1)), planned[level] + width + 1)])
    tried = runs.tried()
    rows = []
    for level in levels:
        others = {name: places for name, places in planned.items() if name != level}
        for key, (results, replications) in sorted(tried.items()):
            capacities = dict(key)
            if {name: capacities[name] for name in others} != others:
                continue
            for target in (t for t in targets if t.applies_to(level)):
                row = target.figures(results, level)
                rows.append((level, capacities[level], target.metric, str(target), row["mean"], row["ci_low"],
                             row["ci_high"], target.met_by(row["ci_low"], row["ci_high"]), replications))
    return pd.DataFrame(rows, columns=CURVE_COLUMNS).sort_values(["level", "capacity"], kind="stable",
                                                                  ignore_index=True)


def _missed_with_one_fewer(runs: _Runs, planned: dict[str, int], level: str, reachable: dict[str, bool],
                           targets: Sequence[Target]) -> list[str]:
    """The planned levels that would miss a target with one place fewer at ``level`` (the search's numbers)."""
    if planned[level] <= 1:
        return []
    results = runs.results({**planned, level: planned[level] - 1})
    return [name for name in planned if reachable[name]
            and not meets(results, name, [t for t in targets if t.applies_to(name)])]


def _plan_row(scenario: Scenario, level: str, guess: int, planned: int, reachable: bool, ceiling: int,
              targets: Sequence[Target], verification: Results, searched: Results, added: int,
              missed: list[str]) -> tuple[Any, ...]:
    met = reachable and meets(verification, level, targets)
    if not reachable:
        note = _why_not(scenario, level, ceiling, targets, searched)
    elif not met:
        note = (f"met on the search's random numbers but not on fresh ones, even with {added} more "
                "places: a close call; plan with more replications")
    elif added:
        note = (f"meets every target; the search's answer of {planned - added} missed a target on fresh random "
                f"numbers, so {added} place{'s' if added > 1 else ''} added")
    elif planned == 1:
        note = "meets every target; one place is enough"
    else:
        others = [name for name in missed if name != level]
        why = (f" ({' and '.join(others)} would then miss a target: their patients would wait for places here)"
               if others and level not in missed else "")
        note = f"meets every target; with {planned - 1} places a target is missed{why}"
    return (level, _current(scenario, level), guess, planned if reachable else None, met, note,
            _reached(verification, level, targets))


def _reached(results: Results, level: str, targets: Sequence[Target]) -> str:
    """``wait_p90_days 11.2 (10.1-12.3) <= 14``: each target's value and interval in the verification run."""
    rows = [(t, t.figures(results, level)) for t in targets]
    return "; ".join(f"{t.group + ' ' if t.group else ''}{t.metric} {_figure(row['mean'])} ({_figure(row['ci_low'])}-"
                     f"{_figure(row['ci_high'])}) {t.comparison} {t.value:g}" for t, row in rows)


def _figure(value: float) -> str:
    return "-" if not math.isfinite(value) else f"{value:.3g}"


def _why_not(scenario: Scenario, level: str, ceiling: int, targets: Sequence[Target], searched: Results) -> str:
    """In words, why no capacity up to the ceiling meets the level's targets."""
    rows = searched.summary[searched.summary["level"] == level].set_index("metric")["mean"]
    wanted = ", ".join(map(str, targets))
    holding = [name for name in scenario.levels[level].next
               if name in scenario.levels and scenario.levels[level].when_next_full == "hold"]
    if rows["blocked_days_per_year"] > 0 and holding:
        return (f"no capacity up to {ceiling} meets {wanted}: its patients wait in their places for "
                f"{' or '.join(holding)} downstream ({rows['blocked_days_per_year']:,.0f} blocked days a year "
                f"at {ceiling} places); plan {' and '.join(holding)} too, or let this level release its patients")
    program = scenario.levels[level].program
    cohort = program.cohort_every_days if program else None
    if cohort:
        return (f"no capacity up to {ceiling} meets {wanted}: patients start in cohorts every {cohort} days, "
                "so they wait for the next start however many places there are")
    return (f"no capacity up to {ceiling} meets {wanted} (at {ceiling} places: "
            f"{_reached(searched, level, targets)}): the targets ask for less than places alone can give")


