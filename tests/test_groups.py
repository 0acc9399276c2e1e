"""Patient groups: one continuum, several kinds of patient sharing its places.

Checked against multi-class queueing theory (Erlang B's insensitivity, Erlang C, Cobham's
priority queue), against the level's own books (the groups' counts add up to the level's), per
group by Little's law, byte for byte against the same scenario without groups, and from the
planner's side for bad input.
"""

from __future__ import annotations

import filecmp
import math

import pandas as pd
import pytest
from conftest import SCENARIOS, exponential, level
from test_bad_input import assert_bad_input, invoke

import sim
from sim import theory

GOLDEN = SCENARIOS.parent / "tests" / "golden" / "small_continuum.yaml"


def two_groups(levels: dict, groups: dict, days: int = 4000, replications: int = 4,
               relapse: dict | None = None) -> sim.Scenario:
    data = {"name": "groups", "run": {"warmup_days": 200, "days": days, "replications": replications, "seed": 5},
            "levels": levels, "groups": groups, **({"relapse": relapse} if relapse else {})}
    return sim.validate(data)


def by_group(results: sim.Results, metric: str, level_name: str) -> dict[str, float]:
    rows = results.groups.query("metric == @metric and level == @level_name")
    return dict(zip(rows["group"], rows["mean"], strict=True))


def run(s: sim.Scenario) -> sim.Results:
    return sim.run(s, jobs=1, progress=False)


# ---------------------------------------------------------------------------- one group is no groups
def test_one_group_is_the_scenario_without_groups_byte_for_byte(tmp_path):
    text = GOLDEN.read_text(encoding="utf-8")
    with_group = tmp_path / "one_group.yaml"
    with_group.write_text(text + "groups:\n  everyone: {}\n", encoding="utf-8")
    for name, path in (("plain", GOLDEN), ("grouped", with_group)):
        done = invoke("run", path, "--out", tmp_path / name, "--quiet", "--no-report", "--jobs", "1")
        assert done.exit_code == 0, done.output
    for table in ("summary.csv", "replications.csv", "daily.csv", "staffing.csv"):
        assert filecmp.cmp(tmp_path / "plain" / table, tmp_path / "grouped" / table, shallow=False), table
    # monthly.csv gains the group's rows and a last column, group; the totals' rows are the same text
    plain_months = (tmp_path / "plain" / "monthly.csv").read_text().splitlines()
    grouped_months = (tmp_path / "grouped" / "monthly.csv").read_text().splitlines()
    assert grouped_months[0] == plain_months[0] + ",group"
    assert [line.removesuffix(",all") for line in grouped_months[1: len(plain_months)]] == plain_months[1:]
    assert grouped_months[len(plain_months)].endswith(",everyone")
    assert not (tmp_path / "plain" / "groups.csv").exists()
    groups = pd.read_csv(tmp_path / "grouped" / "groups.csv")
    summary = pd.read_csv(tmp_path / "plain" / "summary.csv")
    assert list(groups.columns) == ["group", "level", "metric", *summary.columns[2:]]
    merged = groups.drop(columns="group").merge(summary, on=["level", "metric"], suffixes=("", "_all"))
    assert len(merged) == len(groups) and set(groups["group"]) == {"everyone"}
    pd.testing.assert_series_equal(merged["mean"], merged["mean_all"], check_names=False)


# ---------------------------------------------------------------------------- multi-class queueing theory
def test_loss_is_erlang_b_for_every_group_whatever_its_stay():
    """Erlang B is insensitive to who stays how long: both groups lose B(c, total load)."""
    ward = level(10, exponential(2), {"discharged": 1}, referrals_per_year=365 * 2.4, when_full="turn_away")
    groups = {"short": {"share_of_referrals": {"ward": 0.5}},
              "long": {"share_of_referrals": {"ward": 0.5}, "levels": {"ward": {"los": exponential(12)}}}}
    results = run(two_groups({"ward": ward}, groups, days=6000))
    load = 1.2 * 2 + 1.2 * 12
    lost = by_group(results, "gave_up_or_turned_away_share", "ward")
    assert lost == pytest.approx({"short": theory.erlang_b(10, load), "long": theory.erlang_b(10, load)}, abs=0.012)


