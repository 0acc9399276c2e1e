"""Output folders: written whole, marked by a manifest, never over a user's files, checked before the run."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from click.testing import CliRunner
from conftest import SCENARIOS, exponential, level, scenario

import sim
import sim.outputs
from sim.cli import main
from sim.results import Results

TINY = ["--replications", "2", "--jobs", "1", "--quiet"]


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def scenario_file(tmp_path):
    """A short teaching scenario, in a folder of its own where a test can put it in harm's way."""
    path = tmp_path / "inputs" / "w.yaml"
    path.parent.mkdir()
    short = sim.load_scenario(SCENARIOS / "teaching_mmc.yaml").with_changes({"run.days": 60, "run.warmup_days": 0})
    path.write_text(short.to_yaml())
    return path


@pytest.fixture(scope="module")
def results() -> Results:
    tiny = scenario({"ward": level(3, exponential(2), {"discharged": 1}, referrals_per_year=365)}, days=50)
    return sim.run(tiny, jobs=1, progress=False)


@pytest.fixture
def no_simulation(monkeypatch):
    """Any simulation fails the test: the output folder must be judged before one starts."""
    def simulate(*args, **kwargs):
        raise AssertionError("simulated before checking --out")

    for name in ("run_scenario", "run_all", "plan_capacity"):
        monkeypatch.setattr(f"sim.cli.{name}", simulate)


def command_line(command: str, scenario_path, out) -> list:
    """The shortest call of each command that writes a folder."""
    if command == "run":
        return ["run", scenario_path, "--no-report", *TINY, "--out", out]
    if command == "compare":
        return ["compare", scenario_path, scenario_path, *TINY, "--out", out]
    return ["plan", scenario_path, "--target", "occupancy<=0.95", *TINY, "--out", out]


def manifest(folder) -> dict:
    return json.loads((folder / "manifest.json").read_text())


# ---------------------------------------------------------------------------- 1. a manifest marks our folders
def test_run_never_replaces_a_folder_holding_its_scenario_file_and_notes(tmp_path):
    folder = tmp_path / "sc"
    folder.mkdir()
    (folder / "w.yaml").write_bytes((SCENARIOS / "teaching_mmc.yaml").read_bytes())
    (folder / "notes.txt").write_text("what I tried on Monday")
    before = {path.name: path.read_bytes() for path in folder.iterdir()}
    for extra in ([], ["--overwrite"]):
        result = invoke("run", folder / "w.yaml", "--no-report", *TINY, "--out", folder, *extra)
        assert result.exit_code == 2, result.output
        assert f"{folder} holds the scenario file" in result.output and "even with --overwrite" in result.output
        assert {path.name: path.read_bytes() for path in folder.iterdir()} == before
        assert "Traceback" not in result.output


@pytest.mark.parametrize("command", ["run", "compare", "plan"])
def test_a_folder_continuum_did_not_write_is_refused_before_simulating(command, scenario_file, tmp_path,
                                                                       no_simulation):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    result = invoke(*command_line(command, scenario_file, folder))
    assert result.exit_code == 2, result.output
    assert f"{folder} holds files continuum did not write (1: notes.txt" in result.output
    assert "choose another --out or add --overwrite to replace it" in result.output
    assert (folder / "notes.txt").read_text() == "keep me"


