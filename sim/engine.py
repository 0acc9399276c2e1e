"""The SimPy model: referrals, waitlists, stays, routing, bed blocking, reneging and relapse.

The model is data: one generic :class:`Level` per level in the scenario, no code per care
level. Sources of patients (referrals, capacity schedules, the daily recorder) are plain
generator processes. A patient's path is a chain of SimPy timeouts whose callbacks move the
patient on: an episode carries its own state, so no generator is kept alive per patient
(the per-event cost decides the speed of everything built on this).

Time is in days. Simulation time 0 is the start of the warm-up; the measured period starts
at ``warmup_days``, which is day 0 of capacity schedules and referral growth.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from itertools import accumulate

import simpy

from . import records
from .records import DONE, GAVE_UP_WAITING, HELD, IN_CARE, TURNED_AWAY, WAITING, Episode, Recorder
from .scenario import EXITS, Level as LevelSpec, Scenario
from .streams import Draws, generator

DAYS_PER_YEAR = 365.0


class Router:
    """Picks a destination by shares, from its own uniform stream."""

    __slots__ = ("destinations", "cumulative", "uniforms")

    def __init__(self, shares: dict[str, float], destinations: list[str], uniforms: Draws):
        self.destinations = [destinations.index(name) for name in shares]
        self.cumulative = list(accumulate(shares.values()))
        self.uniforms = uniforms

    def __call__(self) -> int:
        pick = bisect.bisect_right(self.cumulative, self.uniforms() * self.cumulative[-1])
        return self.destinations[min(pick, len(self.destinations) - 1)]


class Level:
    """One level of care: its places, its waitlist and the patients moving through."""

    def __init__(self, model: Model, index: int, name: str, spec: LevelSpec):
        self.model, self.env, self.index, self.name, self.spec = model, model.env, index, name, spec
        stream = model.streams(name)
        destinations = model.destinations
        self.capacity = spec.capacity[0].capacity
        self.census = self.held = self.waiting = 0
        self.turn_away = spec.when_full == "turn_away"
        self.hold = spec.when_next_full == "hold"
        self.transfers_first = spec.waitlist == "transfers_first"
        self.waitlist: deque[Episode] = deque()
        self.transfer_waitlist: deque[Episode] = deque()
        self.router = Router({n: s.share for n, s in spec.next.items()}, destinations, Draws(stream("routing")))
        default_stay = Draws(stream("stays"), spec.los.sampler())
        self.stays = {
            destinations.index(name): Draws(stream(f"stays:{name}"), step.los.sampler()) if step.los else default_stay
            for name, step in spec.next.items()
        }
        self.patience = Draws(stream("patience"), spec.patience.sampler()) if spec.patience else None
        self.gave_up_router = Router(spec.gave_up_routes, destinations, Draws(stream("gave_up")))
        self.last_change = 0.0
        self.census_area = self.waiting_area = self.held_area = 0.0
        self.waiting_max = 0

    # -- bookkeeping ----------------------------------------------------------------------
    def touch(self) -> None:
        """Accumulate time-weighted counts up to now (call before any count changes)."""
        now = self.env.now
        elapsed = now - self.last_change
        if elapsed:
            self.census_area += self.census * elapsed
            self.waiting_area += self.waiting * elapsed
            self.held_area += self.held * elapsed
            self.last_change = now

    def day_row(self) -> list[float]:
        """Close the day: time-averaged census, waitlist, held; largest waitlist; capacity."""
        self.touch()
        row = [self.census_area, self.waiting_area, self.held_area, self.waiting_max, self.capacity]
        self.census_area = self.waiting_area = self.held_area = 0.0
        self.waiting_max = self.waiting
        return row

    # -- arriving and waiting -------------------------------------------------------------
    def arrive(self, patient: int, source: int, held_from: Episode | None = None) -> None:
        """A patient seeks a place here: referral, transfer, relapse or giving up elsewhere."""
        episode = Episode(patient, self, source, self.env.now, held_from)
        self.model.recorder.opened(episode)
        if self.turn_away and self.census >= self.capacity:
            self.turn_away_episode(episode)
            return
        self.touch()
        waitlist = self.transfer_waitlist if self.transfers_first and source == records.TRANSFER else self.waitlist
        waitlist.append(episode)
        self.waiting += 1
        if self.waiting > self.waiting_max:
            self.waiting_max = self.waiting
        if self.patience is not None and held_from is None:
            self.env.timeout(self.patience(), value=episode).callbacks.append(self.patience_over)
        self.admit_waiting()

    def admit_waiting(self) -> None:
        """Fill free places from the waitlist (transfers first when so configured)."""
        while self.census < self.capacity and self.waiting:
            self.admit(self.next_waiting())

    def next_waiting(self) -> Episode:
        for waitlist in (self.transfer_waitlist, self.waitlist):
            while waitlist:
                episode = waitlist.popleft()
                if episode.status == WAITING:
                    return episode
        raise RuntimeError(f"{self.name}: waitlist count {self.waiting} but nobody waiting")

    def patience_over(self, event: simpy.Event) -> None:
        episode: Episode = event.value
        if episode.status != WAITING:
            return
        self.touch()
        self.waiting -= 1
        episode.status = GAVE_UP_WAITING
        episode.left = self.env.now
        episode.route = self.gave_up_router()
        self.model.recorder.closed(episode)
        self.model.move_on(episode.patient, episode.route)

    def turn_away_episode(self, episode: Episode) -> None:
        episode.status = TURNED_AWAY
        episode.left = self.env.now
        self.model.recorder.closed(episode)
        if episode.held_from is not None:
            episode.held_from.level.leave(episode.held_from)
        self.model.gone += 1

    # -- in care --------------------------------------------------------------------------
    def admit(self, episode: Episode, stay: float | None = None) -> None:
        """Give the patient a place; the stay is drawn unless given (patients found mid-stay)."""
        self.touch()
        self.waiting -= 1
        self.census += 1
        episode.status = IN_CARE
        episode.admitted = self.env.now
        episode.route = route = self.router()
        if stay is None:
            stay = self.stays[route]()
        self.env.timeout(stay, value=episode).callbacks.append(self.stay_over)
        if episode.held_from is not None:
            episode.held_from.level.leave(episode.held_from)

    def stay_over(self, event: simpy.Event) -> None:
        """The treatment stay has ended: move on, or hold the place until the next level admits."""
        episode: Episode = event.value
        episode.stay_ended = self.env.now
        route = episode.route
        next_level = self.model.level_at(route)
        if next_level is None:
            self.leave(episode)
            self.model.to_community(episode.patient, route)
        elif self.hold:
            self.touch()
            self.held += 1
            episode.status = HELD
            next_level.arrive(episode.patient, records.TRANSFER, held_from=episode)
        else:
            self.leave(episode)
            next_level.arrive(episode.patient, records.TRANSFER)

    def leave(self, episode: Episode) -> None:
        """The patient gives up the place (at the end of the stay or of being held)."""
        self.touch()
        self.census -= 1
        if episode.status == HELD:
            self.held -= 1
        episode.status = DONE
        episode.left = self.env.now
        self.model.recorder.closed(episode)
        self.admit_waiting()

    def set_capacity(self, capacity: int) -> None:
        """A new capacity takes effect; a cut evicts nobody, it only stops admissions."""
        self.capacity = capacity
        self.admit_waiting()


class Model:
    """The care continuum for one replication: levels, the community and the recorder."""

    def __init__(self, scenario: Scenario, replication: int):
        self.scenario = scenario
        self.replication = replication
        self.env = simpy.Environment()
        self.destinations = [*scenario.level_names, *EXITS]
        self.recorder = Recorder(len(scenario.levels))
        self.created = self.at_risk = self.gone = 0
        self.levels = [Level(self, i, name, spec) for i, (name, spec) in enumerate(scenario.levels.items())]
        self.relapse_rules = self.relapse_draws()
        relapse = scenario.relapse
        self.return_router = (
            Router(relapse.return_to, self.destinations, Draws(self.streams("relapse")("return_to")))
            if relapse else None
        )

    def streams(self, owner: str):
        seed = self.scenario.run.seed
        return lambda purpose: generator(seed, self.replication, owner, purpose)

    def relapse_draws(self) -> dict[int, tuple[float, Draws, Draws]]:
        """Per exit: (probability, chance draws, time draws)."""
        relapse = self.scenario.relapse
        stream = self.streams("relapse")
        rules = {}
        for exit_name in EXITS:
            rule = relapse.rule(exit_name) if relapse else None
            if rule is not None and rule.probability > 0:
                rules[self.destinations.index(exit_name)] = (
                    rule.probability,
                    Draws(stream(f"{exit_name}:chance")),
                    Draws(stream(f"{exit_name}:time"), rule.time.sampler()),
                )
        return rules

    def level_at(self, destination: int) -> Level | None:
        return self.levels[destination] if destination < len(self.levels) else None

    # -- moving between levels and the community ------------------------------------------
    def new_patient(self) -> int:
        self.created += 1
        return self.created

    def move_on(self, patient: int, destination: int) -> None:
        level = self.level_at(destination)
        if level is None:
            self.to_community(patient, destination)
        else:
            level.arrive(patient, records.GAVE_UP)

    def to_community(self, patient: int, exit_index: int) -> None:
        """Back in the community: relapse later (and return to care) or leave for good."""
        rule = self.relapse_rules.get(exit_index)
        if rule is not None and rule[1]() < rule[0]:
            self.at_risk += 1
            self.env.timeout(rule[2](), value=patient).callbacks.append(self.relapsed)
        else:
            self.gone += 1

    def relapsed(self, event: simpy.Event) -> None:
        self.at_risk -= 1
        self.levels[self.return_router()].arrive(event.value, records.RELAPSE)

    # -- processes ------------------------------------------------------------------------
    def referral_rate(self, spec: LevelSpec, time: float) -> float:
        """Referrals per day at a simulation time: growth and monthly seasonality applied."""
        run = self.scenario.run
        day = time - run.warmup_days
        rate = spec.referrals_per_year / DAYS_PER_YEAR * (1 + spec.referral_growth_per_year) ** (day / DAYS_PER_YEAR)
        if spec.referral_seasonality is not None:
            months = spec.referral_seasonality
            month = (run.start_month - 1 + int((day % DAYS_PER_YEAR) / (DAYS_PER_YEAR / 12))) % 12
            rate *= months[month] * 12 / math.fsum(months)
        return rate

    def referrals(self, level: Level):
        """Poisson referrals, non-homogeneous by thinning against the horizon's peak rate."""
        spec = level.spec
        run = self.scenario.run
        horizon = run.warmup_days + run.days
        growth = max(1.0, (1 + spec.referral_growth_per_year) ** (run.days / DAYS_PER_YEAR),
                     (1 + spec.referral_growth_per_year) ** (-run.warmup_days / DAYS_PER_YEAR))
        season = 1.0 if spec.referral_seasonality is None else 12 * max(spec.referral_seasonality) / math.fsum(spec.referral_seasonality)
        peak = spec.referrals_per_year / DAYS_PER_YEAR * growth * season
        stream = self.streams(level.name)
        gaps, accept = Draws(stream("referrals")), Draws(stream("referral_thinning"))
        while True:
            yield self.env.timeout(-math.log1p(-gaps()) / peak)
            if self.env.now > horizon:
                return
            if accept() * peak <= self.referral_rate(spec, self.env.now):
                level.arrive(self.new_patient(), records.REFERRAL)

    def capacity_schedule(self, level: Level):
        warmup = self.scenario.run.warmup_days
        for step in level.spec.capacity[1:]:
            yield self.env.timeout(warmup + step.from_day - self.env.now)
            level.set_capacity(step.capacity)

    def daily(self):
        """Close each day: one row per level and a count of where every patient is."""
        recorder, levels = self.recorder, self.levels
        while True:
            yield self.env.timeout(1)
            recorder.day([level.day_row() for level in levels], self.patient_states())

    def patient_states(self) -> tuple[int, ...]:
        """(waiting at home, in treatment, held, at risk of relapse, gone, created)."""
        held = sum(level.held for level in self.levels)
        waiting = sum(level.waiting for level in self.levels) - held
        in_treatment = sum(level.census for level in self.levels) - held
        return waiting, in_treatment, held, self.at_risk, self.gone, self.created

    def start_from_today(self, level: Level) -> None:
        """Seat the initial census mid-stay and put the initial waitlist on the waitlist."""
        initial = level.spec.initial
        if initial.census:
            stream = self.streams(level.name)
            stays = Draws(stream("initial"), level.spec.los.sampler())
            for remaining in residual_stays(stays, Draws(stream("initial_residual")), initial.census):
                episode = Episode(self.new_patient(), level, records.INITIAL, 0.0)
                self.recorder.opened(episode)
                level.waiting += 1  # admit() takes the patient off the waitlist count
                level.admit(episode, stay=remaining)
        for _ in range(initial.waitlist):
            level.arrive(self.new_patient(), records.INITIAL)

    def run(self) -> Recorder:
        """Simulate warm-up and measured period; return the records."""
        for level in self.levels:
            self.start_from_today(level)
            if level.spec.referrals_per_year > 0:
                self.env.process(self.referrals(level))
            if len(level.spec.capacity) > 1:
                self.env.process(self.capacity_schedule(level))
        self.env.process(self.daily())
        self.env.run(until=self.scenario.run.warmup_days + self.scenario.run.days)
        self.recorder.day([level.day_row() for level in self.levels], self.patient_states())
        self.check_conservation()
        self.recorder.finish()
        return self.recorder

    def check_conservation(self) -> None:
        """Every patient is somewhere: fail loudly if the books do not balance."""
        for day, states in enumerate(self.recorder.states):
            if sum(states[:-1]) != states[-1]:
                raise AssertionError(f"patients not conserved on day {day}: {states}")
        # a held patient has two open episodes: in a place here, on a waitlist there
        in_places = sum(level.census for level in self.levels)
        on_waitlists = sum(level.waiting for level in self.levels)
        if len(self.recorder.open) != in_places + on_waitlists:
            raise AssertionError(
                f"{len(self.recorder.open)} open episodes, but {in_places} in places and {on_waitlists} on waitlists"
            )


def residual_stays(stays: Draws, uniforms: Draws, count: int) -> list[float]:
    """Remaining stays of patients found mid-stay: the equilibrium residual of the stay.

    A patient present on a given day is more likely to have a long stay (length-biased) and
    is uniformly far through it; resampling candidate stays in proportion to their length
    gives that distribution in the limit of many candidates.
    """
    candidates = [stays() for _ in range(max(1000, 50 * count))]
    cumulative = list(accumulate(candidates))
    if cumulative[-1] == 0:
        return [0.0] * count
    picks = []
    for _ in range(count):
        index = bisect.bisect_right(cumulative, uniforms() * cumulative[-1])
        picks.append(candidates[min(index, len(candidates) - 1)] * uniforms())
    return picks
