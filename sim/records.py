"""The record schema, in one place: what the engine writes down as it runs.

Three kinds of record:

* a **tally** per level and period (warm-up, measured): counts and sums (referrals, admissions,
  stays, ...), added to as events happen. They stay the same size however many patients pass:
  waits go to a fixed-size histogram (:class:`WaitHistogram`) once their month is over, with each
  month's mean and 90th percentile kept exactly;
* a **day** per level (cut afterwards from the engine's notes of every change, :mod:`sim.daybook`):
  the time-averaged census, waitlist and held count over one day, the day's largest waitlist, its
  usable capacity and its places (more than the capacity when there are not enough staff to run them
  all); the arrivals, admissions and waits (admissions and give-ups) counted so far in the period at
  the day's end, from which months are cut exactly; plus where every patient was at the day's end;
* **episodes** (only when asked for): one row per patient visit to a level, column by column.

The engine only records, into the tallies of the period an event falls in; the results layer
picks the measured period's and turns records into tables and figures.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable
from typing import Final, Protocol

import numpy as np

# The periods a run's tallies are kept for, named as the ``period`` column of the tables names them.
PERIODS = ("warm-up", "measured")
WARM_UP, MEASURED = PERIODS

# Where an episode's patient came from.
SOURCES = ("referral", "transfer", "relapse", "gave_up", "initial")
# their positions in SOURCES, written out (Final: the compiled engine takes them as numbers; tests check them)
REFERRAL: Final = 0
TRANSFER: Final = 1
RELAPSE: Final = 2
GAVE_UP: Final = 3
INITIAL: Final = 4

# Where an episode stands: the last three are final.
STATUSES = ("waiting", "in_care", "held", "left", "gave_up", "turned_away")
# their positions in STATUSES, written out as the sources' are
WAITING: Final = 0
IN_CARE: Final = 1
HELD: Final = 2
DONE: Final = 3
GAVE_UP_WAITING: Final = 4
TURNED_AWAY: Final = 5

EPISODE_TIMES = ("arrived", "admitted", "stay_ended", "left")
NOT_REACHED = float("nan")
"""An episode time not reached (made once: an episode is made per visit, on the hot path)."""
DAILY_FIELDS = ("census", "waitlist", "held", "waitlist_max", "capacity", "places")
"""The day's fields that ``daily.csv`` shows."""
TO_DATE_FIELDS = ("arrivals_to_date", "admissions_to_date", "waits_to_date")
"""Counts in the tally of the period now running (warm-up or measured), at the day's end. The last warm-up
day ends at the measured period's start, after the switch to its tally, so its counts are the measured
period's (events at that very moment); measured day d's counts are those of days 0 to d."""
DAY_FIELDS = DAILY_FIELDS + TO_DATE_FIELDS
STATE_FIELDS = ("waiting", "in_treatment", "held", "at_risk", "gone", "created")


class EpisodeLevel(Protocol):
    """What an episode needs of its level: its position in the scenario, and a way to leave it."""

    @property
    def index(self) -> int: ...

    def leave(self, episode: Episode, now: float) -> None: ...


class Episode:
    """One patient's visit to one level. Times are simulation days (NaN: not reached).

    An episode is also the SimPy event that ends its stay: it carries the ``callbacks`` and
    ``_ok`` that ``Environment.step`` reads, so no separate event object is made per stay.
    The times and the route are set when reached (an episode is made per visit, on the hot path):
    read them with :func:`reached`.
    """

    __slots__ = ("patient", "level", "source", "arrived", "admitted", "stay_ended", "left",
                 "route", "status", "held_from", "group", "callbacks")

    _ok = True   # SimPy only reads it: an episode's stay always ends well
    callbacks: list[Callable[[Episode], None]] | None   # set when the stay is scheduled
    admitted: float
    stay_ended: float
    left: float
    route: int

    def __init__(self, patient: int, level: EpisodeLevel, source: int, arrived: float,
                 held_from: Episode | None = None, group: int = 0):
        self.patient = patient
        self.group = group   # the patient's group: its position in the scenario's groups (0 without groups)
        self.level = level
        self.source = source
        self.arrived = arrived
        self.status = WAITING
        self.held_from = held_from


def reached(episode: Episode, name: str) -> float:
    """An episode's time ``name`` (:data:`EPISODE_TIMES`), NaN if not reached."""
    return getattr(episode, name, NOT_REACHED)


