"""What analysts reach for at the console: which period an episode belongs to, and a ``dir(sim)``
that lists the public API only."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
from click.testing import CliRunner
from conftest import SCENARIOS

import sim
from sim.cli import main

EPISODE_COLUMNS = ["replication", "patient", "level", "source", "arrived_day", "admitted_day", "stay_ended_day",
                   "left_day", "wait_days", "stay_days", "held_days", "status", "route"]
"""episodes.csv before ``period``: scripts read these by name and position."""


def test_episodes_say_whether_they_arrived_in_the_warm_up_or_the_measured_period(tmp_path):
    out = tmp_path / "ep"
    args = ["run", str(SCENARIOS / "teaching_mmc.yaml"), "--out", str(out), "--replications", "2", "--set",
            "run.days=40", "--set", "run.warmup_days=20", "--episodes", "--jobs", "1", "--no-report", "--quiet"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    written = pd.read_csv(out / "episodes.csv")
    assert list(written.columns) == [*EPISODE_COLUMNS, "period"]      # appended, nothing moved
    warm = written["arrived_day"] < 0
    assert warm.any() and (~warm).any()
    assert (written.loc[warm, "period"] == "warm-up").all() and (written.loc[~warm, "period"] == "measured").all()


def test_results_episodes_have_the_period_and_keep_their_columns():
    scenario = sim.load_scenario(SCENARIOS / "teaching_mmc.yaml").with_changes(
        {"run.days": 30, "run.warmup_days": 10, "run.replications": 1})
    episodes = sim.run(scenario, jobs=1, progress=False, keep_episodes=True).episodes
    assert list(episodes.columns) == [*EPISODE_COLUMNS, "period"]
    assert set(episodes["period"]) == {"warm-up", "measured"}
    assert (episodes["period"] == episodes["arrived_day"].map(lambda day: "warm-up" if day < 0 else "measured")).all()


def test_dir_sim_lists_the_public_api_only():
    """Even after the submodules behind the public names are loaded (a run, a figure module)."""
    code = ("import sim, sim.results; sim.run; sim.plots.census_over_time; "
            "print(dir(sim) == sorted(sim.__all__)); print(' '.join(sorted(set(dir(sim)) - set(sim.__all__)))); "
            "namespace = {}; exec('from sim import *', namespace); "
            "print(sorted(set(namespace) - {'__builtins__'}) == sorted(sim.__all__))")
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert shown.split("\n")[:3] == ["True", "", "True"], shown
    assert all(getattr(sim, name) is not None for name in sim.__all__)
    assert callable(sim.run) and callable(sim.compare) and callable(sim.sweep)   # the functions, not the modules