def test_first_come_first_served_waits_are_erlang_c_for_every_group():
    ward = level(10, exponential(5), {"discharged": 1}, referrals_per_year=365 * 1.6)
    groups = {"a": {"share_of_referrals": {"ward": 0.25}}, "b": {"share_of_referrals": {"ward": 0.75}}}
    results = run(two_groups({"ward": ward}, groups, days=8000))
    expected = theory.mmc(1.6, 5, 10).wait_mean_days
    waits = by_group(results, "wait_mean_days", "ward")
    assert waits == pytest.approx({"a": expected, "b": expected}, rel=0.12)


def test_priority_waits_follow_cobham_for_each_rank():
    ward = level(6, exponential(4), {"discharged": 1}, referrals_per_year=365 * 1.35, priority=["urgent"])
    groups = {"urgent": {"share_of_referrals": {"ward": 1 / 3}}, "routine": {"share_of_referrals": {"ward": 2 / 3}}}
    results = run(two_groups({"ward": ward}, groups, days=8000))
    urgent, routine = theory.priority_mmc([0.45, 0.9], mean_stay=4, servers=6)
    waits = by_group(results, "wait_mean_days", "ward")
    assert waits == pytest.approx({"urgent": urgent, "routine": routine}, rel=0.12)
    assert waits["urgent"] < waits["routine"] / 3


# ---------------------------------------------------------------------------- the groups add up
CONTINUUM = {
    "ward": level(12, exponential(6), {"clinic": 0.6, "discharged": 0.2, "dropped_out": 0.2},
                  referrals_per_year=500, when_next_full="hold", patience=exponential(20),
                  gave_up={"dropped_out": 1}),
    "clinic": level(60, exponential(40), {"discharged": 0.8, "dropped_out": 0.2}, referrals_per_year=300),
    "teen_clinic": level(15, exponential(30), {"discharged": 1}, accepts=["teen"]),
}
CONTINUUM_GROUPS = {
    "adult": {"share_of_referrals": {"ward": 0.6, "clinic": 0.8}},
    "sud": {"share_of_referrals": {"ward": 0.3, "clinic": 0.2},
            "levels": {"ward": {"los": exponential(3)}, "clinic": {"next": {"discharged": 0.5, "dropped_out": 0.5}}},
            "relapse": {"after_dropped_out": {"probability": 0.8, "time": exponential(20)}}},
    "teen": {"share_of_referrals": {"ward": 0.1}, "referrals_per_year": {"teen_clinic": 40},
             "levels": {"ward": {"next": {"teen_clinic": 0.7, "discharged": 0.3}}}},
}
RELAPSE = {"after_dropped_out": {"probability": 0.5, "time": exponential(60)}, "return_to": {"ward": 1}}


@pytest.fixture(scope="module")
def continuum() -> sim.Results:
    s = two_groups(CONTINUUM, CONTINUUM_GROUPS, days=1500, replications=3, relapse=RELAPSE)
    return sim.run(s, jobs=1, progress=False, keep_episodes=True)


def test_the_groups_add_up_to_the_level(continuum):
    groups = continuum.groups.groupby(["level", "metric"])["mean"].sum()
    summary = continuum.summary.set_index(["level", "metric"])["mean"]
    for metric in ("arrivals_per_year", "admissions_per_year", "referrals_per_year", "gave_up_per_year",
                   "census_mean", "waitlist_mean", "blocked_days_per_year", "occupancy"):
        for name in CONTINUUM:
            assert groups[(name, metric)] == pytest.approx(summary[(name, metric)], rel=1e-9, abs=1e-9), (name, metric)


def test_the_groups_months_add_up_to_the_levels(continuum):
    totals = continuum.monthly.set_index(["level", "month", "metric"])["mean"]
    groups = continuum.group_monthly.groupby(["level", "month", "metric"])["mean"].sum()
    for metric in ("arrivals", "admissions", "census_mean", "waitlist_mean"):
        chosen = totals.xs(metric, level="metric")
        assert groups.xs(metric, level="metric").reindex(chosen.index).to_numpy() == pytest.approx(
            chosen.to_numpy(), rel=1e-9, abs=1e-9), metric


