"""The SimPy model: referrals, waitlists, stays, routing, bed blocking, reneging and relapse.

The model is data: one generic :class:`Level` per level in the scenario, no code per care
level. Place schedules and cohorts are plain generator processes. A patient's path is a
chain of events on SimPy's event queue whose callbacks move the patient on; the stay itself
is scheduled as the :class:`~sim.records.Episode` object (which carries the event protocol
SimPy's ``step`` reads), so no generator or extra event object is kept per patient. The
per-event cost decides the speed of everything built on this: nothing runs per simulated day.
Each change of a level's census, waitlist or held count is noted in the
:class:`~sim.daybook.Daybook` (two appends), from which the day rows are cut in blocks.

This module and :mod:`sim.records` are compiled with mypyc on install where a C compiler is at hand
(:mod:`sim.compiled`; the source runs where not, and the same numbers come out). They are written for
it: locals typed (``now: float``), constants ``Final``, builtins called often held in ``Final`` names,
and events put on SimPy's queue directly (:meth:`Model.at`). A class here cannot be patched at run
time where it is compiled: tests patch the daybook (pure Python) instead.

Time is in days. Simulation time 0 is the start of the warm-up; the measured period starts
at ``warmup_days``, which is day 0 of capacity schedules and referral growth. Every count goes
to the tallies of the period now running: one event at the start of the measured period
switches every level and the system to the measured tallies, so no event asks what time it is
(the daybook splits its counts at that time too). The engine hands back both periods' tallies;
the results layer picks the measured ones.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Callable, Iterator
from functools import partial
from heapq import heappush
from itertools import accumulate, islice, repeat
from typing import Any, Final, Protocol

import numpy as np
import simpy
from simpy.events import NORMAL, URGENT

from .arrivals import referral_times
from .capacity import usable_capacity
from .daybook import (
    ADMITTED_TODAY,
    ARRIVED_ADMITTED,
    ARRIVED_LISTED,
    ARRIVED_TURNED_AWAY,
    AT_RISK,
    CREATED,
    GONE,
    HELD_PLACE,
    LEFT,
    LEFT_HELD,
    LISTED_ADMITTED,
    LISTED_GAVE_UP,
    RETURNED,
    SEATED,
    SEATED_HELD,
    WAITS_TO_DATE,
    Daybook,
)
from .months import months
from .records import (
    DONE,
    GAVE_UP,
    GAVE_UP_WAITING,
    HELD,
    IN_CARE,
    INITIAL,
    MEASURED,
    PERIODS,
    REFERRAL,
    RELAPSE,
    TRANSFER,
    TURNED_AWAY,
    WAITING,
    WARM_UP,
    Episode,
    EpisodeLog,
    SystemTally,
    Tally,
    month_wait_figures,
)
from .scenario import EXITS, Scenario
from .scenario import Level as LevelSpec
from .streams import draws, generator
from .today import (
    candidate_stays,
    describes_today,
    patients_held,
    patients_in_care,
    patients_waiting,
    returns_from_today,
)

READMIT_WINDOW_DAYS: Final = 30.0
# Final: the compiled engine holds them in C variables (a name looked up in the builtins or the module's dictionary
# costs a lookup at every use, and mypyc calls ``next`` itself through the builtins module)
PUSH: Final = heappush
NEXT: Final = next
KEEP_EVERY: Final = 2048
"""The daybook's entries are turned into arrays every this many (:meth:`~sim.daybook.Daybook.keep`)."""
FOLD_CHECK_DAYS = 365
FOLD_AFTER_ENTRIES = 100_000
"""Once a year, the daybook's entries are cut into day rows if they are this many (4 MB, some 12 MB while
folding): rarely enough that folding costs nothing beside the run, often enough that memory does not grow
with the run's length."""


def routes(shares: dict[str, float], destinations: list[str], rng: np.random.Generator) -> Iterator[int]:
    """Destination indices drawn by shares from their own stream: ``next()`` gives one."""
    picks = np.array([destinations.index(name) for name in shares])
    if len(picks) == 1:
        return repeat(int(picks[0]))
    cumulative = np.cumsum(list(shares.values()))
    cumulative /= cumulative[-1]
    last = len(picks) - 1
    return draws(rng, lambda uniforms: picks[np.minimum(np.searchsorted(cumulative, uniforms, side="right"), last)])


class Scheduled(Protocol):
    """What SimPy's ``Environment.step`` reads of a scheduled event: ``callbacks`` and ``_ok``."""

    @property
    def callbacks(self) -> list[Callable[[Any], None]] | None: ...

    @property
    def _ok(self) -> bool: ...


