"""The compiled engine modules (mypyc, built on install): used only while they match their source, and the
same numbers as the source."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import pytest

import sim
import sim.engine
from sim import compiled

REPOSITORY = Path(__file__).parent.parent


def _package(tmp_path: Path, record: dict[str, str] | None) -> Path:
    """A stand-in package: the compiled modules' sources, one built module, and the build's record."""
    for name in compiled.COMPILED:
        (tmp_path / f"{name}.py").write_text(f"NAME = {name!r}\n")
    (tmp_path / f"engine{EXTENSION_SUFFIXES[0]}").write_bytes(b"")
    if record is not None:
        (tmp_path / compiled.BUILD_RECORD).write_text(json.dumps(record))
    return tmp_path


def test_a_compiled_module_is_current_while_its_source_is_the_one_compiled(tmp_path):
    package = _package(tmp_path, {})
    built = {name: compiled.source_hash(package / f"{name}.py") for name in compiled.COMPILED}
    (package / compiled.BUILD_RECORD).write_text(json.dumps(built))
    assert compiled.stale(package) == []
    (package / "engine.py").write_text("NAME = 'edited'\n")
    assert compiled.stale(package) == ["engine"]


def test_without_the_builds_record_every_compiled_module_counts_as_stale(tmp_path):
    assert compiled.stale(_package(tmp_path, None)) == ["engine"]


@pytest.mark.parametrize("record", ["not json at all", "[1, 2]", "null"])
def test_a_record_that_is_not_the_builds_vouches_for_nothing(tmp_path, record):
    package = _package(tmp_path, None)
    (package / compiled.BUILD_RECORD).write_text(record)
    assert compiled.stale(package) == ["engine"]


def test_nothing_compiled_is_nothing_stale(tmp_path):
    package = _package(tmp_path, None)
    (package / f"engine{EXTENSION_SUFFIXES[0]}").unlink()
    assert compiled.stale(package) == []


def test_a_stale_compiled_module_is_imported_from_source_with_a_warning(tmp_path, monkeypatch):
    package = _package(tmp_path, {"engine": "the hash of an older source"})
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    monkeypatch.delenv(compiled.PURE_PYTHON, raising=False)
    with pytest.warns(UserWarning, match=r"sim\.engine changed since compiled.*pip install -e \."):
        reason = compiled.run_source_if_stale(package)
    assert reason == "sim.engine changed since compiled"
    spec = sys.meta_path[0].find_spec("sim.engine", None)
    assert spec is not None and spec.origin == str(package / "engine.py")
    assert sys.meta_path[0].find_spec("sim.run", None) is None   # only the compiled modules


def test_current_compiled_modules_are_used_without_a_word(tmp_path, monkeypatch):
    package = _package(tmp_path, {})
    (package / compiled.BUILD_RECORD).write_text(json.dumps({"engine": compiled.source_hash(package / "engine.py")}))
    meta_path = list(sys.meta_path)
    monkeypatch.setattr(sys, "meta_path", meta_path)
    monkeypatch.delenv(compiled.PURE_PYTHON, raising=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert compiled.run_source_if_stale(package) is None
    assert sys.meta_path == meta_path


@pytest.mark.parametrize(("value", "asked"), [("1", True), ("yes", True), ("0", False), ("false", False),
                                              ("No", False), ("", False), (None, False)])
def test_only_a_value_that_means_yes_asks_for_the_source(monkeypatch, value, asked):
    if value is None:
        monkeypatch.delenv(compiled.PURE_PYTHON, raising=False)
    else:
        monkeypatch.setenv(compiled.PURE_PYTHON, value)
    assert compiled.pure_python_asked() is asked


RUN = """
import json, sys
import sim
import sim.engine, sim.records
scenario = sim.load_scenario("scenarios/regional_adult.yaml").with_changes({"run.days": 365})
summary = sim.run(scenario, replications=2, jobs=1, progress=False).summary
print(json.dumps([sim.compiled.is_compiled(sim.engine), sim.compiled.is_compiled(sim.records),
                  summary.to_json(double_precision=15)]))
"""


def _run(pure: bool) -> list:
    environment = {name: value for name, value in os.environ.items() if name != compiled.PURE_PYTHON}
    if pure:
        environment[compiled.PURE_PYTHON] = "1"
    out = subprocess.run([sys.executable, "-c", RUN], cwd=REPOSITORY, capture_output=True, text=True, check=True,
                         env=environment)
    return json.loads(out.stdout)


def test_the_compiled_engine_gives_the_numbers_of_its_source():
    """The promise that the same scenario and seed give the same numbers on any machine, compiled or not."""
    if not compiled.is_compiled(sim.engine):
        pytest.skip("the engine is not compiled here (no C compiler at install, CONTINUUM_PURE_PYTHON, or edited)")
    fast, source = _run(pure=False), _run(pure=True)
    assert fast[:2] == [True, True] and source[:2] == [False, False]
    assert fast[2] == source[2]


def test_run_json_says_how_the_engine_ran():
    scenario = sim.load_scenario(REPOSITORY / "tests/golden/small_continuum.yaml").with_changes({"run.days": 30})
    meta = sim.run(scenario, replications=1, jobs=1, progress=False).meta
    assert meta["engine"] == ("compiled (mypyc)" if compiled.is_compiled(sim.engine) else "Python source")
