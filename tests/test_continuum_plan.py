"""The continuum planner: every level planned together, checked on fresh random numbers, no padding."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from conftest import SCENARIOS, exponential, level, scenario

import sim
from sim.cli import main
from sim.planning import meets, parse_target, theory_capacity, with_capacities

TARGET = "wait_p90_days<=7"


@pytest.fixture(scope="module")
def blocking():
    """Ward -> PHP -> IOP, each holding its patients until the next admits, all under-built today."""
    return scenario({
        "ward": level(20, exponential(8), {"php": 0.6, "discharged": 0.4}, referrals_per_year=1200,
                      when_next_full="hold"),
        "php": level(10, exponential(15), {"iop": 0.7, "discharged": 0.3}, referrals_per_year=100,
                     when_next_full="hold"),
        "iop": level(20, exponential(40), {"discharged": 1}, referrals_per_year=150),
    }, days=600, warmup_days=200, replications=6, seed=5)


@pytest.fixture(scope="module")
def planned(blocking):
    return sim.plan(blocking, [TARGET], jobs=2, curve_width=3)


def test_every_level_of_a_blocked_continuum_is_planned_and_met_on_fresh_numbers(planned):
    rows = planned.capacities.set_index("level")
    assert rows["met"].all(), rows["note"].tolist()
    assert (rows["planned_capacity"] > rows["current_capacity"]).all()
    targets = [parse_target(TARGET)]
    assert all(meets(planned.results, name, targets) for name in rows.index)
    assert planned.results.scenario.run.seed != planned.scenario.run.seed   # verified on other numbers


def test_the_plan_holds_on_yet_another_seed(planned):
    again = sim.run(planned.scenario, seed=planned.scenario.run.seed + 77, jobs=2, progress=False)
    summary = again.summary.set_index(["level", "metric"])
    for name in ["ward", "php", "iop"]:
        # on one more set of random numbers the mean is within the target (the interval may touch it)
        assert summary.loc[(name, "wait_p90_days"), "mean"] <= 7


def test_no_level_is_padded(planned, blocking):
    """Three places fewer at any level breaks a target somewhere (on the search's numbers)."""
    targets = [parse_target(TARGET)]
    capacities = planned.capacities.set_index("level")["planned_capacity"].astype(int).to_dict()
    for name, places in capacities.items():
        fewer = sim.run(with_capacities(blocking, {**capacities, name: places - 3}), jobs=2, progress=False)
        assert not all(meets(fewer, other, targets) for other in capacities), name


def test_each_curve_is_drawn_with_the_other_levels_at_their_planned_sizes(planned):
    for name, rows in planned.curve.groupby("level"):
        answer = int(planned.capacities.set_index("level").loc[name, "planned_capacity"])
        assert {answer - 3, answer, answer + 3} <= set(rows["capacity"])


def test_targets_for_one_level_with_spaces():
    ward = sim.load_scenario(SCENARIOS / "teaching_mmc.yaml").with_changes(
        {"run.days": 400, "run.warmup_days": 50, "run.replications": 4})
    found = sim.plan(ward, ["ward: wait_mean_days <= 0.5", " occupancy<=0.95 "], jobs=1, curve_width=0)
    assert set(found.curve["target"]) == {"ward:wait_mean_days<=0.5", "occupancy<=0.95"}
    result = CliRunner().invoke(main, ["plan", str(SCENARIOS / "teaching_mmc.yaml"), "--target", "icu: occupancy<=0.9"])
    assert result.exit_code == 2 and "'icu' is not a planned level" in result.output


def test_theory_guesses_every_metric_with_a_formula():
    """An M/M/c IOP at 3 a day for 3.5 days: Erlang C's smallest c with a mean wait within 8 hours."""
    found = theory_capacity(3.0, 3.5, [parse_target("wait_mean_days<=0.33")], 14)
    assert sim.theory.mmc(3.0, 3.5, found).wait_mean_days <= 0.33 < sim.theory.mmc(3.0, 3.5, found - 1).wait_mean_days
    share = theory_capacity(3.0, 3.5, [parse_target("wait_over_target_share<=0.05")], 1)
    assert sim.theory.mmc(3.0, 3.5, share).wait_over(1) <= 0.05 < sim.theory.mmc(3.0, 3.5, share - 1).wait_over(1)


def test_people_who_give_up_count_in_the_waits():
    """A tiny clinic whose patients give up after 10 days: without them the waits would look short."""
    clinic = scenario({"clinic": level(2, exponential(10), {"discharged": 1}, referrals_per_year=150,
                                       patience={"dist": "fixed", "value": 10}, gave_up={"discharged": 1})},
                      days=2000, warmup_days=100, replications=2)
    summary = sim.run(clinic, jobs=1, progress=False).summary.set_index(["level", "metric"])["mean"]
    given_up = summary[("clinic", "gave_up_or_turned_away_share")]
    assert given_up > 0.2
    # more than 10% of waits end at 10 days (given up), so the 90th and 95th percentiles are 10 days
    assert summary[("clinic", "wait_p90_days")] == pytest.approx(10)
    assert summary[("clinic", "wait_p95_days")] == pytest.approx(10)
    assert summary[("clinic", "wait_mean_days")] >= 0.9 * given_up * 10