class Timer:
    """A light event carrying one value, for the many short-lived timers (patience, relapse).

    SimPy's ``step`` reads only ``callbacks`` and ``_ok``; a shared callbacks list is fine
    because ``step`` never changes the list it is given.
    """

    __slots__ = ("callbacks", "value")

    _ok = True   # SimPy only reads it: a timer always ends well
    callbacks: list[Callable[[Timer], None]] | None   # SimPy's step sets it to None

    def __init__(self, callbacks: list[Callable[[Timer], None]], value: Any = None):
        self.callbacks = callbacks
        self.value = value


class Level:
    """One level of care: its places, its waitlist and the patients moving through.

    ``staffed_places`` are the places it can run today (built places with the staff to run them),
    the most it admits; ``built_places`` are all its places, staffed or not.
    """

    def __init__(self, model: Model, index: int, name: str, spec: LevelSpec, place_steps: list[tuple[float, int, int]]):
        self.model, self.env, self.index, self.name, self.spec = model, model.env, index, name, spec
        self.log = model.episode_log
        groups = model.group_names
        # per period, a tally per patient group (one, unnamed, without groups)
        self.tallies = {period: [Tally(len(model.destinations), model.scenario.run.wait_target_days) for _ in groups]
                        for period in PERIODS}
        self.month_waits: list[tuple[float, float]] = []   # with several groups, all groups' waits' month by month
        self.tally = self.tallies[WARM_UP]   # where counts go now: Model.enter_period moves it on
        # the first level in the scenario is the most intensive: 30-day readmission is measured on it
        self.counts_readmissions = index == 0
        destinations = model.destinations
        self.place_steps = place_steps
        _, self.staffed_places, self.built_places = place_steps[0]
        self.cohort_every = spec.program.cohort_every_days if spec.program else None
        self.admits_any_day = self.cohort_every is None   # else only when a cohort starts
        self.census = self.held = self.waiting = 0
        self.opened = self.closed = 0
        self.turn_away = spec.when_full == "turn_away"
        self.hold = spec.when_next_full == "hold"
        self.transfers_first = spec.waitlist == "transfers_first"
        # every change of census, waitlist or held goes to the daybook: its time, and a code per group and change
        daybook = model.daybook
        self.note_times, self.note_codes = daybook.times, daybook.codes   # appended to (folds empty them in place)
        self.codes = [daybook.code(index, group, 0) for group in range(len(groups))]   # add the change's number
        # waitlists in the order they are served: by the groups' priority rank, transfers first within a rank
        ranks = [spec.priority.index(group) if spec.priority and group in spec.priority else len(spec.priority or ())
                 for group in groups]
        self.queues: list[deque[Episode]] = [deque() for _ in range(2 * (max(ranks) + 1))]
        self.queue_of = [(2 * rank, 2 * rank + 1) for rank in ranks]   # per group: (transfers, others)
        # per group: routes, stays by route, patience and where those who give up go, from the group's own rules
        self.routes: list[Iterator[int]] = []
        self.stays: list[dict[int, Iterator[float]]] = []
        self.patience: list[Iterator[float] | None] = []
        self.gave_up_routes: list[Iterator[int]] = []
        for group, view in enumerate(model.views):
            self.draw_for(view.levels[name], model.random_streams(name, group), destinations)
        self.next_levels: list[Level | None] = []   # per destination: the level, or None for an exit (Model sets it)
        self.on_stay_over: list[Callable[[Episode], None]] = [self.stay_over]
        self.on_patience_over: list[Callable[[Timer], None]] = [self.patience_over]

    def draw_for(self, rules: LevelSpec, stream: Callable[[str], np.random.Generator], destinations: list[str]) -> None:
        """Add one patient group's draws here, by its own rules and from its own streams."""
        self.routes.append(routes({n: s.share for n, s in rules.next.items()}, destinations, stream("routing")))
        default_stay = draws(stream("stays"), rules.los.sampler().from_uniforms)
        self.stays.append({
            destinations.index(dest): draws(stream(f"stays:{dest}"), step.los.sampler().from_uniforms)
            if step.los else default_stay
            for dest, step in rules.next.items()
        })
        self.patience.append(draws(stream("patience"), rules.patience.sampler().from_uniforms)
                             if rules.patience else None)
        self.gave_up_routes.append(routes(rules.gave_up_routes, destinations, stream("gave_up")))

    # -- bookkeeping ----------------------------------------------------------------------
    def period_tally(self, period: str) -> Tally:
        """The level's tally over one period, every group together."""
        tallies = self.tallies[period]
        if len(tallies) == 1:
            return tallies[0]
        tally = merged(tallies)
        tally.month_waits = self.month_waits if period == MEASURED else []
        return tally

    def close(self, episode: Episode) -> None:
        self.closed += 1
        if self.log is not None:
            self.log.closed(episode)

    # -- arriving and waiting -------------------------------------------------------------
    def arrive(self, patient: int, source: int, group: int, held_from: Episode | None = None, waited: float = 0.0,
               patience_left: float | None = None) -> None:
        """A patient of ``group`` seeks a place here: referral, transfer, relapse or giving up elsewhere.

        Patients found waiting on day 0 have ``waited`` days already, and ``patience_left`` drawn given them.
        """
        now: float = self.env._now
        episode = Episode(patient, self, source, now - waited, held_from, group)
        self.opened += 1
        if self.log is not None:
            self.log.opened(episode)
        if source == REFERRAL:
            self.tally[group].referrals += 1
        if self.admits_any_day and self.census < self.staffed_places and not self.waiting:
            self.admit(episode, now, ARRIVED_ADMITTED)   # a free place and nobody ahead: no wait at all
            return
        if self.turn_away:
            self.turn_away_episode(episode, now)
            return
        transfers, others = self.queue_of[group]
        self.queues[transfers if self.transfers_first and source == TRANSFER else others].append(episode)
        self.waiting += 1
        self.note_times.append(now)
        self.note_codes.append(self.codes[group] + ARRIVED_LISTED)
        patience = self.patience[group]
        if patience is not None and held_from is None:
            self.model.at(Timer(self.on_patience_over, episode),
                          NEXT(patience) if patience_left is None else patience_left)

    def admit_waiting(self, now: float) -> None:
        """Fill free places from the waitlist (by priority rank; transfers first within one when so configured)."""
        while self.census < self.staffed_places and self.waiting:
            self.admit(self.next_waiting(), now, LISTED_ADMITTED)

    def next_waiting(self) -> Episode:
        for waitlist in self.queues:
            while waitlist:
                episode = waitlist.popleft()
                if episode.status == WAITING:
                    return episode
        raise RuntimeError(f"{self.name}: waitlist count {self.waiting} but nobody waiting")

    def patience_over(self, event: Timer) -> None:
        episode: Episode = event.value
        if episode.status != WAITING:
            return
        now: float = self.env._now
        self.waiting -= 1
        group = episode.group
        self.note_times.append(now)
        self.note_codes.append(self.codes[group] + LISTED_GAVE_UP)
        episode.status = GAVE_UP_WAITING
        episode.left = now
        episode.route = NEXT(self.gave_up_routes[group])
        self.tally[group].waits.append(now - episode.arrived)   # at least this long: a censored wait
        self.close(episode)
        self.model.move_on(episode.patient, episode.route, group)

    def turn_away_episode(self, episode: Episode, now: float) -> None:
        episode.status = TURNED_AWAY
        episode.left = now
        self.note_times.append(now)
        self.note_codes.append(self.codes[episode.group] + ARRIVED_TURNED_AWAY)
        self.close(episode)
        if episode.held_from is not None:
            episode.held_from.level.leave(episode.held_from, now)
        self.model.leaves_for_good(episode.patient)

    # -- in care --------------------------------------------------------------------------
    def admit(self, episode: Episode, now: float, change: int, stay: float | None = None) -> None:
        """Give the patient a place; the stay is drawn unless given (patients found mid-stay).

        ``change``: how the patient came (:data:`~sim.daybook.ARRIVED_ADMITTED`, ``LISTED_ADMITTED`` from the
        waitlist, ``ADMITTED_TODAY`` on day 0).
        """
        group = episode.group
        if change == LISTED_ADMITTED:
            self.waiting -= 1
        self.census += 1
        self.note_times.append(now)
        self.note_codes.append(self.codes[group] + change)
        episode.status = IN_CARE
        episode.admitted = now
        self.tally[group].waits.append(now - episode.arrived)
        if self.counts_readmissions:
            self.model.first_level_admission(episode.patient, now)
        episode.route = route = NEXT(self.routes[group])
        if stay is None:
            stay = NEXT(self.stays[group][route])
        episode.callbacks = self.on_stay_over
        self.model.at(episode, stay)
        if episode.held_from is not None:
            episode.held_from.level.leave(episode.held_from, now)

    def seat(self, episode: Episode, route: int, in_care_days: float, stay_left: float) -> None:
        """Seat a patient found mid-stay on day 0, admitted ``in_care_days`` before it (no admission of this run)."""
        now: float = self.env._now
        self.census += 1
        self.note_times.append(now)
        self.note_codes.append(self.codes[episode.group] + SEATED)
        episode.status = IN_CARE
        episode.arrived = episode.admitted = now - in_care_days
        episode.route = route
        episode.callbacks = self.on_stay_over
        self.model.at(episode, stay_left)

    def seat_held(self, episode: Episode, route: int, held_days: float) -> None:
        """Seat a patient found held on day 0: the stay ended ``held_days`` ago (how long it was is not known)."""
        now: float = self.env._now
        self.census += 1
        self.held += 1
        self.note_times.append(now)
        self.note_codes.append(self.codes[episode.group] + SEATED_HELD)
        episode.status = HELD
        episode.arrived = episode.admitted = episode.stay_ended = now - held_days
        episode.route = route

    def stay_over(self, episode: Episode) -> None:
        """The treatment stay has ended: move on, or hold the place until the next level admits."""
        now: float = self.env._now
        episode.stay_ended = now
        route, group = episode.route, episode.group
        tally = self.tally[group]   # its stays are the sum of its routes (Model.tally_from_daybook)
        tally.stay_days += now - episode.admitted
        tally.routes[route] += 1
        next_level = self.next_levels[route]
        if next_level is None:
            self.leave(episode, now)
            self.model.to_community(episode.patient, route, group)
        elif self.hold:
            self.held += 1
            self.note_times.append(now)
            self.note_codes.append(self.codes[group] + HELD_PLACE)
            episode.status = HELD
            next_level.arrive(episode.patient, TRANSFER, group, held_from=episode)
        else:
            self.leave(episode, now)
            next_level.arrive(episode.patient, TRANSFER, group)

    def leave(self, episode: Episode, now: float) -> None:
        """The patient gives up the place (at the end of the stay or of being held)."""
        self.census -= 1
        self.note_times.append(now)
        if episode.status == HELD:
            self.held -= 1
            self.note_codes.append(self.codes[episode.group] + LEFT_HELD)
        else:
            self.note_codes.append(self.codes[episode.group] + LEFT)
        episode.status = DONE
        episode.left = now
        self.tally[episode.group].place_days += now - episode.admitted
        if self.counts_readmissions:
            self.model.first_level_discharge(episode.patient, now)
        self.closed += 1   # Level.close, written out: the hottest path
        if len(self.note_times) >= KEEP_EVERY:   # once a visit: the daybook's lists stay short
            self.model.daybook.keep()
        if self.log is not None:
            self.log.closed(episode)
        if self.waiting and self.admits_any_day:
            self.admit_waiting(now)

    def put_away_months(self, waits_to_date: np.ndarray) -> None:
        """Months are over: keep each one's wait figures, per group and for the level, and move their waits from
        the measured tallies to the histograms. ``waits_to_date``: per month over, the waits each group's measured
        tally has had by the month's end, shape (months, groups)."""
        moved, month_waits = [], []
        for group, tally in enumerate(self.tallies[MEASURED]):
            ended = waits_to_date[:, group] - tally.wait_histogram.count   # counted in the buffer, from its start
            per_month = np.diff(ended, prepend=0)
            waits = np.array(tally.waits[:ended[-1]], dtype=float)
            del tally.waits[:ended[-1]]
            tally.month_waits += map(tuple, month_wait_figures(waits, per_month))
            tally.wait_histogram.add(waits)
            moved.append(waits)
            month_waits.append(np.repeat(np.arange(len(per_month)), per_month))
        if len(moved) > 1:   # the level's months: every group's waits in them
            month_of = np.concatenate(month_waits)
            order = np.argsort(month_of, kind="stable")
            self.month_waits += map(tuple, month_wait_figures(np.concatenate(moved)[order],
                                                              np.bincount(month_of, minlength=len(waits_to_date))))

    def set_places(self, staffed_places: int, built_places: int) -> None:
        """New places, or staff for them, take effect; a cut evicts nobody, it only stops admissions."""
        self.staffed_places, self.built_places = staffed_places, built_places
        if self.admits_any_day:
            self.admit_waiting(self.env.now)


