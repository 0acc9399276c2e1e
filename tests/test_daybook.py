"""The daybook: day rows cut after the fact from the changes the engine notes, checked by hand and by folding."""

from __future__ import annotations

import numpy as np
import pytest

import sim
from sim import engine
from sim.daybook import (
    ARRIVED_ADMITTED,
    ARRIVED_LISTED,
    CREATED,
    GONE,
    HELD_PLACE,
    LEFT,
    LEFT_HELD,
    LISTED_ADMITTED,
    LISTED_GAVE_UP,
    Daybook,
)
from sim.engine import Model
from sim.records import DAY_FIELDS, STATE_FIELDS
from sim.run import run_replication

FIELD = {name: index for index, name in enumerate(DAY_FIELDS)}


def _book(entries: list[tuple[float, int, int, int]], levels: int = 1, groups: int = 1, measure_from_day: float = 0,
          days: int = 3, places: tuple[tuple[float, int, int], ...] = ((0.0, 2, 3),)) -> Daybook:
    """A daybook given (time, level, group, change) entries, folded to ``days``."""
    book = Daybook(levels, groups, measure_from_day, [list(places)] * levels)
    for time, level, group, change in entries:
        book.times.append(time)
        book.codes.append(book.code(level, group, change))
    book.fold(days)
    return book


def test_a_day_row_is_the_time_average_its_largest_waitlist_and_counts_to_date():
    book = _book([(0.25, 0, 0, ARRIVED_ADMITTED),     # census 1 from 0.25
                  (0.5, 0, 0, ARRIVED_LISTED),        # waitlist 1 from 0.5
                  (0.75, 0, 0, ARRIVED_LISTED),       # waitlist 2 from 0.75
                  (1.5, 0, 0, LISTED_ADMITTED),       # census 2, waitlist 1 from 1.5
                  (1.75, 0, 0, LISTED_GAVE_UP),       # waitlist 0 from 1.75
                  (2.5, 0, 0, LEFT)])                  # census 1 from 2.5
    rows = book.day_table()[:, 0]
    assert rows[:, FIELD["census"]] == pytest.approx([0.75, 1.5, 1.5])
    assert rows[:, FIELD["waitlist"]] == pytest.approx([0.75, 1.25, 0.0])
    assert rows[:, FIELD["waitlist_max"]].tolist() == [2, 2, 0]   # day 1 starts with two waiting
    assert rows[:, FIELD["arrivals_to_date"]].tolist() == [3, 3, 3]
    assert rows[:, FIELD["admissions_to_date"]].tolist() == [1, 2, 2]
    assert rows[:, FIELD["waits_to_date"]].tolist() == [1, 3, 3]   # a give-up's wait counts too
    assert rows[:, FIELD["capacity"]].tolist() == [2, 2, 2] and rows[:, FIELD["places"]].tolist() == [3, 3, 3]


def test_a_change_at_the_instant_a_day_ends_counts_in_that_day():
    """As when the engine closed days in its event loop after that instant's events were scheduled."""
    rows = _book([(0.5, 0, 0, ARRIVED_LISTED), (1.0, 0, 0, LISTED_ADMITTED)]).day_table()[:, 0]
    assert rows[:, FIELD["admissions_to_date"]].tolist() == [1, 1, 1]
    assert rows[:, FIELD["waitlist_max"]].tolist() == [1, 0, 0]   # day 1 starts after the admission at 1.0
    assert rows[:, FIELD["census"]] == pytest.approx([0.0, 1.0, 1.0])


def test_held_places_and_where_patients_are_at_each_days_end():
    entries = [(0.0, 0, 0, ARRIVED_ADMITTED), (0.5, 0, 0, HELD_PLACE), (0.5, 1, 0, ARRIVED_LISTED),
               (1.5, 0, 0, LEFT_HELD), (1.5, 1, 0, LISTED_ADMITTED), (2.25, 1, 0, LEFT)]
    book = Daybook(2, 1, 0, [[(0.0, 1, 1)]] * 2)
    for time, level, group, change in entries:
        book.times.append(time)
        book.codes.append(book.code(level, group, change))
    for time, change in ((0.0, CREATED), (2.25, GONE)):
        book.times.append(time)
        book.codes.append(book.system_code(change))
    book.fold(3)
    assert book.day_table()[:, 0, FIELD["held"]] == pytest.approx([0.5, 0.5, 0.0])
    states = dict(zip(STATE_FIELDS, book.state_table().T, strict=True))
    assert states["held"].tolist() == [1, 0, 0]
    assert states["waiting"].tolist() == [0, 0, 0]     # held: waiting for the next level, but in a place
    assert states["in_treatment"].tolist() == [0, 1, 0]
    assert states["gone"].tolist() == [0, 0, 1] and states["created"].tolist() == [1, 1, 1]


def test_counts_to_date_restart_with_the_measured_period():
    rows = _book([(0.5, 0, 0, ARRIVED_ADMITTED), (1.5, 0, 0, ARRIVED_ADMITTED), (2.5, 0, 0, ARRIVED_ADMITTED)],
                 measure_from_day=2).day_table()[:, 0]
    # day 1 ends when the measured period starts: from there the counts are the measured period's
    assert rows[:, FIELD["arrivals_to_date"]].tolist() == [1, 0, 1]


