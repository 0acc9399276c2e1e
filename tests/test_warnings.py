"""A run says when its numbers cannot be trusted: run.json, the terminal, the report and Results.warnings."""

from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner
from conftest import SCENARIOS

import sim
from sim import trust
from sim.cli import main

# 4.5 referrals a day x 4 days = 18 places' worth of demand on 15 places: 1.2 x capacity
OVERLOADED_MMC = ("--set", "levels.ward.capacity=15", "--set", "run.days=400", "--set", "run.warmup_days=50",
                  "--replications", "5")
# 40% of the ward's 1.5 a day step down to a PHP cut to 8 places: the ward fills with patients held for it
BLOCKED_STEP_DOWN = ("--set", "levels.php.capacity=8", "--set", "run.days=300", "--set", "run.warmup_days=100",
                     "--replications", "4")


def run_cli(scenario: str, options: tuple[str, ...], out, *more: str):
    result = CliRunner().invoke(main, ["run", str(SCENARIOS / scenario), *options, "--jobs", "1", "--out", str(out),
                                       *more])
    assert result.exit_code == 0, result.output
    return json.loads((out / "run.json").read_text())["warnings"], result.stderr


def warning_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("warning: ")]


def test_overloaded_mmc_warns_in_run_json_on_stderr_and_in_the_report(tmp_path):
    warnings, stderr = run_cli("teaching_mmc.yaml", OVERLOADED_MMC, tmp_path / "out")
    assert [(w["level"], w["kind"]) for w in warnings] == [("ward", "overloaded")]
    evidence = warnings[0]["evidence"]
    assert evidence["offered_load"] == pytest.approx(18) and evidence["capacity"] == 15
    assert evidence["utilisation"] == pytest.approx(1.2)
    assert evidence["waitlist_slope_per_year"] > 100 and evidence["p_value"] < 0.01
    assert warning_lines(stderr) == [f"warning: {warnings[0]['message']}"]
    assert "ward is overloaded" in warnings[0]["message"] and "utilisation 120%" in warnings[0]["message"]
    html = (tmp_path / "out" / "report.html").read_text()
    box = html[html.index('<div class="warnings"'):html.index("</div>")]
    assert "ward is overloaded" in box and html.index(box) < html.index("Headline findings")
    assert "<th>Warning</th>" in html and "<td>overloaded</td>" in html    # the level's row is flagged


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_busy_but_stable_mmc_gives_no_warning(seed):
    scenario = sim.load_scenario(SCENARIOS / "teaching_mmc.yaml").with_changes(
        {"run.days": 1000, "run.warmup_days": 200, "run.replications": 8, "run.seed": seed})
    results = sim.run(scenario, jobs=1, progress=False)
    occupancy = results.summary.query("level == 'ward' and metric == 'occupancy'")["mean"].iloc[0]
    assert 0.85 <= occupancy <= 0.95
    assert results.warnings == []


def test_ward_blocked_by_a_full_php_warns_naming_the_php(tmp_path):
    warnings, stderr = run_cli("teaching_step_down.yaml", BLOCKED_STEP_DOWN, tmp_path / "out", "--no-report",
                               "--quiet")
    growing = [w for w in warnings if w["kind"] in ("overloaded", "growing_waitlist")]
    assert [(w["level"], w["kind"]) for w in growing] == [("inpatient", "growing_waitlist")]
    evidence = growing[0]["evidence"]
    assert evidence["utilisation"] < 1 and evidence["blocked_by"] == "php"   # theory's load is fine: blocking
    assert evidence["held_mean"] > 2 and evidence["utilisation_of_free_places"] > 1
    assert any("blocked by php" in line for line in warning_lines(stderr))


def test_results_warnings_match_run_json(tmp_path):
    scenario = sim.load_scenario(SCENARIOS / "teaching_step_down.yaml").with_changes(
        {"levels.php.capacity": 8, "run.days": 300, "run.warmup_days": 100, "run.replications": 4})
    results = sim.run(scenario, jobs=1, progress=False)
    sim.write_results(results, tmp_path / "out")
    assert results.warnings and json.loads((tmp_path / "out" / "run.json").read_text())["warnings"] == results.warnings
    assert "blocked by php" in repr(results)


def test_intervals_too_wide_to_read_are_named():
    scenario = sim.load_scenario(SCENARIOS / "teaching_mmc.yaml").with_changes(
        {"run.days": 100, "run.warmup_days": 50, "run.replications": 2})
    wide = [w for w in sim.run(scenario, jobs=1, progress=False).warnings if w["kind"] == "wide_intervals"]
    assert [w["level"] for w in wide] == ["ward"]
    for row in wide[0]["evidence"]["metrics"]:
        assert row["half_width"] > max(row["mean"], 1 if row["metric"] != "occupancy" else 0)
        assert row["metric"] in wide[0]["message"]


def test_compare_prints_each_scenarios_warnings_with_its_name(tmp_path):
    """A comparison whose alternative is overloaded says so, naming that scenario, on stderr."""
    base = yaml.safe_load((SCENARIOS / "teaching_mmc.yaml").read_text())
    base["run"].update({"days": 400, "warmup_days": 50, "replications": 5})
    (tmp_path / "base.yaml").write_text(yaml.safe_dump({**base, "name": "base"}))
    base["levels"]["ward"]["capacity"], base["name"] = 15, "cut"
    (tmp_path / "cut.yaml").write_text(yaml.safe_dump(base))
    result = CliRunner().invoke(main, ["compare", str(tmp_path / "base.yaml"), str(tmp_path / "cut.yaml"), "--jobs",
                                       "1", "--quiet", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    lines = warning_lines(result.stderr)
    assert any(line.startswith("warning: cut: ward is overloaded") for line in lines), lines
    assert not any(line.startswith("warning: base: ward is overloaded") for line in lines), lines


def test_a_waitlist_still_building_from_todays_state_is_not_blamed_on_a_warm_up():
    ward = {"capacity": 10, "los": {"dist": "exponential", "mean": 10}, "referrals_per_year": 350,
            "next": {"discharged": 1}, "initial": {"census": 10}}
    today = sim.validate({"name": "today", "run": {"warmup_days": 0, "days": 365}, "levels": {"ward": ward}})
    assert "starts from the state given for day 0" in trust._likely_cause(today)
    warmed = today.with_changes({"run.warmup_days": 365})
    assert "warm-up may be too short" in trust._likely_cause(warmed)
