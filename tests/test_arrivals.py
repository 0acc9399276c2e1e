"""Referral times against a Poisson process: counts in windows, gaps, order and the horizon.

:func:`sim.arrivals.referral_times` is tested directly, away from the engine: for each rate
(constant, with growth, with seasonality) the count in every window of the run should be
Poisson with mean the rate integrated over the window, written out here from the scenario's
definitions (``scenarios/README.md``), not from :func:`sim.arrivals.referral_rates`.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import fixed, level, scenario
from scipy import stats

from sim.arrivals import referral_times
from sim.streams import BATCH

DAYS_PER_YEAR = 365.0
MONTH_DAYS = DAYS_PER_YEAR / 12
SEASON = [1.0, 1.0, 1.5, 2.0, 2.0, 1.0, 0.5, 0.5, 1.0, 1.5, 3.0, 1.0]
"""Monthly weights far enough apart that a month out of place shows."""


def referrals(per_day: float, warmup_days: int = 0, days: int = 3650, start_month: int = 1, **level_keys):
    """``(run, level spec, horizon_day)`` of a one-level scenario referring ``per_day`` at day 0."""
    ward = level(10, fixed(1), {"discharged": 1}, referrals_per_year=per_day * DAYS_PER_YEAR, **level_keys)
    chosen = scenario({"ward": ward}, warmup_days=warmup_days, days=days, start_month=start_month)
    return chosen.run, chosen.levels["ward"], float(warmup_days + days)


def times_of(run, spec, horizon_day: float, seed: int = 1) -> np.ndarray:
    gaps, thinning = (np.random.default_rng(child) for child in np.random.SeedSequence(seed).spawn(2))
    return np.fromiter(referral_times(run, spec, gaps, thinning, horizon_day), dtype=float)


def assert_poisson_counts(times: np.ndarray, edges: np.ndarray, expected: np.ndarray) -> None:
    """Counts in the windows ``[edges[i], edges[i + 1])`` have the mean and variance of Poisson(``expected[i]``).

    Each count is standardised by the mean and standard deviation it should have; over the
    windows those scores have mean 0 and variance 1 (tolerances: 4 standard errors).
    """
    counts = np.diff(np.searchsorted(times, edges, side="left"))
    scores = (counts - expected) / np.sqrt(expected)
    windows = len(scores)
    assert abs(scores.mean()) < 4 / math.sqrt(windows), f"counts off their means by {scores.mean():.3f} sd"
    variance_error = 4 * math.sqrt((2 + 1 / expected.min()) / windows)
    assert abs(scores.var() - 1) < variance_error, f"counts vary {scores.var():.3f} x as much as Poisson"


def test_constant_rate_counts_are_poisson():
    run, spec, horizon = referrals(per_day=4.0, warmup_days=365)
    edges = np.arange(0.0, horizon + 1, 5.0)                      # 803 windows of 5 days, 20 expected in each
    assert_poisson_counts(times_of(run, spec, horizon), edges, np.full(len(edges) - 1, 4.0 * 5))


def test_growing_rate_counts_are_poisson():
    """The rate is the given one at day 0 of the measured period, and grows (or shrank) by 50% a year."""
    growth, per_day, warmup = 0.5, 2.0, 730
    run, spec, horizon = referrals(per_day, warmup_days=warmup, days=1825, referral_growth_per_year=growth)
    edges = np.arange(0.0, horizon + 1, 5.0)
    # the integral of per_day x g^((t - warmup) / 365) over each window
    scale = DAYS_PER_YEAR / math.log(1 + growth)
    cumulative = per_day * scale * (1 + growth) ** ((edges - warmup) / DAYS_PER_YEAR)
    expected = np.diff(cumulative)
    assert expected.min() < 5 and expected.max() > 70               # the rate really does change a lot
    assert_poisson_counts(times_of(run, spec, horizon), edges, expected)


def test_seasonal_rate_counts_are_poisson():
    """Month k of the measured period (k < 0 in the warm-up) runs at its calendar month's weight."""
    per_day, warmup, start_month = 3.0, 100, 3
    run, spec, horizon = referrals(per_day, warmup_days=warmup, days=1095, start_month=start_month,
                                   referral_seasonality=SEASON)
    # thirds of the months that lie wholly within the run (the parts at either end are left out)
    first, last = math.ceil(-warmup / MONTH_DAYS), math.floor((horizon - warmup) / MONTH_DAYS)
    thirds = np.arange(3 * first, 3 * last + 1)
    edges = warmup + thirds * MONTH_DAYS / 3
    months = thirds[:-1] // 3                                         # of the measured period
    weight = np.array(SEASON)[(start_month - 1 + months) % 12] * 12 / sum(SEASON)
    assert_poisson_counts(times_of(run, spec, horizon), edges, per_day * weight * np.diff(edges))


def test_gaps_at_a_constant_rate_are_exponential():
    run, spec, horizon = referrals(per_day=4.0, days=1825)
    times = times_of(run, spec, horizon, seed=3)
    gaps = np.diff(times, prepend=0.0)
    assert stats.kstest(gaps, "expon", args=(0, 1 / 4.0)).pvalue > 0.01


@pytest.mark.parametrize("days", [1, 1825])
def test_times_increase_and_stay_within_the_horizon(days):
    """Up to the horizon and not past it, across batches of draws (the last batch overshoots)."""
    run, spec, horizon = referrals(per_day=4.0, warmup_days=30, days=days, referral_growth_per_year=0.2,
                                   referral_seasonality=SEASON)
    times = times_of(run, spec, horizon, seed=5)
    assert len(times) > 0 and times[0] > 0
    assert np.all(np.diff(times) > 0)
    assert times[-1] <= horizon
    if days > 1:
        assert len(times) > 3 * BATCH and horizon - times[-1] < 5   # reached the end, not cut at a batch