def test_overwrite_replaces_a_foreign_folder_that_holds_no_input(scenario_file, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("replace me")
    result = invoke("run", scenario_file, "--no-report", *TINY, "--out", folder, "--overwrite")
    assert result.exit_code == 0, result.output
    assert not (folder / "notes.txt").exists() and (folder / "summary.csv").exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["inputs", "mine"]   # nothing left beside it


def test_our_own_folder_is_replaced_without_the_flag_and_lists_its_files(scenario_file, tmp_path):
    folder = tmp_path / "out"
    assert invoke("run", scenario_file, "--no-report", *TINY, "--out", folder).exit_code == 0
    (folder / "stale.txt").write_text("from an earlier run")
    result = invoke("run", scenario_file, "--no-report", *TINY, "--out", folder)
    assert result.exit_code == 0, result.output
    written = manifest(folder)
    assert (written["package"], written["kind"], written["version"]) == ("continuum", "run", sim.__version__)
    assert written["files"] == sorted(path.name for path in folder.iterdir() if path.name != "manifest.json")


def test_the_api_refuses_a_foreign_folder_unless_told_to_overwrite(results, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("replace me")
    with pytest.raises(sim.OutputFolderError, match="notes.txt"):
        sim.write_results(results, folder)
    assert (folder / "notes.txt").exists()
    sim.write_results(results, folder, overwrite=True)
    assert manifest(folder)["kind"] == "run" and not (folder / "notes.txt").exists()
    sim.write_results(results, folder)   # ours now


def test_a_file_is_never_replaced_by_the_api(results, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("a file")
    with pytest.raises(sim.OutputFolderError, match="is a file, not a folder"):
        sim.write_results(results, path, overwrite=True)
    assert path.read_text() == "a file"


@pytest.mark.parametrize("where", ["current folder", "above the current folder", "home"])
def test_the_current_folder_those_above_it_and_home_are_never_replaced(where, scenario_file, tmp_path, monkeypatch,
                                                                       no_simulation):
    for folder in (tmp_path / "work" / "here", tmp_path / "home"):
        folder.mkdir(parents=True)
        (folder / "notes.txt").write_text("keep me")
    monkeypatch.chdir(tmp_path / "work" / "here")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    before = sorted(tmp_path.rglob("*"))
    out = {"current folder": ".", "above the current folder": tmp_path / "work", "home": tmp_path / "home"}[where]
    result = invoke(*command_line("run", scenario_file, out), "--overwrite")
    assert result.exit_code == 2, result.output
    assert "never replaces it, even with --overwrite" in result.output
    assert sorted(tmp_path.rglob("*")) == before


# ---------------------------------------------------------------------------- 2. checked before simulating
@pytest.mark.parametrize("command", ["run", "compare", "plan"])
@pytest.mark.parametrize("out, reason", [("/proc/continuum-test", "cannot write the output folder"),
                                         ("w.yaml/sub", "is a file, not a folder"),
                                         ("x" * 256, "name too long")],
                         ids=["proc", "under a file", "long name"])
def test_an_unwritable_out_is_found_before_simulating(command, out, reason, scenario_file, monkeypatch,
                                                      no_simulation):
    monkeypatch.chdir(scenario_file.parent)
    result = invoke(*command_line(command, scenario_file, out))
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: {out}") or f"output folder {out}:" in result.output
    assert reason in result.output.lower() or reason in result.output
    assert [path.name for path in scenario_file.parent.iterdir()] == ["w.yaml"]   # nothing left behind


def test_a_long_name_that_fits_is_written(scenario_file, tmp_path):
    folder = tmp_path / ("x" * 251)
    result = invoke("run", scenario_file, "--no-report", *TINY, "--out", folder)
    assert result.exit_code == 0, result.output
    assert (folder / "summary.csv").exists()


def test_a_failed_write_leaves_no_folder_behind(results, tmp_path, monkeypatch):
    def fail(results, folder):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sim.outputs, "_write_tables", fail)
    with pytest.raises(OSError, match="No space"):
        sim.write_results(results, tmp_path / "new" / "deeper" / "out")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------- 3. staging left by a kill
def test_staging_folders_are_named_for_the_target_and_the_process(results, tmp_path, monkeypatch):
    seen = []
    write = sim.outputs._write_tables
    monkeypatch.setattr(sim.outputs, "_write_tables",
                        lambda results, folder: (seen.append(folder.name), write(results, folder)))
    sim.write_results(results, tmp_path / "out")
    assert re.fullmatch(rf"\.out\.continuum-staging-{os.getpid()}-[0-9a-f]{{8}}", seen[0])


def test_staging_folders_of_ended_processes_are_removed_by_the_next_run(results, tmp_path):
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead, alive = int(ended.stdout), os.getpid()
    left = {name: tmp_path / name for name in [
        f".out.continuum-staging-{dead}-0123abcd",      # killed mid-write: removed
        f".out.continuum-staging-{alive}-89abcdef",     # still writing: kept
        f".other.continuum-staging-{dead}-0123abcd",    # another target's: kept
        f".out.{dead}.partial", "notes"]}               # not ours: kept
    for folder in left.values():
        folder.mkdir()
        (folder / "summary.csv").write_text("half written")
    sim.write_results(results, tmp_path / "out")
    assert not left.pop(f".out.continuum-staging-{dead}-0123abcd").exists()
    assert all((folder / "summary.csv").exists() for folder in left.values())


# ---------------------------------------------------------------------------- 4. permissions
def test_folders_follow_the_umask_like_mkdir(results, tmp_path):
    earlier = os.umask(0o027)
    try:
        sim.write_results(results, tmp_path / "out")
        (tmp_path / "plain").mkdir()
    finally:
        os.umask(earlier)
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o750 == (tmp_path / "plain").stat().st_mode & 0o777


# ---------------------------------------------------------------------------- 5. compare's folder names
def quick_report(results, folder, sections=None, extra_figures=(), jobs=1, figures_from=None):
    """What the report writes, without drawing (the figures take seconds; the names are the point here)."""
    (folder / "figures").mkdir(exist_ok=True)
    (folder / "figures" / "census_over_time.png").write_bytes(b"")
    (folder / "report.html").write_text("<html></html>")


def test_compare_gives_scenarios_named_like_its_files_folders_of_their_own(scenario_file, tmp_path, monkeypatch):
    monkeypatch.setattr("sim.outputs.write_report", quick_report)
    names = ["report.html", "figures", "comparison.csv", "manifest.json"]
    files = [scenario_file.with_name(f"{name}.yaml") for name in names]
    for path in files:
        path.write_bytes(scenario_file.read_bytes())
    out = tmp_path / "cmp"
    result = invoke("compare", scenario_file, *files, *TINY, "--out", out)
    assert result.exit_code == 0, result.output
    assert sorted(path.name for path in out.iterdir()) == sorted(
        ["w", "1_report.html", "2_figures", "3_comparison.csv", "4_manifest.json", *names])
    assert manifest(out)["kind"] == "compare"
    assert all(manifest(out / f"{index}_{name}")["kind"] == "run" for index, name in enumerate(names, 1))


def test_a_plan_written_with_figures_drawn_in_several_processes_is_the_same_file_for_file(tmp_path):
    """The report's figures come out the same, byte for byte, whichever process draws them: drawn from a
    plan's results (functions to call) and the plan's own curves (figures already drawn, sent over)."""
    small = sim.load_scenario(SCENARIOS / "teaching_step_down.yaml").with_changes(
        {"run.replications": 3, "run.days": 200, "run.warmup_days": 50})
    found = sim.plan(small, ["wait_p90_days<=14"], jobs=1)
    serial, parallel = (sim.write_plan(found, tmp_path / name, jobs=jobs) for name, jobs in (("one", 1), ("two", 2)))
    files = sorted(path.relative_to(serial) for path in serial.rglob("*") if path.is_file())
    assert files == sorted(path.relative_to(parallel) for path in parallel.rglob("*") if path.is_file())
    assert any(path.suffix == ".svg" for path in files) and any(path.name.startswith("plan_") for path in files)
    generated = re.compile(rb"\d{4}-\d\d-\d\d \d\d:\d\d UTC")   # the report's time of writing
    for path in files:
        one, two = (generated.sub(b"", (folder / path).read_bytes()) for folder in (serial, parallel))
        assert one == two, path
