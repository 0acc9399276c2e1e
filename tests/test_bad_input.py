"""Bad input, from the planner's side: every mistake exits with status 2 and one short message.

Each case writes a broken scenario, runs the real ``continuum`` command and reads what a
planner would read: no traceback, no pydantic internals, and a message that names the file,
the key path (with its line), the offending value and what is allowed instead.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import SCENARIOS

from sim.cli import main

# Line numbers matter: several cases expect the message to point at one of these lines.
GOOD = """\
name: Bad input test
run:
  warmup_days: 10
  days: 100
  replications: 2
  seed: 1
levels:
  ward:
    capacity: 20
    los: {dist: exponential, mean: 4}
    referrals_per_year: 500
    next: {clinic: 0.5, discharged: 0.5}
  clinic:
    capacity: 50
    los: {dist: lognormal, median: 30, p90: 60}
    next: {discharged: 0.9, dropped_out: 0.1}
relapse:
  after_discharged: {probability: 0.2, time: {dist: exponential, mean: 200}}
  return_to: {ward: 1}
"""

NOISE = ("Traceback", "function-after", "function-before", "Input should", "instance of",
         "union_tag", "after validation", "pydantic", "For further information")
"""Words that would mean Python or pydantic leaked through to the planner."""


def edited(old: str, new: str, text: str = GOOD) -> str:
    """The good scenario with one exact edit (the edit must apply, or the case tests nothing)."""
    assert text.count(old) == 1, f"{old!r} is not in the scenario exactly once"
    return text.replace(old, new)


def invoke(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


def assert_bad_input(result, *expected: str) -> None:
    """Status 2, nothing leaked, one screen, and every expected fragment in the message."""
    output = result.output
    assert result.exit_code == 2, output
    assert output.startswith("error: "), output
    assert not any(word in output for word in NOISE), output
    assert len(output.splitlines()) < 25, output
    for fragment in expected:
        assert fragment in output, f"{fragment!r} missing from:\n{output}"


@pytest.fixture
def scenario_file(tmp_path):
    def write(text: str) -> Path:
        path = tmp_path / "scenario.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


# ---------------------------------------------------------------------------- the file
CASES = {
    "bad indentation": (
        edited("  days: 100", "   days: 100"),
        ["line 4", "not valid YAML", "indentation"]),
    "tab for indentation": (
        edited("    los: {dist: exponential", "\tlos: {dist: exponential"),
        ["line 10", "not valid YAML", "not tabs"]),
    "key given twice": (
        edited("  seed: 1", "  seed: 1\n  seed: 2"),
        ["line 7", "run.seed is given twice", "first on line 6"]),
    "top level is a list": (
        "- ward\n- clinic\n",
        ["must hold keys (name, run, levels, ...)", "list"]),
    "empty file": (
        "",
        ["must hold keys (name, run, levels, ...)", "empty"]),
    "misspelt key": (
        edited("referrals_per_year", "referals_per_year"),
        ["line 11", "levels.ward.referals_per_year", "did you mean 'referrals_per_year'?",
         "allowed here: accepts, capacity,"]),
    "unknown key at the top": (
        GOOD + "colour: red\n",
        ["line 20", "colour is not a known key",
         "allowed here: description, groups, levels, name, population, relapse, run"]),
    "unknown key in run": (
        edited("  seed: 1", "  seeds: 1"),
        ["line 6", "run.seeds", "did you mean 'seed'?", "warmup_days"]),
    "unknown key in a distribution": (
        edited("{dist: exponential, mean: 4}", "{dist: exponential, mean: 4, sd: 2}"),
        ["line 10", "levels.ward.los.sd is not a known key", "allowed here: dist, max, mean"]),
    "capacity in words": (
        edited("capacity: 20", "capacity: twenty"),
        ["line 9", "levels.ward.capacity = 'twenty'", "whole number of places", "from_day"]),
    "capacity a fraction": (
        edited("capacity: 20", "capacity: 20.5"),
        ["line 9", "levels.ward.capacity = 20.5", "whole number of places"]),
    "negative capacity": (
        edited("capacity: 20", "capacity: -5"),
        ["line 9", "levels.ward.capacity = -5", "0 or more"]),
    "negative capacity in a schedule": (
        edited("capacity: 50", "capacity:\n"
                               "      - {from_day: 0, capacity: 50}\n"
                               "      - {from_day: 9, capacity: -2}"),
        ["line 16", "levels.clinic.capacity.1.capacity = -2", "greater than or equal to 0"]),
    "schedule not from day 0": (
        edited("capacity: 50", "capacity: [{from_day: 5, capacity: 50}]"),
        ["line 14", "levels.clinic.capacity", "starts at from_day 0"]),
    "next shares not summing to 1": (
        edited("{discharged: 0.9, dropped_out: 0.1}", "{discharged: 0.6, dropped_out: 0.1}"),
        ["line 16", "levels.clinic.next", "must sum to 1", "sum to 0.7", "discharged: 0.6"]),
    "next names no level": (
        edited("{clinic: 0.5,", "{clinc: 0.5,"),
        ["line 12", "levels.ward.next.clinc", "did you mean 'clinic'?",
         "allowed: clinic, discharged, dropped_out"]),
    "next share in words": (
        edited("clinic: 0.5,", "clinic: half,"),
        ["levels.ward.next.clinic = 'half'", "a share between 0 and 1"]),
    "missing los": (
        edited("    los: {dist: exponential, mean: 4}\n", ""),
        ["line 8", "levels.ward.los is required but missing"]),
    "missing next": (
        edited("    next: {discharged: 0.9, dropped_out: 0.1}\n", ""),
        ["line 13", "levels.clinic.next is required but missing"]),
    "warm-up not a number of days": (
        edited("warmup_days: 10", "warmup_days: long"),
        ["line 3", "run.warmup_days", "'long'", "whole number of days", "auto"]),
    "unknown distribution": (
        edited("dist: exponential, mean: 4", "dist: poisson, mean: 4"),
        ["line 10", "levels.ward.los.dist = 'poisson'", "exponential, lognormal, gamma"]),
    "distribution without dist": (
        edited("dist: exponential, mean: 4", "mean: 4"),
        ["line 10", "levels.ward.los", "exponential, lognormal, gamma"]),
    "stay as a bare number": (
        edited("{dist: exponential, mean: 4}", "4"),
        ["line 10", "levels.ward.los = 4", "{dist: exponential, mean: 4}"]),
    "lognormal with mean but no sd": (
        edited("{dist: lognormal, median: 30, p90: 60}", "{dist: lognormal, mean: 30}"),
        ["line 15", "levels.clinic.los", "mean and sd", "median and p90"]),
    "max below every stay": (
        edited("{dist: exponential, mean: 4}", "{dist: uniform, low: 5, high: 10, max: 2}"),
        ["line 10", "levels.ward.los", "max 2 is below every value this uniform can draw"]),
    "when_full not a choice": (
        edited("    next: {clinic", "    when_full: queue\n    next: {clinic"),
        ["line 12", "levels.ward.when_full = 'queue'", "'wait' or 'turn_away'"]),
    "seasonality not 12 months": (
        edited("    next: {clinic", "    referral_seasonality: [1, 2]\n    next: {clinic"),
        ["levels.ward.referral_seasonality = [1, 2]", "at least 12 items"]),
    "probability as a percentage": (
        edited("probability: 0.2", "probability: 40"),
        ["line 18", "relapse.after_discharged.probability = 40", "less than or equal to 1", "0.4"]),
    "return_to names no level": (
        edited("return_to: {ward: 1}", "return_to: {wards: 1}"),
        ["line 19", "relapse.return_to.wards", "did you mean 'ward'?", "allowed: ward, clinic"]),
    "gave_up without patience": (
        edited("    next: {clinic", "    gave_up: {discharged: 1}\n    next: {clinic"),
        ["line 12", "levels.ward.gave_up", "needs a patience", "patience: {dist:"]),
    "level named discharged": (
        edited("relapse:", "  discharged:\n    capacity: 5\n    los: {dist: fixed, value: 3}\n"
                           "    next: {ward: 1}\nrelapse:"),
        ["line 17", "levels.discharged", "reserved", "choose another level name"]),
    "level with no settings": (
        edited("relapse:", "  day_program:\nrelapse:"),
        ["line 17", "levels.day_program = (empty)", "capacity, gave_up, initial, los"]),
    "empty levels": (
        GOOD.split("levels:")[0] + "levels: {}\n",
        ["line 7", "levels = {}", "at least 1 item"]),
    "start date in another form": (
        edited("  seed: 1", "  seed: 1\n  start_date: 03/01/2027"),
        ["line 7", "run.start_date = '03/01/2027'", "YYYY-MM-DD", "2027-03-01"]),
    "start date before 1900": (
        edited("  seed: 1", "  seed: 1\n  start_date: 0001-01-01"),
        ["line 7", "run.start_date", "is not all between 1900-01-01 and 2999-12-31"]),
    "start date plus days past 2999": (
        edited("  seed: 1", "  seed: 1\n  start_date: 2999-12-01"),
        ["line 7", "run.start_date", "is not all between 1900-01-01 and 2999-12-31"]),
    "start date not on the calendar": (
        edited("  seed: 1", "  seed: 1\n  start_date: 2027-02-30"),
        ["line 7", "run.start_date = '2027-02-30'", "no day on the calendar", "YYYY-MM-DD"]),
    "start date with a time": (
        edited("  seed: 1", "  seed: 1\n  start_date: 2027-03-01 08:00"),
        ["line 7", "run.start_date", "YYYY-MM-DD"]),
    "start month disagrees with start date": (
        edited("  seed: 1", "  seed: 1\n  start_month: 1\n  start_date: 2027-03-01"),
        ["line 7", "run.start_month", "start_month 1 disagrees with start_date 2027-03-01 (month 3)"]),
    "schedule by date without a start date": (
        edited("capacity: 50", "capacity:\n"
                               "      - {from_day: 0, capacity: 50}\n"
                               "      - {from_date: 2027-06-01, capacity: 60}"),
        ["line 16", "levels.clinic.capacity.1.from_date", "needs run.start_date"]),
    "schedule date in another form": (
        edited("  seed: 1", "  seed: 1\n  start_date: 2027-03-01", edited(
            "capacity: 50", "capacity:\n"
                            "      - {from_day: 0, capacity: 50}\n"
                            "      - {from_date: 1 June 2027, capacity: 60}")),
        ["line 17", "levels.clinic.capacity.1.from_date", "'1 June 2027'", "YYYY-MM-DD"]),
    "schedule date before the start date": (
        edited("  seed: 1", "  seed: 1\n  start_date: 2027-03-01", edited(
            "capacity: 50", "capacity:\n"
                            "      - {from_day: 0, capacity: 50}\n"
                            "      - {from_date: 2026-12-01, capacity: 60}")),
        ["line 17", "levels.clinic.capacity.1.from_date", "2026-12-01 is before run.start_date 2027-03-01"]),
}


@pytest.mark.parametrize("text, expected", CASES.values(), ids=CASES.keys())
def test_bad_scenario_file_is_explained(scenario_file, text, expected):
    path = scenario_file(text)
    assert_bad_input(invoke("validate", path), str(path), *expected)


def test_the_good_scenario_is_valid(scenario_file):
    """Every case above is one edit away from this, so each failure is that edit's."""
    result = invoke("validate", scenario_file(GOOD))
    assert result.exit_code == 0, result.output