class Tally:
    """Counts and sums for one level over one period (warm-up or measured).

    ``waits`` holds the waits (of admissions and of those who gave up) of the month still running, in
    the order they ended; the engine moves a month's into ``wait_histogram`` when it is over, with the
    month's mean and 90th percentile in ``month_waits``.
    """

    __slots__ = ("referrals", "arrivals", "admissions", "gave_up", "turned_away", "waits", "wait_histogram",
                 "month_waits", "stays", "stay_days", "departures", "place_days", "routes")

    def __init__(self, destinations: int, wait_target_days: float = math.inf):
        self.referrals = self.arrivals = self.admissions = self.gave_up = self.turned_away = 0
        self.waits: list[float] = []   # a list: its append takes the float as it is (an array's converts it)
        self.wait_histogram = WaitHistogram(wait_target_days)
        self.month_waits: list[tuple[float, float]] = []
        self.stays = self.departures = 0
        self.stay_days = self.place_days = 0.0
        self.routes = [0] * destinations   # stays ended, by where the patient went next


WAIT_RESOLUTION_DAYS = 1e-4
"""Waits shorter than this (about 9 seconds) count as no wait in the histogram's percentiles."""
WAIT_BUCKET_RATIO = 1.002
"""Each histogram bucket of waits is this much wider than the one before: a wait is known to 0.1%."""
LONGEST_WAIT_DAYS = 1e6
"""Waits longer than this (2,700 years) count as this long in the percentiles."""
WAIT_BUCKETS = math.ceil(math.log(LONGEST_WAIT_DAYS / WAIT_RESOLUTION_DAYS) / math.log(WAIT_BUCKET_RATIO)) + 1
_BUCKET_VALUES = np.concatenate([[0.0],
                                 WAIT_RESOLUTION_DAYS * WAIT_BUCKET_RATIO ** (np.arange(WAIT_BUCKETS - 1) + 0.5)])


class WaitHistogram:
    """Waits in a fixed size (280 kB, made with the first wait), however many: count, sum and count over a target
    exactly; percentiles
    to 0.1% of the wait (the middle of a bucket of waits 0.2% apart), or to 9 seconds below
    ``WAIT_RESOLUTION_DAYS``.

    Bucket 0 holds the waits under :data:`WAIT_RESOLUTION_DAYS` (mostly none at all: admitted at once);
    bucket k the waits from ``WAIT_RESOLUTION_DAYS x WAIT_BUCKET_RATIO^(k-1)`` up, read as the geometric
    middle of the bucket, or the nearer of the shortest and longest wait it holds when the middle is
    outside them (so a bucket of equal waits, a fixed patience, reads exactly). Percentiles interpolate
    between the two nearest ranks as numpy's default ``linear`` method does between the waits themselves.
    """

    __slots__ = ("target_days", "counts", "shortest", "longest", "count", "total_days", "over_target")

    def __init__(self, target_days: float = math.inf):
        self.target_days = target_days
        # the buckets are made with the first wait: many tallies have none (a warm-up of 0 days, a group a level
        # does not take)
        self.counts = self.shortest = self.longest = np.empty(0)
        self.count = self.over_target = 0
        self.total_days = 0.0

    def _make_buckets(self) -> None:
        if not len(self.counts):
            self.counts = np.zeros(WAIT_BUCKETS, dtype=np.int64)
            self.shortest = np.full(WAIT_BUCKETS, np.inf)
            self.longest = np.full(WAIT_BUCKETS, -np.inf)

    def add(self, waits: np.ndarray) -> None:
        if not len(waits):
            return
        self._make_buckets()
        self.count += len(waits)
        self.total_days += float(waits.sum())
        self.over_target += int((waits > self.target_days).sum())
        with np.errstate(divide="ignore"):
            buckets = np.floor(np.log(waits / WAIT_RESOLUTION_DAYS) / math.log(WAIT_BUCKET_RATIO)) + 1
        buckets = np.clip(np.nan_to_num(buckets, neginf=0), 0, WAIT_BUCKETS - 1).astype(np.int64)
        self.counts += np.bincount(buckets, minlength=WAIT_BUCKETS)
        np.minimum.at(self.shortest, buckets, waits)
        np.maximum.at(self.longest, buckets, waits)

    def merge(self, other: WaitHistogram) -> None:
        if len(other.counts):
            self._make_buckets()
            self.counts += other.counts
            np.minimum(self.shortest, other.shortest, out=self.shortest)
            np.maximum(self.longest, other.longest, out=self.longest)
        self.count += other.count
        self.total_days += other.total_days
        self.over_target += other.over_target

    def mean_days(self) -> float:
        return self.total_days / self.count if self.count else math.nan

    def share_over_target(self) -> float:
        return self.over_target / self.count if self.count else math.nan

    def quantiles(self, shares: np.ndarray) -> np.ndarray:
        """The waits at ``shares`` (0 to 1), as ``np.quantile`` would give them to 0.1%; NaN without waits."""
        shares = np.asarray(shares, dtype=float)
        if not self.count:
            return np.full(shares.shape, math.nan)
        ranks = (self.count - 1) * shares
        below = np.floor(ranks)
        ends = np.cumsum(self.counts)   # ranks 0 .. ends[k] - 1 are in buckets up to k
        values = np.clip(_BUCKET_VALUES, self.shortest, self.longest)
        low = values[np.searchsorted(ends, below, side="right")]
        high = values[np.searchsorted(ends, np.minimum(below + 1, self.count - 1), side="right")]
        return low + (high - low) * (ranks - below)


