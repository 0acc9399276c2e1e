"""compare, sweep, automatic warm-up and the precision rule from the command line."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import SCENARIOS

import sim
from sim.cli import main

TEACHING = str(SCENARIOS / "teaching_mmc.yaml")
SHORT = ["--set", "run.days=300", "--set", "run.warmup_days=30"]


def invoke(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result


def test_compare_writes_a_comparison_and_each_scenario(tmp_path):
    short = sim.load_scenario(TEACHING).with_changes({"run.warmup_days": 30, "run.days": 300})
    base, bigger = tmp_path / "base.yaml", tmp_path / "bigger.yaml"
    base.write_text(short.to_yaml())
    bigger.write_text(short.with_changes({"levels.ward.capacity": 25}).to_yaml())
    result = invoke("compare", base, bigger, "--replications", "8", "--jobs", "1", "--out", tmp_path / "cmp")
    assert result.exit_code == 0, result.output
    assert "clearly real" in result.output and " *" in result.output
    table = pd.read_csv(tmp_path / "cmp" / "comparison.csv")
    wait = table.query("level == 'ward' and metric == 'wait_mean_days'").iloc[0]
    assert wait["difference"] < 0 and wait["clear"]
    assert list(table.columns)[-5:] == ["method", "base_ci_low", "base_ci_high", "alternative_ci_low",
                                        "alternative_ci_high"]
    own = pd.read_csv(tmp_path / "cmp" / "bigger" / "summary.csv").query(
        "level == 'ward' and metric == 'wait_mean_days'").iloc[0]
    assert (wait["alternative_ci_low"], wait["alternative_ci_high"]) == pytest.approx((own["ci_low"], own["ci_high"]))
    assert sorted(p.name for p in (tmp_path / "cmp").iterdir()) == ["base", "bigger", "comparison.csv", "figures",
                                                                     "manifest.json", "report.html"]
    assert json.loads((tmp_path / "cmp" / "manifest.json").read_text())["kind"] == "compare"
    assert (tmp_path / "cmp" / "figures" / "comparison.png").exists()
    assert (tmp_path / "cmp" / "base" / "report.html").exists()


def test_compare_with_a_bad_file_exits_2(tmp_path):
    result = invoke("compare", TEACHING, tmp_path / "missing.yaml", "--out", tmp_path / "cmp")
    assert result.exit_code == 2 and "no such file" in result.output
    assert not (tmp_path / "cmp").exists()


def test_sweep_command_writes_a_tidy_table_and_resumes(tmp_path):
    args = ["sweep", TEACHING, "--grid", "levels.ward.capacity=19,21", "--replications", "2", "--jobs", "1",
            *SHORT, "--out", tmp_path / "sw"]
    first = invoke(*args)
    assert first.exit_code == 0, first.output
    table = pd.read_csv(tmp_path / "sw" / "sweep.csv")
    assert list(table.columns[:2]) == ["levels.ward.capacity", "point"]
    assert sorted(table["levels.ward.capacity"].unique()) == [19, 21]
    again = invoke(*args)
    assert again.exit_code == 0
    assert pd.read_csv(tmp_path / "sw" / "sweep.csv").equals(table)
    assert (tmp_path / "sw" / "report.html").exists()
    assert (tmp_path / "sw" / "figures" / "sweep_levels_ward_capacity.png").exists()
    bad = invoke("sweep", TEACHING, "--grid", "levels.ward.capacity=-1,2", "--out", tmp_path / "bad")
    assert bad.exit_code == 2 and "levels.ward.capacity" in bad.output


def test_auto_warmup_and_precision_are_reported(tmp_path):
    result = invoke("run", TEACHING, "--set", "run.warmup_days=auto", "--set", "run.days=300",
                    "--replications", "3", "--precision", "0.1", "--max-replications", "8", "--jobs", "1",
                    "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    assert "Warm-up chosen by MSER-5" in result.output and "Precision" in result.output
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    assert meta["warmup"]["chosen_days"] == meta["warmup_days"] <= 300
    assert 3 <= meta["precision"]["replications"] == meta["replications"] <= 8
    replications = pd.read_csv(tmp_path / "run" / "replications.csv")
    assert replications["replication"].nunique() == meta["replications"]