def test_groups_rows_add_up_to_their_levels_and_the_level_keeps_its_own_largest_waitlist():
    book = _book([(0.1, 0, 0, ARRIVED_LISTED), (0.2, 0, 0, LISTED_GAVE_UP), (0.3, 0, 1, ARRIVED_LISTED),
                  (0.4, 0, 1, ARRIVED_LISTED), (0.5, 0, 0, ARRIVED_LISTED)], groups=2, days=1)
    level, groups = book.day_table()[0, 0], book.group_day_table()[0]
    assert groups[:, FIELD["waitlist_max"]].tolist() == [1, 2]
    assert level[FIELD["waitlist_max"]] == 3
    for field in ("census", "waitlist", "arrivals_to_date", "waits_to_date"):
        assert level[FIELD[field]] == pytest.approx(groups[:, FIELD[field]].sum())


def test_folding_in_many_blocks_gives_the_numbers_of_one_fold(monkeypatch):
    scenario = sim.load_scenario("tests/golden/small_continuum.yaml")
    once = run_replication(scenario, 1)
    monkeypatch.setattr(engine, "FOLD_CHECK_DAYS", 7)
    monkeypatch.setattr(engine, "FOLD_AFTER_ENTRIES", 1)
    model = Model(scenario, 1).run()
    assert len(model.daybook.level_rows) > 20
    in_blocks = run_replication(scenario, 1)
    assert np.array_equal(once.days, in_blocks.days)
    assert np.array_equal(once.states, in_blocks.states)
    assert np.array_equal(once.monthly, in_blocks.monthly, equal_nan=True)
    assert [row[:2] for row in once.metrics] == [row[:2] for row in in_blocks.metrics]
    assert [row[2] for row in once.metrics] == pytest.approx([row[2] for row in in_blocks.metrics], rel=1e-12,
                                                              nan_ok=True)   # sums added block by block


def test_a_runs_memory_does_not_grow_with_its_length(monkeypatch):
    """Between folds the daybook holds a few days of changes, and a measured tally only the waits of the month
    still running: the rest are day rows, month figures and fixed-size histograms."""
    monkeypatch.setattr(engine, "FOLD_CHECK_DAYS", 7)
    monkeypatch.setattr(engine, "FOLD_AFTER_ENTRIES", 1)
    held: list[int] = []
    fold = Daybook.fold
    scenario = sim.load_scenario("tests/golden/small_continuum.yaml").with_changes({"run.days": 3000})
    model = Model(scenario, 0)

    def watched(daybook: Daybook, until_day: int) -> None:   # the model folds its daybook first
        held.append(daybook.entries + sum(len(tally.waits) for level in model.levels
                                             for tallies in level.tallies.values() for tally in tallies))
        fold(daybook, until_day)

    monkeypatch.setattr(Daybook, "fold", watched)   # the daybook's (Model's may be compiled: sim.compiled)
    model.run()
    waits = sum(tally.wait_histogram.count for level in model.levels for tally in level.tallies["measured"])
    assert len(held) > 400 and waits > 3000
    assert max(held) < 300   # the changes of a week, the waits of a month or so, however long the run
    assert all(len(tally.waits) == 0 for level in model.levels for tallies in level.tallies.values()
               for tally in tallies)


def test_a_busy_day_counts_every_change():
    """Hundreds of changes in one day at one level (a big outpatient service) are all counted."""
    rows = _book([(0.5 + index / 1000, 0, 0, ARRIVED_LISTED) for index in range(300)], days=2).day_table()[:, 0]
    assert rows[:, FIELD["arrivals_to_date"]].tolist() == [300, 300]
    assert rows[:, FIELD["waitlist_max"]].tolist() == [300, 300]
    assert rows[0, FIELD["waitlist"]] == pytest.approx(300 * 0.5 - sum(range(300)) / 1000)


def test_the_change_numbers_are_their_positions_in_the_tables():
    """The numbers are written out (the compiled engine takes them as constants): each is its change's position."""
    from sim import daybook, records

    tables = [
        (daybook.CHANGES, daybook, {"held": "HELD_PLACE"}),
        (daybook.SYSTEM_CHANGES, daybook, {}),
        (records.SOURCES, records, {}),
        (records.STATUSES, records, {"left": "DONE", "gave_up": "GAVE_UP_WAITING"}),
    ]
    for names, module, renamed in tables:
        numbers = [getattr(module, renamed.get(name, name.upper())) for name in names]
        assert numbers == list(range(len(names))), names


def test_entries_turned_into_arrays_early_fold_into_the_same_rows():
    """The engine hands the daybook's lists to :meth:`Daybook.keep` every few thousand entries; folds in between
    take entries from the arrays and the lists alike, and cut the same rows as from the lists alone."""
    rng = np.random.default_rng(11)
    times = np.sort(rng.uniform(0, 60, 5000))
    kinds = rng.choice([ARRIVED_ADMITTED, ARRIVED_LISTED, LISTED_ADMITTED, LEFT, HELD_PLACE, LEFT_HELD], 5000)
    levels, groups = rng.integers(0, 2, 5000), rng.integers(0, 2, 5000)
    books = [Daybook(2, 2, 10.0, [[(0.0, 4, 5)]] * 2) for _ in range(2)]
    folds, keeps = {1000: 9, 2600: 25, 4100: 41}, set(rng.choice(5000, 40, replace=False).tolist())
    for entry, (time, level, group, kind) in enumerate(zip(times, levels, groups, kinds, strict=True)):
        for book in books:
            book.times.append(float(time))
            book.codes.append(book.code(int(level), int(group), int(kind)))
        if entry in keeps:
            books[1].keep()
        if entry in folds:
            for book in books:
                book.fold(folds[entry])
    for book in books:
        book.fold(61)
    assert books[1].entries == books[0].entries == 0 and len(books[1].level_rows) == 4
    np.testing.assert_array_equal(books[1].group_day_table(), books[0].group_day_table())
    np.testing.assert_array_equal(books[1].day_table(), books[0].day_table())
    np.testing.assert_array_equal(books[1].state_table(), books[0].state_table())
