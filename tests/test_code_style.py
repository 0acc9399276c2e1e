"""The code stays as STYLE.md asks: ruff and mypy clean, configured in pyproject.toml only."""

from __future__ import annotations

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
