"""Shared helpers: small scenarios built from plain dicts."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import psutil
import pytest
from hypothesis import settings

import sim

# the same examples on every run and machine: CI never fails on a draw nobody can replay
settings.register_profile("continuum", derandomize=True)
settings.load_profile("continuum")

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"


def fixed(value: float) -> dict:
    return {"dist": "fixed", "value": value}


def exponential(mean: float) -> dict:
    return {"dist": "exponential", "mean": mean}


def level(capacity, los, next_, **extra) -> dict:
    return {"capacity": capacity, "los": los, "next": next_, **extra}


def scenario(levels: dict, relapse: dict | None = None, **run) -> sim.Scenario:
    data = {"name": "test", "run": {"warmup_days": 0, "days": 100, "replications": 1, "seed": 7, **run},
            "levels": levels}
    if relapse is not None:
        data["relapse"] = relapse
    return sim.validate(data)


@pytest.fixture(scope="session")
def regional() -> sim.Scenario:
    return sim.load_scenario(SCENARIOS / "regional_adult.yaml")


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def rendered_dom(report: Path, profile: Path) -> str:
    """``report`` as headless Chromium leaves it once its scripts have run (the report marks
    ``data-images`` and ``data-errors`` on its body)."""
    assert CHROMIUM, "CI must have chromium (.ci/run installs Debian's package)"
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
               "--virtual-time-budget=5000", "--dump-dom", report.as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def running(processes: list[psutil.Process]) -> list[psutil.Process]:
    """Those still running (``is_running`` also knows a recycled pid); a zombie has stopped."""
    alive = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(process)
        except psutil.NoSuchProcess:
            pass
    return alive
