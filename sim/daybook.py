"""The daybook: every change of a level's census, waitlist and held count as it happens, and the day rows
made from it after the fact.

The engine writes one entry per change (its time, and a code saying which level, which patient group and
what happened) and nothing per day: closing each day in the event loop cost more than moving the patients
on long runs with few visits a day. The day rows are cut from the entries in whole blocks of days with
numpy (:meth:`Daybook.fold`; the engine folds once the entries are many), so memory does not grow with
the run beyond the rows themselves.

Day ``d`` is the time from ``d`` to ``d + 1``; an event at the very instant a day ends counts in that day
(its counts to date, where every patient is at its end), and the next day starts from the counts after it.
Events at time 0 count in day 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np

from .records import DAY_FIELDS, STATE_FIELDS

# What happened, as the daybook codes it: (census, waitlist, held, arrivals, admissions, waits) it adds.
CHANGES = {
    "arrived_admitted": (1, 0, 0, 1, 1, 1),   # a free place and nobody ahead
    "arrived_listed": (0, 1, 0, 1, 0, 0),
    "arrived_turned_away": (0, 0, 0, 1, 0, 0),
    "listed_admitted": (1, -1, 0, 0, 1, 1),
    "listed_gave_up": (0, -1, 0, 0, 0, 1),    # a wait too: at least this long (censored)
    "admitted_today": (1, 0, 0, 0, 1, 1),     # today's census seated by admission on day 0
    "seated": (1, 0, 0, 0, 0, 0),             # found mid-stay on day 0
    "seated_held": (1, 0, 1, 0, 0, 0),        # found held on day 0
    "held": (0, 0, 1, 0, 0, 0),               # the stay is over, the place is kept until the next level admits
    "left": (-1, 0, 0, 0, 0, 0),
    "left_held": (-1, 0, -1, 0, 0, 0),
}
# their positions in CHANGES, written out (Final: the compiled engine takes them as numbers; tests check them)
ARRIVED_ADMITTED: Final = 0
ARRIVED_LISTED: Final = 1
ARRIVED_TURNED_AWAY: Final = 2
LISTED_ADMITTED: Final = 3
LISTED_GAVE_UP: Final = 4
ADMITTED_TODAY: Final = 5
SEATED: Final = 6
SEATED_HELD: Final = 7
HELD_PLACE: Final = 8
LEFT: Final = 9
LEFT_HELD: Final = 10
KINDS = len(CHANGES)
EFFECTS = np.array(list(CHANGES.values()), dtype=np.int64)
EFFECTS_FLOAT = EFFECTS.astype(float)   # for matrix products of counts (whole numbers: exact in floats)
CENSUS, WAITLIST, HELD, ARRIVALS, ADMISSIONS, WAITS = range(EFFECTS.shape[1])
TALLIED = {
    "arrivals": (ARRIVED_ADMITTED, ARRIVED_LISTED, ARRIVED_TURNED_AWAY),
    "admissions": (ARRIVED_ADMITTED, LISTED_ADMITTED, ADMITTED_TODAY),
    "gave_up": (LISTED_GAVE_UP,),
    "turned_away": (ARRIVED_TURNED_AWAY,),
    "departures": (LEFT, LEFT_HELD),
}
"""The counts of a level's :class:`~sim.records.Tally` that the daybook keeps, by the changes they count."""
# Changes that belong to no level: where patients are outside the levels (STATE_FIELDS' last three).
SYSTEM_CHANGES = {"at_risk": (1, 0, 0), "returned": (-1, 0, 0), "gone": (0, 1, 0), "created": (0, 0, 1)}
# their positions in SYSTEM_CHANGES, written out as CHANGES' are
AT_RISK: Final = 0
RETURNED: Final = 1
GONE: Final = 2
CREATED: Final = 3
SYSTEM_EFFECTS = np.array(list(SYSTEM_CHANGES.values()), dtype=np.int64)


