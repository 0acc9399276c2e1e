"""Tiny deterministic scenarios with fixed stays: exact expected episodes and metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import exponential, fixed, level, scenario

import sim


def episodes(s: sim.Scenario) -> pd.DataFrame:
    return sim.run(s, jobs=1, progress=False, keep_episodes=True).episodes


def metric(results: sim.Results, level_name: str, name: str) -> float:
    rows = results.summary
    return float(rows[(rows.level == level_name) & (rows.metric == name)]["mean"].iloc[0])


def test_fifo_waitlist_admits_one_at_a_time():
    s = scenario({"ward": level(1, fixed(2), {"discharged": 1}, initial={"waitlist": 3})}, days=20)
    table = episodes(s)
    assert table["admitted_day"].tolist() == [0, 2, 4]
    assert table["wait_days"].tolist() == [0, 2, 4]
    assert table["left_day"].tolist() == [2, 4, 6]


@pytest.mark.parametrize("when_next_full, held_days, admitted_downstream",
                         [("hold", [0, 2], [1, 4]), ("release", [0, 0], [1, 4])])
def test_hold_keeps_the_place_release_frees_it(when_next_full, held_days, admitted_downstream):
    s = scenario({
        "acute": level(1, fixed(1), {"step_down": 1}, initial={"waitlist": 2}, when_next_full=when_next_full),
        "step_down": level(1, fixed(3), {"discharged": 1}),
    }, days=20)
    table = episodes(s)
    acute = table[table.level == "acute"].sort_values("patient")
    down = table[table.level == "step_down"].sort_values("patient")
    assert acute["held_days"].tolist() == held_days
    assert down["admitted_day"].tolist() == admitted_downstream
    # under hold the second patient keeps the acute place until day 4, so blocked days = 2
    results = sim.run(s, jobs=1, progress=False)
    assert metric(results, "acute", "blocked_days_per_year") == pytest.approx(sum(held_days) * 365 / 20)


def test_turn_away_level_has_no_waitlist():
    s = scenario({
        "acute": level(2, fixed(1), {"residential": 1}, initial={"waitlist": 2}),
        "residential": level(1, fixed(5), {"discharged": 1}, when_full="turn_away"),
    }, days=20)
    table = episodes(s)
    res = table[table.level == "residential"]
    assert sorted(res["status"]) == ["left", "turned_away"]
    assert (table[table.level == "acute"]["held_days"] == 0).all()


def test_patience_runs_out_and_patient_goes_where_gave_up_says():
    s = scenario({
        "ward": level(1, fixed(10), {"discharged": 1}, initial={"waitlist": 2},
                      patience=fixed(3), gave_up={"crisis": 1}),
        "crisis": level(5, fixed(1), {"discharged": 1}),
    }, days=30)
    table = episodes(s)
    ward = table[table.level == "ward"].sort_values("patient")
    assert ward["status"].tolist() == ["left", "gave_up"]
    assert ward["left_day"].tolist() == [10, 3]
    crisis = table[table.level == "crisis"]
    assert crisis["source"].tolist() == ["gave_up"] and crisis["admitted_day"].tolist() == [3]


def test_capacity_schedule_opens_places_and_a_cut_evicts_nobody():
    grow = scenario({"ward": level([{"from_day": 0, "capacity": 1}, {"from_day": 5, "capacity": 2}],
                                   fixed(10), {"discharged": 1}, initial={"waitlist": 3})}, days=30)
    assert episodes(grow)["admitted_day"].tolist() == [0, 5, 10]
    cut = scenario({"ward": level([{"from_day": 0, "capacity": 2}, {"from_day": 1, "capacity": 0}],
                                  fixed(10), {"discharged": 1}, initial={"waitlist": 3})}, days=30)
    table = episodes(cut)
    assert table["admitted_day"].dropna().tolist() == [0, 0]
    assert table["left_day"].dropna().tolist() == [10, 10]
    assert table["status"].tolist().count("waiting") == 1


def test_transfers_first_lets_step_downs_jump_the_queue():
    def first_admitted_source(order):
        s = scenario({
            "acute": level(1, fixed(1), {"php": 1}, initial={"census": 1}, when_next_full="release"),
            "php": level(1, fixed(5), {"discharged": 1}, initial={"census": 1, "waitlist": 1}, waitlist=order),
        }, days=20)
        table = episodes(s)
        later = table[(table.level == "php") & (table.admitted_day > 0)].sort_values("admitted_day")
        return later["source"].iloc[0]

    assert first_admitted_source("transfers_first") == "transfer"
    assert first_admitted_source("fifo") == "initial"


def test_relapse_brings_patients_back_after_the_given_time():
    s = scenario({"ward": level(3, fixed(2), {"discharged": 1}, initial={"waitlist": 1})},
                 relapse={"after_discharged": {"probability": 1, "time": fixed(5)}, "return_to": {"ward": 1}},
                 days=20)
    table = episodes(s)
    assert table["arrived_day"].tolist()[:3] == [0, 7, 14]
    assert set(table["patient"]) == {1}


@pytest.mark.parametrize("relapse_days, share", [(10, 1.0), (40, 0.0)])
def test_readmission_within_30_days(relapse_days, share):
    s = scenario({"inpatient": level(3, fixed(2), {"discharged": 1}, initial={"waitlist": 1})},
                 relapse={"after_discharged": {"probability": 1, "time": fixed(relapse_days)},
                          "return_to": {"inpatient": 1}}, days=200)
    results = sim.run(s, jobs=1, progress=False)
    assert metric(results, "all", "readmit_30d_share") == share


def test_initial_census_is_seated_mid_stay_and_waits_are_measured_after_warmup():
    s = scenario({"ward": level(10, fixed(8), {"discharged": 1}, initial={"census": 10, "waitlist": 5})},
                 days=40, warmup_days=0)
    table = episodes(s)
    seated = table[table["wait_days"] == 0].head(10)
    assert (seated["stay_days"] <= 8).all() and (seated["stay_days"] > 0).all()
    waiting = table.iloc[10:15]
    assert (waiting["admitted_day"] > 0).all()


def test_referral_volume_growth_and_seasonality():
    base = {"capacity": 1000, "los": exponential(1), "next": {"discharged": 1}, "referrals_per_year": 3650}
    flat = sim.run(scenario({"ward": base}, days=3650, replications=2), jobs=1, progress=False)
    assert metric(flat, "ward", "referrals_per_year") == pytest.approx(3650, rel=0.02)
    grown = scenario({"ward": {**base, "referral_growth_per_year": 0.10}}, days=730, warmup_days=0)
    table = episodes(grown)
    year_one = (table.arrived_day < 365).sum()
    year_two = (table.arrived_day >= 365).sum()
    assert year_two / year_one == pytest.approx(1.10, rel=0.05)
    season = [2] + [1] * 11
    seasonal = scenario({"ward": {**base, "referral_seasonality": season}}, days=3650)
    table = episodes(seasonal)
    month = ((table.arrived_day % 365) // (365 / 12)).astype(int)
    january = (month == 0).sum() / 10
    others = (month != 0).sum() / 10 / 11
    assert january / others == pytest.approx(2, rel=0.08)
    assert len(table) / 10 == pytest.approx(3650, rel=0.03)  # the yearly total is unchanged


def test_census_never_exceeds_capacity_without_a_cut(regional):
    short = regional.with_changes({"run.days": 200, "run.warmup_days": 50, "run.replications": 1})
    results = sim.run(short, jobs=1, progress=False)
    daily = results.daily
    assert (daily["census"] <= daily["capacity"] + 1e-9).all()
    assert (daily["waitlist"] >= 0).all() and (daily["held"] >= 0).all()
    assert np.isfinite(results.summary["mean"][results.summary.level != "all"]).sum() > 40


def test_cohort_intake_admits_only_when_a_cohort_starts():
    s = scenario({
        "acute": level(5, fixed(1), {"iop": 1}, initial={"waitlist": 3}, when_next_full="release"),
        "iop": level(10, fixed(20), {"discharged": 1}, program={
            "days_per_week": 3, "hours_per_day": 3, "intake": {"cohort_every_days": 7}}),
    }, days=30)
    table = episodes(s)
    iop = table[table.level == "iop"]
    assert iop["arrived_day"].tolist() == [1, 1, 1]
    assert iop["admitted_day"].tolist() == [7, 7, 7]          # the next cohort, not the next free place


def test_staff_on_hand_limit_the_places_in_use_and_a_hiring_plan_opens_them():
    # 2 patients per nurse around the clock: 10 FTE cover 4 patients, 15 FTE cover 6 (40 h x 0.85 a week)
    s = scenario({"ward": level(10, fixed(50), {"discharged": 1}, initial={"waitlist": 8},
                                staff=[{"role": "nurse", "patients_per_staff": 2}],
                                staff_available={"nurse": [{"from_day": 0, "fte": 10},
                                                           {"from_day": 5, "fte": 15}]})}, days=20)
    results = sim.run(s, jobs=1, progress=False, keep_episodes=True)
    admitted = results.episodes["admitted_day"].dropna().tolist()
    assert admitted == [0, 0, 0, 0, 5, 5]
    daily = results.daily.set_index("day")
    assert (daily.loc[0, "capacity"], daily.loc[0, "places"], daily.loc[0, "closed_places"]) == (4, 10, 6)
    assert (daily.loc[10, "capacity"], daily.loc[10, "closed_places"]) == (6, 4)
    assert metric(results, "ward", "closed_places_mean") == pytest.approx((5 * 6 + 15 * 4) / 20)


def test_a_cohort_short_of_the_smallest_group_waits_for_the_next_start():
    s = scenario({
        "acute": level(5, fixed(1), {"iop": 1}, initial={"waitlist": 2}, when_next_full="release"),
        "late": level(5, fixed(10), {"iop": 1}, initial={"waitlist": 1}, when_next_full="release"),
        "iop": level(10, fixed(20), {"discharged": 1}, program={
            "days_per_week": 3, "hours_per_day": 3, "group_size": {"min": 3, "max": 10},
            "intake": {"cohort_every_days": 7}}),
    }, days=40)
    iop = episodes(s).query("level == 'iop'")
    # two are waiting at day 7, too few for a group; the third arrives on day 10: all start on day 14
    assert iop["admitted_day"].tolist() == [14, 14, 14]
