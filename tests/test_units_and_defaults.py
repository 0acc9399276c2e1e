"""A planner's units (population, referrals per 100,000) and defaults nobody has to fight.

Referrals per 100,000 population become referrals a year once, at validation; a downstream level
that is full no longer keeps patients in their places unless the scenario says ``hold``; a warm-up
may be longer than the measured period.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import fixed, level, scenario

import sim
from sim.cli import main

PER_100K = """\
name: Per 100,000 test
population: 200000
run: {warmup_days: 10, days: 60, replications: 2, seed: 1}
levels:
  ward:
    capacity: 10
    los: {dist: exponential, mean: 2}
    referrals_per_100k_per_year: 365
    next: {clinic: 0.5, discharged: 0.5}
  clinic:
    capacity: 20
    los: {dist: exponential, mean: 5}
    referrals_per_year: 0
    next: {discharged: 1}
"""


def invoke(*args) -> object:
    return CliRunner().invoke(main, [str(a) for a in args])


def write(tmp_path, text: str):
    path = tmp_path / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_referrals_per_100k_become_referrals_a_year_from_the_population(tmp_path):
    path = write(tmp_path, PER_100K)
    assert sim.load_scenario(path).levels["ward"].referrals_per_year == 730          # 365 x 200,000 / 100,000
    doubled = sim.load_scenario(path, overrides={"population": 400000})
    assert doubled.levels["ward"].referrals_per_year == 1460
    result = invoke("run", path, "--out", tmp_path / "out", "--jobs", "1", "--no-report", "--quiet")
    assert result.exit_code == 0, result.output
    again = sim.load_scenario(tmp_path / "out" / "scenario.yaml")    # the scenario as run loads again
    assert again.levels["ward"].referrals_per_year == 730 and again.population == 200000


@pytest.mark.parametrize("old, new, expected", [
    ("    referrals_per_year: 0\n", "    referrals_per_year: 0\n    referrals_per_100k_per_year: 5\n",
     ["line 14", "levels.clinic.referrals_per_100k_per_year", "referrals_per_year", "not both"]),
    ("population: 200000\n", "",
     ["line 7", "levels.ward.referrals_per_100k_per_year", "365 per 100,000", "population"]),
    ("    referrals_per_year: 0\n", "",
     ["levels.clinic", "with population given", "referrals_per_year", "referrals_per_100k_per_year"]),
], ids=["both keys", "per 100k without population", "population but neither key"])
def test_referral_units_that_do_not_fit_are_refused_naming_the_keys(tmp_path, old, new, expected):
    assert PER_100K.count(old) == 1
    result = invoke("validate", write(tmp_path, PER_100K.replace(old, new)))
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ") and "Traceback" not in result.output
    for fragment in expected:
        assert fragment in result.output, result.output


def test_a_full_level_downstream_no_longer_keeps_patients_in_their_places_by_default():
    # two patients end their acute stay on days 1 and 2; the one step-down place is taken until day 4
    continuum = scenario({
        "acute": level(1, fixed(1), {"step_down": 1}, initial={"waitlist": 2}),
        "step_down": level(1, fixed(3), {"discharged": 1}),
    }, days=20)
    assert continuum.levels["acute"].when_next_full == "release"
    results = sim.run(continuum, jobs=1, progress=False, keep_episodes=True)
    acute = results.episodes.query("level == 'acute'")
    assert acute["held_days"].tolist() == [0, 0] and acute["left_day"].tolist() == [1, 2]
    blocked = results.summary.query("level == 'acute' and metric == 'blocked_days_per_year'")["mean"]
    assert blocked.iloc[0] == 0


def test_a_warm_up_longer_than_the_measured_period_is_accepted(tmp_path):
    path = write(tmp_path, PER_100K.replace("warmup_days: 10, days: 60", "warmup_days: 200, days: 60"))
    result = invoke("run", path, "--out", tmp_path / "out", "--jobs", "1", "--no-report", "--quiet")
    assert result.exit_code == 0, result.output
    run = json.loads((tmp_path / "out" / "run.json").read_text(encoding="utf-8"))
    assert run["warmup_days"] == 200 and run["days"] == 60
