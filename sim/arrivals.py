"""Referrals over time for a level: their rate (yearly volume, growth, monthly seasonality) and their times.

Time is simulation time in days: 0 is the start of the warm-up, ``run.warmup_days`` the start
of the measured period and day 0 of referral growth (a scenario describes "today" there).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from .metrics import DAYS_PER_YEAR
from .scenario import Level, RunSettings
from .streams import BATCH

MOST_GRID_POINTS = 100_000
"""Points on which :func:`expected_referrals` adds up the rate (daily, or coarser for long runs)."""


def referral_rates(run: RunSettings, spec: Level, times: np.ndarray) -> np.ndarray:
    """Referrals per day at simulation times: growth and monthly seasonality applied."""
    day = times - run.resolved_warmup_days
    rates = spec.referrals_per_year / DAYS_PER_YEAR * (1 + spec.referral_growth_per_year) ** (day / DAYS_PER_YEAR)
    if spec.referral_seasonality is not None:
        months = np.asarray(spec.referral_seasonality)
        rates = rates * (months[season_months(run, day)] * 12 / math.fsum(months))
    return rates


def season_months(run: RunSettings, day: np.ndarray) -> np.ndarray:
    """The month (0 for January) of each day from day 0 of the measured period, for seasonality.

    With ``run.start_date`` these are the calendar's months; without it, months of 365/12 days
    from ``run.start_month`` at day 0.
    """
    if run.start_date is None:
        return (run.start_month - 1 + (np.mod(day, DAYS_PER_YEAR) / (DAYS_PER_YEAR / 12)).astype(int)) % 12
    dates = np.datetime64(run.start_date, "D") + np.floor(day).astype(np.int64).astype("timedelta64[D]")
    return dates.astype("datetime64[M]").astype(np.int64) % 12


def peak_rate(run: RunSettings, spec: Level) -> float:
    """The highest referral rate over the run (the thinning envelope)."""
    growth = 1 + spec.referral_growth_per_year
    trend = max(growth ** (run.days / DAYS_PER_YEAR), growth ** (-run.resolved_warmup_days / DAYS_PER_YEAR))
    months = spec.referral_seasonality
    season = 1.0 if months is None else 12 * max(months) / math.fsum(months)
    return spec.referrals_per_year / DAYS_PER_YEAR * trend * season


def referral_times(run: RunSettings, spec: Level, gaps: np.random.Generator, thinning: np.random.Generator,
                   horizon_day: float) -> Iterator[float]:
    """Referral times from day 0 up to ``horizon_day``: a Poisson process at :func:`referral_rates`.

    Candidates come at the constant :func:`peak_rate` (exponential gaps drawn from ``gaps``); each
    is kept with chance rate / peak (a uniform from ``thinning``), which leaves a non-homogeneous
    Poisson process (thinning, Lewis and Shedler 1979). Both are drawn in batches of
    :data:`~sim.streams.BATCH`, so the times depend only on the two streams.
    """
    peak = peak_rate(run, spec)
    time = 0.0
    while time <= horizon_day:
        times = np.cumsum(np.concatenate(([time], -np.log1p(-gaps.random(BATCH)) / peak)))[1:]
        kept = thinning.random(BATCH) * peak <= referral_rates(run, spec, times)
        time = float(times[-1])
        yield from times[kept & (times <= horizon_day)].tolist()


def expected_referrals(run: RunSettings, spec: Level) -> float:
    """Referrals expected over warm-up and measured period (``inf`` where growth overflows)."""
    horizon = run.resolved_warmup_days + run.days
    if spec.referrals_per_year == 0:
        return 0.0
    step = max(1.0, horizon / MOST_GRID_POINTS)
    with np.errstate(over="ignore", invalid="ignore"):
        middles = np.arange(step / 2, horizon, step)
        total = float(np.sum(referral_rates(run, spec, middles)) * step)
    return total if math.isfinite(total) else math.inf
