"""A forecast from a given day: ``run.start_date`` (calendar dates), ``monthly.csv`` and ``Results.monthly``.

The monthly figures are checked against the daily table and the run's own totals, computed here
independently of ``sim.results``.
"""

from __future__ import annotations

import json
import os
from datetime import date

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import CHROMIUM, ROOT, rendered_dom

import sim
from sim.arrivals import referral_rates, season_months
from sim.cli import main
from sim.monthly import first_months_over, months
from sim.records import month_wait_figures
from sim.report import is_forecast
from sim.scenario_file import load_scenario

GOLDEN = ROOT / "tests" / "golden" / "small_continuum.yaml"


@pytest.fixture(scope="module")
def golden() -> sim.Scenario:
    return sim.load_scenario(GOLDEN)


# ---------------------------------------------------------------------------- run.start_date
def test_a_start_date_sets_the_month_and_reads_back(golden):
    dated = golden.with_changes({"run.start_date": "2027-03-01"})
    assert dated.run.start_date == date(2027, 3, 1) and dated.run.start_month == 3
    again = sim.scenario.validate(sim.scenario_file.read_yaml(dated.to_yaml()))
    assert again.run == dated.run
    assert golden.with_changes({"run.start_date": date(2027, 3, 1)}).run == dated.run


def test_a_new_start_date_moves_the_month_but_a_disagreeing_month_is_refused(golden):
    dated = golden.with_changes({"run.start_date": "2027-03-01"})
    assert dated.with_changes({"run.start_date": "2028-07-04"}).run.start_month == 7
    assert dated.with_changes({"run.start_date": None}).run.start_month == 3   # the month stays
    with pytest.raises(sim.ScenarioError, match="start_month 5 disagrees with start_date 2027-03-01"):
        dated.with_changes({"run.start_month": 5})
    assert golden.with_changes({"run.start_date": "2027-05-09", "run.start_month": 5}).run.start_month == 5


def test_set_on_the_command_line_moves_the_month_too(tmp_path):
    path = tmp_path / "dated.yaml"
    path.write_text(GOLDEN.read_text(encoding="utf-8").replace("run:", "run:\n  start_month: 1", 1), encoding="utf-8")
    assert load_scenario(path, {"run.start_date": "2027-10-01"}).run.start_month == 10


def test_without_a_start_date_nothing_about_the_scenario_changes(golden):
    assert "start_date" not in golden.to_dict()["run"]
    assert golden.run.start_date is None


def test_seasonality_follows_the_calendar_from_the_start_date(golden):
    run = golden.with_changes({"run.start_date": "2027-01-15"}).run
    days = np.array([-15.5, -14.2, 0.0, 16.9, 17.0, 45.0, 365.0])
    assert season_months(run, days).tolist() == [11, 11, 0, 0, 1, 2, 0]   # Dec 30, Dec 31, Jan 15 ... Jan 15 2028
    undated = golden.run
    assert season_months(undated, np.array([0.0, 30.0, 31.0])).tolist() == [0, 0, 1]   # 365/12-day months


def test_a_seasonal_rate_takes_its_calendar_month_weight(golden):
    dated = golden.with_changes({"run.start_date": "2027-01-31", "run.warmup_days": 0})
    level = dated.levels["ward"].model_copy(update={"referral_seasonality": [1.0] + [2.0] * 11,
                                                    "referral_growth_per_year": 0.0})
    rates = referral_rates(dated.run, level, np.array([0.5, 1.5]))      # January 31, then February 1
    assert rates[1] == pytest.approx(2 * rates[0])


def test_schedule_entries_may_give_dates(golden):
    by_date = golden.with_changes({
        "run.start_date": "2027-03-01",
        "levels.ward.capacity": [{"from_date": "2027-03-01", "capacity": 10},
                                 {"from_date": "2027-06-01", "capacity": 12}],
        "levels.ward.staff_available.nurse": [{"from_day": 0, "fte": 9}, {"from_date": "2027-04-01", "fte": 11}],
    })
    assert [step.from_day for step in by_date.levels["ward"].capacity] == [0, 92]
    assert [step.from_day for step in by_date.levels["ward"].staff_available["nurse"]] == [0, 31]


