"""The Python API checks what it is given at its edge, in the command line's words, before anything runs.

A bad setting raises one error the command line already turns into exit status 2 (a
``sim.ScenarioError``, and a ``ValueError`` as Python code expects), naming the setting, the
value and what is allowed; numpy numbers count as the numbers they are; a planner comparing
a scenario with a new level gets the shared levels compared and the new one named.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import SCENARIOS, exponential, level, scenario

import sim
from sim.cli import main

TEACHING = SCENARIOS / "teaching_mmc.yaml"
CAPACITY = "levels.ward.capacity"


@pytest.fixture(scope="module")
def ward() -> sim.Scenario:
    return scenario({"ward": level(20, exponential(4), {"discharged": 1}, referrals_per_year=4.5 * 365)},
                    days=60, replications=2)


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


# ---------------------------------------------------------------------------- settings
@pytest.mark.parametrize(("settings", "expected"), [
    ({"jobs": 0}, "jobs = 0: should be a whole number of processes, 1 or more"),
    ({"jobs": -3}, "jobs = -3: should be a whole number of processes, 1 or more"),
    ({"jobs": "2"}, "jobs = '2': should be a whole number of processes"),
    ({"precision": 0}, "precision = 0: should be a share of the mean above 0 and at most 1"),
    ({"precision": -0.1}, "precision = -0.1: should be a share of the mean"),
    ({"precision": 1.5}, "precision = 1.5: should be a share of the mean"),
    ({"precision": 0.1, "max_replications": 0}, "max_replications = 0: should be a whole number of replications"),
    ({"replications": 0}, "replications = 0: should be a whole number of replications, 1 to 100000"),
    ({"replications": -2}, "replications = -2: should be a whole number of replications"),
    ({"replications": 2.5}, "replications = 2.5: should be a whole number of replications"),
    ({"seed": -1}, "seed = -1: should be a whole number, 0 or more"),
    ({"executor": "threads"}, "executor = 'threads': should be one of serial, processes, dask"),
])
def test_run_refuses_a_bad_setting_naming_it(ward, settings, expected):
    with pytest.raises(sim.ScenarioError) as caught:
        sim.run(ward, progress=False, **settings)
    assert isinstance(caught.value, ValueError)
    assert str(caught.value).startswith("sim.run: 1 problem in the settings")
    assert expected in str(caught.value)


def test_run_given_a_file_name_says_to_load_it():
    with pytest.raises(sim.ScenarioError, match=r"should be a Scenario: load the file first, sim\.load_scenario"):
        sim.run(str(TEACHING), progress=False)


@pytest.mark.parametrize("call", [
    lambda ward: sim.compare(ward, ward, jobs=0, progress=False),
    lambda ward: sim.sweep(ward, {CAPACITY: [19, 20]}, jobs=0, progress=False),
    lambda ward: sim.plan(ward, ["wait_p90_days<=1"], jobs=0),
], ids=["compare", "sweep", "plan"])
def test_compare_sweep_and_plan_check_their_settings_too(ward, call):
    with pytest.raises(sim.ScenarioError, match=r"jobs = 0: should be a whole number of processes, 1 or more"):
        call(ward)


@pytest.mark.parametrize(("option", "value", "expected"), [
    ("--jobs", "0", "--jobs = 0: should be a whole number of processes, 1 or more"),
    ("--replications", "0", "--replications = 0: should be a whole number of replications, 1 to 100000"),
    ("--precision", "0", "should be a share of the mean above 0 and at most 1"),
    ("--max-replications", "0", "--max-replications = 0: should be a whole number of replications"),
])
def test_the_command_line_says_what_the_api_says(tmp_path, option, value, expected):
    result = invoke("run", TEACHING, option, value, "--out", tmp_path / "never", "--no-report")
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: continuum run: 1 problem in the settings"), result.output
    assert expected in result.output
    assert not (tmp_path / "never").exists()


# ---------------------------------------------------------------------------- numpy numbers
def test_numpy_numbers_are_the_numbers_they_are(ward, tmp_path):
    changed = ward.with_changes({CAPACITY: np.int64(22), "levels.ward.referrals_per_year": np.float64(900)})
    assert changed.levels["ward"].capacity[0].capacity == 22
    data = ward.to_dict()
    data["levels"]["ward"]["capacity"] = np.int32(18)
    assert sim.validate(data).levels["ward"].capacity[0].capacity == 18
    assert sim.load_scenario(TEACHING, {CAPACITY: np.int64(21)}).levels["ward"].capacity[0].capacity == 21
    results = sim.run(ward, replications=np.int64(2), seed=np.int64(3), jobs=np.int64(1), progress=False)
    folder = sim.write_results(results, tmp_path / "run", report=False)
    assert json.loads((folder / "run.json").read_text())["jobs"] == 1
    for flag in (True, np.bool_(True)):   # a yes/no is still not a number of places
        with pytest.raises(sim.ScenarioError, match="capacity is a whole number of places"):
            ward.with_changes({CAPACITY: flag})


# ---------------------------------------------------------------------------- sweep grids
def test_a_generator_grid_is_recorded_whole(ward, tmp_path):
    table = sim.sweep(ward, {CAPACITY: (capacity for capacity in [19, 21])}, out=tmp_path / "sweep", jobs=1,
                      progress=False)
    assert sorted(table[CAPACITY].unique()) == [19, 21]
    record = json.loads((tmp_path / "sweep" / "sweep.json").read_text())
    assert record["grid"] == {CAPACITY: [19, 21]}


# ---------------------------------------------------------------------------- plan targets
def test_plan_refuses_no_targets(ward):
    with pytest.raises(sim.ScenarioError, match=r"targets = \[\]: give at least one target"):
        sim.plan(ward, [], jobs=1)


@pytest.mark.parametrize(("target", "expected"), [
    ("wait_p90_days<=-1", "wait_p90_days<=-1: a target for wait_p90_days should be 0 or more"),
    ("occupancy<=1.5", "occupancy<=1.5: a target for occupancy should be above 0 and at most 1"),
    ("occupancy<=0", "a target for occupancy should be above 0"),
    ("wait_p90_days<=1e", "'wait_p90_days<=1e' is not METRIC<=VALUE"),
])
def test_plan_refuses_a_target_no_level_can_take(tmp_path, target, expected):
    result = invoke("plan", TEACHING, "--target", target, "--jobs", "1", "--out", tmp_path / "never")
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: --target: 1 problem in the settings"), result.output
    assert expected in result.output
    with pytest.raises(sim.ScenarioError, match="sim.plan: 1 problem in the settings"):
        sim.plan(sim.load_scenario(TEACHING), [target], jobs=1)


def test_a_new_level_at_zero_places_is_planned_from_the_load_it_will_carry():
    # 2 a day staying 4 days: 8 places busy on average, about 10 for a mean wait within a day
    new = scenario({"ward": level(0, exponential(4), {"discharged": 1}, referrals_per_year=2 * 365)},
                   days=300, warmup_days=50, replications=3)
    row = sim.plan(new, ["wait_mean_days<=1"], jobs=1).capacities.iloc[0]
    assert row["met"], row["note"]
    assert row["current_capacity"] == 0 and row["theory_guess"] >= 9
    assert 9 <= row["planned_capacity"] <= 13


# ---------------------------------------------------------------------------- compare
def _with_crisis_unit(today: sim.Scenario) -> sim.Scenario:
    data = today.to_dict()
    data["name"] = "with a crisis unit"
    data["levels"] = {"crisis": level(3, exponential(2), {"ward": 0.3, "discharged": 0.7}, referrals_per_year=200),
                      **data["levels"]}
    return sim.validate(data)


def test_compare_pairs_the_shared_levels_and_names_a_new_one(ward):
    crisis = _with_crisis_unit(ward)
    for base, alternative, side in ((ward, crisis, "alternative"), (crisis, ward, "base")):
        table = sim.compare(base, alternative, jobs=1, progress=False)
        assert set(table["level"]) == {"ward", "crisis", "all"}
        paired = table[table["level"] != "crisis"]
        assert (paired["method"] == "paired (common random numbers)").all()
        new = table[table["level"] == "crisis"]
        assert (new["method"] == f"not compared: in the {side} only").all()
        assert new["difference"].isna().all() and new[side].notna().any()


def test_compare_command_names_the_levels_left_out(ward, tmp_path):
    today, crisis = tmp_path / "today.yaml", tmp_path / "crisis.yaml"
    today.write_text(ward.to_yaml(), encoding="utf-8")
    crisis.write_text(_with_crisis_unit(ward).to_yaml(), encoding="utf-8")
    result = invoke("compare", crisis, today, "--jobs", "1", "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "Not compared" in result.output and "crisis (in with a crisis unit, not in test)" in result.output


# ---------------------------------------------------------------------------- warm-up pilot
def test_auto_warmup_does_not_depend_on_the_number_of_replications():
    filling = scenario({"ward": level(60, exponential(20), {"discharged": 1}, referrals_per_year=2 * 365)},
                       warmup_days="auto", days=200)
    few = sim.run(filling, replications=3, jobs=1, progress=False)
    more = sim.run(filling, replications=6, jobs=1, progress=False)
    assert few.meta["warmup"] == more.meta["warmup"]
    first = more.replications[more.replications["replication"] < 3].reset_index(drop=True)
    assert few.replications.reset_index(drop=True).equals(first)
