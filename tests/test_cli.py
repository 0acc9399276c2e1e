"""The planner's path: a scenario file through `continuum run` to an output folder."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import SCENARIOS

import sim
from sim.cli import main
from sim.results import ALL_METRICS, LEVEL_METRICS


@pytest.fixture(scope="module")
def output(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "mmc"
    result = CliRunner().invoke(main, ["run", str(SCENARIOS / "teaching_mmc.yaml"), "--out", str(out),
                                       "--replications", "3", "--set", "run.days=300", "--jobs", "1"])
    assert result.exit_code == 0, result.output
    return out, result.output


def test_run_writes_every_file_with_the_promised_columns(output):
    out, _ = output
    files = ["daily.csv", "figures", "manifest.json", "monthly.csv", "replications.csv", "report.html", "run.json",
             "scenario.yaml", "summary.csv"]
    assert sorted(p.name for p in out.iterdir()) == files
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "run" and "figures/census_over_time.png" in manifest["files"]
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary.columns) == ["level", "metric", "mean", "ci_low", "ci_high", "std", "replications"]
    assert set(summary.query("level == 'ward'")["metric"]) == set(LEVEL_METRICS)
    assert set(summary.query("level == 'all'")["metric"]) == set(ALL_METRICS)
    assert (summary["ci_low"].dropna() <= summary["mean"][summary["ci_low"].notna()] + 1e-12).all()
    replications = pd.read_csv(out / "replications.csv")
    assert list(replications.columns) == ["replication", "level", "metric", "value"]
    assert sorted(replications["replication"].unique()) == [0, 1, 2]
    daily = pd.read_csv(out / "daily.csv")
    assert list(daily.columns) == ["replication", "day", "level", "period", "census", "waitlist", "held",
                                   "waitlist_max", "capacity", "places", "closed_places"]
    assert len(daily) == 3 * (200 + 300)
    monthly = pd.read_csv(out / "monthly.csv")
    assert list(monthly.columns) == ["level", "month", "month_start", "from_day", "to_day", "days", "metric", "mean",
                                     "ci_low", "ci_high", "p05", "p25", "p50", "p75", "p95", "replications"]
    assert monthly["month"].max() == 9 and monthly["to_day"].max() == 299 and monthly["month_start"].isna().all()
    meta = json.loads((out / "run.json").read_text())
    assert meta["seed"] == 42 and meta["replications"] == 3 and meta["version"] == sim.__version__
    assert meta["wall_time_seconds"] > 0


def test_resolved_scenario_reloads_to_the_same_scenario(output):
    out, _ = output
    again = sim.load_scenario(out / "scenario.yaml")
    assert again.run.days == 300 and again.run.replications == 3
    original = sim.load_scenario(SCENARIOS / "teaching_mmc.yaml").with_changes({"run.days": 300, "run.replications": 3})
    assert again.to_dict() == original.to_dict()


def test_terminal_shows_a_readable_table(output):
    _, text = output
    assert "ward" in text and "occupancy" in text and "95% interval" in text
    assert "Results written to" in text


def test_rerun_replaces_the_folder_whole(output, tmp_path):
    out = tmp_path / "again"
    args = ["run", str(SCENARIOS / "teaching_mmc.yaml"), "--out", str(out), "--replications", "2",
            "--set", "run.days=100", "--set", "run.warmup_days=50", "--quiet"]
    assert CliRunner().invoke(main, args).exit_code == 0
    (out / "stale.txt").write_text("from an earlier run")
    assert CliRunner().invoke(main, args).exit_code == 0
    assert not (out / "stale.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["again"]   # no temporary folders left


def test_episodes_on_request(tmp_path):
    out = tmp_path / "ep"
    args = ["run", str(SCENARIOS / "teaching_mmc.yaml"), "--out", str(out), "--replications", "1",
            "--set", "run.days=50", "--set", "run.warmup_days=10", "--episodes", "--quiet"]
    assert CliRunner().invoke(main, args).exit_code == 0
    episodes = pd.read_csv(out / "episodes.csv")
    admitted = episodes.dropna(subset=["admitted_day"])
    assert (admitted["wait_days"] >= 0).all()
    assert set(episodes["status"]) <= {"left", "in_care", "waiting"}


def test_validate_says_what_it_checked():
    result = CliRunner().invoke(main, ["validate", str(SCENARIOS / "regional_adult.yaml")])
    assert result.exit_code == 0
    assert "valid" in result.output and "inpatient (200 places)" in result.output