# ---------------------------------------------------------------------------- months
@pytest.mark.parametrize("start, days, lengths", [
    ("2027-01-15", 100, [17, 28, 31, 24]),                     # Jan 15-31, February, March, April 1-24
    ("2028-02-01", 60, [29, 31]),                              # a leap February
    (None, 400, [30, 30, 31, 30, 31, 30, 30, 31, 30, 31, 30, 31, 30, 5]),   # floor(k x 365 / 12)
], ids=["mid-month start", "leap year", "no date"])
def test_months_are_calendar_months_or_twelfths_of_a_year(golden, start, days, lengths):
    run = golden.with_changes({"run.start_date": start, "run.days": days}).run
    found = months(run)
    assert [month.days for month in found] == lengths
    assert found[0].from_day == 0 and found[-1].to_day == days - 1
    assert all(later.from_day == earlier.to_day + 1 for earlier, later in zip(found, found[1:], strict=False))
    if start is not None:
        assert found[0].start == date.fromisoformat(start) and all(month.start.day == 1 for month in found[1:])
    assert sum(month.days for month in months(golden.with_changes({"run.days": 365}).run)) == 365
    assert len(months(golden.with_changes({"run.days": 365}).run)) == 12


@pytest.fixture(scope="module")
def dated(golden) -> sim.Results:
    """The golden scenario (every mechanism: schedules, seasonality, hold, cohorts, patience, turn-away,
    relapse) from 2027-01-15, with a warm-up."""
    return sim.run(golden.with_changes({"run.start_date": "2027-01-15", "run.replications": 4}), jobs=1,
                   progress=False)


def _one_replication(results: sim.Results, level: str, metric: str) -> pd.DataFrame:
    return results.monthly[(results.monthly["level"] == level) & (results.monthly["metric"] == metric)]


def test_the_first_month_of_a_mid_month_start_is_17_days(dated):
    first = dated.monthly[dated.monthly["month"] == 0].iloc[0]
    assert (first["month_start"], first["from_day"], first["to_day"], first["days"]) == ("2027-01-15", 0, 16, 17)
    assert dated.monthly[dated.monthly["month"] == 1]["month_start"].iloc[0] == "2027-02-01"


