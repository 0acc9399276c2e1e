"""The capacity planner: its answer meets the targets, one place fewer does not."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import SCENARIOS, exponential, level, scenario

import sim
from sim import planning
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


@pytest.mark.parametrize(("values", "target", "verdict"), [
    ([3.0, 3.2, 2.9, 3.1, 3.0, 3.05], "wait_p90_days<=14", True),     # far below: met
    ([20.0, 22.0, 19.0, 21.0, 20.5, 23.0], "wait_p90_days<=14", False),  # far above: missed
    ([13.0, 15.0, 12.5, 14.5, 16.0, 11.0], "wait_p90_days<=14", None),   # the interval straddles 14
    ([0.95, 0.96, 0.94, 0.95, 0.97, 0.96], "occupancy>=0.9", True),
    ([0.80, 0.82, 0.81, 0.79, 0.80, 0.83], "occupancy>=0.9", False),
])
def test_a_screening_decides_only_where_its_interval_lies_on_one_side(values, target, verdict):
    """Against the 95% t interval worked by hand: mean +- t(0.975, 5) s / sqrt(6)."""
    assert planning._verdict(planning.parse_target(target), pd.Series(values)) is verdict


def test_screening_saves_runs_and_leaves_the_answer_as_whole_runs_give_it(monkeypatch):
    """Theory, blind to beds blocked by a full step-down, guesses far too few places: those guesses are
    screened out on 6 replications, and the answer is the one a search on whole runs alone finds."""
    blocked = scenario({
        "acute": level(4, exponential(2), {"step_down": 0.5, "discharged": 0.5}, referrals_per_year=500,
                       when_next_full="hold"),
        "step_down": level(4, exponential(5), {"discharged": 1}),
    }, days=400, warmup_days=50, replications=12)
    targets = ["wait_mean_days<=0.5"]
    screened = sim.plan(blocked, targets, levels=["acute"], jobs=1)
    monkeypatch.setattr(planning, "SCREENING_REPLICATIONS", 100)      # 12 < 2 x 100: every capacity run whole
    whole = sim.plan(blocked, targets, levels=["acute"], jobs=1)
    pd.testing.assert_frame_equal(screened.capacities, whole.capacities)
    answer = int(screened.capacities.iloc[0]["planned_capacity"])
    curve = screened.curve.set_index("capacity")["replications"]
    assert curve[answer] == 12 and curve[answer - 1] == 12              # the answer and one fewer: whole runs
    guess = screened.capacities.iloc[0]["theory_guess"]
    assert answer >= guess + 10 and curve[guess] == 6                  # theory's guess, far off, was screened out
    assert set(whole.curve["replications"]) == {12}
