"""Starting from today: patients found mid-stay, mid-wait and held, and people still at risk of relapse.

Bad input is checked from the planner's side (the real command, status 2, the key and line named);
the engine against exact expectations on fixed and exponential times; the at-risk pool of ``auto``
on the regional scenario, started at its own long-run census (no relapse hole).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from conftest import exponential, fixed, level, scenario
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats
from test_bad_input import GOOD, assert_bad_input, edited, invoke
from test_invariants import continua

import sim
from sim import today
from sim.analysis import mser5_warmup


# ---------------------------------------------------------------------------- bad input
@pytest.fixture
def scenario_file(tmp_path):
    def write(text: str):
        path = tmp_path / "scenario.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


WARD_INITIAL = "    next: {clinic: 0.5, discharged: 0.5}\n"
CLINIC_INITIAL = "    next: {discharged: 0.9, dropped_out: 0.1}\n"


def ward_with(lines: str, text: str = GOOD) -> str:
    """The good scenario with lines added to the ward (after its ``next``, line 12)."""
    return edited(WARD_INITIAL, WARD_INITIAL + lines, text)


def clinic_with(lines: str, text: str = GOOD) -> str:
    return edited(CLINIC_INITIAL, CLINIC_INITIAL + lines, text)


BOUNDED_WARD = edited("{dist: exponential, mean: 4}", "{dist: uniform, low: 1, high: 9}")

BAD_TODAY = {
    "days in care past the longest stay": (
        ward_with("    initial: {in_care_days: [3, 12]}\n", BOUNDED_WARD),
        ["line 13", "levels.ward.initial.in_care_days.1", "12 days is longer than any stay los allows",
         "at most 9 days"]),
    "days in care past max": (
        clinic_with("    initial: {in_care_days: [200]}\n",
                    edited("p90: 60}", "p90: 60, max: 120}")),
        ["line 17", "levels.clinic.initial.in_care_days.0", "at most 120 days"]),
    "days in care past a fixed stay": (
        ward_with("    initial: {in_care_days: [5]}\n", edited("exponential, mean: 4", "fixed, value: 4")),
        ["line 13", "levels.ward.initial.in_care_days.0", "at most 4 days"]),
    "band of days in care starting past the longest stay": (
        ward_with("    initial:\n      in_care_bands: [{from_days: 10, to_days: 20, count: 2}]\n", BOUNDED_WARD),
        ["line 14", "levels.ward.initial.in_care_bands.0.from_days", "at most 9 days"]),
    "days waited past the longest patience": (
        clinic_with("    patience: {dist: empirical, values: [10, 20, 30]}\n    initial: {waiting_days: [31]}\n"),
        ["line 18", "levels.clinic.initial.waiting_days.0", "anyone waits before giving up", "at most 30 days"]),
    "census above capacity": (
        ward_with("    initial: {census: 25}\n"),
        ["line 13", "levels.ward.initial.census", "25 people in care today but only 20 places at day 0",
         "capacity: [{from_day: 0, capacity: 25}, {from_day: 1, capacity: 20}]"]),
    "listed patients above capacity": (
        ward_with("    initial:\n      in_care_bands: [{from_days: 0, to_days: 7, count: 21}]\n"),
        ["line 13", "levels.ward.initial.census", "21 people in care today but only 20 places"]),
    "census below the patients listed": (
        ward_with("    initial: {census: 2, in_care_days: [1, 2, 3]}\n"),
        ["line 13", "levels.ward.initial.census", "2 is fewer than the 3 patients listed"]),
    "negative count in a band": (
        ward_with("    initial:\n      in_care_bands: [{from_days: 0, to_days: 7, count: -4}]\n"),
        ["line 14", "levels.ward.initial.in_care_bands.0.count = -4", "greater than or equal to 0"]),
    "negative days waited": (
        clinic_with("    initial: {waiting_days: [-3]}\n"),
        ["line 17", "levels.clinic.initial.waiting_days.0 = -3", "greater than or equal to 0"]),
    "inverted band": (
        clinic_with("    initial:\n      waiting_bands: [{from_days: 14, to_days: 7, count: 3}]\n"),
        ["line 18", "levels.clinic.initial.waiting_bands.0.to_days", "7 is not after from_days 14"]),
    "overlapping bands": (
        ward_with("    initial:\n      in_care_bands:\n        - {from_days: 0, to_days: 7, count: 3}\n"
                  "        - {from_days: 5, to_days: 14, count: 2}\n"),
        ["line 16", "levels.ward.initial.in_care_bands.1", "5-14 days overlaps the band 0-7 days"]),
    "held without hold": (
        ward_with("    initial: {held: {to: clinic, count: 2}}\n"),
        ["line 13", "levels.ward.initial.held", "when_next_full: hold", "waitlist instead"]),
    "held for a level not next": (
        ward_with("    when_next_full: hold\n    initial: {held: {to: clinc, count: 2}}\n"),
        ["line 14", "levels.ward.initial.held.0.to", "'clinc'", "did you mean 'clinic'?"]),
    "held with count and days": (
        ward_with("    when_next_full: hold\n    initial: {held: {to: clinic, count: 2, held_days: [1, 2]}}\n"),
        ["line 14", "levels.ward.initial.held.0", "count", "held_days", "not both"]),
    "at risk after an exit without a rule": (
        GOOD + "  at_risk: [{after: dropped_out, days_since: 10, count: 4}]\n",
        ["line 20", "relapse.at_risk.0.after", "nobody returns after dropped_out", "after_dropped_out"]),
    "at risk negative count": (
        GOOD + "  at_risk: [{after: discharged, days_since: 10, count: -4}]\n",
        ["line 20", "relapse.at_risk.0.count = -4", "greater than or equal to 0"]),
    "at risk after no exit": (
        GOOD + "  at_risk: [{after: clinic, days_since: 10, count: 4}]\n",
        ["line 20", "relapse.at_risk.0.after = 'clinic'", "'discharged' or 'dropped_out'"]),
    "at risk in words": (
        GOOD + "  at_risk: automatic\n",
        ["line 20", "relapse.at_risk = 'automatic'", "auto (filled from the scenario's own flows"]),
}


@pytest.mark.parametrize("text, expected", BAD_TODAY.values(), ids=BAD_TODAY.keys())
def test_bad_state_of_today_is_explained(scenario_file, text, expected):
    path = scenario_file(text)
    assert_bad_input(invoke("validate", path), str(path), *expected)


def test_bad_state_of_today_writes_nothing(scenario_file, tmp_path):
    out = tmp_path / "out"
    text = ward_with("    initial: {in_care_days: [3, 12]}\n", BOUNDED_WARD)
    assert_bad_input(invoke("run", scenario_file(text), "--out", out, "--quiet"), "levels.ward.initial.in_care_days")
    assert not out.exists()


def test_good_state_of_today_is_valid(scenario_file):
    text = ward_with("    when_next_full: hold\n    initial:\n      census: 12\n      in_care_days: [1, 2.5]\n"
                     "      in_care_bands: [{from_days: 0, to_days: 7, count: 3},\n"
                     "                      {from_days: 7, to_days: 30, count: 2}]\n"
                     "      held: [{to: clinic, count: 1}, {to: clinic, held_days: [4]}]\n"
                     "      waiting_days: [3]\n",
                     GOOD + "  at_risk: [{after: discharged, days_since: 10, count: 4}]\n")
    result = invoke("validate", scenario_file(text))
    assert result.exit_code == 0, result.output


def test_totals_default_to_the_patients_listed_and_follow_them_in_variants():
    s = scenario({"ward": level(10, fixed(10), {"discharged": 1},
                                initial={"in_care_days": [1, 2], "waitlist": 3, "waiting_days": [4]})})
    assert (s.levels["ward"].initial.census, s.levels["ward"].initial.waitlist) == (2, 3)
    more = s.with_changes({"levels.ward.initial.in_care_days": [1, 2, 3, 4]})
    assert more.levels["ward"].initial.census == 4
    assert sim.validate(more.to_dict()) == more


# ---------------------------------------------------------------------------- fewer places than patients today
def full_ward(capacity: int = 30) -> sim.Scenario:
    """A ward with 30 in care today and people always waiting, so any free place is taken at once."""
    return scenario({"ward": level(capacity, exponential(10), {"discharged": 1}, referrals_per_year=2000,
                                   initial={"census": 30, "waitlist": 5})}, days=120)


def test_a_variant_cutting_places_below_todays_census_is_a_cut_from_day_1():
    cut = full_ward().with_changes({"levels.ward.capacity": 20})
    assert [(step.from_day, step.capacity) for step in cut.levels["ward"].capacity] == [(0, 30), (1, 20)]
    assert sim.validate(cut.to_dict()) == cut   # scenario.yaml reads back as the same scenario
    later = full_ward().with_changes({"levels.ward.capacity": [{"from_day": 0, "capacity": 20},
                                                              {"from_day": 50, "capacity": 25}]})
    assert [(step.from_day, step.capacity) for step in later.levels["ward"].capacity] == [(0, 30), (1, 20), (50, 25)]
    with pytest.raises(sim.ScenarioError, match=r"levels.ward.initial.census \(changed by with_changes\): 40 people"):
        full_ward().with_changes({"levels.ward.capacity": 20, "levels.ward.initial.census": 40})


def test_nobody_is_admitted_until_the_census_falls_below_the_cut():
    daily = sim.run(full_ward().with_changes({"levels.ward.capacity": 20}), jobs=1, progress=False).daily
    census = daily.set_index("day")["census"]
    above = census.loc[1:][census.loc[1:] > 20]
    assert len(above) >= 3 and above.is_monotonic_decreasing   # drains, nobody admitted
    assert (census.loc[above.index[-1] + 1:] <= 20).all() and census.iloc[-30:].mean() > 19   # then full at 20


def test_cutting_places_below_todays_census_on_the_command_line(tmp_path):
    path = tmp_path / "today.yaml"
    path.write_text(ward_with("    initial: {census: 18}\n"), encoding="utf-8")
    out = tmp_path / "out"
    done = invoke("run", path, "--set", "levels.ward.capacity=15", "--out", out, "--quiet", "--no-report")
    assert done.exit_code == 0, done.output
    written = sim.load_scenario(out / "scenario.yaml").levels["ward"].capacity
    assert [(step.from_day, step.capacity) for step in written] == [(0, 18), (1, 15)]


# ---------------------------------------------------------------------------- the engine, exactly
def run_episodes(s: sim.Scenario) -> pd.DataFrame:
    return sim.run(s, jobs=1, progress=False, keep_episodes=True).episodes


def admissions(results: sim.Results, level_name: str) -> float:
    rows = results.summary
    return float(rows[(rows.level == level_name) & (rows.metric == "admissions_per_year")]["mean"].iloc[0])


def test_patients_in_care_leave_after_the_rest_of_their_stay():
    s = scenario({"ward": level(5, fixed(10), {"discharged": 1}, initial={"in_care_days": [4, 0, 9.5]})}, days=20)
    table = run_episodes(s)
    assert table["left_day"].tolist() == [0.5, 6.0, 10.0]
    assert table["admitted_day"].tolist() == [-9.5, -4.0, 0.0]
    assert table["stay_days"].tolist() == [10.0, 10.0, 10.0]   # whole stays, days before the run included
    # admitted before the run: not admissions of it
    assert admissions(sim.run(s, jobs=1, progress=False), "ward") == 0


def test_exponential_stays_left_are_the_same_exponential():
    s = scenario({"ward": level(2000, exponential(5), {"discharged": 1}, initial={"in_care_days": [30.0] * 2000})},
                 days=200)
    left = run_episodes(s)["left_day"]
    assert stats.kstest(left, stats.expon(scale=5).cdf).pvalue > 0.01


def test_banded_days_in_care_are_drawn_within_the_band():
    bands = [{"from_days": 0, "to_days": 2, "count": 30}, {"from_days": 6, "to_days": 8, "count": 30}]
    s = scenario({"ward": level(60, fixed(10), {"discharged": 1}, initial={"in_care_bands": bands})}, days=20)
    left = np.sort(run_episodes(s)["left_day"].to_numpy())
    assert np.all((left[:30] > 2) & (left[:30] <= 4)) and np.all((left[30:] > 8) & (left[30:] <= 10))


def test_route_is_drawn_given_the_days_in_care():
    # a patient 5 days in cannot be on the 3-day step-down route
    next_ = {"clinic": {"share": 0.5, "los": fixed(3)}, "discharged": 0.5}
    s = scenario({"ward": level(40, fixed(20), next_, initial={"in_care_days": [5.0] * 20 + [1.0] * 20}),
                  "clinic": level(40, fixed(1), {"discharged": 1})}, days=30)
    table = run_episodes(s)
    ward = table[table.level == "ward"].sort_values("admitted_day")
    assert (ward.head(20)["route"] == "discharged").all() and (ward.head(20)["left_day"] == 15).all()
    early = ward.tail(20)["route"]
    assert set(early) == {"clinic", "discharged"}   # 1 day in: either route is still possible


def test_waiting_patients_keep_their_place_and_their_wait():
    initial = {"in_care_days": [6], "waitlist": 3, "waiting_days": [2, 8]}
    s = scenario({"ward": level(1, fixed(10), {"discharged": 1}, initial=initial)}, days=40)
    table = run_episodes(s).sort_values("admitted_day")
    waited = table[table.source == "initial"].iloc[1:]
    assert waited["arrived_day"].tolist() == [-8, -2, 0]
    assert waited["admitted_day"].tolist() == [4, 14, 24]
    assert waited["wait_days"].tolist() == [12, 16, 24]


def test_patience_is_drawn_given_the_days_waited():
    initial = {"census": 1, "waiting_days": [3, 9.5]}
    s = scenario({"ward": level(1, fixed(50), {"discharged": 1}, patience=fixed(10), initial=initial)}, days=30)
    table = run_episodes(s)
    gave_up = table[table.status == "gave_up"].sort_values("left_day")
    assert gave_up["left_day"].tolist() == [0.5, 7.0]


def test_held_patients_hold_their_place_until_the_next_level_admits_them():
    held = {"held": {"to": "clinic", "held_days": [5]}}
    ward = level(3, fixed(5), {"clinic": 1}, when_next_full="hold", initial=held)
    clinic = level(1, fixed(10), {"discharged": 1}, initial={"in_care_days": [8], "waiting_days": [1]})
    table = run_episodes(scenario({"ward": ward, "clinic": clinic}, days=30))
    held = table[table.level == "ward"].iloc[0]
    assert (held["status"], held["left_day"], held["stay_ended_day"]) == ("left", 2.0, -5.0)
    at_clinic = table[(table.level == "clinic") & (table.source == "transfer")].iloc[0]
    # held 5 days before the run, so ahead of the patient who has waited 1: admitted when the place frees
    assert (at_clinic["arrived_day"], at_clinic["admitted_day"], at_clinic["wait_days"]) == (-5.0, 2.0, 7.0)


RETURN_TO_WARD = {"return_to": {"ward": 1}}


def test_people_at_risk_return_after_the_rest_of_the_relapse_time():
    relapse = {"after_discharged": {"probability": 1, "time": fixed(10)}, **RETURN_TO_WARD,
               "at_risk": [{"after": "discharged", "days_since": 4, "count": 5},
                           {"after": "discharged", "days_since": 10, "count": 2},
                           {"after": "discharged", "days_since": 11, "count": 3}]}
    s = scenario({"ward": level(10, fixed(1), {"dropped_out": 1})}, relapse=relapse, days=20)
    table = run_episodes(s)
    assert table["source"].eq("relapse").all()
    # 4 days since: back on day 6; 10 days since: back at once; 11 days since: everyone would be back already
    assert sorted(table["arrived_day"]) == [0.0] * 2 + [6.0] * 5


def test_share_returning_matches_the_conditional_chance():
    relapse = {"after_dropped_out": {"probability": 0.5, "time": exponential(100)}, **RETURN_TO_WARD,
               "at_risk": [{"after": "dropped_out", "days_since": 100, "count": 4000}]}
    s = scenario({"ward": level(4000, fixed(1), {"discharged": 1})}, relapse=relapse, days=3000)
    returned = len(run_episodes(s))
    chance = 0.5 * math.exp(-1) / (0.5 + 0.5 * math.exp(-1))
    assert returned == pytest.approx(4000 * chance, abs=4 * math.sqrt(4000 * chance * (1 - chance)))


def test_auto_pool_is_the_flow_out_times_the_time_still_away():
    relapse = {"after_discharged": {"probability": 0.4, "time": exponential(50)},
               "after_dropped_out": {"probability": 0.8, "time": fixed(30)}, **RETURN_TO_WARD, "at_risk": "auto"}
    ward = level(60, exponential(10), {"discharged": 0.75, "dropped_out": 0.25}, initial={"census": 50})
    s = scenario({"ward": ward}, relapse=relapse)
    leaving = today.leaving_per_day(s)
    assert leaving == pytest.approx({"discharged": 50 / 10 * 0.75, "dropped_out": 50 / 10 * 0.25})
    rules = {exit_name: s.relapse.rule(exit_name) for exit_name in leaving}
    expected = {exit_name: today.expected_returners(leaving[exit_name], rule.probability, rule.time.sampler()).sum()
                for exit_name, rule in rules.items()}
    # per day leaving x share returning x mean time to return (trapezoids over days: within 0.1%)
    assert expected == pytest.approx({"discharged": 3.75 * 0.4 * 50, "dropped_out": 1.25 * 0.8 * 30}, rel=1e-3)
    at_risk = sim.run(s.with_changes({"run.days": 1}), replications=40, jobs=1, progress=False).patients
    first_day = at_risk[at_risk.day == 1]["at_risk"]
    # day 1 ends with the pool, less the day's returns, plus the day's leavers who will return
    assert first_day.mean() == pytest.approx(sum(expected.values()), rel=0.05)


# ---------------------------------------------------------------------------- no relapse hole
LONG_RUN = {   # 10 replications of 20 years after a 5-year warm-up, seed 2026 (see the slow twin)
    "inpatient": (187.2, 4.4), "php": (135.0, 0.7), "iop": (476.7, 0.0), "outpatient": (3083.6, 0.0)}
"""The regional scenario's long-run mean census and waitlist per level."""
NOBODY_AT_RISK = {"relapse.at_risk": None}
"""The regional file fills the relapse pool (at_risk: auto); this leaves it empty, the relapse hole."""


