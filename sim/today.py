"""Today's state as the engine seats it: the days each patient has already spent, and what is left.

A patient found four days into a stay has the rest of a stay known to be longer than four days,
not a fresh one; someone who left care a month ago and has not come back is less likely to come
back than someone who left today. Everything here turns a scenario's ``initial`` and
``relapse.at_risk`` into plain lists of days (drawn from the named streams it is given), which
:mod:`sim.engine` seats on day 0. The draws use streams of their own, so a scenario without
these keys sees exactly the numbers it always has.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .distributions import Sampler, return_chance
from .scenario import EXITS, AtRisk, Band, Relapse, Scenario
from .scenario import Level as LevelSpec

Streams = Callable[[str], np.random.Generator]
"""A level's (or the relapse rule's) named random streams: give a purpose, get its generator."""

MOST_DAYS_SINCE = 36_500
"""How far back ``at_risk: auto`` looks for people still away (100 years: later returns are negligible)."""
CANDIDATE_STAYS = 20_000
"""Stays drawn per route to find the days in care of patients present on a typical day (a level's, shared
by its patient groups in proportion to their census: see :func:`candidate_stays`)."""
FEWEST_CANDIDATE_STAYS = 2_000


def candidate_stays(scenario: Scenario, level: str, group: str) -> int:
    """A group's part of the level's :data:`CANDIDATE_STAYS`: all of them without groups or with one, else in
    proportion to the group's census today (at least :data:`FEWEST_CANDIDATE_STAYS`), so that seating costs
    the same however many groups share the level."""
    views = scenario.group_views()
    if len(views) == 1:
        return CANDIDATE_STAYS
    census = {name: view.levels[level].initial.census for name, view in views.items()}
    share = census[group] / max(1, sum(census.values()))
    return max(FEWEST_CANDIDATE_STAYS, round(CANDIDATE_STAYS * share))

RouteStays = dict[str, tuple[float, Sampler]]
"""Each route out of a level that anyone takes: its share, and the stay of the patients who take it."""


def describes_today(scenario: Scenario) -> bool:
    """Whether the scenario gives today's state in detail: patients listed or held, or people at risk.

    Only then are the patients counted by ``census`` alone seated by :func:`patients_in_care`; a
    scenario without these keys seats them as it always has, so earlier results stay exact.
    """
    listed = any(level.initial.listed_in_place or level.initial.listed_waiting for level in scenario.levels.values())
    return listed or (scenario.relapse is not None and scenario.relapse.at_risk is not None)


# ---------------------------------------------------------------------------- days already spent
def days_spent(days: list[float] | None, bands: list[Band] | None, longest: float,
               rng: np.random.Generator) -> np.ndarray:
    """Each listed patient's days so far: given days as they are, banded ones drawn evenly within the band.

    A band running past ``longest`` (the longest stay or wait the distribution allows) is drawn
    only up to it: nobody can have spent longer.
    """
    patients = [band for band in bands or () for _ in range(band.count)]
    low = np.array([band.from_days for band in patients], dtype=float)
    high = np.minimum(np.array([band.to_days for band in patients], dtype=float), longest)
    banded = low + rng.random(len(patients)) * (high - low)
    return np.concatenate([np.asarray(days or (), dtype=float), banded])


def route_stays(spec: LevelSpec) -> RouteStays:
    """The routes out of a level that anyone takes, with their shares and stays."""
    return {name: (step.share, (step.los or spec.los).sampler()) for name, step in spec.next.items() if step.share > 0}


def _pick(weights: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Per row of ``weights``, the column a uniform picks in proportion to the row's weights."""
    cumulative = np.cumsum(weights, axis=1)
    picks = (cumulative < uniforms[:, None] * cumulative[:, -1:]).sum(axis=1)
    return np.minimum(picks, weights.shape[1] - 1)


