"""A forecast from a given day: ``run.start_date`` (calendar dates), ``monthly.csv`` and ``Results.monthly``.

The monthly figures are checked against the daily table and the run's own totals, computed here
independently of ``sim.results``.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from conftest import ROOT

import sim
from sim.arrivals import referral_rates, season_months
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
