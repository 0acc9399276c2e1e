"""Running replications: one pure function per replication, mapped by an executor (serial, processes, Dask)."""

from __future__ import annotations

import platform
import sys
import time
from functools import partial
from typing import Any

import numpy as np

from . import workload
from .analysis import mser5_warmup, precision_shortfalls
from .compiled import engine_build
from .engine import Model
from .executors import map_ordered, resolve_backend
from .monthly import replication_months
from .records import DAY_FIELDS, MEASURED
from .results import (
    HEADLINE_METRICS,
    ReplicationOutput,
    Results,
    flows,
    group_flows,
    group_replication_metrics,
    metrics_table,
    replication_metrics,
    wait_quantiles,
)
from .scenario import Scenario
from .settings import check_settings
from .trust import run_warnings
from .version import package_version


def run_replication(scenario: Scenario, replication: int, keep_episodes: bool = False) -> ReplicationOutput:
    """Simulate one replication and reduce it to metrics and daily rows.

    Pure and top-level (picklable): the same scenario and replication number always give
    the same output, in this process or any other.
    """
    model = Model(scenario, replication, keep_episodes).run()
    days = model.daybook.day_table()
    by_group = ([level.tallies[MEASURED] for level in model.levels], model.daybook.group_day_table()) \
        if scenario.groups else None
    group_months = replication_months(scenario, by_group[1], [tally for tallies in by_group[0] for tally in tallies]) \
        if by_group else None
    tallies = [level.period_tally(MEASURED) for level in model.levels]   # warm-up is left out here
    system = model.system_tallies[MEASURED]
    return ReplicationOutput(
        replication=replication,
        metrics=replication_metrics(scenario, tallies, system, days),
        days=days,
        states=model.daybook.state_table(),
        episodes=model.episode_log.finish() if model.episode_log is not None else None,
        wait_quantiles=wait_quantiles(tallies),
        flows=flows(scenario, tallies, system),
        monthly=replication_months(scenario, days, tallies),
        group_metrics=group_replication_metrics(scenario, *by_group) if by_group else [],
        group_flows=group_flows(scenario, by_group[0], system) if by_group else [],
        group_monthly=group_months,
    )


PILOT_REPLICATIONS = 5
"""Replications of the warm-up pilot: always these, numbered 0-4, however many the run has."""
WARMUP_LIMIT_SHARE = 0.9
"""A warm-up chosen past this share of `days` is flagged: the pilot may be too short to see the end of the fill."""


def run(scenario: Scenario, replications: int | None = None, seed: int | None = None,
        jobs: int | None = None, progress: bool = True, keep_episodes: bool = False,
        executor: str = "processes", address: str | None = None, precision: float | None = None,
        max_replications: int = 200, limits: dict[str, float] | None = None) -> Results:
    """Run a scenario's replications and gather the results.

    Parameters
    ----------
    scenario
        A validated scenario (see :func:`sim.load_scenario`). With ``run.warmup_days: auto`` a
        pilot run picks the warm-up first (MSER-5 on the daily census).
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
    precision, max_replications
        Keep adding replications until every headline metric's 95% half-width is within
        ``precision`` x its mean (e.g. 0.05), or ``max_replications`` is reached;
        ``Results.meta["precision"]`` says which metrics fell short.
    limits
        Raise the size limits a run is checked against before it starts (see
        :data:`sim.workload.LIMITS`), e.g. ``{"visits_per_replication": 5e7}``.

    Raises
    ------
    sim.settings.SettingsError
        A setting out of range or of the wrong kind (``jobs=0``, ``precision=0``, a file name
        for ``scenario``), before anything runs; it is a :class:`sim.ScenarioError` and a ``ValueError``.
    sim.executors.ExecutorUnavailable
        ``executor="dask"`` without the optional ``dask`` extra installed.
    sim.workload.RunTooBig
        The run's estimated size is past a limit (the message names the key behind it).
    """
    checked = check_settings("sim.run", scenario=scenario, replications=replications, seed=seed, jobs=jobs,
                             executor=executor, address=address, precision=precision,
                             max_replications=max_replications, limits=limits)
    return _run_checked(**checked, progress=progress, keep_episodes=keep_episodes)