def routes_given_days(stays: RouteStays, in_care_days: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The route (its position in ``stays``) each patient leaves by, drawn given their days in care.

    Routes with their own stays are not equally likely once a stay has lasted a while: the chance
    of a route is its share times the chance its stay lasts that long (Bayes), so a patient already
    30 days in is rarely on a short step-up route.
    """
    weights = np.array([share * stay.survival(in_care_days) for share, stay in stays.values()]).T
    return _pick(weights.reshape(len(in_care_days), len(stays)), rng.random(len(in_care_days)))


def stays_left(stays: RouteStays, in_care_days: np.ndarray, routes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The rest of each patient's stay on their route, given the days already in care."""
    uniforms = rng.random(len(routes))
    left = np.empty(len(routes))
    for index, (_, stay) in enumerate(stays.values()):
        taking = routes == index
        left[taking] = stay.remaining_from_uniforms(in_care_days[taking], uniforms[taking])
    return left


def typical_days_in_care(stays: RouteStays, count: int, rng: np.random.Generator,
                         candidates: int = CANDIDATE_STAYS) -> np.ndarray:
    """Days in care of ``count`` patients present on a typical day, for those whose days are not known.

    A patient present is more likely to be on a long stay (length-biased: drawn in proportion to
    its length, from ``candidates`` candidate stays per route) and is uniformly far through it; routes
    count in proportion to their share times their mean stay, as they do in the census of a steady level.
    """
    if not count:
        return np.empty(0)
    weights = np.array([[share * stay.mean for share, stay in stays.values()]])
    routes = _pick(np.repeat(weights, count, axis=0), rng.random(count))
    days = np.zeros(count)
    for index, (_, stay) in enumerate(stays.values()):
        taking = routes == index
        drawn = stay.from_uniforms(rng.random(candidates))
        cumulative = np.cumsum(drawn)
        if taking.any() and cumulative[-1] > 0:
            picks = np.searchsorted(cumulative, rng.random(taking.sum()) * cumulative[-1], side="right")
            days[taking] = drawn[np.minimum(picks, len(drawn) - 1)] * rng.random(taking.sum())
    return days


def patients_in_care(spec: LevelSpec, stream: Streams, unknown: int = 0,
                     candidates: int = CANDIDATE_STAYS) -> list[tuple[float, str, float]]:
    """Patients in care today: (days in care so far, route they will leave by, days of stay left).

    The listed ones (``in_care_days``, ``in_care_bands``), then ``unknown`` more whose days in care
    are drawn by :func:`typical_days_in_care` (from ``candidates`` candidate stays per route).
    """
    initial = spec.initial
    if not initial.listed_in_care and not unknown:
        return []
    stays = route_stays(spec)
    longest = max(stay.longest for _, stay in stays.values())
    listed = days_spent(initial.in_care_days, initial.in_care_bands, longest, stream("initial:in_care_days"))
    in_care = np.concatenate([listed, typical_days_in_care(stays, unknown, stream("initial:typical_days"),
                                                           candidates)])
    routes = routes_given_days(stays, in_care, stream("initial:in_care_routes"))
    left = stays_left(stays, in_care, routes, stream("initial:in_care_stays"))
    names = np.asarray(list(stays))[routes].tolist()
    return list(zip(in_care.tolist(), names, left.tolist(), strict=True))


def patients_waiting(spec: LevelSpec, stream: Streams) -> list[tuple[float, float | None]]:
    """Patients listed waiting today, longest waiting first: (days waited so far, days of patience left).

    Patience left is drawn given they have not given up so far; None where the level has no patience.
    """
    initial = spec.initial
    if not initial.listed_waiting:
        return []
    patience = spec.patience.sampler() if spec.patience is not None else None
    longest = patience.longest if patience is not None else math.inf
    waited = np.sort(days_spent(initial.waiting_days, initial.waiting_bands, longest,
                                stream("initial:waiting_days")))[::-1]
    if patience is None:
        return [(days, None) for days in waited.tolist()]
    left = patience.remaining_from_uniforms(waited, stream("initial:patience").random(len(waited)))
    return list(zip(waited.tolist(), left.tolist(), strict=True))


def patients_held(spec: LevelSpec) -> list[tuple[str, float]]:
    """Patients held in a place here today: (the level they wait for, days held so far; 0 when not given)."""
    return [(held.to, float(days)) for held in spec.initial.held or ()
            for days in (held.held_days if held.held_days is not None else [0.0] * held.patients)]


# ---------------------------------------------------------------------------- people at risk of relapse
def leaving_per_day(scenario: Scenario) -> dict[str, float]:
    """Patients leaving care to each exit per day at the initial census and waitlist.

    By Little's law a level with ``census`` patients and a mean stay of ``s`` days ends
    ``census / s`` stays a day, split by its ``next`` shares; a waitlist of ``w`` with a mean
    patience of ``p`` days loses ``w / p`` a day (exact for exponential patience), split by ``gave_up``.
    """
    leaving = dict.fromkeys(EXITS, 0.0)
    for level in scenario.levels.values():
        stays_ending = level.initial.census / level.mean_stay_days if level.mean_stay_days > 0 else 0.0
        for exit_name in EXITS:
            leaving[exit_name] += stays_ending * (level.next[exit_name].share if exit_name in level.next else 0.0)
        if level.patience is not None and level.initial.waitlist:
            giving_up = level.initial.waitlist / level.patience.sampler().mean
            for exit_name in EXITS:
                leaving[exit_name] += giving_up * level.gave_up_routes.get(exit_name, 0.0)
    return leaving


def expected_returners(per_day: float, probability: float, time: Sampler) -> np.ndarray:
    """People yet to return, by day since leaving (index ``d``: left ``d`` to ``d + 1`` days ago).

    ``per_day`` leave every day, a share ``probability`` will return, and those who left ``d``
    days ago are still away with chance ``S(d)``: ``per_day x probability x S`` over each day.
    """
    last = math.ceil(min(MOST_DAYS_SINCE, time.longest))
    survival = time.survival(np.arange(last + 1, dtype=float))
    return per_day * probability * (survival[:-1] + survival[1:]) / 2


def returns_of_listed(relapse: Relapse, groups: list[AtRisk], stream: Streams) -> list[float]:
    """Days until each listed person at risk returns, for those who will (the rest never return)."""
    returns: list[float] = []
    for exit_name in EXITS:
        rule = relapse.rule(exit_name)
        mine = [group for group in groups if group.after == exit_name]
        if rule is None or not mine:
            continue
        time = rule.time.sampler()
        days_since = np.repeat([group.days_since for group in mine], [group.count for group in mine])
        chances = return_chance(rule.probability, time, days_since)
        returning = stream(f"at_risk:{exit_name}:chance").random(len(days_since)) < chances
        uniforms = stream(f"at_risk:{exit_name}:time").random(len(days_since))
        returns += time.remaining_from_uniforms(days_since, uniforms)[returning].tolist()
    return returns


def returns_of_auto(scenario: Scenario, relapse: Relapse, stream: Streams) -> list[float]:
    """Days until each person of the ``auto`` pool returns: counts drawn (Poisson) per day since leaving."""
    leaving = leaving_per_day(scenario)
    returns: list[float] = []
    for exit_name in EXITS:
        rule = relapse.rule(exit_name)
        if rule is None or rule.probability == 0 or leaving[exit_name] == 0:
            continue
        time = rule.time.sampler()
        counts = stream(f"at_risk:{exit_name}:count").poisson(expected_returners(leaving[exit_name],
                                                                                 rule.probability, time))
        days_since = np.repeat(np.arange(len(counts), dtype=float), counts)
        days_since += stream(f"at_risk:{exit_name}:days_since").random(len(days_since))
        uniforms = stream(f"at_risk:{exit_name}:time").random(len(days_since))
        returns += time.remaining_from_uniforms(np.minimum(days_since, time.longest), uniforms).tolist()
    return returns


def returns_from_today(scenario: Scenario, stream: Streams) -> list[float]:
    """Days until each person at risk on day 0 returns to care (``relapse.at_risk``), those who will only."""
    relapse = scenario.relapse
    if relapse is None or relapse.at_risk is None:
        return []
    if relapse.at_risk == "auto":
        return returns_of_auto(scenario, relapse, stream)
    return returns_of_listed(relapse, relapse.at_risk, stream)