def test_every_groups_counts_match_its_patients_episodes(continuum):
    """Conservation per group: the tallies behind groups.csv count exactly the group's own episodes (arrivals
    and admissions in the measured period), replication by replication."""
    years = continuum.scenario.run.days / 365
    rows = continuum.group_replications.set_index(["replication", "group", "level", "metric"])["value"]
    episodes = continuum.episodes
    measured = episodes[(episodes["arrived_day"] >= 0)]
    for (replication, group, name), visits in measured.groupby(["replication", "group", "level"]):
        arrived = rows[(replication, group, name, "arrivals_per_year")] * years
        assert arrived == pytest.approx(len(visits)), (group, name)
    admitted = episodes[(episodes["admitted_day"] >= 0)].groupby(["replication", "group", "level"]).size()
    for (replication, group, name), count in admitted.items():
        assert rows[(replication, group, name, "admissions_per_year")] * years == pytest.approx(count), (group, name)


def test_littles_law_holds_per_group_and_level(continuum):
    rows = continuum.groups.set_index(["group", "level", "metric"])["mean"]
    for group in CONTINUUM_GROUPS:
        for name in CONTINUUM:
            if (group, name, "admissions_per_year") not in rows.index:
                assert CONTINUUM[name].get("accepts") and group not in CONTINUUM[name]["accepts"]
                continue
            admitted = rows[(group, name, "admissions_per_year")] / 365
            if not admitted:
                assert rows[(group, name, "census_mean")] == 0
                continue
            assert rows[(group, name, "census_mean")] == pytest.approx(
                admitted * rows[(group, name, "time_in_place_mean_days")], rel=0.06), (group, name)


def test_a_group_only_goes_where_it_is_accepted_and_follows_its_own_rules(continuum):
    episodes = continuum.episodes
    assert set(episodes.query("level == 'teen_clinic'")["group"]) == {"teen"}
    stays = episodes.query("level == 'ward' and status == 'left'").groupby("group")["stay_days"].mean()
    assert stays["sud"] == pytest.approx(3, rel=0.15) and stays["adult"] == pytest.approx(6, rel=0.15)
    routes = episodes.query("level == 'clinic' and status == 'left'").groupby("group")["route"]
    dropped = routes.apply(lambda route: (route == "dropped_out").mean())
    assert dropped["sud"] == pytest.approx(0.5, abs=0.08) and dropped["adult"] == pytest.approx(0.2, abs=0.06)


def test_adding_a_group_shifts_no_other_groups_numbers():
    groups = {"a": {"share_of_referrals": {"ward": 0.5}}, "b": {"share_of_referrals": {"ward": 0.5}}}
    ward = level(8, exponential(5), {"discharged": 1}, referrals_per_year=300)
    clinic = level(8, exponential(5), {"discharged": 1}, referrals_per_year=0)
    two = two_groups({"ward": ward, "clinic": clinic}, groups, days=400, replications=2)
    three = two.with_changes({"groups.c": {"referrals_per_year": {"clinic": 100}}})
    referred = [by_group(run(s), "referrals_per_year", "ward") for s in (two, three)]
    assert referred[0] == {key: referred[1][key] for key in ("a", "b")}


def test_the_same_seed_gives_the_same_group_numbers_serial_or_parallel():
    s = two_groups(CONTINUUM, CONTINUUM_GROUPS, days=300, replications=2, relapse=RELAPSE)
    serial, parallel = (sim.run(s, jobs=jobs, progress=False).groups for jobs in (1, 2))
    pd.testing.assert_frame_equal(serial, parallel)


# ---------------------------------------------------------------------------- bad input
GROUPED = """\
name: Groups bad input
run: {warmup_days: 10, days: 100, replications: 2, seed: 1}
levels:
  ward:
    capacity: 20
    los: {dist: exponential, mean: 4}
    referrals_per_year: 500
    next: {clinic: 0.5, discharged: 0.5}
  clinic:
    capacity: 50
    los: {dist: exponential, mean: 30}
    next: {discharged: 1}
    accepts: [adult]
groups:
  adult: {share_of_referrals: {ward: 0.8}}
  teen:
    share_of_referrals: {ward: 0.2}
    levels: {ward: {next: {discharged: 1}}}
"""

