"""Runs for the web app: a worker pool shared by every session, one job per session at a time.

A run is split into its replications, each a task on the pool (processes on this machine, or a
Dask cluster given its scheduler's address), so several people pressing "run" at once share the
cores fairly instead of queueing whole runs behind each other, and a page can show how far its run
has got. A session's new job cancels its previous one (the tasks not started are dropped). The
replications are gathered exactly as :func:`sim.run` gathers them (:func:`sim.run.gathered`), so
the app's numbers and files are the command line's for the same scenario and seed.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .. import workload
from ..compare import comparison_table
from ..messages import ScenarioError
from ..results import Results
from ..run import gathered, run, run_replication
from ..scenario import Scenario

LIMITS = {"replications": 100, "days": 3650, "upload_bytes": 1_000_000}
"""What the app runs at most: replications per run, days per replication (ten years), and the size of an
uploaded scenario file. The command line has no such limits; a bigger study runs there."""


class TooBigForTheApp(ScenarioError):
    """A scenario past the app's limits (:data:`LIMITS`), refused before anything runs."""


def check_for_app(scenario: Scenario) -> None:
    """Refuse a scenario the app should not run (its limits, then the run-size estimate the command line uses)."""
    problems = []
    if scenario.run.replications > LIMITS["replications"]:
        problems.append(f"run.replications = {scenario.run.replications}: the app runs at most "
                        f"{LIMITS['replications']} (run bigger studies with the continuum command)")
    if scenario.run.days > LIMITS["days"]:
        problems.append(f"run.days = {scenario.run.days}: the app simulates at most {LIMITS['days']} days "
                        "(ten years; run longer ones with the continuum command)")
    if problems:
        raise TooBigForTheApp(scenario.name, problems)
    workload.check(scenario)


@dataclass
class Job:
    """One session's run (or comparison): its scenarios and the tasks simulating their replications."""

    kind: str
    scenarios: list[Scenario]
    tasks: list[list[Any]]
    """Per scenario, one future per replication (or one for a whole run, for a warm-up chosen by a pilot)."""
    started: float = field(default_factory=time.perf_counter)
    finish: Callable[[Job], Any] | None = None

    @property
    def progress(self) -> float:
        """The share of tasks finished, 0 to 1."""
        every = [task for tasks in self.tasks for task in tasks]
        return sum(task.done() for task in every) / max(1, len(every))

    def done(self) -> bool:
        return all(task.done() for tasks in self.tasks for task in tasks)

    def cancel(self) -> None:
        """Drop the tasks not started; those running finish unseen."""
        for tasks in self.tasks:
            for task in tasks:
                task.cancel()

    def result(self) -> Any:
        """The job's answer once done: :class:`Results` for a run, ``(table, base, changed)`` for a comparison.

        Raises whatever a task raised (a :class:`ScenarioError` the page shows as it is).
        """
        return self.finish(self) if self.finish else None


class Pool:
    """The worker pool every session shares: local processes, or a Dask cluster at ``address``."""

    def __init__(self, address: str | None = None, workers: int | None = None):
        self.address = address
        if address:
            from distributed import Client
            self.client: Any = Client(address)
            self.submit: Callable[..., Any] = lambda *call: self.client.submit(*call, pure=False)
        else:
            context = multiprocessing.get_context("spawn")   # no fork of a threaded server
            self.executor = ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1, mp_context=context,
                                                initializer=_leave_interrupts_to_the_server)
            self.submit = self.executor.submit
        self.jobs: dict[str, Job] = {}

    def _tasks(self, scenario: Scenario) -> list[Future]:
        if scenario.run.warmup_days == "auto":     # the pilot first: one task runs the whole thing
            return [self.submit(run, scenario, None, None, 1, False)]
        return [self.submit(run_replication, scenario, number) for number in range(scenario.run.replications)]

    def start(self, session: str, job: Job) -> Job:
        """Make ``job`` the session's job, cancelling the one it had."""
        previous = self.jobs.get(session)
        if previous is not None:
            previous.cancel()
        self.jobs[session] = job
        return job

    def run(self, session: str, scenario: Scenario) -> Job:
        """Start simulating ``scenario`` for ``session``."""
        check_for_app(scenario)
        return self.start(session, Job("run", [scenario], [self._tasks(scenario)], finish=_one_run))

    def compare(self, session: str, base: Scenario, changed: Scenario) -> Job:
        """Start ``base`` and ``changed`` on the same random numbers (same seed and replications)."""
        for scenario in (base, changed):
            check_for_app(scenario)
        return self.start(session, Job("compare", [base, changed],
                                       [self._tasks(base), self._tasks(changed)], finish=_comparison))

    def close(self) -> None:
        for job in self.jobs.values():
            job.cancel()
        if self.address:
            self.client.close()
        else:
            self.executor.shutdown(wait=False, cancel_futures=True)


def _leave_interrupts_to_the_server() -> None:
    """A worker ignores Ctrl-C: the server stops the pool itself (no traceback from each worker)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _results(scenario: Scenario, tasks: list[Any], started: float) -> Results:
    outputs = [task.result() for task in tasks]
    if len(outputs) == 1 and isinstance(outputs[0], Results):
        return outputs[0]
    return gathered(scenario, outputs, {"executor": "app", "jobs": None}, started)


def _one_run(job: Job) -> Results:
    return _results(job.scenarios[0], job.tasks[0], job.started)


def _comparison(job: Job) -> tuple[Any, Results, Results]:
    base, changed = (_results(scenario, tasks, job.started) for scenario, tasks in zip(job.scenarios, job.tasks,
                                                                                       strict=True))
    return comparison_table(base, {"changed": changed}), base, changed
