"""The capacity planner: its answer meets the targets, one place fewer does not."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import SCENARIOS, exponential, level, scenario

import sim
from sim.cli import main


@pytest.fixture(scope="module")
def ward():
    return sim.load_scenario(SCENARIOS / "teaching_mmc.yaml").with_changes(
        {"run.days": 800, "run.warmup_days": 100, "run.replications": 6})


@pytest.fixture(scope="module")
def found(ward):
    return sim.plan(ward, ["wait_p90_days<=1", "occupancy<=0.9"], jobs=1, curve_width=2)


def test_the_answer_meets_every_target_and_one_place_fewer_does_not(found):
    row = found.capacities.iloc[0]
    planned = int(row["planned_capacity"])
    assert row["met"]
    curve = found.curve
    at = curve[curve["capacity"] == planned]
    below = curve[curve["capacity"] == planned - 1]
    assert at["met"].all() and not below["met"].all()
    p90 = at.query("metric == 'wait_p90_days'").iloc[0]
    assert p90["ci_high"] <= 1


def test_theory_gives_a_close_first_guess_and_the_curve_spans_the_answer(found):
    row = found.capacities.iloc[0]
    assert abs(row["theory_guess"] - row["planned_capacity"]) <= 3
    capacities = sorted(found.curve["capacity"].unique())
    assert capacities[0] <= row["planned_capacity"] - 2 and capacities[-1] >= row["planned_capacity"] + 2
    waits = found.curve.query("metric == 'wait_p90_days'").sort_values("capacity")["mean"]
    assert waits.is_monotonic_decreasing                     # more places, shorter waits


def test_the_planned_scenario_and_run_carry_the_answer(found):
    planned = int(found.capacities.iloc[0]["planned_capacity"])
    assert found.scenario.levels["ward"].capacity[0].capacity == planned
    assert found.results.scenario.levels["ward"].capacity[0].capacity == planned


def test_a_target_no_capacity_can_meet_is_reported():
    # the step-down level has one place and holds nobody back, but acute patients must wait for it
    blocked = scenario({
        "acute": level(4, exponential(2), {"step_down": 1}, referrals_per_year=365, when_next_full="hold"),
        "step_down": level(1, exponential(5), {"discharged": 1}),
    }, days=300, warmup_days=50, replications=3)
    found = sim.plan(blocked, ["wait_mean_days<=0.5"], levels=["acute"], jobs=1, max_capacity_factor=2)
    row = found.capacities.iloc[0]
    assert not row["met"] and pd.isna(row["planned_capacity"])
    assert "downstream" in row["note"]


def test_plan_command_writes_the_plan_and_refuses_bad_targets(tmp_path):
    args = ["plan", str(SCENARIOS / "teaching_mmc.yaml"), "--target", "wait_p90_days<=1", "--replications", "4",
            "--set", "run.days=500", "--jobs", "1", "--out", str(tmp_path / "plan")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "plan").iterdir()) == ["figures", "manifest.json", "plan.csv",
                                                                      "plan_curve.csv", "planned", "report.html"]
    assert json.loads((tmp_path / "plan" / "manifest.json").read_text())["kind"] == "plan"
    assert json.loads((tmp_path / "plan" / "planned" / "manifest.json").read_text())["kind"] == "run"
    assert (tmp_path / "plan" / "figures" / "plan_ward_wait_p90_days.png").exists()
    bad = CliRunner().invoke(main, ["plan", str(SCENARIOS / "teaching_mmc.yaml"), "--target", "wait<=1"])
    assert bad.exit_code == 2 and "wait_p90_days" in bad.output
    bad_level = CliRunner().invoke(main, ["plan", str(SCENARIOS / "teaching_mmc.yaml"), "--target",
                                          "occupancy<=0.9", "--levels", "wrd"])
    assert bad_level.exit_code == 2 and "wrd" in bad_level.output
