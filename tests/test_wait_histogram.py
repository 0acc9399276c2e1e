"""Waits kept in a fixed size: percentiles within 0.1% of numpy's on the waits themselves, counts and sums exact."""

from __future__ import annotations

import numpy as np
import pytest

from sim.records import WAIT_RESOLUTION_DAYS, WaitHistogram

SHARES = np.linspace(0, 1, 101)


def _kept(waits: np.ndarray, target_days: float = 14.0, pieces: int = 3) -> WaitHistogram:
    histogram = WaitHistogram(target_days)
    for piece in np.array_split(waits, pieces):
        histogram.add(piece)
    return histogram


@pytest.mark.parametrize("kind", ["exponential", "mostly_none", "lognormal_wide", "one_wait", "two_waits"])
def test_every_percentile_is_numpys_within_a_thousandth(kind):
    rng = np.random.default_rng(11)
    waits = {
        "exponential": rng.exponential(10, 50_000),
        "mostly_none": rng.exponential(3, 4_000) * (rng.random(4_000) < 0.3),   # most admitted at once
        "lognormal_wide": rng.lognormal(0, 3, 5_000),                           # minutes to decades
        "one_wait": np.array([2.5]),
        "two_waits": np.array([1.0, 40.0]),
    }[kind]
    exact, kept = np.quantile(waits, SHARES), _kept(waits, pieces=min(3, len(waits))).quantiles(SHARES)
    assert kept == pytest.approx(exact, rel=1e-3, abs=WAIT_RESOLUTION_DAYS)


def test_counts_sums_and_the_share_over_the_target_are_exact():
    waits = np.random.default_rng(2).exponential(10, 10_000)
    kept = _kept(waits, target_days=14.0)
    assert kept.count == len(waits)
    assert kept.mean_days() == pytest.approx(waits.mean(), rel=1e-12)
    assert kept.share_over_target() == (waits > 14.0).mean()


def test_equal_waits_read_exactly():
    """A fixed patience: everyone who gives up waited the same; their percentile is that wait, not a bucket's middle."""
    waits = np.concatenate([np.full(300, 10.0), np.random.default_rng(4).exponential(3, 700)])
    kept = _kept(waits)
    assert kept.quantiles(np.array([0.9, 0.95, 1.0])).tolist() == np.quantile(waits, [0.9, 0.95, 1.0]).tolist()


def test_merged_histograms_are_one_histogram_of_all_the_waits():
    rng = np.random.default_rng(5)
    first, second = rng.exponential(5, 3_000), rng.exponential(20, 2_000)
    merged = _kept(first)
    merged.merge(_kept(second))
    together = _kept(np.concatenate([first, second]))
    assert np.array_equal(merged.counts, together.counts) and merged.count == together.count
    assert merged.quantiles(SHARES).tolist() == together.quantiles(SHARES).tolist()
    assert merged.over_target == together.over_target


def test_no_waits_give_no_figures_and_take_no_room():
    empty = WaitHistogram()
    empty.add(np.empty(0))
    assert np.isnan(empty.quantiles(SHARES)).all() and np.isnan(empty.mean_days())
    assert np.isnan(empty.share_over_target())
    assert empty.counts.nbytes == 0   # the buckets are made with the first wait (many tallies never get one)
    some = _kept(np.array([1.0, 2.0, 3.0]))
    empty.merge(some)
    assert empty.quantiles(SHARES).tolist() == some.quantiles(SHARES).tolist()
    some.merge(WaitHistogram())
    assert some.count == 3
