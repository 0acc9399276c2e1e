"""How big a run is before it starts, and the limits past which it is refused.

A scenario can be valid and still far beyond what a machine can finish: a billion referrals a
year, a run of a million years. The estimate comes from the traffic equations (referrals, then
transfers and relapses) and the run settings, in milliseconds, so such a run is refused with
the size and the key that drives it instead of filling the memory for hours. Limits are
documented in ``scenarios/README.md`` and can be raised (``--limit``, ``sim.run(limits=...)``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .arrivals import expected_referrals
from .messages import ScenarioError
from .scenario import Level, RunSettings, Scenario
from .theory import traffic_rates

LIMITS = {
    "visits_per_replication": 20_000_000,
    "visits": 500_000_000,
    "daily_rows": 20_000_000,
    "replications": 10_000,
}
"""Default limits: patient visits to levels in one replication (time and memory of a worker, about
15 microseconds and 10 bytes each), in the whole run (about an hour on two cores at the limit),
rows of daily census held in memory (about 100 bytes each), and replications (each costs some
milliseconds however small the model)."""

LIMIT_WORDS = {
    "visits_per_replication": "patient visits to levels in one replication",
    "visits": "patient visits in all replications",
    "daily_rows": "rows of daily figures (a row per day, level and replication)",
    "replications": "replications",
}
MOST_LOOPS = 100_000


class RunTooBig(ScenarioError):
    """A valid scenario whose run is past a size limit (raise the limit if it is meant)."""

    def __str__(self) -> str:
        return "\n".join([f"{self.source}: the run is too big to start", *(f"  - {p}" for p in self.problems)])


@dataclass(frozen=True)
class Workload:
    """The size of a run, estimated before it starts."""

    referrals_per_replication: float
    visits_per_replication: float
    replications: int
    days_per_replication: int
    levels: int
    drivers: dict[str, str]
    """For each limit, the scenario key most responsible for the size, as ``key = value``."""

    @property
    def visits(self) -> float:
        return self.visits_per_replication * self.replications

    @property
    def daily_rows(self) -> float:
        return float(self.days_per_replication) * self.levels * self.replications


def estimate(scenario: Scenario, replications: int | None = None) -> Workload:
    """The size of running ``scenario`` (``replications`` when more may run than it names).

    With ``warmup_days: auto`` the warm-up is taken as long as the measured period (the
    longest it can be, and the length of the pilot run that chooses it).
    """
    run = scenario.run
    if run.warmup_days == "auto":
        run = run.model_copy(update={"warmup_days": run.days})
    horizon = run.resolved_warmup_days + run.days
    # each patient group by its own referrals and routes (the scenario itself without groups)
    per_group = [_referrals(view, run) for view in scenario.group_views().values()]
    referrals = np.sum(per_group, axis=0)
    visits = np.sum([_visits(view, found, horizon) for view, found in zip(scenario.group_views().values(), per_group,
                                                                           strict=True)], axis=0)
    replications = max(replications or 0, run.replications)
    return Workload(float(referrals.sum()), float(visits.sum()), replications,
                    run.resolved_warmup_days + run.days, len(scenario.levels),
                    _drivers(scenario, referrals, visits, replications, per_group))


def _referrals(scenario: Scenario, run: RunSettings) -> np.ndarray:
    """Per level: referrals over the run, plus the patients there on day 0 (in a place or waiting), who move
    on like referrals, plus the people listed at risk of relapse."""
    return np.array([expected_referrals(run, level) + level.initial.census + level.initial.waitlist
                     for level in scenario.levels.values()]) + listed_returns(scenario)


def listed_returns(scenario: Scenario) -> np.ndarray:
    """Per level, the people listed in ``relapse.at_risk`` as if every one came back (by ``return_to``).

    ``auto`` is left out: that pool follows from the census and flows already counted.
    """
    returns = np.zeros(len(scenario.levels))
    relapse = scenario.relapse
    if relapse is None or not isinstance(relapse.at_risk, list):
        return returns
    listed = sum(group.count for group in relapse.at_risk)
    for name, share in relapse.return_to.items():
        returns[scenario.level_names.index(name)] += listed * share
    return returns


def _visits(scenario: Scenario, referrals: np.ndarray, horizon: float) -> np.ndarray:
    """Visits per level: referrals, plus transfers and relapses by the traffic equations."""
    if not np.all(np.isfinite(referrals)):
        return np.where(np.isfinite(referrals), referrals, math.inf)
    moves = moves_between_levels(scenario)
    try:
        return traffic_rates(referrals.tolist(), moves.tolist())
    except ValueError:  # a closed loop: nobody leaves for good, so visits grow with time
        quickest = min(level.los.sampler().mean for level in scenario.levels.values())
        loops = int(min(MOST_LOOPS, horizon / max(quickest, 1e-9)))
        visits = referrals.copy()
        for _ in range(loops):
            visits = referrals + moves.T @ visits
        return visits


def moves_between_levels(scenario: Scenario) -> np.ndarray:
    """Share of a level's leavers who come to each level next: transfers, and relapses via the exits."""
    names = scenario.level_names
    moves = np.zeros((len(names), len(names)))
    relapse = scenario.relapse
    for row, level in enumerate(scenario.levels.values()):
        for dest, step in level.next.items():
            if dest in names:
                moves[row, names.index(dest)] += step.share
            elif relapse is not None and (rule := relapse.rule(dest)) is not None:
                for back, share in relapse.return_to.items():
                    moves[row, names.index(back)] += step.share * rule.probability * share
    return moves