class Model:
    """The care continuum for one replication: levels, the community and the records."""

    def __init__(self, scenario: Scenario, replication: int, keep_episodes: bool = False):
        self.scenario = scenario
        self.replication = replication
        self.env = simpy.Environment()
        # SimPy's calendar, which the engine fills as ``Environment.schedule`` does (:meth:`at`)
        self.queue: list[Any] = self.env._queue   # (time, priority, event id, event)
        self.event_ids: Iterator[int] = self.env._eid
        run = scenario.run
        self.measure_from_day = float(run.warmup_days)
        self.horizon_day = self.measure_from_day + run.days
        # a discharge after this is censored: the run ends before its 30 days of follow-up
        self.follow_up_until_day = self.horizon_day - READMIT_WINDOW_DAYS
        self.destinations = [*scenario.level_names, *EXITS]
        # each patient group's own rules (one unnamed group without groups); groups share the places
        views = scenario.group_views()
        self.group_names, self.views = list(views), list(views.values())
        self.episode_log = EpisodeLog() if keep_episodes else None
        place_steps = [usable_capacity(spec, scenario.staffing) for spec in scenario.levels.values()]
        # places change from day 0 of the measured period on; the first places hold from the warm-up's start
        self.daybook = Daybook(len(scenario.levels), len(views), self.measure_from_day, [
            [(0.0, staffed, built) if step == 0 else (self.measure_from_day + from_day, staffed, built)
             for step, (from_day, staffed, built) in enumerate(steps)] for steps in place_steps])
        self.note_times, self.note_codes = self.daybook.times, self.daybook.codes
        self.created_code, self.gone_code, self.at_risk_code, self.returned_code = (
            self.daybook.system_code(change) for change in (CREATED, GONE, AT_RISK, RETURNED))
        self.system_tallies = {period: SystemTally(len(scenario.levels), len(views)) for period in PERIODS}
        self.system = self.system_tallies[WARM_UP]
        # per patient: the last first-level discharge still followed up, and the tally it counted in
        self.last_discharge: dict[int, tuple[float, SystemTally]] = {}
        self.created = 0   # patients so far: the next one's number (who is at risk or gone, the daybook counts)
        # the last day of each measured month (from the warm-up's start), and how many are folded
        self.month_ends = [int(self.measure_from_day) + month.to_day for month in months(run)]
        self.months_folded = 0
        self.levels = [Level(self, index, name, spec, place_steps[index])
                       for index, (name, spec) in enumerate(scenario.levels.items())]
        self.level_by_destination: list[Level | None] = [*self.levels, *(None for _ in EXITS)]
        for level in self.levels:
            level.next_levels = self.level_by_destination
        self.enter_period(WARM_UP if self.measure_from_day > 0 else MEASURED)
        self.relapse_rules = [self.relapse_draws(group) for group in range(len(views))]
        self.on_relapse: list[list[Callable[[Timer], None]]] = [
            [partial(self.relapsed, group)] for group in range(len(views))]
        self.on_return_from_today: list[list[Callable[[Timer], None]]] = [
            [partial(self.returned_from_today, group)] for group in range(len(views))]
        self.held_from_today: list[Episode] = []
        # without relapse rules nobody relapses, so the empty routes are never drawn from
        self.return_routes: list[Iterator[int]] = []
        self.returns_from_today: list[Iterator[int]] = []
        for group, view in enumerate(self.views):
            relapse, stream = view.relapse, self.random_streams("relapse", group)
            self.return_routes.append(routes(relapse.return_to, self.destinations, stream("return_to"))
                                      if relapse else iter(()))
            self.returns_from_today.append(routes(relapse.return_to, self.destinations, stream("at_risk:return_to"))
                                           if relapse and relapse.at_risk else iter(()))

    def at(self, event: Scheduled, delay: float, priority: int = NORMAL) -> None:
        """Put ``event`` on SimPy's calendar ``delay`` days from now: what ``Environment.schedule`` does, without its
        call (the engine's most frequent), and for a :class:`Timer` or an :class:`~sim.records.Episode`, which
        SimPy's ``step`` takes as it takes an ``Event``."""
        now: float = self.env._now
        PUSH(self.queue, (now + delay, priority, NEXT(self.event_ids), event))

    def random_streams(self, owner: str, group: int = 0) -> Callable[[str], np.random.Generator]:
        """The named random streams of ``owner`` (a level, or ``relapse``) for one patient group.

        The first group draws the streams a scenario without groups draws; every other group streams of
        its own, named after it, so adding or removing a group after the first shifts no other group's numbers.
        """
        seed = self.scenario.run.seed
        name = owner if group == 0 else f"{self.group_names[group]}:{owner}"
        return lambda purpose: generator(seed, self.replication, name, purpose)

    def enter_period(self, period: str) -> None:
        """From now on every level and the system count into ``period``'s tallies."""
        self.system = self.system_tallies[period]
        for level in self.levels:
            level.tally = level.tallies[period]

    def relapse_draws(self, group: int) -> dict[int, tuple[Iterator[bool], Iterator[float]]]:
        """Per exit: (will this patient of ``group`` relapse?, after how long?) as endless draws."""
        relapse = self.views[group].relapse
        stream = self.random_streams("relapse", group)
        rules = {}
        for exit_name in EXITS:
            rule = relapse.rule(exit_name) if relapse else None
            if rule is not None and rule.probability > 0:

                def relapses(uniforms: np.ndarray, chance: float = rule.probability) -> np.ndarray:
                    return uniforms < chance

                rules[self.destinations.index(exit_name)] = (
                    draws(stream(f"{exit_name}:chance"), relapses),
                    draws(stream(f"{exit_name}:time"), rule.time.sampler().from_uniforms),
                )
        return rules

    # -- moving between levels and the community ------------------------------------------
    def new_patient(self) -> int:
        self.created += 1
        self.note_times.append(self.env._now)   # once per patient
        self.note_codes.append(self.created_code)
        return self.created

    def move_on(self, patient: int, destination: int, group: int) -> None:
        level = self.level_by_destination[destination]
        if level is None:
            self.to_community(patient, destination, group)
        else:
            level.arrive(patient, GAVE_UP, group)

    def to_community(self, patient: int, exit_index: int, group: int) -> None:
        """Back in the community: relapse later (and return to care) or leave for good."""
        rule = self.relapse_rules[group].get(exit_index)
        if rule is not None and NEXT(rule[0]):
            self.note_times.append(self.env._now)
            self.note_codes.append(self.at_risk_code)
            self.at(Timer(self.on_relapse[group], patient), NEXT(rule[1]))
        else:
            self.leaves_for_good(patient)

    def leaves_for_good(self, patient: int) -> None:
        self.note_times.append(self.env._now)
        self.note_codes.append(self.gone_code)
        self.last_discharge.pop(patient, None)

    def relapsed(self, group: int, event: Timer) -> None:
        self.return_to_care(event.value, NEXT(self.return_routes[group]), group)

    def returned_from_today(self, group: int, event: Timer) -> None:
        """Someone at risk on day 0 returns: to a level drawn from a stream of their own."""
        self.return_to_care(event.value, NEXT(self.returns_from_today[group]), group)

    def return_to_care(self, patient: int, level: int, group: int) -> None:
        self.note_times.append(self.env._now)
        self.note_codes.append(self.returned_code)
        system = self.system
        system.relapses += 1
        system.relapses_to[level] += 1
        system.group_relapses_to[group][level] += 1
        self.levels[level].arrive(patient, RELAPSE, group)

    def first_level_discharge(self, patient: int, now: float) -> None:
        """Note a discharge from the first level that can be followed up for 30 days, in this period's tally."""
        if now < self.follow_up_until_day:
            self.system.first_level_discharges += 1
            self.last_discharge[patient] = (now, self.system)

    def first_level_admission(self, patient: int, now: float) -> None:
        """A readmission within 30 days counts in the tally its discharge counted in."""
        discharge = self.last_discharge.pop(patient, None)
        if discharge is not None and now - discharge[0] <= READMIT_WINDOW_DAYS:
            discharge[1].readmissions += 1

    # -- sources of patients --------------------------------------------------------------
    def start_referrals(self, level: Level, group: int) -> None:
        """A chain of referral events of one group, one pending at a time, on one reused timer."""
        stream = self.random_streams(level.name, group)
        times = referral_times(self.scenario.run, self.views[group].levels[level.name], stream("referrals"),
                               stream("referral_thinning"), self.horizon_day)
        env = self.env

        def referral_due(_: Timer) -> None:
            level.arrive(self.new_patient(), REFERRAL, group)
            schedule_next()

        on_referral: list[Callable[[Timer], None]] = [referral_due]
        clock = Timer(on_referral)

        def schedule_next() -> None:
            when = NEXT(times, None)
            if when is not None:
                clock.callbacks = on_referral
                self.at(clock, when - env._now)

        schedule_next()

    def place_schedule(self, level: Level):
        """Places and the staff to run them change on their days (from day 0 of the measured period)."""
        for from_day, staffed_places, built_places in level.place_steps[1:]:
            yield self.env.timeout(self.measure_from_day + from_day - self.env.now)
            level.set_places(staffed_places, built_places)

    def cohorts(self, level: Level):
        """A program with cohort intake admits only when a cohort starts: every N days from day 0.

        A cohort needs the program's smallest group (``group_size.min``) waiting; short of that
        nobody starts and they wait for the next start with whoever joins them.
        """
        every, program = level.cohort_every, level.spec.program
        assert every is not None and program is not None, "run() starts cohorts only for cohort intake"
        group = program.group_size
        smallest = group.min if group else 1
        yield self.env.timeout(self.measure_from_day % every)
        while True:
            if level.waiting >= smallest:
                level.admit_waiting(self.env.now)
            yield self.env.timeout(every)

    def folding(self):
        """Fold the daybook's entries into day rows once they are many (:data:`FOLD_AFTER_ENTRIES`)."""
        while True:
            yield self.env.timeout(FOLD_CHECK_DAYS)
            if self.daybook.entries >= FOLD_AFTER_ENTRIES:
                # the days before yesterday: today's changes at this very instant may still be to come
                self.fold(int(self.env.now) - 1)

    def fold(self, until_day: int) -> None:
        """Cut the day rows of the days before ``until_day``, and put away the waits of the months over by then."""
        first = self.daybook.folded_days
        self.daybook.fold(until_day)
        ended = []
        while self.months_folded < len(self.month_ends) and self.month_ends[self.months_folded] < until_day:
            ended.append(self.month_ends[self.months_folded] - first)
            self.months_folded += 1
        waits_to_date = self.daybook.group_rows[-1][ended, :, WAITS_TO_DATE].astype(np.int64) if ended else None
        groups = len(self.views)
        for level in self.levels:
            for tally in level.tallies[WARM_UP]:   # no months: straight to the histogram
                tally.wait_histogram.add(np.array(tally.waits, dtype=float))
                del tally.waits[:]
            if waits_to_date is not None:
                level.put_away_months(waits_to_date[:, level.index * groups: (level.index + 1) * groups])

    def start_from_today(self, level: Level, group: int) -> None:
        """Seat today's census mid-stay and put today's waitlist on the waitlist.

        Patients in care leave after the rest of a stay known to have lasted their days so far
        (:mod:`sim.today`). Held patients take their place here, and join the next level's waitlist
        once every level is seated (:meth:`join_held_from_today`), so they cannot take a place
        meant for its census. The longest waiting join the waitlist first.
        """
        view = self.views[group]
        spec = view.levels[level.name]
        initial = spec.initial
        stream = self.random_streams(level.name, group)
        detailed = describes_today(view)
        unlisted = initial.census - initial.listed_in_place
        if not detailed:
            self.seat_as_before(level, spec, group, stream, unlisted)
        candidates = candidate_stays(self.scenario, level.name, self.group_names[group])
        for in_care_days, route, stay_left in patients_in_care(spec, stream, unknown=unlisted if detailed else 0,
                                                               candidates=candidates):
            level.seat(self.episode_from_today(level, INITIAL, group), self.destinations.index(route), in_care_days,
                       stay_left)
        for to, held_days in patients_held(spec):
            episode = self.episode_from_today(level, INITIAL, group)
            level.seat_held(episode, self.destinations.index(to), held_days)
            self.held_from_today.append(episode)
        for waited, patience_left in patients_waiting(spec, stream):
            level.arrive(self.new_patient(), INITIAL, group, waited=waited, patience_left=patience_left)
        for _ in range(initial.waitlist - initial.listed_waiting):
            level.arrive(self.new_patient(), INITIAL, group)

    def seat_as_before(self, level: Level, spec: LevelSpec, group: int, stream: Callable[[str], np.random.Generator],
                       count: int) -> None:
        """Seat a census given by its count alone as scenarios without today's details always have.

        The remaining stays follow the equilibrium residual of the level's ``los`` and the route is
        drawn at admission, on its own (admitted on day 0): kept so earlier results stay exact.
        """
        if count:
            stays = draws(stream("initial"), spec.los.sampler().from_uniforms)
            for remaining in residual_stays(stays, draws(stream("initial_residual")), count):
                level.admit(self.episode_from_today(level, INITIAL, group), 0.0, ADMITTED_TODAY, stay=remaining)

    def episode_from_today(self, level: Level, source: int, group: int) -> Episode:
        """A new patient's episode of ``group`` at ``level`` on day 0, open in the books."""
        episode = Episode(self.new_patient(), level, source, 0.0, group=group)
        level.opened += 1
        if self.episode_log is not None:
            self.episode_log.opened(episode)
        return episode

    def join_held_from_today(self) -> None:
        """Patients held on day 0 join the waitlist of the level they wait for, in the order they joined it."""
        joined = {}
        for episode in self.held_from_today:
            waiting_for = self.levels[episode.route]
            waiting_for.arrive(episode.patient, TRANSFER, episode.group, held_from=episode,
                               waited=self.env.now - episode.stay_ended)
            joined[waiting_for.name] = waiting_for
        for level in joined.values():
            level.queues = [deque(sorted(queue, key=lambda episode: episode.arrived)) for queue in level.queues]

    def start_at_risk(self) -> None:
        """People in the community on day 0 who will return (``relapse.at_risk``): their returns are scheduled."""
        for group, view in enumerate(self.views):
            for days_left in returns_from_today(view, self.random_streams("relapse", group)):
                self.note_times.append(self.env._now)
                self.note_codes.append(self.at_risk_code)
                self.at(Timer(self.on_return_from_today[group], self.new_patient()), days_left)

    def run(self) -> Model:
        """Simulate warm-up and measured period; the records (both periods' tallies) are left on the model."""
        for level in self.levels:
            for group, view in enumerate(self.views):
                self.start_from_today(level, group)
                if view.levels[level.name].referrals_per_year > 0:
                    self.start_referrals(level, group)
            if len(level.place_steps) > 1:
                self.env.process(self.place_schedule(level))
            if level.cohort_every:
                self.env.process(self.cohorts(level))
        self.join_held_from_today()
        self.start_at_risk()
        self.env.process(self.folding())
        self.start_measuring()
        self.env.run(until=self.horizon_day)
        self.fold(int(self.horizon_day))
        self.tally_from_daybook()
        self.check_conservation()
        return self

    def tally_from_daybook(self) -> None:
        """The tallies' counts that the daybook keeps (:data:`~sim.daybook.TALLIED`), and the stays ended (their
        routes' sum), for every period."""
        for level in self.levels:
            for period_index, period in enumerate(PERIODS):
                for group, tally in enumerate(level.tallies[period]):
                    for name, count in self.daybook.tallied(period_index, level.index, group).items():
                        setattr(tally, name, count)
                    tally.stays = sum(tally.routes)

    def start_measuring(self) -> None:
        """At the start of the measured period, switch to its tallies, before anything else happens then.

        URGENT puts the switch ahead of every (NORMAL) event at the same time, so an event counts
        as measured exactly when it happens at or after ``measure_from_day``. Without a warm-up the
        model starts on the measured tallies and nothing is scheduled.
        """
        if self.measure_from_day > 0:
            on_switch: list[Callable[[Timer], None]] = [lambda _: self.enter_period(MEASURED)]
            self.at(Timer(on_switch), self.measure_from_day, URGENT)

    def check_conservation(self) -> None:
        """Every patient is somewhere: fail loudly if the books do not balance."""
        states = self.daybook.state_table()
        unbalanced = np.flatnonzero(states[:, :-1].sum(axis=1) != states[:, -1])
        if len(unbalanced):
            raise AssertionError(f"patients not conserved on day {unbalanced[0]}: {states[unbalanced[0]]}")
        # a held patient has two open episodes: in a place here, on a waitlist there
        open_episodes = sum(level.opened - level.closed for level in self.levels)
        in_places = sum(level.census for level in self.levels)
        on_waitlists = sum(level.waiting for level in self.levels)
        if open_episodes != in_places + on_waitlists:
            raise AssertionError(
                f"{open_episodes} open episodes, but {in_places} in places and {on_waitlists} on waitlists"
            )


