"""Month by month through the measured period: the months, each replication's figures per month, and
``monthly.csv``'s table across replications (``Results.monthly``).

A month is a calendar month when ``run.start_date`` is given (the first and last may be part of
one), else a block of 365/12 days from day 0 cut at whole days, the months that seasonality
uses without a date (twelve make the 365-day year of every rate). Census and waitlist are the
means of the month's daily rows; arrivals and admissions are cut from the period's tallies at the
day rows' ``*_to_date`` counts, so the months of a replication add up exactly to its measured
totals (an event at the very instant a day ends counts in that day); the engine keeps each month's
wait figures as the month ends (:attr:`sim.records.Tally.month_waits`). The metrics and their
definitions are in :mod:`sim.metrics` (``MONTHLY_METRICS``).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from .metrics import MONTHLY_METRICS
from .months import Month, months
from .records import DAY_FIELDS, Tally
from .scenario import Scenario

BANDS = (5, 25, 50, 75, 95)
"""Percentiles of the replications' values in ``monthly.csv`` (``p05`` ... ``p95``): the 50% and 90% bands."""
COLUMNS = ["level", "month", "month_start", "from_day", "to_day", "days", "metric", "mean", "ci_low", "ci_high",
           *(f"p{band:02d}" for band in BANDS), "replications"]
"""``monthly.csv``'s columns."""


# ---------------------------------------------------------------------------- one replication
def replication_months(scenario: Scenario, days: np.ndarray, tallies: list[Tally]) -> np.ndarray:
    """One replication's figures per month: shape (levels, months, ``MONTHLY_METRICS``).

    ``days`` are its day rows from simulation day 0 (warm-up included), ``tallies`` its levels'
    measured tallies. Every month of every level at once: a long run has thousands.
    """
    run = scenario.run
    measured = days[run.resolved_warmup_days:]
    found = months(run)
    starts = np.array([month.from_day for month in found])
    lengths = np.array([month.days for month in found])
    # the counts to date are the measured tally's from day 0 on: a month's are the difference with the last's
    to_date = measured[[month.to_day for month in found]][:, :, [DAY_FIELDS.index(f"{name}_to_date")
                                                                  for name in ("arrivals", "admissions", "waits")]]
    counts = np.diff(to_date, axis=0, prepend=0.0)
    means = np.add.reduceat(measured[:, :, [DAY_FIELDS.index("census"), DAY_FIELDS.index("waitlist")]], starts,
                            axis=0) / lengths[:, None, None]
    values = np.empty((len(tallies), len(found), len(MONTHLY_METRICS)))
    values[:, :, :2] = counts[:, :, :2].transpose(1, 0, 2)
    values[:, :, 2:4] = means.transpose(1, 0, 2)
    for index, tally in enumerate(tallies):
        values[index, :, 4:] = np.array(tally.month_waits).reshape(len(found), 2)
    return values


# ---------------------------------------------------------------------------- across replications
def named(names: list[str], positions: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """The names at ``positions``: a column of strings made from a few (20 times faster than from each)."""
    return pd.array(names, dtype="str").take(positions)


def monthly_table(values: list[np.ndarray], scenario: Scenario, by_group: bool = False) -> pd.DataFrame:
    """``monthly.csv``: per level, month and metric, the mean across replications with its 95% interval
    and percentiles of the replications' values (:data:`COLUMNS`).

    ``values`` holds each replication's :func:`replication_months`; with ``by_group``, of every level's
    groups in turn (level by level), and the table gains a last column ``group``.
    """
    found, levels = months(scenario.run), scenario.level_names
    groups = scenario.group_names if by_group else []
    if by_group:
        levels = [name for name in levels for _ in groups]
    stacked = np.stack(values).reshape(len(values), -1)     # replications x (level, month, metric)
    mean, low, high, count = _intervals(stacked)
    bands = np.percentile(stacked, BANDS, axis=0)
    gaps = np.isnan(stacked).any(axis=0)   # months without a wait in some replication: the slow way, NaN-aware
    if gaps.any():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)    # a month no replication has a wait in
            bands[:, gaps] = np.nanpercentile(stacked[:, gaps], BANDS, axis=0)
    per_level = len(found) * len(MONTHLY_METRICS)
    table = pd.DataFrame({
        "level": named(levels, np.repeat(np.arange(len(levels)), per_level)),
        **{column: np.tile(np.repeat(values_, len(MONTHLY_METRICS)), len(levels))
           for column, values_ in _month_columns(found).items()},
        "metric": named(list(MONTHLY_METRICS), np.tile(np.arange(len(MONTHLY_METRICS)), len(levels) * len(found))),
        "mean": mean, "ci_low": low, "ci_high": high,
        **{f"p{band:02d}": row for band, row in zip(BANDS, bands, strict=True)},
        "replications": count,
    })
    if by_group:
        table["group"] = named(groups, np.repeat(np.tile(np.arange(len(groups)), len(scenario.level_names)),
                                                 per_level))
        return table[[*COLUMNS, "group"]]
    return table[COLUMNS]


def _month_columns(found: list[Month]) -> dict[str, np.ndarray]:
    return {"month": np.array([month.index for month in found]),
            "month_start": np.array([month.start.isoformat() if month.start else None for month in found],
                                    dtype=object),
            "from_day": np.array([month.from_day for month in found]),
            "to_day": np.array([month.to_day for month in found]),
            "days": np.array([month.days for month in found])}


def _intervals(values: np.ndarray, confidence: float = 0.95) -> tuple[np.ndarray, ...]:
    """Per column: the mean of the finite values, its Student-t interval (as :func:`sim.analysis.t_interval`,
    the lower end clipped at 0: no monthly figure is negative) and the count."""
    count = np.isfinite(values).sum(axis=0)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(values, axis=0)
        half = stats.t.ppf(0.5 + confidence / 2, count - 1) * np.nanstd(values, axis=0, ddof=1) / np.sqrt(count)
    half = np.where(count >= 2, half, np.nan)
    return mean, np.maximum(mean - half, 0.0), mean + half, count


WAIT_METRICS = ("wait_mean_days", "wait_p90_days")
"""The waits a forecast holds against ``run.wait_target_days``."""


def first_months_over(monthly: pd.DataFrame, target_days: float) -> pd.DataFrame:
    """Per level and wait (mean, 90th percentile), the first month whose mean across replications is
    above ``target_days``: ``level, metric, month, month_start, from_day, to_day, wait_days``; the
    month is missing (and ``wait_days`` the highest month's) where no month is over."""
    when = ["month", "month_start", "from_day", "to_day"]
    rows = []
    for (level, metric), months_ in monthly[monthly["metric"].isin(WAIT_METRICS)].groupby(
            ["level", "metric"], sort=False):
        over = months_[months_["mean"] > target_days]
        first = over.iloc[0] if len(over) else None
        rows.append({"level": level, "metric": metric, **{key: None if first is None else first[key] for key in when},
                     "wait_days": months_["mean"].max() if first is None else first["mean"]})
    return pd.DataFrame(rows, columns=["level", "metric", *when, "wait_days"])
