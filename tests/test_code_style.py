"""The code stays as STYLE.md asks: ruff and mypy clean, configured in pyproject.toml only."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from conftest import ROOT


@pytest.mark.parametrize("command", [["ruff", "check", "sim", "tests", "benchmarks"], ["mypy", "sim"]],
                         ids=["ruff", "mypy"])
def test_checkers_find_nothing(command, tmp_path):
    options = ["--cache-dir", str(tmp_path)]        # no cache folder left in the checkout
    done = subprocess.run([sys.executable, "-m", *command, *options], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


LINT_IMPORTS = [sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()",
                "--no-cache"]


def test_the_rooms_import_only_downwards():
    """The layer contract in pyproject.toml ([tool.importlinter]) holds: no import goes up, so no circle."""
    done = subprocess.run(LINT_IMPORTS, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_contract_catches_an_import_going_up(tmp_path):
    # a copy of the package where the schema reaches up to the command line: the circle the contract forbids
    shutil.copytree(ROOT / "sim", tmp_path / "sim", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    with (tmp_path / "sim" / "scenario.py").open("a", encoding="utf-8") as module:
        module.write("\nfrom . import cli  # noqa\n")
    done = subprocess.run(LINT_IMPORTS, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode != 0 and "sim.scenario is not allowed to import sim.cli" in done.stdout, done.stdout