class Daybook:
    """The changes of one replication, and the day rows folded from them so far.

    ``code(level, group, change)`` is what the engine appends to :attr:`codes` beside the time in
    :attr:`times`; ``system_code(change)`` for a change outside the levels. ``places`` are each level's
    place changes: (time, staffed places, built places), the first at time 0.
    """

    def __init__(self, levels: int, groups: int, measure_from_day: float,
                 places: Sequence[Sequence[tuple[float, int, int]]]):
        self.levels, self.groups, self.measure_from_day = levels, groups, measure_from_day
        # lists, not arrays: a list's append takes the float or int as it is, an array's converts it (3x the time)
        self.times: list[float] = []
        self.codes: list[int] = []
        # the entries turned into arrays so far (:meth:`keep`), in time order before those in the lists
        self.kept_times: list[np.ndarray] = []
        self.kept_codes: list[np.ndarray] = []
        self.places = [np.array(steps, dtype=float) for steps in places]
        self.system_base = levels * groups * KINDS
        series = levels * groups
        self.counts = np.zeros((series, 3), dtype=np.int64)      # census, waitlist, held per (level, group)
        # arrivals, admissions, waits to date in the warm-up and in the measured period
        self.to_date = np.zeros((2, series, 3), dtype=np.int64)
        self.outside = np.zeros(len(SYSTEM_EFFECTS[0]), dtype=np.int64)   # at risk, gone, created
        self.folded_days = 0
        self.changes = np.zeros((2, self.system_base), dtype=np.int64)   # per period (warm-up, measured) and code
        self.group_rows: list[np.ndarray] = []
        self.level_rows: list[np.ndarray] = []
        self.state_rows: list[np.ndarray] = []

    def code(self, level: int, group: int, change: int) -> int:
        return (level * self.groups + group) * KINDS + change

    def system_code(self, change: int) -> int:
        return self.system_base + change

    @property
    def entries(self) -> int:
        """How many entries are not folded yet."""
        return len(self.times) + sum(len(times) for times in self.kept_times)

    def keep(self) -> None:
        """Turn the entries in the lists into arrays, and empty the lists. The engine calls it every
        :data:`KEEP_EVERY` entries, while they are fresh in memory: turned into an array long after, when
        folding, a time took 2.5 times as long (its float object was no longer in the processor's cache)."""
        if self.times:
            self.kept_times.append(np.array(self.times, dtype=float))
            self.kept_codes.append(np.array(self.codes, dtype=np.int64))
            del self.times[:], self.codes[:]

    # -- folding --------------------------------------------------------------------------
    def fold(self, until_day: int) -> None:
        """Cut the day rows of every day before ``until_day`` from the entries, and drop those entries."""
        first, days = self.folded_days, until_day - self.folded_days
        if days <= 0:
            return
        self.keep()
        times, codes = _joined(self.kept_times, (0,)), _joined(self.kept_codes, (0,)).astype(np.int64, copy=False)
        taken = int(np.searchsorted(times, until_day, side="right"))
        self.kept_times, self.kept_codes = ([times[taken:]], [codes[taken:]]) if taken < len(times) else ([], [])
        times, codes = times[:taken], codes[:taken]
        day = np.ceil(times).astype(np.int64)
        day -= 1
        np.maximum(day, 0, out=day)
        day -= first
        at_levels = codes < self.system_base
        level_times, level_codes, level_day = times[at_levels], codes[at_levels], day[at_levels]
        measured = int(np.searchsorted(level_times, self.measure_from_day))   # the first measured change
        changes = _Changes(level_day, first + 1 - level_times + level_day, level_codes % KINDS, measured, first, days,
                           self.measure_from_day)
        series = level_codes // KINDS
        self.changes[0] += np.bincount(level_codes[:measured], minlength=self.system_base)
        self.changes[1] += np.bincount(level_codes[measured:], minlength=self.system_base)
        counts, to_date = self.counts, self.to_date   # at the block's start
        group_rows, ends, self.counts, self.to_date = changes.rows(series, counts, to_date)
        places = np.repeat(self._place_areas(first, days), self.groups, axis=1)
        group_rows[:, :, CAPACITY:PLACES + 1] = places
        self.group_rows.append(group_rows)
        if self.groups > 1:
            level_rows, ends, _, _ = changes.rows(series // self.groups,
                                                  counts.reshape(self.levels, self.groups, 3).sum(axis=1),
                                                  to_date.reshape(2, self.levels, self.groups, 3).sum(axis=2))
            level_rows[:, :, CAPACITY:PLACES + 1] = places[:, ::self.groups]
        else:
            level_rows = group_rows
        self.level_rows.append(level_rows)
        self.state_rows.append(self._states(ends, day[~at_levels], codes[~at_levels] - self.system_base, days))
        self.folded_days = until_day

    def _place_areas(self, first: int, days: int) -> np.ndarray:
        """Staffed and built places of each level, averaged over each day: shape (days, levels, 2)."""
        areas = np.zeros((days, self.levels, 2))
        day_starts = np.arange(first, first + days, dtype=float)
        for level, steps in enumerate(self.places):
            for step, (since, staffed, built) in enumerate(steps):
                until = steps[step + 1][0] if step + 1 < len(steps) else np.inf
                share = np.clip(np.minimum(day_starts + 1, until) - np.maximum(day_starts, since), 0.0, 1.0)
                areas[:, level, 0] += staffed * share
                areas[:, level, 1] += built * share
        return areas

    def _states(self, ends: np.ndarray, day: np.ndarray, changes: np.ndarray, days: int) -> np.ndarray:
        """Where every patient is at each day's end, shape (days, STATE_FIELDS); ``ends`` are the levels'
        counts at each day's end, shape (levels, days, 3)."""
        census, waitlist, held = (ends[:, :, quantity].sum(axis=0) for quantity in (CENSUS, WAITLIST, HELD))
        effects = SYSTEM_EFFECTS[changes]
        per_day = np.stack([np.bincount(day, effects[:, field], minlength=days) for field in range(effects.shape[1])],
                           axis=-1).astype(np.int64)   # whole numbers: the float sums are exact
        outside = self.outside + np.cumsum(per_day, axis=0)
        self.outside = outside[-1].copy() if days else self.outside
        return np.column_stack([waitlist - held, census - held, held, outside])

    def tallied(self, period: int, level: int, group: int) -> dict[str, int]:
        """The :data:`TALLIED` counts of one level and group in one period (0 warm-up, 1 measured), all folded."""
        base = self.code(level, group, 0)
        counts = self.changes[period, base:base + KINDS]
        return {name: int(counts[list(changes)].sum()) for name, changes in TALLIED.items()}

    # -- the rows, all folded --------------------------------------------------------------
    def day_table(self) -> np.ndarray:
        """Daily rows per level, shape (days, levels, len(DAY_FIELDS))."""
        return _joined(self.level_rows, (0, self.levels, len(DAY_FIELDS)))

    def group_day_table(self) -> np.ndarray:
        """Daily rows per level and patient group, group after group within a level (shape (days, levels x
        groups, len(DAY_FIELDS))); with one group, the levels' rows."""
        return _joined(self.group_rows, (0, self.levels * self.groups, len(DAY_FIELDS)))

    def state_table(self) -> np.ndarray:
        """Patient states at each day's end, shape (days, len(STATE_FIELDS))."""
        return _joined(self.state_rows, (0, len(STATE_FIELDS))).astype(np.int64)


