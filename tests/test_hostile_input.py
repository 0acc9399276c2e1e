"""Input a careless or hostile user writes: every case exits 2 with the key named, quickly, or runs.

One named test per class of problem: numbers that are not finite, distributions that overflow,
loops that take no time, YAML that expands or nests without end, runs too big to finish, numbers
written as ``2e3``, and keys pasted in whole paragraphs.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import sim
from sim.cli import main

SMALL = """\
name: Hostile input test
run: {warmup_days: 0, days: 60, replications: 1, seed: 1}
levels:
  ward:
    capacity: 10
    los: {dist: exponential, mean: 4}
    referrals_per_year: 500
    next: {clinic: 0.5, discharged: 0.5}
  clinic:
    capacity: 40
    los: {dist: lognormal, median: 20, p90: 50}
    next: {discharged: 0.9, dropped_out: 0.1}
relapse:
  after_discharged: {probability: 0.2, time: {dist: exponential, mean: 60}}
  return_to: {ward: 1}
"""


def cli(tmp_path, *args: str, text: str = SMALL, changes: tuple[str, ...] = ()):
    scenario = tmp_path / "hostile.yaml"
    scenario.write_text(text, encoding="utf-8")
    sets = [item for change in changes for item in ("--set", change)]
    command = [args[0], str(scenario), *sets, *args[1:]]
    if args[0] == "run":
        command += ["--out", str(tmp_path / "out"), "--jobs", "1", "--quiet", "--no-report"]
    return CliRunner().invoke(main, command)


def refused(result, *named: str) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for text in named:
        assert text in result.output, result.output
    return result.output


@pytest.mark.parametrize(("change", "key"), [
    ("levels.ward.referrals_per_year=.inf", "levels.ward.referrals_per_year"),
    ("levels.ward.referral_growth_per_year=.inf", "levels.ward.referral_growth_per_year"),
    ("levels.ward.referral_seasonality=[1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, .inf]", "levels.ward.referral_seasonality.11"),
    ("levels.clinic.los={dist: lognormal, mu: .nan, sigma: 1}", "levels.clinic.los.mu"),
    ("levels.clinic.los={dist: lognormal, mu: -.inf, sigma: 1}", "levels.clinic.los.mu"),
    ("levels.ward.los={dist: exponential, mean: .nan}", "levels.ward.los.mean"),
    ("run.wait_target_days=.inf", "run.wait_target_days"),
    ("relapse.after_discharged.probability=.nan", "relapse.after_discharged.probability"),
])
def test_numbers_that_are_not_finite_are_refused(tmp_path, change, key):
    refused(cli(tmp_path, "validate", changes=(change,)), key, "finite")


@pytest.mark.parametrize("los", ["{dist: lognormal, mu: 1000, sigma: 1}", "{dist: gamma, mean: 5, sd: 1e200}",
                                 "{dist: lognormal, mu: 500, sigma: 1}", "{dist: weibull, shape: 0.001, scale: 5}"])
def test_distributions_without_a_finite_mean_and_variance_are_refused(tmp_path, los):
    refused(cli(tmp_path, "validate", changes=(f"levels.clinic.los={los}",)), "levels.clinic.los", "finite mean")


def test_a_relapse_loop_of_no_time_is_refused_naming_the_loop(tmp_path):
    output = refused(cli(tmp_path, "validate", changes=(
        "levels.ward.los={dist: fixed, value: 0}", "levels.ward.next={discharged: 1}",
        "relapse.after_discharged={probability: 1, time: {dist: fixed, value: 0}}")),
        "ward -> discharged -> ward", "levels.ward.los", "relapse 0 days after discharged")
    assert "never finish" in output


def test_giving_up_back_to_the_same_level_at_once_is_refused(tmp_path):
    refused(cli(tmp_path, "validate", changes=(
        "levels.ward.patience={dist: empirical, values: [0, 0, 3]}", "levels.ward.gave_up={ward: 1}")),
        "levels.ward.patience", "ward -> ward")


def test_a_loop_that_takes_some_time_is_allowed(tmp_path):
    result = cli(tmp_path, "run", changes=(
        "levels.ward.patience={dist: fixed, value: 0}", "levels.ward.gave_up={clinic: 1}"))
    assert result.exit_code == 0, result.output


ALIAS_BOMB = SMALL + """\
description: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
"""


def test_a_yaml_alias_bomb_is_refused_before_it_expands(tmp_path):
    refused(cli(tmp_path, "validate", text=ALIAS_BOMB), "line 21", "aliases", "more than 200,000 values")


def test_yaml_nested_hundreds_deep_is_refused(tmp_path):
    refused(cli(tmp_path, "validate", text=SMALL + "description: " + "[" * 500 + "]" * 500 + "\n"),
            "nested more than 32 deep")


@pytest.mark.parametrize(("changes", "keys"), [
    (["levels.ward.referrals_per_year=1e9"], ["levels.ward.referrals_per_year = 1e+09", "patient visits"]),
    (["run.days=1000000000"], ["run.days = 1000000000", "rows of daily figures"]),
    (["run.replications=90000"], ["run.replications = 90000", "over the limit of 10,000"]),
    (["levels.ward.referral_growth_per_year=1e6", "run.days=1825"],
     ["levels.ward.referral_growth_per_year = 1e+06", "run.days = 1825"]),
    (["levels.clinic.capacity=30000000", "levels.clinic.initial={census: 30000000}"],
     ["levels.clinic.initial = {census: 30000000, waitlist: 0}"]),
    (["relapse.at_risk=[{after: discharged, days_since: 3, count: 2000000000}]"],
     ["relapse.at_risk listing 2,000,000,000 people who may return"]),
])
def test_a_run_too_big_to_finish_is_refused_with_its_size_and_key(tmp_path, changes, keys):
    refused(cli(tmp_path, "run", changes=tuple(changes)), "too big to start", *keys)


def test_a_size_limit_can_be_raised_from_the_command_line_and_the_api(tmp_path):
    lowered = refused(cli(tmp_path, "run", "--limit", "visits=100"), "over the limit of 100", "--limit visits=")
    assert "patient visits in all replications" in lowered
    assert cli(tmp_path, "run", "--limit", "visits=1e5").exit_code == 0
    scenario = sim.load_scenario(tmp_path / "hostile.yaml")
    with pytest.raises(sim.ScenarioError, match="too big"):
        sim.run(scenario, jobs=1, progress=False, limits={"visits": 100})
    refused(cli(tmp_path, "run", "--limit", "visit=1e5"), "visit: not a limit", "visits_per_replication")
    refused(cli(tmp_path, "run", "--limit", "visits=-3"), "visits = -3")


def test_numbers_written_with_an_exponent_are_numbers(tmp_path):
    text = SMALL.replace("referrals_per_year: 500", "referrals_per_year: 5e2")
    result = cli(tmp_path, "run", text=text, changes=("levels.clinic.capacity=4e1",))
    assert result.exit_code == 2, "4e1 is 40.0, a number but not a whole one"
    assert "levels.clinic.capacity" in result.output and "'4e1'" not in result.output
    assert cli(tmp_path, "run", text=text, changes=("run.wait_target_days=1e1",)).exit_code == 0
    assert sim.load_scenario(tmp_path / "hostile.yaml").levels["ward"].referrals_per_year == 500


def test_a_pasted_paragraph_as_a_key_is_shown_short(tmp_path):
    output = refused(cli(tmp_path, "validate", changes=(f"levels.ward.{'x' * 5000}=1",)), "not a known key")
    assert len(output) < 800
    output = refused(cli(tmp_path, "validate", text=SMALL + "? " + "y" * 5000 + "\n: 1\n"), "not a known key")
    assert len(output) < 800