def merged(tallies: list[Tally]) -> Tally:
    """One tally holding the counts and sums of several (the groups' at one level)."""
    total = Tally(len(tallies[0].routes))
    for tally in tallies:
        for field in ("referrals", "arrivals", "admissions", "gave_up", "turned_away", "stays", "stay_days",
                      "departures", "place_days"):
            setattr(total, field, getattr(total, field) + getattr(tally, field))
        total.wait_histogram.merge(tally.wait_histogram)
        total.routes = [a + b for a, b in zip(total.routes, tally.routes, strict=True)]
    return total


MOST_RESIDUAL_CANDIDATES = 1_000_000
"""Enough candidate stays for any census (more only costs memory: 50 per patient would be 400 MB for a
census of a million)."""


def residual_stays(stays: Iterator[float], uniforms: Iterator[float], count: int) -> list[float]:
    """Remaining stays of patients found mid-stay: the equilibrium residual of the stay.

    A patient present on a given day is more likely to have a long stay (length-biased) and
    is uniformly far through it; resampling candidate stays in proportion to their length
    gives that distribution in the limit of many candidates.
    """
    candidates = list(islice(stays, max(1000, min(50 * count, MOST_RESIDUAL_CANDIDATES))))
    cumulative = list(accumulate(candidates))
    if cumulative[-1] == 0:
        return [0.0] * count
    picks = []
    for _ in range(count):
        index = bisect.bisect_right(cumulative, next(uniforms) * cumulative[-1])
        picks.append(candidates[min(index, len(candidates) - 1)] * next(uniforms))
    return picks
