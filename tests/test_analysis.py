"""Output analysis against hand calculations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sim.analysis import summarise, t_interval


def test_t_interval_by_hand():
    mean, low, high, std, count = t_interval([1, 2, 3, 4, 5])
    half = 2.7764451 * math.sqrt(2.5) / math.sqrt(5)   # t(0.975, 4) x s / sqrt(n)
    assert (mean, count) == (3, 5)
    assert std == pytest.approx(math.sqrt(2.5))
    assert (low, high) == pytest.approx((3 - half, 3 + half))


def test_t_interval_skips_undefined_replications():
    assert t_interval([2.0, np.nan, 4.0])[-1] == 2
    mean, low, high, std, count = t_interval([7.0])
    assert mean == 7 and count == 1 and np.isnan(low) and np.isnan(high)
    assert t_interval([np.nan])[-1] == 0


def test_interval_covers_the_true_mean_about_95_percent_of_the_time():
    rng = np.random.default_rng(0)
    covered = 0
    for _ in range(2000):
        _, low, high, _, _ = t_interval(rng.exponential(3.0, size=30))
        covered += low <= 3.0 <= high
    assert 0.92 <= covered / 2000 <= 0.97   # exponential data: slightly below nominal


def test_summary_clips_at_zero_and_keeps_order():
    table = pd.DataFrame({"level": ["b", "b", "a", "a"], "metric": ["wait_mean_days"] * 4,
                          "value": [0.0, 1.0, 5.0, 5.0]})
    summary = summarise(table)
    assert summary["level"].tolist() == ["b", "a"]
    assert summary["ci_low"].tolist()[0] == 0
    assert summary["ci_low"].tolist()[1] == 5 and summary["std"].tolist()[1] == 0


def test_an_empty_table_summarises_to_no_rows():
    summary = summarise(pd.DataFrame({"level": [], "metric": [], "value": []}))
    assert summary.empty and list(summary.columns)[:2] == ["level", "metric"]
