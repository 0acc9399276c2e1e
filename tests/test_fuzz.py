"""Hundreds of mutated scenarios through ``continuum validate`` and a short ``continuum run``.

Each case is the fuzz base scenario (``fuzz_scenarios.BASE``: three levels using most keys) with
one thing broken the way a careless or hostile user breaks it: an odd value (.inf, .nan, -1, 1e300,
text, empty), a key deleted, misspelt or unknown, a number scaled a millionfold, stays and
patience of 0 days. Every outcome must be exit 0 with sane output or exit 2 with the key named,
never a traceback, within a time cap per case and a memory cap for the whole batch.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

MEMORY_CAP_BYTES = 4 * 2**30


def fuzz(seed: int, count: int, folder: Path) -> list[dict]:
    """Run the cases in a child process whose address space is capped (a runaway run fails, not the machine)."""

    def cap_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP_BYTES, MEMORY_CAP_BYTES))

    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(ROOT / "tests" / "fuzz_scenarios.py"), str(seed), str(count),
                           str(folder)], capture_output=True, text=True, env=env, preexec_fn=cap_memory,
                          timeout=60 + 30 * count)
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines()]


def judge(case: dict) -> str | None:
    """What is wrong with one case's outcome, or None."""
    if case.get("hung"):
        return "did not finish within the time cap"
    for step in ("validate", "run"):
        if case.get(f"{step}_error"):
            return f"{step} raised: {case[f'{step}_error']}"
        if case.get(step) not in (None, 0, 2):
            return f"{step} exited with {case[step]}"
        if case.get(step) == 2 and not names_the_key(case[f"{step}_output"], case["path"]):
            return f"{step} refused without naming {case['path']}"
    if "Traceback" in case.get("validate_output", "") + case.get("run_output", ""):
        return "printed a traceback"
    return "; ".join(case.get("insane") or []) or None


def names_the_key(message: str, path: str) -> bool:
    """The message names the changed key, its level or section, or what was left pointing at it."""
    parts = path.split(".")
    return "error: " in message and (".".join(parts[:2]) in message or parts[-1][:37] in message)


def check(cases: list[dict], count: int) -> None:
    assert len(cases) == count
    problems = [f"case {c['case']} ({c['path']}, {c['change']}): {judge(c)}" for c in cases if judge(c)]
    assert not problems, "\n".join(problems[:10])
    outcomes = {(c["validate"], c.get("run")) for c in cases}
    assert {(2, None), (0, 0)} <= outcomes, "the fuzz should produce both refusals and finished runs"


def test_two_hundred_mutated_scenarios_end_in_a_clear_refusal_or_a_sane_run(tmp_path):
    check(fuzz(seed=1, count=200, folder=tmp_path), 200)


@pytest.mark.slow
def test_two_thousand_mutated_scenarios_end_in_a_clear_refusal_or_a_sane_run(tmp_path):
    check(fuzz(seed=2, count=2000, folder=tmp_path), 2000)
