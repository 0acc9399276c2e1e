"""The simulation against queueing theory: Erlang C, Jackson networks, Little's law."""

from __future__ import annotations

import pytest
from conftest import SCENARIOS, exponential, level, scenario

import sim


def estimate(results: sim.Results, level_name: str, metric: str):
    row = results.summary.query("level == @level_name and metric == @metric").iloc[0]
    return row["mean"], row["ci_low"], row["ci_high"]


def assert_within_interval(results, level_name, metric, expected):
    mean, low, high = estimate(results, level_name, metric)
    simulated = f"simulated {mean:.4g} ({low:.4g}-{high:.4g})"
    assert low <= expected <= high, f"{level_name}.{metric}: theory {expected:.4g}, {simulated}"


@pytest.mark.parametrize("servers", [20, 24])   # occupancy 0.90 and 0.75
def test_single_level_matches_erlang_c(servers):
    mmc = sim.load_scenario(SCENARIOS / "teaching_mmc.yaml").with_changes({"levels.ward.capacity": servers})
    theory = sim.theory.mmc(arrival_rate=4.5, mean_stay=4, servers=servers)
    results = sim.run(mmc, progress=False)
    assert_within_interval(results, "ward", "wait_mean_days", theory.wait_mean_days)
    assert_within_interval(results, "ward", "waitlist_mean", theory.waitlist_mean)
    assert_within_interval(results, "ward", "occupancy", theory.occupancy)
    assert_within_interval(results, "ward", "wait_over_target_share", theory.wait_over(1.0))


def test_tandem_with_release_matches_jackson_network():
    # acute -> step-down (60%), step-down -> community (80%) or back to acute (20%)
    s = scenario({
        "acute": level(8, exponential(2), {"step_down": 0.6, "discharged": 0.4},
                       referrals_per_year=3 * 365, when_next_full="release"),
        "step_down": level(8, exponential(3), {"acute": 0.2, "discharged": 0.8}, when_next_full="release"),
    }, days=3000, warmup_days=200, replications=20, seed=11)
    nodes = sim.theory.jackson_network([3, 0], [[0, 0.6], [0.2, 0]], [2, 3], [8, 8])
    results = sim.run(s, progress=False)
    for name, node in zip(["acute", "step_down"], nodes, strict=True):
        assert_within_interval(results, name, "arrivals_per_year", node.arrival_rate * 365)
        assert_within_interval(results, name, "waitlist_mean", node.waitlist_mean)
        assert_within_interval(results, name, "wait_mean_days", node.wait_mean_days)
        assert_within_interval(results, name, "census_mean", node.census_mean)


def test_littles_law_holds_per_level():
    """Census = admissions x time in place, and waitlist = admissions x wait, on a network with
    lognormal stays, bed blocking, patience and relapse (not a product-form network)."""
    lognormal = {"dist": "lognormal", "median": 5, "p90": 15}
    s = scenario({
        "acute": level(12, lognormal, {"php": 0.5, "dropped_out": 0.1, "discharged": 0.4},
                       referrals_per_year=380, when_next_full="hold"),
        "php": level(8, exponential(6), {"discharged": 0.9, "acute": 0.1}, waitlist="transfers_first",
                     referrals_per_year=150, patience=exponential(10), gave_up={"acute": 0.3, "discharged": 0.7}),
    }, relapse={"after_dropped_out": {"probability": 0.5, "time": exponential(30)}, "return_to": {"acute": 1}},
        days=2000, warmup_days=200, replications=4, seed=5)
    results = sim.run(s, progress=False, keep_episodes=True)
    episodes = results.episodes.query("arrived_day >= 0")
    # time on the waitlist ends at admission, or at giving up for those who do
    waited = episodes["admitted_day"].fillna(episodes["left_day"]) - episodes["arrived_day"]
    for name in s.level_names:
        admissions_per_day = estimate(results, name, "admissions_per_year")[0] / 365
        in_place = estimate(results, name, "time_in_place_mean_days")[0]
        census = estimate(results, name, "census_mean")[0]
        assert census == pytest.approx(admissions_per_day * in_place, rel=0.02), name
        mine = episodes["level"] == name
        arrivals_per_day = estimate(results, name, "arrivals_per_year")[0] / 365
        waitlist = estimate(results, name, "waitlist_mean")[0]
        assert waitlist == pytest.approx(arrivals_per_day * waited[mine].mean(), rel=0.03), name
    assert estimate(results, "acute", "blocked_days_per_year")[0] > 0
    assert estimate(results, "php", "gave_up_per_year")[0] > 0