def month_wait_figures(waits: np.ndarray, per_month: np.ndarray) -> np.ndarray:
    """Per month, the mean and 90th percentile (``np.quantile``'s, exactly) of its waits: shape (months, 2), NaN
    for a month without one. ``waits`` are the months' waits month after month, ``per_month`` of them in each."""
    figures = np.full((len(per_month), 2), np.nan)
    some = per_month > 0
    if not some.any():
        return figures
    first = np.concatenate([[0], np.cumsum(per_month)[:-1]])[some]
    counts = per_month[some]
    figures[some, 0] = np.add.reduceat(waits, first) / counts
    virtual = (counts - 1) * 0.9
    below = np.floor(virtual).astype(np.int64)
    gamma = virtual - below
    widest = int(counts.max())
    if len(counts) * widest <= 4 * len(waits) + 1024:
        # a row per month, its waits first and the rest +inf, sorted along the rows (4 times as fast as a lexsort)
        rows = np.full((len(counts), widest), np.inf)
        month = np.repeat(np.arange(len(counts)), counts)
        rows[month, np.arange(len(waits)) - np.repeat(first, counts)] = waits
        rows.sort(axis=1)
        low, high = rows[np.arange(len(counts)), below], rows[np.arange(len(counts)), np.minimum(below + 1, counts - 1)]
    else:   # months of very different sizes: one sort of every wait by month, then by wait
        ordered = waits[np.lexsort((waits, np.repeat(np.arange(len(per_month)), per_month)))]
        low, high = ordered[first + below], ordered[first + np.minimum(below + 1, counts - 1)]
    step = high - low
    figures[some, 1] = np.where(gamma >= 0.5, high - step * (1 - gamma), low + step * gamma)
    return figures


class SystemTally:
    """Counts over one period (warm-up or measured) that belong to no single level."""

    __slots__ = ("relapses", "first_level_discharges", "readmissions", "relapses_to", "group_relapses_to")

    def __init__(self, levels: int, groups: int = 1):
        self.relapses = self.first_level_discharges = self.readmissions = 0
        self.relapses_to = [0] * levels
        self.group_relapses_to = [[0] * levels for _ in range(groups)]   # per patient group, for its flows


class EpisodeLog:
    """Every episode, column by column (kept only when episode tables are asked for)."""

    def __init__(self) -> None:
        self.patient = array("q")
        self.level = array("h")
        self.source = array("b")
        self.route = array("h")
        self.status = array("b")
        self.group = array("h")
        self.times = {name: array("d") for name in EPISODE_TIMES}
        self.open: dict[int, Episode] = {}

    def opened(self, episode: Episode) -> None:
        self.open[id(episode)] = episode

    def closed(self, episode: Episode) -> None:
        del self.open[id(episode)]
        self._write(episode)

    def _write(self, episode: Episode) -> None:
        self.patient.append(episode.patient)
        self.level.append(episode.level.index)
        self.source.append(episode.source)
        self.route.append(getattr(episode, "route", -1))
        self.status.append(episode.status)
        self.group.append(episode.group)
        for name, column in self.times.items():
            column.append(reached(episode, name))

    def finish(self) -> dict[str, np.ndarray]:
        """Write the episodes still open (waiting, in care or held) and return the columns."""
        for episode in self.open.values():
            self._write(episode)
        self.open.clear()
        columns: dict[str, np.ndarray] = {
            "patient": np.array(self.patient, dtype=np.int64),
            "level": np.array(self.level, dtype=np.int16),
            "source": np.array(self.source, dtype=np.int8),
            "route": np.array(self.route, dtype=np.int16),
            "status": np.array(self.status, dtype=np.int8),
            "group": np.array(self.group, dtype=np.int16),
        }
        columns.update({name: np.array(values, dtype=float) for name, values in self.times.items()})
        return columns
