"""Every patient accounted for; same seed, same numbers; common random numbers across scenarios."""

from __future__ import annotations

import conftest
import pandas.testing as pdt
import pytest
from conftest import SCENARIOS, fixed, scenario

import sim


@pytest.fixture(scope="module")
def short_regional(regional):
    return regional.with_changes({"run.days": 200, "run.warmup_days": 100, "run.replications": 3})


@pytest.fixture(scope="module")
def serial(short_regional):
    return sim.run(short_regional, jobs=1, progress=False)


def test_patients_are_conserved_every_day(serial):
    states = serial.patients
    placed = states[["waiting", "in_treatment", "held", "at_risk", "gone"]].sum(axis=1)
    assert (placed == states["created"]).all()
    assert (states[["waiting", "in_treatment", "held", "at_risk", "gone"]] >= 0).all().all()
    assert states.groupby("replication")["created"].is_monotonic_increasing.all()
    assert states["at_risk"].max() > 0


def test_a_held_patient_is_counted_once_as_held():
    # two ward patients finish on day 1; the one step-down place takes one, the other is held 10 days
    s = scenario({"ward": conftest.level(2, fixed(1), {"step": 1}, initial={"census": 2}, when_next_full="hold"),
                  "step": conftest.level(1, fixed(10), {"discharged": 1})}, days=20)
    states = sim.run(s, jobs=1, progress=False).patients.set_index("day")
    assert states.loc[1:10, "held"].eq(1).all() and states.loc[11:, "held"].eq(0).all()
    assert states.loc[1:10, ["waiting", "in_treatment"]].values.tolist() == [[0, 1]] * 10
    placed = states[["waiting", "in_treatment", "held", "at_risk", "gone"]].sum(axis=1)
    assert (placed == states["created"]).all()


@pytest.mark.parametrize("file", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_bundled_scenario_conserves_patients(file):
    scenario = sim.load_scenario(file).with_changes({"run.days": 60, "run.warmup_days": 30, "run.replications": 1})
    states = sim.run(scenario, jobs=1, progress=False).patients
    placed = states[["waiting", "in_treatment", "held", "at_risk", "gone"]].sum(axis=1)
    assert (placed == states["created"]).all()


def test_same_seed_gives_identical_numbers_serial_or_parallel(short_regional, serial):
    again = sim.run(short_regional, jobs=1, progress=False)
    parallel = sim.run(short_regional, jobs=2, progress=False)
    for other in (again, parallel):
        pdt.assert_frame_equal(serial.replications, other.replications, check_exact=True)
        pdt.assert_frame_equal(serial.daily, other.daily, check_exact=True)


def test_another_seed_gives_other_numbers(short_regional, serial):
    other = sim.run(short_regional, seed=short_regional.run.seed + 1, jobs=1, progress=False)
    assert not serial.replications["value"].equals(other.replications["value"])


def test_common_random_numbers_keep_referrals_when_capacity_changes(short_regional, serial):
    fewer_php = short_regional.with_changes({"levels.php.capacity": 60})
    changed = sim.run(fewer_php, jobs=1, progress=False).replications
    base = serial.replications

    def pick(table, level, metric):
        return table.query("level == @level and metric == @metric")["value"].to_numpy()

    for level in short_regional.level_names:   # the same patients are referred everywhere
        assert (pick(base, level, "referrals_per_year") == pick(changed, level, "referrals_per_year")).all()
    assert (pick(changed, "php", "wait_mean_days") > pick(base, "php", "wait_mean_days")).all()