def _drivers(scenario: Scenario, patients: np.ndarray, visits: np.ndarray, replications: int,
             per_group: list[np.ndarray]) -> dict[str, str]:
    """For each limit, the keys that make the run this size, with their values (``per_group``: each patient
    group's patients per level, to name a group's own keys)."""
    run = scenario.run
    days = f"run.days = {run.days}" + (f" (after {run.warmup_days} days of warm-up)" if run.warmup_days else "")
    per_replication = days
    returning = listed_returns(scenario)
    if returning.sum() > (patients - returning).max(initial=0):
        per_replication = f"relapse.at_risk listing {returning.sum():,.0f} people who may return, over {days}"
    elif patients.any() and scenario.groups:
        group, level = np.unravel_index(int(np.argmax(per_group)), np.shape(per_group))
        per_replication = f"{_group_volume(scenario, scenario.group_names[group], scenario.level_names[level])} " \
                          f"over {days}"
    elif patients.any():
        busiest = scenario.level_names[int(np.argmax(patients))]
        per_replication = f"{_volume(busiest, scenario.levels[busiest], scenario.population)} over {days}"
    if scenario.relapse is not None and visits.sum() > 10 * patients.sum():
        per_replication += ", with patients returning many times (relapse probabilities)"
    many = f"run.replications = {replications}"
    return {"visits_per_replication": per_replication, "visits": f"{per_replication}, times {many}",
            "daily_rows": f"{days}, times {len(scenario.levels)} levels, times {many}", "replications": many}


def _group_volume(scenario: Scenario, group: str, name: str) -> str:
    """Where a patient group's patients at a level come from, as keys and values."""
    assert scenario.groups is not None
    spec, view = scenario.groups[group], scenario.group_views()[group].levels[name]
    if view.initial.census + view.initial.waitlist > view.referrals_per_year:
        return (f"groups.{group}.levels.{name}.initial = "
                f"{{census: {view.initial.census}, waitlist: {view.initial.waitlist}}}")
    own, share = spec.referrals_per_year.get(name, 0.0), spec.share_of_referrals.get(name)
    if share is None or own >= share * scenario.levels[name].referrals_per_year:
        return f"groups.{group}.referrals_per_year.{name} = {own:g}"
    return f"{_volume(name, scenario.levels[name], scenario.population)} (groups.{group}.share_of_referrals.{name} " \
           f"= {share:g})"


def _volume(name: str, level: Level, population: int | None) -> str:
    """Where a level's patients come from, as keys and values."""
    start = level.initial.census + level.initial.waitlist
    if start > level.referrals_per_year:
        return f"levels.{name}.initial = {{census: {level.initial.census}, waitlist: {level.initial.waitlist}}}"
    volume = f"levels.{name}.referrals_per_year = {level.referrals_per_year:g}"
    if level.referrals_per_100k_per_year is not None:   # name the keys the planner wrote
        volume = (f"levels.{name}.referrals_per_100k_per_year = {level.referrals_per_100k_per_year:g} "
                  f"({level.referrals_per_year:g} a year for population = {population})")
    if level.referral_growth_per_year > 0:
        volume += f" growing by levels.{name}.referral_growth_per_year = {level.referral_growth_per_year:g}"
    return volume


def check(scenario: Scenario, limits: dict[str, Any] | None = None, replications: int | None = None) -> Workload:
    """The run's size, or :class:`RunTooBig` naming each size past its limit and the key behind it."""
    allowed = {**LIMITS, **checked_limits(limits)}
    size = estimate(scenario, replications)
    problems = [_too_big_text(name, getattr(size, name), allowed[name], size.drivers[name])
                for name in LIMITS if not getattr(size, name) <= allowed[name]]
    if problems:
        raise RunTooBig(scenario.source, problems)
    return size


FAR_PAST = 100
"""Past this multiple of a default limit, suggest checking the keys rather than raising the limit."""


def _too_big_text(name: str, value: float, limit: float, driver: str) -> str:
    shown = "more than can be counted" if not math.isfinite(value) else f"about {_count(value)}"
    if value > FAR_PAST * LIMITS[name]:
        advice = "; check that value (a run this size would not finish)"
    else:
        suggested = _round_up(value)
        advice = (f"; if you mean it, raise the limit: --limit {name}={suggested} "
                  f"(in Python: limits={{'{name}': {suggested}}})")
    return f"{shown} {LIMIT_WORDS[name]}, over the limit of {_count(limit)}: {driver}{advice}"


def _count(value: float) -> str:
    for size, word in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million")):
        if value >= size:
            return f"{value / size:.3g} {word}"
    return f"{value:,.0f}"


def _round_up(value: float) -> str:
    """A round number a little above ``value``, as ``3e7``, to suggest as a new limit."""
    exponent = math.floor(math.log10(value))
    return f"{math.ceil(value * 1.1 / 10 ** exponent)}e{exponent}"


def limit_problems(limits: Mapping[str, Any]) -> list[str]:
    """What is wrong with limits given by a user (names and values), each in a line."""
    problems = []
    for name, value in limits.items():
        if name not in LIMITS:
            problems.append(f"{name}: not a limit; limits: {', '.join(LIMITS)}")
        elif isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            problems.append(f"{name} = {value!r}: a limit is a number above 0, e.g. {LIMITS[name]:.3g}")
    return problems


def checked_limits(limits: Mapping[str, Any] | None) -> dict[str, float]:
    """Limits given by a user, as numbers, or :class:`ScenarioError` naming the bad one."""
    problems = limit_problems(limits or {})
    if problems:
        raise ScenarioError("limits", problems)
    return {name: float(value) for name, value in (limits or {}).items()}