def _joined(blocks: list[np.ndarray], empty: tuple[int, ...]) -> np.ndarray:
    return np.concatenate(blocks) if blocks else np.zeros(empty)


CAPACITY, PLACES = DAY_FIELDS.index("capacity"), DAY_FIELDS.index("places")
WAITLIST_MAX, TO_DATE = DAY_FIELDS.index("waitlist_max"), DAY_FIELDS.index("arrivals_to_date")
WAITS_TO_DATE = DAY_FIELDS.index("waits_to_date")


class _Changes:
    """One block of days' changes at the levels, to be cut into rows per series (a level, or a level's group).

    ``day``: each change's day in the block (in time order); ``left_of_day``: the time from it to its day's end;
    ``kinds``: what happened (a :data:`CHANGES` number); ``warm_up``: how many of them fall in the warm-up (the
    first ones).
    """

    def __init__(self, day: np.ndarray, left_of_day: np.ndarray, kinds: np.ndarray, warm_up: int, first: int,
                 days: int, measure_from_day: float):
        self.day, self.left_of_day, self.kinds, self.warm_up = day, left_of_day, kinds, warm_up
        self.first, self.days, self.measure_from_day = first, days, measure_from_day

    def rows(self, series: np.ndarray, counts: np.ndarray,
             to_date: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Rows (days, series, DAY_FIELDS) without the places, from the counts and counts to date at the block's
        start; the counts at each day's end (series, days, 3); the counts and counts to date at the block's end.

        Each (series, day, kind of change) is counted at once, and the counts turned into what they add by
        :data:`EFFECTS` (a matrix product: one pass over the changes, where summing each field was six).
        """
        count, days = len(counts), self.days
        cell = series * days + self.day   # (series, day) as one index: each series' changes are in day order
        slot = cell * KINDS + self.kinds

        def effect(weights: np.ndarray | None, fields: slice, changes: slice = slice(None)) -> np.ndarray:
            """What the changes (all, or ``changes``) add to ``fields`` in each (series, day), (count, days, fields):
            their number, or their sum of ``weights``, per (series, day, kind), times each kind's effect."""
            per_kind = np.bincount(slot[changes], weights, minlength=count * days * KINDS).reshape(-1, KINDS)
            return (per_kind @ EFFECTS_FLOAT[:, fields]).reshape(count, days, -1)

        # what each day's changes add (whole numbers: the float sums are exact)
        net = effect(None, slice(0, 6)).astype(np.int64)
        # sum of change x time left in the day (summed change by change: a sum per kind first would round otherwise)
        steps = EFFECTS[self.kinds, :3]
        weighted = np.stack([np.bincount(cell, steps[:, field] * self.left_of_day, minlength=count * days)
                             for field in range(3)], axis=-1).reshape(count, days, 3)
        ends = counts[:, None, :] + np.cumsum(net[:, :, :3], axis=1)
        rows = np.zeros((days, count, len(DAY_FIELDS)))
        rows[:, :, :3] = (ends - net[:, :, :3] + weighted).transpose(1, 0, 2)
        joined_max = self._joined_max(series, cell, counts[:, WAITLIST]).reshape(count, days)
        starts = np.concatenate([counts[:, None, WAITLIST], ends[:, :-1, WAITLIST]], axis=1)
        rows[:, :, WAITLIST_MAX] = np.maximum(starts, joined_max).T
        # counts to date: the warm-up's changes (the first ones) add to its tally, the others to the measured one's
        added = net[:, :, 3:]
        early = (effect(None, slice(3, 6), slice(0, self.warm_up)).astype(np.int64) if 0 < self.warm_up < len(slot)
                 else added if self.warm_up else np.zeros_like(added))
        running = to_date[:, :, None, :] + np.cumsum(np.stack([early, added - early]), axis=2)
        # the last warm-up day ends when the measured period starts: from it on, counts are the measured period's
        measured_from = min(max(int(self.measure_from_day) - 1 - self.first, 0), days)
        rows[:measured_from, :, TO_DATE:TO_DATE + 3] = running[0, :, :measured_from].transpose(1, 0, 2)
        rows[measured_from:, :, TO_DATE:TO_DATE + 3] = running[1, :, measured_from:].transpose(1, 0, 2)
        return rows, ends, ends[:, -1, :].copy(), running[:, :, -1, :].copy()

    def _joined_max(self, series: np.ndarray, cell: np.ndarray, waiting: np.ndarray) -> np.ndarray:
        """Each (series, day)'s largest waitlist just after someone joined it (-1 if nobody joined), flat; ``waiting``:
        each series' waitlist at the block's start."""
        joined_max = np.full(len(waiting) * self.days, -1, dtype=np.int64)
        steps = EFFECTS[self.kinds, WAITLIST]
        moves = np.flatnonzero(steps)   # the waitlist's changes
        if not len(moves):
            return joined_max
        moves = moves[np.argsort(series[moves], kind="stable")]   # series by series, in time order within each
        step, owner = steps[moves], series[moves]
        firsts = np.flatnonzero(np.diff(owner, prepend=-1))
        running = np.cumsum(step)
        before = np.repeat(running[firsts] - step[firsts], np.diff(np.append(firsts, len(moves))))
        after = waiting[owner] + running - before   # the series' waitlist just after each change
        joins = step > 0
        joined_cells, joined_after = cell[moves][joins], after[joins]
        if len(joined_cells):   # cells in order: each one's joins are together
            starts = np.flatnonzero(np.diff(joined_cells, prepend=-1))
            joined_max[joined_cells[starts]] = np.maximum.reduceat(joined_after, starts)
        return joined_max