def test_missing_file(tmp_path):
    path = tmp_path / "no_such_scenario.yaml"
    assert_bad_input(invoke("validate", path), str(path), "no such file")


def test_every_problem_is_listed_at_once(scenario_file):
    text = edited("capacity: 20", "capacity: -5", edited("seed: 1", "seeds: 1"))
    assert_bad_input(invoke("validate", scenario_file(text)), "2 problems", "run.seeds",
                     "levels.ward.capacity = -5")


# ---------------------------------------------------------------------------- --set
SET_CASES = {
    "bad value": (
        "levels.ward.capacity=-3",
        ["levels.ward.capacity", "changed on the command line", "-3", "0 or more"]),
    "unknown key": (
        "levels.ward.capasity=30",
        ["levels.ward.capasity", "changed on the command line", "did you mean 'capacity'?"]),
    "unknown level": (
        "levels.wards.capacity=30",
        ["--set", "levels.wards.capacity", "no level 'wards'", "did you mean 'ward'?"]),
    "keys under a value": (
        "run.days.first=3",
        ["--set", "run.days.first", "run.days holds 100"]),
    "bad distribution": (
        "levels.ward.los.dist=poisson",
        ["levels.ward.los.dist", "changed on the command line", "'poisson'", "exponential"]),
}


@pytest.mark.parametrize("assignment, expected", SET_CASES.values(), ids=SET_CASES.keys())
def test_bad_set_is_explained(scenario_file, assignment, expected):
    path = scenario_file(GOOD)
    assert_bad_input(invoke("validate", path, "--set", assignment), str(path), *expected)


