"""Back-test a fitted scenario: simulate the days it was not fitted on, and set them beside what happened.

A scenario fitted on an extract up to a cut date starts the day after it from the state the
extract shows then. Simulated over the held-out days, each level's daily census and monthly
admissions get bands across replications (50%: the 25th to 75th percentile; 90%: the 5th to
95th); the observed line is read from the whole extract. A band from ``n`` replications holds a
new draw of the same model with chance about 0.9 (n - 1) / (n + 1) (62% with 5, 82% with 20), so
that, not 90%, is what a right model scores (:func:`expected_share`); far fewer says the fitted model
misses something (a trend, a policy change, a capacity the base does not know), and the figures
show where. The bands hold the simulation's randomness only, not the doubt in the fitted numbers,
and days in a row are alike, so over a few months the share is itself uncertain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .monthly import BANDS
from .pathway import Window, daily_census, link
from .results import Results
from .run import run


@dataclass
class Backtest:
    """The held-out days simulated and observed.

    Attributes
    ----------
    daily
        ``level, day, date, observed, p05, p25, p50, p75, p95, inside_90``: the census per day
        (day 0 is the first held-out day).
    monthly
        ``level, month_start, days, observed, p05 ... p95, inside_90``: admissions per calendar month.
    coverage
        Per level: days, the share of observed days inside the simulated 90% band, months, the
        share of months inside it, and ``expected_share`` (what a right model would score).
    results
        The simulation of the held-out days.
    """

    daily: pd.DataFrame
    monthly: pd.DataFrame
    coverage: pd.DataFrame
    holdout_days: int
    results: Results


def backtest(found: Any, full: Any, holdout_days: int, replications: int | None = None) -> Backtest:
    """Simulate ``found.scenario`` over the ``holdout_days`` after its start and compare with the ``full`` extract."""
    scenario = found.scenario.with_changes({"run.days": holdout_days})
    results = run(scenario, replications=replications, progress=False)
    start_date = pd.Timestamp(scenario.run.start_date)
    offset = (start_date - full.start).days            # the extract's day number of the simulation's day 0
    window = Window(as_of_day=full.as_of_day, dates=full.resolution_days > 0)
    frame = link(full.episodes)
    observed = daily_census(frame, window, first_day=offset).iloc[:holdout_days]
    daily = _daily(results, observed, offset, start_date)
    monthly = _monthly(results, frame, offset)
    coverage = _coverage(daily, monthly).assign(expected_share=expected_share(results.scenario.run.replications))
    return Backtest(daily, monthly, coverage, holdout_days, results)


def expected_share(replications: int) -> float:
    """The chance a new draw of a model falls between the 5th and 95th percentiles of ``replications`` draws of it.

    For ``n`` draws the band between those percentiles (interpolated) covers about ``0.9 (n - 1) / (n + 1)``
    of the law (the order statistics' expected coverage), not 0.9.
    """
    return 0.9 * (replications - 1) / (replications + 1)


def _bands(values: pd.DataFrame, by: list[str], column: str) -> pd.DataFrame:
    quantiles = values.groupby(by)[column].quantile([band / 100 for band in BANDS]).unstack()
    quantiles.columns = [f"p{band:02d}" for band in BANDS]
    return quantiles.reset_index()


def _daily(results: Results, observed: pd.DataFrame, offset: int, start_date: pd.Timestamp) -> pd.DataFrame:
    simulated = results.daily[results.daily["day"] >= 0]
    table = _bands(simulated, ["level", "day"], "census")
    seen = observed.reset_index().melt(id_vars="day", var_name="level", value_name="observed")
    seen["day"] -= offset
    table = table.merge(seen, on=["level", "day"], how="left")
    table.insert(2, "date", (start_date + pd.to_timedelta(table["day"], unit="D")).dt.strftime("%Y-%m-%d"))
    table["inside_90"] = table["observed"].between(table["p05"], table["p95"])
    return table


def _monthly(results: Results, frame: pd.DataFrame, offset: int) -> pd.DataFrame:
    """Admissions per month: the simulation's bands (``monthly.csv``) and the extract's count in the same days."""
    assert results.monthly is not None, "a run always makes monthly figures"
    months = results.monthly[results.monthly["metric"].eq("admissions")]
    table = months[["level", "month_start", "from_day", "to_day", "days", *(f"p{band:02d}" for band in BANDS)]]
    admitted = frame.loc[frame["admitted"].notna(), ["level", "admitted"]]
    day = np.floor(admitted["admitted"].to_numpy(float)) - offset
    counts = [int(((admitted["level"].to_numpy() == row.level) & (day >= row.from_day) & (day <= row.to_day)).sum())
              for row in table.itertuples()]
    table = table.assign(observed=counts).reset_index(drop=True)
    table["inside_90"] = table["observed"].between(table["p05"], table["p95"])
    return table


def _coverage(daily: pd.DataFrame, monthly: pd.DataFrame) -> pd.DataFrame:
    days = daily.groupby("level", sort=False)["inside_90"].agg(days="size", share_days_inside_90="mean")
    months = monthly.groupby("level", sort=False)["inside_90"].agg(months="size", share_months_inside_90="mean")
    return days.join(months).reset_index()