def started_at(regional: sim.Scenario, means: dict[str, tuple[float, float]], days: int, **changes) -> sim.Scenario:
    """The regional scenario started today at the given census and waitlist, without a warm-up."""
    initial = {f"levels.{name}.initial": {"census": round(census), "waitlist": round(waitlist)}
               for name, (census, waitlist) in means.items()}
    return regional.with_changes({"run.warmup_days": 0, "run.days": days, **initial, **changes})


def census_by_month(s: sim.Scenario, replications: int) -> pd.DataFrame:
    daily = sim.run(s, replications=replications, jobs=1, progress=False).daily
    daily = daily.assign(month=daily["day"] // 30)
    return daily.groupby(["month", "level"])["census"].mean().unstack()


def assert_steady_start(regional: sim.Scenario, means: dict[str, tuple[float, float]], days: int, replications: int,
                        within: float) -> None:
    steady = census_by_month(started_at(regional, means, days, **{"relapse.at_risk": "auto"}), replications)
    for name, (census, _) in means.items():
        assert steady[name].mean() == pytest.approx(census, rel=within), name
    hole = census_by_month(started_at(regional, means, days, **NOBODY_AT_RISK), replications)
    assert hole["inpatient"].iloc[:6].mean() < 0.85 * means["inpatient"][0]


def test_started_at_its_usual_census_with_the_at_risk_pool_the_regional_system_is_steady(regional):
    assert_steady_start(regional, LONG_RUN, days=360, replications=4, within=0.04)


@pytest.mark.slow
def test_steady_start_against_a_fresh_long_run(regional):
    long_run = regional.with_changes({"run.warmup_days": 1825, "run.days": 3650})
    daily = sim.run(long_run, replications=4, jobs=1, progress=False).daily.query("period == 'measured'")
    means = {name: (rows["census"].mean(), rows["waitlist"].mean()) for name, rows in daily.groupby("level")
             if name in LONG_RUN}
    assert_steady_start(regional, means, days=720, replications=12, within=0.025)


@pytest.mark.slow
def test_mser5_cuts_nothing_from_a_steady_start(regional):
    def warmups(s: sim.Scenario) -> dict[str, int]:
        daily = sim.run(s, replications=3, jobs=1, progress=False).daily
        return {name: mser5_warmup(rows.groupby("day")["census"].mean()) for name, rows in daily.groupby("level")}

    assert max(warmups(started_at(regional, LONG_RUN, 1095, **{"relapse.at_risk": "auto"})).values()) <= 30
    assert min(warmups(started_at(regional, LONG_RUN, 1095, **NOBODY_AT_RISK)).values()) >= 300


# ---------------------------------------------------------------------------- invariants
@st.composite
def started_today(draw):
    """A random small continuum (as in test_invariants) with a random state of today."""
    continuum = draw(continua())
    changes: dict = {"relapse.at_risk": draw(st.sampled_from(["auto", [
        {"after": "dropped_out", "days_since": 3, "count": 5}]]))}
    for name, spec in continuum.levels.items():
        places = spec.capacity[0].capacity
        longest = min(max((step.los or spec.los).sampler().longest for step in spec.next.values()), 30)
        in_care = draw(st.lists(st.floats(0, longest), max_size=places))
        next_levels = [dest for dest, step in spec.next.items() if dest in continuum.levels and step.share > 0]
        held = draw(st.integers(0, places - len(in_care))) if spec.when_next_full == "hold" and next_levels else 0
        initial: dict = {"in_care_days": in_care}
        if held:
            initial["held"] = {"to": next_levels[0], "held_days": [1.5] * held}
        if spec.when_full == "wait":
            initial["waiting_bands"] = [{"from_days": 0, "to_days": 4, "count": draw(st.integers(0, 3))}]
        changes[f"levels.{name}.initial"] = initial
    return continuum.with_changes(changes)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(started_today())
def test_random_states_of_today_keep_the_invariants(continuum):
    results = sim.run(continuum, jobs=1, progress=False, keep_episodes=True)   # the run checks conservation
    episodes = results.episodes
    assert (episodes["wait_days"].dropna() >= 0).all()
    assert (episodes["stay_days"].dropna() >= 0).all()
    assert (episodes["held_days"].dropna() >= 0).all()
    daily = results.daily
    assert (daily["census"] <= daily["capacity"] + 1e-9).all()
