"""Running replications: one pure function per replication, mapped by an executor (serial, processes, Dask)."""

from __future__ import annotations

import platform
import sys
import time
from functools import partial
from typing import Any

from .engine import Model
from .executors import map_ordered, resolve_backend
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


def run(scenario: Scenario, replications: int | None = None, seed: int | None = None,
        jobs: int | None = None, progress: bool = True, keep_episodes: bool = False,
        executor: str = "processes", address: str | None = None) -> Results:
    """Run a scenario's replications and gather the results.

    Parameters
    ----------
    scenario
        A validated scenario (see :func:`sim.load_scenario`).
    replications, seed
        Override the scenario's ``run.replications`` and ``run.seed``.
    jobs
        Processes (or local Dask workers) to use; default all cores; 1 runs serially.
        Results are identical whatever the number and whichever executor.
    progress
        Show a progress bar (only when writing to a terminal or notebook).
    keep_episodes
        Also return one row per episode in ``Results.episodes`` (large for long runs).
    executor, address
        ``"processes"`` (default), ``"serial"`` or ``"dask"``; with Dask, ``address`` is the
        scheduler of an existing cluster, or ``None`` for a local one. See
        :func:`sim.executors.map_ordered`; ``run.json`` records which ran.

    Raises
    ------
    sim.executors.ExecutorUnavailable
        ``executor="dask"`` without the optional ``dask`` extra installed.
    """
    changes: dict[str, Any] = {}
    if replications is not None:
        changes["run.replications"] = replications
    if seed is not None:
        changes["run.seed"] = seed
    if changes:
        scenario = scenario.with_changes(changes)
    count = scenario.run.replications
    backend = resolve_backend(count, jobs=jobs, executor=executor, address=address)
    started = time.perf_counter()
    outputs = map_ordered(partial(run_replication, scenario, keep_episodes=keep_episodes), range(count),
                          **backend, progress=progress, description=scenario.name[:40], unit="rep")
    meta = {
        "package": "continuum",
        "version": _version(),
        "scenario": scenario.name,
        "scenario_file": scenario.source,
        "seed": scenario.run.seed,
        "replications": count,
        "warmup_days": scenario.run.warmup_days,
        "days": scenario.run.days,
        **backend,
        "wall_time_seconds": round(time.perf_counter() - started, 3),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }
    return Results.from_outputs(scenario, outputs, meta)


def _version() -> str:
    from . import __version__

    return __version__
