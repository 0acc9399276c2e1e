"""Output analysis: confidence intervals across replications."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
from scipy import stats

from .metrics import METRICS

SUMMARY_COLUMNS = ["level", "metric", "mean", "ci_low", "ci_high", "std", "replications"]


def t_interval(values, confidence: float = 0.95) -> tuple[float, float, float, float, int]:
    """Mean, Student-t interval, standard deviation and count of the finite values.

    Replications where a metric is undefined (NaN, e.g. a wait when nobody was admitted) are
    left out and the count says how many remain. With one value the interval is NaN.
    """
    data = np.asarray(values, dtype=float)
    data = data[np.isfinite(data)]
    count = len(data)
    if count == 0:
        return np.nan, np.nan, np.nan, np.nan, 0
    mean = float(data.mean())
    if count == 1:
        return mean, np.nan, np.nan, np.nan, 1
    std = float(data.std(ddof=1))
    half = t_quantile(confidence, count - 1) * std / np.sqrt(count)
    return mean, mean - half, mean + half, std, count


@functools.cache
def t_quantile(confidence: float, degrees_of_freedom: int) -> float:
    """Student's t at the two-sided ``confidence`` (computed once per pair: a table has thousands of intervals)."""
    return float(stats.t.ppf(0.5 + confidence / 2, degrees_of_freedom))


def summarise(replications: pd.DataFrame, confidence: float = 0.95, by: tuple[str, ...] = ("level",)) -> pd.DataFrame:
    """One row per (level, metric): mean and t interval across replications.

    ``replications`` has columns ``level, metric, value`` (``by`` names other key columns to go
    before ``metric``, e.g. ``("group", "level")``); row order is kept as first seen. No metric goes
    below its ``lower_bound`` (:mod:`sim.metrics`; 0 for counts, times and shares), so the
    interval's lower end is clipped there.
    """
    keys = [*by, "metric"]
    # each group's values in their rows' order, as numpy arrays: a pandas Series per group cost 0.2 ms each
    group_of = replications.groupby(keys, sort=False).ngroup().to_numpy()
    order = np.argsort(group_of, kind="stable")
    order = order[group_of[order] >= 0]   # rows without a key belong to no group, as in a group-by
    starts = np.flatnonzero(np.diff(group_of[order], prepend=-1))
    values = np.split(replications["value"].to_numpy(dtype=float)[order], starts[1:]) if len(order) else []
    names = replications[keys].iloc[order[starts]].itertuples(index=False, name=None)
    rows = [(*key, *t_interval(group, confidence)) for key, group in zip(names, values, strict=True)]
    summary = pd.DataFrame(rows, columns=[*by, *SUMMARY_COLUMNS[1:]])
    bounds = [METRICS[metric].lower_bound for metric in summary["metric"]]
    summary["ci_low"] = summary["ci_low"].clip(lower=pd.Series(bounds, index=summary.index, dtype=float))
    return summary


def paired_difference(base, alternative, confidence: float = 0.95) -> tuple[float, float, float, float, int]:
    """Mean difference ``alternative - base`` with a paired Student-t interval.

    Replication ``r`` of both scenarios used the same random numbers (common random numbers),
    so the differences vary far less than either scenario does, and the interval is narrow.
    Pairs where either value is undefined are dropped.
    """
    base, alternative = np.asarray(base, dtype=float), np.asarray(alternative, dtype=float)
    return t_interval(alternative - base, confidence)