@pytest.mark.parametrize("column", ["census", "waitlist"])
def test_census_and_waitlist_are_the_means_of_the_month_s_daily_rows(dated, column):
    measured = dated.daily[dated.daily["period"] == "measured"]
    for level in dated.scenario.level_names:
        for _, row in _one_replication(dated, level, f"{column}_mean").iterrows():
            days = measured[(measured["level"] == level) & measured["day"].between(row["from_day"], row["to_day"])]
            per_replication = days.groupby("replication")[column].mean()
            assert len(days) == 4 * row["days"]
            assert row["mean"] == pytest.approx(per_replication.mean(), rel=1e-12, abs=1e-12)
            assert row["p50"] == pytest.approx(np.percentile(per_replication, 50), rel=1e-12, abs=1e-12)
            low, high = sim.analysis.t_interval(per_replication)[1:3]
            assert row["ci_high"] == pytest.approx(high, rel=1e-9)
            assert row["ci_low"] == pytest.approx(max(low, 0.0), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("metric", ["arrivals", "admissions"])
def test_monthly_counts_add_up_to_the_yearly_rates_times_the_years(dated, metric):
    years = dated.scenario.run.days / 365
    summary = dated.summary.set_index(["level", "metric"])["mean"]
    for level in dated.scenario.level_names:
        rows = _one_replication(dated, level, metric)
        assert rows["mean"].sum() == pytest.approx(summary[(level, f"{metric}_per_year")] * years, rel=1e-12)
        assert (rows["mean"] > 0).any()


GROUPED = {
    "name": "two groups, month by month",
    "run": {"warmup_days": 30, "days": 240, "replications": 1, "seed": 2},
    "levels": {"ward": {"capacity": 6, "los": {"dist": "exponential", "mean": 8}, "referrals_per_year": 250,
                        "next": {"clinic": 1}},
               "clinic": {"capacity": 9, "los": {"dist": "exponential", "mean": 20}, "next": {"discharged": 1}}},
    "groups": {"adults": {"share_of_referrals": {"ward": 0.7}},
               "elders": {"share_of_referrals": {"ward": 0.3},
                          "levels": {"ward": {"los": {"dist": "exponential", "mean": 12}}}}},
}


@pytest.mark.parametrize("grouped", [False, True])
def test_monthly_waits_are_the_waits_that_ended_in_the_month(golden, grouped):
    """Against the episodes: admissions (and give-ups) whose wait ended in the month, of every patient group
    at the level when there are groups (each group's waits are kept apart until the month is over).

    Without cohorts and schedules, whose events fall on the very instant a day ends (and count in the
    day that ends then), so each wait is in one month only by either reading of that instant.
    """
    continuous = sim.validate(GROUPED) if grouped else golden.with_changes({
        "run.replications": 1, "levels.day_program.program.intake": "rolling", "levels.ward.capacity": 10,
        "levels.ward.staff_available": None})
    results = sim.run(continuous, jobs=1, progress=False, keep_episodes=True)
    episodes = results.episodes
    ended = np.where(episodes["status"] == "gave_up", episodes["left_day"], episodes["admitted_day"])
    for level in results.scenario.level_names:
        for _, row in _one_replication(results, level, "wait_mean_days").iterrows():
            inside = (episodes["level"] == level) & (ended >= row["from_day"]) & (ended < row["to_day"] + 1)
            waits = (ended - episodes["arrived_day"])[inside]
            expected = waits.mean() if len(waits) else np.nan
            assert row["mean"] == pytest.approx(expected, rel=1e-9, nan_ok=True), (level, row["month"])
            p90 = _one_replication(results, level, "wait_p90_days").set_index("month").loc[row["month"], "mean"]
            assert p90 == pytest.approx(np.quantile(waits, 0.9) if len(waits) else np.nan, rel=1e-9, nan_ok=True)


def test_bands_are_ordered_and_collapse_with_one_replication(dated, golden):
    values = dated.monthly.dropna(subset=["p05"])
    bands = values[["p05", "p25", "p50", "p75", "p95"]].to_numpy()
    assert (np.diff(bands, axis=1) >= -1e-12).all()
    assert (values["ci_low"] <= values["mean"] + 1e-12).all() and (values["mean"] <= values["ci_high"] + 1e-12).all()
    single = sim.run(golden.with_changes({"run.replications": 1}), jobs=1, progress=False).monthly.dropna(
        subset=["mean"])
    for band in ("p05", "p25", "p50", "p75", "p95"):
        assert (single[band] == single["mean"]).all()
    assert single["ci_low"].isna().all() and (single["replications"] == 1).all()


def test_run_writes_monthly_csv_as_the_results_have_it(dated, tmp_path):
    folder = sim.write_results(dated, tmp_path / "dated")
    written = pd.read_csv(folder / "monthly.csv", keep_default_na=False, na_values=[""])
    assert list(written.columns) == list(dated.monthly.columns)
    pd.testing.assert_frame_equal(written, dated.monthly, check_dtype=False)


# ---------------------------------------------------------------------------- the report
def test_first_months_over_the_target(dated):
    target = dated.scenario.run.wait_target_days
    found = first_months_over(dated.monthly, target).set_index(["level", "metric"])
    for (level, metric), row in found.iterrows():
        months_ = _one_replication(dated, level, metric)
        over = months_[months_["mean"] > target]
        if over.empty:
            assert pd.isna(row["month"]) and row["wait_days"] == months_["mean"].max()
        else:
            assert row["month"] == over["month"].iloc[0] and row["wait_days"] == over["mean"].iloc[0]
            assert row["month_start"] == over["month_start"].iloc[0]
    assert not pd.isna(found.loc[("ward", "wait_p90_days"), "month"]), "the golden ward waits over target at once"


@pytest.fixture(scope="module")
def forecast_folder(golden, tmp_path_factory):
    """Today's state (the golden ward's census and waitlist) forecast from 2027-03-01, no warm-up."""
    scenario = golden.with_changes({"run.start_date": "2027-03-01", "run.warmup_days": 0, "run.days": 365,
                                    "run.replications": 3})
    results = sim.run(scenario, jobs=1, progress=False)
    return results, sim.write_results(results, tmp_path_factory.mktemp("forecast") / "run", report=True)


def test_a_forecast_report_has_its_section_and_a_fan_chart_per_level(forecast_folder):
    results, folder = forecast_folder
    assert is_forecast(results)
    names = {path.name for path in (folder / "figures").iterdir()}
    assert {f"forecast_{level}.png" for level in results.scenario.level_names} <= names
    html = (folder / "report.html").read_text(encoding="utf-8")
    first = first_months_over(results.monthly, 5).set_index(["level", "metric"]).loc[("ward", "wait_p90_days")]
    assert "Forecast month by month" in html and "From day 0 (2027-03-01), 12 months" in html
    assert f"{pd.Timestamp(first['month_start']):%b %Y}: {first['wait_days']:.1f} days" in html
    assert html.count("data:image/png;base64,") == 5 + 3                # staff given: five figures, three fans


def test_a_run_with_a_warm_up_and_no_date_is_no_forecast(golden, dated):
    assert not is_forecast(sim.run(golden.with_changes({"run.replications": 1, "run.days": 60}), jobs=1,
                                   progress=False))
    assert is_forecast(dated)                                          # a date makes a forecast


@pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"), reason="chromium is not installed here")
def test_the_forecast_report_renders_in_headless_chromium(forecast_folder, tmp_path):
    _, folder = forecast_folder
    dom = rendered_dom(folder / "report.html", tmp_path)
    assert 'data-images="ok:8"' in dom and 'data-errors="0"' in dom


def test_continuum_run_writes_monthly_csv_with_calendar_months(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["run", str(GOLDEN), "--out", str(out), "--quiet", "--jobs", "1",
                                       "--set", "run.start_date=2027-01-15", "--set", "run.days=100"])
    assert result.exit_code == 0, result.output
    monthly = pd.read_csv(out / "monthly.csv")
    assert list(monthly.drop_duplicates("month")["month_start"]) == ["2027-01-15", "2027-02-01", "2027-03-01",
                                                                     "2027-04-01"]
    assert "monthly.csv" in json.loads((out / "manifest.json").read_text())["files"]


@pytest.mark.parametrize("busiest", [40, 4000], ids=["months alike", "one month far busier"])
def test_the_monthly_mean_and_percentile_are_numpys(busiest):
    """Every month at once (a long run has thousands): the 90th percentile to the last bit, the mean to rounding;
    months alike are sorted as rows of a matrix, a month far busier than the rest makes that too big."""
    rng = np.random.default_rng(3)
    per_month = rng.integers(0, 40, 300)
    per_month[:6] = [0, 1, 2, 0, 3, busiest]
    waits = rng.exponential(5, per_month.sum()) * (rng.random(per_month.sum()) < 0.7)
    figures = month_wait_figures(waits, per_month)
    starts = np.concatenate([[0], np.cumsum(per_month)])
    for month, count in enumerate(per_month):
        values = waits[starts[month]: starts[month + 1]]
        if count:
            assert figures[month, 1] == np.quantile(values, 0.9)
            assert figures[month, 0] == pytest.approx(values.mean(), rel=1e-14)
        else:
            assert np.isnan(figures[month]).all()