BAD_GROUPS = {
    "unknown group in accepts": (GROUPED.replace("accepts: [adult]", "accepts: [adults]"),
                                 ["line 13", "levels.clinic.accepts.0", "'adults' is not a patient group",
                                  "did you mean 'adult'?", "groups: adult, teen"]),
    "shares that do not sum to 1": (GROUPED.replace("{ward: 0.2}", "{ward: 0.3}"),
                                    ["levels.ward.referrals_per_year", "share_of_referrals at ward must sum to 1",
                                     "adult: 0.8, teen: 0.3"]),
    "route to a level that refuses the group": (
        GROUPED.replace("    levels: {ward: {next: {discharged: 1}}}\n", ""),
        ["levels.ward.next.clinic", "group 'teen' goes from ward to clinic", "clinic accepts only adult"]),
    "group route to a level that refuses it": (
        GROUPED.replace("{next: {discharged: 1}}", "{next: {clinic: 1}}"),
        ["groups.teen.levels.ward.next.clinic", "group 'teen' goes from ward to clinic"]),
    "group with no way to arrive": (GROUPED + "  idle: {}\n",
                                    ["line 19", "groups.idle", "has no way to arrive"]),
    "group key naming no level": (GROUPED.replace("{ward: 0.8}", "{wards: 0.8, ward: 0.8}"),
                                  ["groups.adult.share_of_referrals.wards", "'wards' is not a level",
                                   "did you mean 'ward'?"]),
    "priority for a group the level refuses": (
        GROUPED.replace("    accepts: [adult]\n", "    accepts: [adult]\n    priority: [teen]\n"),
        ["levels.clinic.priority.0", "'teen' is not a group clinic accepts (accepts: adult)"]),
    "a group listed twice": (GROUPED.replace("accepts: [adult]", "accepts: [adult, adult]"),
                             ["levels.clinic.accepts.1", "'adult' is listed twice"]),
    "rules at a level that refuses the group": (
        GROUPED.replace("levels: {ward: {next: {discharged: 1}}}",
                        "levels: {ward: {next: {discharged: 1}}, clinic: {los: {dist: fixed, value: 3}}}"),
        ["groups.teen.levels.clinic", "clinic does not take teen", "would never be used"]),
    "referrals at a level nobody has a share of": (
        GROUPED.replace("    next: {discharged: 1}\n    accepts", "    referrals_per_year: 100\n"
                                                                   "    next: {discharged: 1}\n    accepts"),
        ["levels.clinic.referrals_per_year", "100 referrals a year, but no group has a share of them"]),
}


BAD_GROUPS["a group's referrals too many to run"] = (
    GROUPED.replace("share_of_referrals: {ward: 0.2}",
                    "share_of_referrals: {ward: 0.2}\n    referrals_per_year: {ward: 1.0e12}"),
    ["too big to start", "groups.teen.referrals_per_year.ward = 1e+12"])


@pytest.mark.parametrize("text, expected", BAD_GROUPS.values(), ids=BAD_GROUPS.keys())
def test_bad_groups_are_explained_and_nothing_is_written(tmp_path, text, expected):
    path = tmp_path / "groups.yaml"
    path.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    assert_bad_input(invoke("run", path, "--out", out, "--quiet"), str(path), *expected)
    assert not out.exists()


def test_a_level_only_one_groups_referrals_fill_is_judged_on_that_groups_load():
    """The overload check and the planner add up each group's own demand: here all of it is group-only."""
    levels = {"ward": level(20, exponential(4), {"discharged": 1}, referrals_per_year=500),
              "teen_unit": level(2, exponential(30), {"discharged": 1}, accepts=["teen"])}
    s = two_groups(levels, {"adult": {"share_of_referrals": {"ward": 0.9}},
                            "teen": {"share_of_referrals": {"ward": 0.1}, "referrals_per_year": {"teen_unit": 60}}},
                   days=400, replications=4)
    loads = sim.trust.offered_loads(s, pd.Series({"ward": 20.0, "teen_unit": 2.0}))
    assert loads.loc["teen_unit", "offered_load"] == pytest.approx(60 / 365 * 30)
    assert loads.loc["ward", "arrivals_per_day"] == pytest.approx(500 / 365)
    warned = {(warning["level"], warning["kind"]) for warning in run(s).warnings}
    assert ("teen_unit", "overloaded") in warned