def welch_difference(base, alternative, confidence: float = 0.95) -> tuple[float, float, float, float, int]:
    """Mean difference ``alternative - base`` with Welch's interval, for independent runs."""
    a = np.asarray(base, dtype=float)
    b = np.asarray(alternative, dtype=float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if len(a) < 2 or len(b) < 2:
        return float(b.mean() - a.mean()) if len(a) and len(b) else np.nan, np.nan, np.nan, np.nan, min(len(a), len(b))
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    difference, spread = float(b.mean() - a.mean()), float(np.sqrt(va + vb))
    if spread == 0:
        return difference, difference, difference, 0.0, min(len(a), len(b))
    freedom = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = float(stats.t.ppf(0.5 + confidence / 2, freedom)) * spread
    return difference, difference - half, difference + half, spread, min(len(a), len(b))


def mser5_warmup(series, batch: int = 5) -> int:
    """MSER-5 truncation point of an output series (e.g. daily census), in series steps.

    The series is averaged in batches of ``batch``; for each truncation ``d`` (in batches, at
    most half of them) MSER is the variance of the remaining batch means divided by the number
    remaining, and the ``d`` that minimises it is the warm-up (White, 1997; the rule behind
    most automatic warm-up detection). Returns ``d * batch``.
    """
    data = np.asarray(series, dtype=float)
    count = len(data) // batch
    if count < 4:
        return 0
    means = data[: count * batch].reshape(count, batch).mean(axis=1)
    tail_sum = np.cumsum(means[::-1])[::-1]             # sum of means[d:]
    tail_square = np.cumsum((means**2)[::-1])[::-1]
    remaining = count - np.arange(count)
    variance = tail_square / remaining - (tail_sum / remaining) ** 2
    mser = variance / remaining
    return int(np.argmin(mser[: count // 2 + 1])) * batch


def replications_needed(values, precision: float, confidence: float = 0.95) -> int:
    """Replications for a ``confidence`` interval's half-width to be within ``precision`` x mean.

    From the spread of the replications so far (the usual sequential estimate
    ``n = (t s / (precision * mean))^2``). A metric that is exactly 0 in every replication
    needs no more; one with mean 0 but some spread can never meet a relative precision and
    returns a very large number.
    """
    data = np.asarray(values, dtype=float)
    data = data[np.isfinite(data)]
    if len(data) < 2:
        return 2
    mean, std = abs(float(data.mean())), float(data.std(ddof=1))
    if std == 0:
        return len(data)
    if mean == 0:
        return 10**9
    t = float(stats.t.ppf(0.5 + confidence / 2, len(data) - 1))
    return max(len(data), int(np.ceil((t * std / (precision * mean)) ** 2)))


def precision_scale(metric: str, mean: float) -> float:
    """What a relative precision is relative to: the mean, but at least one unit (a day, a
    person, a patient a year) for counts and times, so a wait of 0.003 days counts as precise
    when its interval is a small fraction of a day. Shares (occupancy among them) stay purely
    relative (:attr:`sim.metrics.Metric.is_share`)."""
    if METRICS[metric].is_share:
        return abs(mean)
    return max(abs(mean), 1.0)


def precision_shortfalls(replications: pd.DataFrame, metrics: tuple[str, ...], precision: float,
                         confidence: float = 0.95) -> pd.DataFrame:
    """The metrics whose interval half-width is still above ``precision`` x their scale.

    ``replications`` has columns ``level, metric, value`` (one row per replication); the scale
    is :func:`precision_scale`. Returns ``level, metric, mean, half_width, needed`` for each
    metric that falls short, ``needed`` being the estimated replications that would meet it.
    """
    rows = []
    chosen = replications[replications["metric"].isin(metrics)]
    for (level, metric), group in chosen.groupby(["level", "metric"], sort=False):
        mean, low, high, _, _ = t_interval(group["value"], confidence)
        half = (high - low) / 2 if np.isfinite(low) else np.inf
        scale = precision_scale(metric, mean) if np.isfinite(mean) else np.nan
        if np.isfinite(mean) and half > precision * scale:
            needed = replications_needed(group["value"], precision * scale / max(abs(mean), 1e-300), confidence)
            rows.append((level, metric, mean, half, needed))
    return pd.DataFrame(rows, columns=["level", "metric", "mean", "half_width", "needed"])


def trend_test(slopes) -> tuple[float, float]:
    """Mean of per-replication slopes and the one-sided p-value that the true slope is above 0.

    ``slopes`` holds one least-squares slope per replication (a daily series against day).
    Replications are independent, so a Student t test across them is valid however strongly
    the days within one replication are correlated; a regression on the pooled days would not
    be (a queue's waitlist remembers weeks, and its p-values would be far too small). The
    p-value is NaN with fewer than two finite slopes.
    """
    data = np.asarray(slopes, dtype=float)
    data = data[np.isfinite(data)]
    if len(data) == 0:
        return np.nan, np.nan
    mean = float(data.mean())
    if len(data) < 2:
        return mean, np.nan
    std = float(data.std(ddof=1))
    if std == 0:
        return mean, 0.0 if mean > 0 else 1.0
    return mean, float(stats.t.sf(mean / (std / np.sqrt(len(data))), len(data) - 1))
