"""Output analysis: confidence intervals across replications."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

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
    half = float(stats.t.ppf(0.5 + confidence / 2, count - 1)) * std / np.sqrt(count)
    return mean, mean - half, mean + half, std, count


def summarise(replications: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """One row per (level, metric): mean and t interval across replications.

    ``replications`` has columns ``level, metric, value``; row order of levels and metrics is
    kept as first seen. Every metric is a count, time or share, never negative, so the
    interval's lower end is clipped at 0.
    """
    rows = [
        (level, metric, *t_interval(group["value"], confidence))
        for (level, metric), group in replications.groupby(["level", "metric"], sort=False)
    ]
    summary = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    summary["ci_low"] = summary["ci_low"].clip(lower=0)
    return summary