@pytest.mark.parametrize("assignment, expected", [
    ("levels.ward.capacity", ["'levels.ward.capacity' is not KEY=VALUE", "levels.php.capacity=30"]),
    ("=30", ["'=30' is not KEY=VALUE"]),
    ("run.seed=[1", ["--set", "run.seed = [1", "not a YAML value"]),
], ids=["no equals sign", "no key", "value not YAML"])
def test_unreadable_set_is_explained(scenario_file, assignment, expected):
    # read before the file is opened, so these name --set and the assignment, not the file
    assert_bad_input(invoke("validate", scenario_file(GOOD), "--set", assignment), *expected)


# ---------------------------------------------------------------------------- run
@pytest.mark.parametrize("text, assignments, key", [
    (edited("capacity: 20", "capacity: twenty"), [], "levels.ward.capacity"),
    (GOOD, ["--set", "levels.ward.capacity=-3"], "levels.ward.capacity"),
    (GOOD, ["--set", "run.start_date=2027-13-01"], "run.start_date"),
], ids=["bad file", "bad --set", "bad date"])
def test_run_with_bad_input_leaves_no_output_folder(scenario_file, tmp_path, text, assignments, key):
    out = tmp_path / "out"
    result = invoke("run", scenario_file(text), "--out", out, "--quiet", *assignments)
    assert_bad_input(result, key)
    assert not out.exists()


def test_example_scenario_is_valid():
    result = invoke("validate", SCENARIOS / "teaching_mmc.yaml")
    assert result.exit_code == 0, result.output
    assert "valid" in result.output


def continuum_command() -> list[str]:
    """The installed ``continuum`` script, or the same entry point through this Python."""
    script = shutil.which("continuum")
    return [script] if script else [sys.executable, "-c", "from sim.cli import main; main()"]


def test_real_process_reports_on_stderr(scenario_file, tmp_path):
    """Through a real process: status 2, the message on stderr, nothing on stdout, no folder."""
    path = scenario_file(edited("referrals_per_year", "referals_per_year"))
    out = tmp_path / "out"
    done = subprocess.run([*continuum_command(), "run", str(path), "--out", str(out)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert done.stderr == (
        f"error: {path}: 1 problem in the scenario\n"
        "  - line 11, levels.ward.referals_per_year is not a known key; "
        "did you mean 'referrals_per_year'? allowed here: accepts, capacity, gave_up, initial, los, next, "
        "patience, priority, program, referral_growth_per_year, referral_seasonality, referrals_per_100k_per_year, "
        "referrals_per_year, staff, "
        "staff_available, waitlist, when_full, when_next_full\n"
    )
    assert not out.exists()
