"""Scenario comparison on common random numbers, and the output-analysis pieces behind it."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SCENARIOS
from scipy import stats

import sim
from sim.analysis import mser5_warmup, paired_difference, replications_needed, welch_difference


@pytest.fixture(scope="module")
def base():
    return sim.load_scenario(SCENARIOS / "teaching_mmc.yaml").with_changes(
        {"run.days": 400, "run.warmup_days": 50, "run.replications": 8})


def row(table, metric, level="ward"):
    return table.query("level == @level and metric == @metric").iloc[0]


def test_more_places_clearly_shorten_waits_and_leave_referrals_alone(base):
    table = sim.compare(base, base.with_changes({"levels.ward.capacity": 22}), progress=False, jobs=1)
    wait = row(table, "wait_mean_days")
    assert wait["difference"] < 0 and wait["ci_high"] < 0 and wait["clear"]
    assert wait["difference"] == pytest.approx(wait["alternative"] - wait["base"])
    referrals = row(table, "referrals_per_year")      # the same patients arrive in both
    assert (referrals["difference"], referrals["ci_low"], referrals["ci_high"]) == (0, 0, 0)
    assert not referrals["clear"]
    assert set(table["method"]) == {"paired (common random numbers)"}


def test_common_random_numbers_narrow_the_interval(base):
    alternative = base.with_changes({"levels.ward.capacity": 21})
    paired = row(sim.compare(base, alternative, progress=False, jobs=1), "wait_mean_days")
    independent = row(sim.compare(base, alternative, common_random_numbers=False, progress=False, jobs=1),
                      "wait_mean_days")
    assert independent["method"] == "independent (Welch)"
    assert paired["ci_high"] - paired["ci_low"] < 0.8 * (independent["ci_high"] - independent["ci_low"])


def test_compare_takes_files_and_names_each_scenario(tmp_path, base):
    alternative = tmp_path / "bigger.yaml"
    alternative.write_text(base.with_changes({"levels.ward.capacity": 24, "name": "Bigger ward"}).to_yaml())
    table = sim.compare(SCENARIOS / "teaching_mmc.yaml", alternative, replications=3,
                        progress=False, jobs=1)
    assert set(table["scenario"]) == {"Bigger ward"}
    assert (table["replications"] <= 3).all()


def test_a_changed_copy_is_named_by_what_it_changes(base):
    table = sim.compare(base, base.with_changes({"levels.ward.capacity": 22}),
                        base.with_changes({"levels.ward.capacity": 22, "run.wait_target_days": 3}),
                        replications=2, progress=False, jobs=1)
    assert list(dict.fromkeys(table["scenario"])) == [
        "levels.ward.capacity=22", "run.wait_target_days=3.0, levels.ward.capacity=22"]


def test_paired_and_welch_intervals_by_hand():
    rng = np.random.default_rng(3)
    a, b = rng.normal(10, 2, 12), rng.normal(11, 3, 15)
    mean, low, high, _, _ = welch_difference(a, b)
    expected = stats.ttest_ind(b, a, equal_var=False).confidence_interval(0.95)
    assert (low, high) == pytest.approx((expected.low, expected.high))
    assert mean == pytest.approx(b.mean() - a.mean())
    mean, low, high, _, count = paired_difference([1, 2, 3], [2, 4, 6])
    assert (mean, count) == (2, 3)
    assert (low, high) == pytest.approx((2 - 4.302653 * 1 / np.sqrt(3), 2 + 4.302653 / np.sqrt(3)))


def test_mser5_finds_the_end_of_a_ramp():
    rng = np.random.default_rng(1)
    series = np.concatenate([np.linspace(0, 100, 300), 100 + rng.normal(0, 5, 1200)])
    assert 250 <= mser5_warmup(series) <= 330
    assert mser5_warmup(100 + rng.normal(0, 5, 1000)) <= 100   # nothing to cut, little is cut


def test_replications_needed_by_hand():
    values = [9.0, 10.0, 11.0, 10.0]        # mean 10, sd 0.8165
    t = stats.t.ppf(0.975, 3)
    assert replications_needed(values, 0.05) == int(np.ceil((t * 0.8165 / 0.5) ** 2))
    assert replications_needed([0.0, 0.0, 0.0], 0.05) == 3
    assert replications_needed([10.0] * 5 + [10.001], 0.05) == 6


def test_results_show_the_run_and_its_headline_not_every_table(base):
    results = sim.run(base, replications=2, progress=False, jobs=1)
    for shown in (repr(results), results._repr_html_()):
        assert base.name in shown and "wait_p90_days" in shown and "2 replications" in shown
        assert len(shown) < 5000           # the daily table alone would be thousands of rows


COLUMNS_BEFORE = ["scenario", "level", "metric", "base", "alternative", "difference", "ci_low", "ci_high",
                  "relative_change", "clear", "replications", "method"]


def test_each_scenarios_own_interval_comes_beside_the_difference(base):
    short = base.with_changes({"run.replications": 3})
    bigger = short.with_changes({"levels.ward.capacity": 22})
    table = sim.compare(short, bigger, progress=False, jobs=1)
    assert list(table.columns) == [*COLUMNS_BEFORE, "base_ci_low", "base_ci_high", "alternative_ci_low",
                                   "alternative_ci_high"]           # appended: the old columns keep their places
    for side, scenario in (("base", short), ("alternative", bigger)):
        summary = sim.run(scenario, progress=False, jobs=1).summary.set_index(["level", "metric"])
        own = table.set_index(["level", "metric"])
        for column in ("ci_low", "ci_high"):
            assert own[f"{side}_{column}"].to_numpy() == pytest.approx(
                summary.loc[own.index, column].to_numpy(), nan_ok=True)
        assert own[side].to_numpy() == pytest.approx(summary.loc[own.index, "mean"].to_numpy(), nan_ok=True)
    wait = row(table, "wait_mean_days")
    assert wait["base_ci_low"] < wait["base"] < wait["base_ci_high"]


def test_a_level_in_one_scenario_only_keeps_that_scenarios_own_interval(base):
    short = base.with_changes({"run.replications": 3, "run.days": 200})
    data = short.to_dict()
    data["levels"] = {"crisis": {"capacity": 3, "los": {"dist": "exponential", "mean": 2},
                                 "next": {"ward": 0.3, "discharged": 0.7}, "referrals_per_year": 200},
                      **data["levels"]}
    table = sim.compare(short, sim.validate(data), progress=False, jobs=1)
    crisis = table[table["level"] == "crisis"]
    assert crisis[["base", "base_ci_low", "base_ci_high"]].isna().all().all()
    admissions = row(crisis, "admissions_per_year", "crisis")
    assert admissions["alternative_ci_low"] <= admissions["alternative"] <= admissions["alternative_ci_high"]
