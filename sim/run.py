"""Running replications: one pure function per replication, mapped serially or over processes."""

from __future__ import annotations

import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from tqdm.auto import tqdm

from .engine import Model
from .results import ReplicationOutput, Results, replication_metrics
from .scenario import Scenario


def run_replication(scenario: Scenario, replication: int, keep_episodes: bool = False) -> ReplicationOutput:
    """Simulate one replication and reduce it to metrics and daily rows.

    Pure and top-level (picklable): the same scenario and replication number always give
    the same output, in this process or any other.
    """
    model = Model(scenario, replication, keep_episodes).run()
    days = model.day_log.day_table()
    return ReplicationOutput(
        replication=replication,
        metrics=replication_metrics(scenario, [level.tally for level in model.levels], model.system, days),
        days=days,
        states=model.day_log.state_table(),
        episodes=model.episode_log.finish() if keep_episodes else None,
    )


def default_jobs(replications: int) -> int:
    """All cores, but never more processes than replications."""
    return max(1, min(os.cpu_count() or 1, replications))


def _map(scenario: Scenario, count: int, jobs: int, keep_episodes: bool, progress: bool) -> list[ReplicationOutput]:
    bar = tqdm(total=count, desc=f"{scenario.name[:40]}", unit="rep", disable=None if progress else True)
    with bar:
        if jobs == 1:
            outputs = []
            for replication in range(count):
                outputs.append(run_replication(scenario, replication, keep_episodes))
                bar.update()
            return outputs
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            outputs = []
            for output in pool.map(run_replication, [scenario] * count, range(count), [keep_episodes] * count):
                outputs.append(output)
                bar.update()
            return outputs


def run(scenario: Scenario, replications: int | None = None, seed: int | None = None,
        jobs: int | None = None, progress: bool = True, keep_episodes: bool = False) -> Results:
    """Run a scenario's replications and gather the results.

    Parameters
    ----------
    scenario
        A validated scenario (see :func:`sim.load_scenario`).
    replications, seed
        Override the scenario's ``run.replications`` and ``run.seed``.
    jobs
        Processes to use; default all cores. Results are identical whatever the number.
    progress
        Show a progress bar (only when writing to a terminal or notebook).
    keep_episodes
        Also return one row per episode in ``Results.episodes`` (large for long runs).
    """
    changes: dict[str, Any] = {}
    if replications is not None:
        changes["run.replications"] = replications
    if seed is not None:
        changes["run.seed"] = seed
    if changes:
        scenario = scenario.with_changes(changes)
    count = scenario.run.replications
    jobs = default_jobs(count) if jobs is None else max(1, min(jobs, count))
    started = time.perf_counter()
    outputs = _map(scenario, count, jobs, keep_episodes, progress)
    meta = {
        "package": "continuum",
        "version": _version(),
        "scenario": scenario.name,
        "scenario_file": scenario.source,
        "seed": scenario.run.seed,
        "replications": count,
        "warmup_days": scenario.run.warmup_days,
        "days": scenario.run.days,
        "jobs": jobs,
        "wall_time_seconds": round(time.perf_counter() - started, 3),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }
    return Results.from_outputs(scenario, outputs, meta)


def _version() -> str:
    from . import __version__

    return __version__
