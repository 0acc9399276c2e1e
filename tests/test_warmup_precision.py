"""warmup_days: auto (MSER-5 from a pilot) and the precision rule, through the Python API."""

from __future__ import annotations

from conftest import exponential, level, scenario

import sim


def filling_ward(**run):
    # starts empty; stays average 20 days, so the census needs about 60 days to settle near 40
    return scenario({"ward": level(60, exponential(20), {"discharged": 1}, referrals_per_year=2 * 365)},
                    warmup_days="auto", days=400, replications=4, **run)


def test_auto_warmup_cuts_the_filling_period_and_is_recorded():
    results = sim.run(filling_ward(), jobs=1, progress=False)
    chosen = results.meta["warmup"]["chosen_days"]
    assert 20 <= chosen <= 200
    assert results.scenario.run.warmup_days == chosen          # scenario.yaml can rerun it exactly
    occupancy = results.summary.query("metric == 'census_mean'")["mean"].iloc[0]
    assert 36 <= occupancy <= 44                                # 2 a day x 20 days


def test_auto_warmup_is_short_when_the_run_starts_full():
    started = filling_ward().with_changes({"levels.ward.initial": {"census": 40}})
    results = sim.run(started, jobs=1, progress=False)
    assert results.meta["warmup"]["chosen_days"] < sim.run(filling_ward(), jobs=1, progress=False).meta[
        "warmup"]["chosen_days"]


def test_auto_warmup_warns_when_the_pilot_is_too_short_to_see_the_fill():
    assert not sim.run(filling_ward(), jobs=1, progress=False).meta["warmup"]["near_limit"]
    slow = filling_ward().with_changes({"run.days": 40})   # the ward needs ~60 days to fill; the pilot sees 80
    results = sim.run(slow, jobs=1, progress=False)
    assert results.meta["warmup"]["near_limit"]
    assert [warning["kind"] for warning in results.warnings] == ["warmup_near_limit"]
    assert "may still be filling" in results.warnings[0]["message"]


def test_precision_rule_adds_replications_until_met():
    steady = filling_ward().with_changes({"run.warmup_days": 100, "run.replications": 2})
    results = sim.run(steady, jobs=1, progress=False, precision=0.05, max_replications=60)
    note = results.meta["precision"]
    assert note["met"] and note["short"] == []
    assert 2 < note["replications"] == results.scenario.run.replications <= 60
    rows = results.summary[results.summary["metric"].isin(["occupancy", "admissions_per_year"])]
    assert ((rows["ci_high"] - rows["ci_low"]) / 2 <= 0.05 * rows["mean"]).all()
    same = sim.run(steady, replications=note["replications"], jobs=1, progress=False)
    assert same.replications.equals(results.replications)     # added replications are the usual ones


def test_precision_rule_stops_at_the_cap_and_says_so():
    results = sim.run(filling_ward().with_changes({"run.warmup_days": 100, "run.replications": 2}),
                      jobs=1, progress=False, precision=0.001, max_replications=5)
    note = results.meta["precision"]
    assert not note["met"] and note["replications"] == 5 and note["short"]