def test_the_good_grouped_file_runs(tmp_path):
    path = tmp_path / "groups.yaml"
    path.write_text(GROUPED, encoding="utf-8")
    done = invoke("run", path, "--out", tmp_path / "out", "--quiet", "--no-report")
    assert done.exit_code == 0, done.output
    groups = pd.read_csv(tmp_path / "out" / "groups.csv")
    assert set(groups.query("level == 'clinic'")["group"]) == {"adult"}   # no rows for a group it refuses
    assert math.isclose(groups.query("level == 'ward' and metric == 'referrals_per_year'")["mean"].sum(),
                        pd.read_csv(tmp_path / "out" / "summary.csv")
                        .query("level == 'ward' and metric == 'referrals_per_year'")["mean"].iloc[0])


# ---------------------------------------------------------------------------- comparisons and sweeps per group
def test_compare_and_sweep_give_rows_per_group(tmp_path):
    ward = level(8, exponential(5), {"discharged": 1}, referrals_per_year=480, priority=["urgent"])
    base = two_groups({"ward": ward}, {"urgent": {"share_of_referrals": {"ward": 0.3}},
                                       "routine": {"share_of_referrals": {"ward": 0.7}}}, days=600, replications=3)
    more = base.with_changes({"levels.ward.capacity": 10})
    table = sim.compare(base, more, groups=True, progress=False, jobs=1)
    assert table.columns[-1] == "group" and set(table["group"]) == {"urgent", "routine"}
    waits = table.query("level == 'ward' and metric == 'wait_mean_days'").set_index("group")
    assert waits.loc["routine", "ci_high"] < 0   # two more places clearly cut the routine wait
    assert waits.loc["routine", "base"] > 3 * waits.loc["urgent", "base"]
    swept = sim.sweep(base, {"levels.ward.capacity": [8, 10]}, groups=True, out=tmp_path / "sweep", progress=False,
                      jobs=1)
    point = swept.query("point == 1 and level == 'ward' and metric == 'wait_mean_days'").set_index("group")["mean"]
    assert point.to_dict() == pytest.approx(waits["alternative"].to_dict())
    again = sim.sweep(base, {"levels.ward.capacity": [8, 10]}, groups=True, out=tmp_path / "sweep", progress=False)
    pd.testing.assert_frame_equal(swept, again)   # read back from the folder, the same table
    assert (tmp_path / "sweep" / "sweep_groups.csv").exists()
    plain = base.with_changes({"groups": None, "levels.ward.priority": None})
    with pytest.raises(sim.ScenarioError, match="has no patient groups"):
        sim.compare(plain, plain, groups=True, progress=False)


# ---------------------------------------------------------------------------- planning for a group
def test_the_planner_meets_a_groups_target_with_the_places_cobham_gives():
    ward = level(8, exponential(4), {"discharged": 1}, referrals_per_year=365 * 1.5, priority=["urgent"])
    s = two_groups({"ward": ward}, {"urgent": {"share_of_referrals": {"ward": 0.4}},
                                    "routine": {"share_of_referrals": {"ward": 0.6}}}, days=3000, replications=4)
    plan = sim.plan(s, ["routine@ward: wait_mean_days<=0.5"], jobs=1)
    planned = int(plan.capacities.set_index("level").loc["ward", "planned_capacity"])
    enough = next(c for c in range(7, 30) if theory.priority_mmc([0.6, 0.9], 4, c)[1] <= 0.5)
    assert enough <= planned <= enough + 1
    assert bool(plan.capacities["met"].iloc[0])
    assert "routine wait_mean_days" in plan.capacities["reached"].iloc[0]
    with pytest.raises(sim.ScenarioError, match="'teens' is not a patient group; groups: urgent, routine"):
        sim.plan(s, ["teens@ward: wait_mean_days<=1"])


def test_comparing_grouped_files_on_the_command_line_writes_the_groups_comparison(tmp_path):
    base, alternative = tmp_path / "base.yaml", tmp_path / "more.yaml"
    base.write_text(GROUPED, encoding="utf-8")
    alternative.write_text(GROUPED.replace("capacity: 20", "capacity: 24"), encoding="utf-8")
    done = invoke("compare", base, alternative, "--out", tmp_path / "out", "--quiet", "--jobs", "1")
    assert done.exit_code == 0, done.output
    assert "comparison_groups.csv" in done.output
    table = pd.read_csv(tmp_path / "out" / "comparison_groups.csv")
    assert table.columns[-1] == "group" and set(table["group"]) == {"adult", "teen"}