def _run_checked(scenario: Scenario, replications: int | None, seed: int | None, jobs: int | None, progress: bool,
                 keep_episodes: bool, executor: str, address: str | None, precision: float | None,
                 max_replications: int, limits: dict[str, float] | None) -> Results:
    scenario = with_run_settings(scenario, replications, seed)
    workload.check(scenario, limits, max_replications if precision is not None else None)
    started = time.perf_counter()

    def simulate(chosen: Scenario, numbers: range) -> list[ReplicationOutput]:
        backend = resolve_backend(len(numbers), jobs=jobs, executor=executor, address=address)
        return map_ordered(partial(run_replication, chosen, keep_episodes=keep_episodes), numbers,
                           **backend, progress=progress, description=chosen.name[:40], unit="rep")

    notes: dict[str, Any] = {}
    if scenario.run.warmup_days == "auto":
        scenario, notes["warmup"] = choose_warmup(scenario, simulate)
    outputs = simulate(scenario, range(scenario.run.replications))
    if precision is not None:
        scenario, outputs, notes["precision"] = add_until_precise(
            scenario, outputs, simulate, precision, max(max_replications, scenario.run.replications))
    backend = resolve_backend(scenario.run.replications, jobs=jobs, executor=executor, address=address)
    return gathered(scenario, outputs, {**backend, **notes}, started)


def gathered(scenario: Scenario, outputs: list[ReplicationOutput], notes: dict[str, Any], started: float) -> Results:
    """The replications' outputs as :class:`Results`, with ``run.json``'s record (``notes``: how they ran, and
    what was chosen on the way) and the reasons not to trust a number. Anything that runs replications its own
    way (the web app's shared pool) ends here too, so its tables are the command line's."""
    meta = {
        "package": "continuum",
        "version": package_version(),
        "engine": engine_build(),
        "scenario": scenario.name,
        "scenario_file": scenario.source,
        "seed": scenario.run.seed,
        "replications": scenario.run.replications,
        "warmup_days": scenario.run.warmup_days,
        "days": scenario.run.days,
        **notes,
        "wall_time_seconds": round(time.perf_counter() - started, 3),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }
    results = Results.from_outputs(scenario, outputs, meta)
    results.meta["warnings"] = run_warnings(results)
    return results


def with_run_settings(scenario: Scenario, replications: int | None, seed: int | None) -> Scenario:
    """The scenario with ``run.replications`` and ``run.seed`` replaced where given."""
    changes = {key: value for key, value in (("run.replications", replications), ("run.seed", seed))
               if value is not None}
    return scenario.with_changes(changes) if changes else scenario


def choose_warmup(scenario: Scenario, simulate) -> tuple[Scenario, dict[str, Any]]:
    """Pick the warm-up by MSER-5 from a pilot run that starts measuring at once.

    The pilot simulates twice the measured period from the scenario's starting state, with
    replications 0 to ``PILOT_REPLICATIONS - 1`` whatever ``run.replications`` is, so the chosen
    warm-up, and with it every replication, is the same in a run of 3 as in a run of 10.
    MSER-5 is applied to each level's daily census averaged over them, and the longest
    truncation wins (at most the measured period).
    """
    pilot = scenario.with_changes({"run.warmup_days": 0, "run.days": 2 * scenario.run.days,
                                   "run.replications": PILOT_REPLICATIONS})
    outputs = simulate(pilot, range(pilot.run.replications))
    census = np.mean([out.days[:, :, DAY_FIELDS.index("census")] for out in outputs], axis=0)
    warmup = min(scenario.run.days, max(mser5_warmup(census[:, level]) for level in range(census.shape[1])))
    # MSER-5 searches the first half of the pilot; a cut near its end means the census may still be rising
    near_limit = warmup >= WARMUP_LIMIT_SHARE * scenario.run.days
    note = {"method": "MSER-5 on the daily census of each level", "pilot_replications": pilot.run.replications,
            "pilot_days": pilot.run.days, "chosen_days": warmup, "near_limit": near_limit}
    return scenario.with_changes({"run.warmup_days": warmup}), note


def add_until_precise(scenario: Scenario, outputs: list[ReplicationOutput], simulate, precision: float,
                      cap: int) -> tuple[Scenario, list[ReplicationOutput], dict[str, Any]]:
    """Add replications until every headline metric is within ``precision`` of its mean, or the cap."""
    while True:
        short = precision_shortfalls(metrics_table(outputs), HEADLINE_METRICS, precision)
        count = len(outputs)
        if short.empty or count >= cap:
            break
        target = int(min(cap, max(count + 2, short["needed"].max())))
        outputs = outputs + simulate(scenario.with_changes({"run.replications": target}), range(count, target))
    scenario = scenario.with_changes({"run.replications": len(outputs)})
    note = {"target": precision, "met": bool(short.empty), "replications": len(outputs), "cap": cap,
            "short": short.round(6).to_dict("records")}
    return scenario, outputs, note
