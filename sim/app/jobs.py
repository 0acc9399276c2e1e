"""Runs for the web app: a worker pool shared by every session, one job per session at a time.

A run is split into its replications, each a task on the pool (processes on this machine, or a
Dask cluster given its scheduler's address), so several people pressing "run" at once share the
cores fairly instead of queueing whole runs behind each other, and a page can show how far its run
has got. A session's new job cancels its previous one (the tasks not started are dropped). A last
task gathers the replications and draws the figures (:mod:`sim.app.answers`), so that the server only
serves pages.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from .. import workload
from ..executors import exit_with_parent
from ..messages import ScenarioError
from ..run import run, run_replication
from ..scenario import Scenario
from . import answers

LIMITS = {"replications": 100, "days": 3650, "upload_bytes": 1_000_000}
"""What the app runs at most: replications per run, days per replication (ten years), and the size of an
uploaded scenario file. The command line has no such limits; a bigger study runs there."""


WORKER_NICENESS = 10
"""How much lower than the server's the workers' CPU priority is: with every core simulating, a page still loads
at once, because the server's few milliseconds of work come first."""


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
    """One session's run, comparison or plan: its scenarios, the tasks simulating their replications, and the
    answer (a follow-up task that gathers the replications and draws the figures, or the job's one task).

    Everything heavy happens on the pool, none of it in the server, whose threads share one interpreter lock:
    five sessions' figures drawn in the server (about 1.5 s each) made a page load there take 5 s.
    """

    kind: str
    scenarios: list[Scenario]
    tasks: list[list[Any]]
    """Per scenario, one future per replication (or one for a whole run, for a warm-up chosen by a pilot)."""
    started: float = field(default_factory=time.perf_counter)
    answer: Any = None
    """The future of the job's answer; set by :meth:`Pool.start`."""

    @property
    def progress(self) -> float:
        """The share of replications finished, 0 to 1 (1 while their figures are drawn)."""
        every = [task for tasks in self.tasks for task in tasks]
        return sum(task.done() for task in every) / max(1, len(every))

    def done(self) -> bool:
        return self.answer is not None and self.answer.done()

    def cancel(self) -> None:
        """Drop the tasks not started; those running finish unseen."""
        _cancel(self.tasks, self.answer)

    def result(self) -> Any:
        """The job's answer once done: a :class:`sim.app.answers.RunAnswer` for a run, a
        :class:`sim.app.answers.ComparisonAnswer` for a comparison, a :class:`sim.Plan` for a plan.

        Raises whatever a task raised (a :class:`ScenarioError` the page shows as it is), or ``CancelledError``.
        """
        return self.answer.result()


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
        self.closed = False
        self.jobs: weakref.WeakValueDictionary[str, Job] = weakref.WeakValueDictionary()
        """Each session's job, held by the session's page: once a closed session's state is dropped, its job goes
        from here too, and the replications it had not started are cancelled."""

    def _tasks(self, scenario: Scenario) -> list[Future]:
        if scenario.run.warmup_days == "auto":     # the pilot first: one task runs the whole thing
            return [self.submit(run, scenario, None, None, 1, False)]
        return [self.submit(run_replication, scenario, number) for number in range(scenario.run.replications)]

    def start(self, session: str, job: Job, finish: Callable[..., Any] | None = None) -> Job:
        """Make ``job`` the session's job, cancelling the one it had.

        With ``finish`` (a top-level function of the scenarios, the replications' outputs per scenario and the
        seconds the job has taken so far), the job's answer is ``finish`` run on the pool once every task is
        done; else its one task's.
        """
        previous = self.jobs.get(session)
        if previous is not None:
            previous.cancel()
        job.answer = _FollowUp(self, job, finish) if finish else job.tasks[0][0]
        self.jobs[session] = job
        weakref.finalize(job, self._dropped, job.tasks, job.answer)
        return job

    def _dropped(self, tasks: list[list[Any]], answer: Any) -> None:
        """A job nobody holds any more (its session ended): what it had not started is cancelled, unless the
        pool has been closed already (a closed Dask client cannot cancel, and has nothing left to)."""
        if not self.closed:
            _cancel(tasks, answer)

    def run(self, session: str, scenario: Scenario) -> Job:
        """Start simulating ``scenario`` for ``session``."""
        check_for_app(scenario)
        return self.start(session, Job("run", [scenario], [self._tasks(scenario)]), answers.run_answer)

    def compare(self, session: str, base: Scenario, changed: Scenario) -> Job:
        """Start ``base`` and ``changed`` on the same random numbers (same seed and replications)."""
        for scenario in (base, changed):
            check_for_app(scenario)
        return self.start(session, Job("compare", [base, changed], [self._tasks(base), self._tasks(changed)]),
                          answers.comparison_answer)

    def plan(self, session: str, scenario: Scenario, targets: list[Any], levels: list[str] | None) -> Job:
        """Start a capacity plan for ``scenario`` (one task: the search is sequential)."""
        check_for_app(scenario)
        return self.start(session, Job("plan", [scenario], [[self.submit(answers.planned, scenario, targets,
                                                                            levels)]]))

    def close(self) -> None:
        self.closed = True
        for job in list(self.jobs.values()):
            job.cancel()
        if self.address:
            self.client.close()
        else:
            self.executor.shutdown(wait=False, cancel_futures=True)


class _FollowUp:
    """The answer of a job: ``finish`` submitted to the pool once the job's every task is done.

    Looks like a future (``done``, ``result``, ``cancel``) whichever pool runs it. The tasks' callbacks run in
    the pool's own thread (a Dask client's, for Dask), the last one submitting ``finish`` with the seconds the
    job has taken so far (the clocks of a Dask cluster's machines are not the server's).
    """

    def __init__(self, pool: Pool, job: Job, finish: Callable[..., Any]):
        self._answer: Future = Future()
        self._pool, self._finish = pool, finish
        self._scenarios, self._tasks, self._started = job.scenarios, job.tasks, job.started
        self._left = sum(len(tasks) for tasks in job.tasks)
        self._lock = threading.Lock()
        self.follow_up: Any = None
        for tasks in job.tasks:
            for task in tasks:
                task.add_done_callback(self._one_done)

    def _one_done(self, _task: Any) -> None:
        with self._lock:
            self._left -= 1
            if self._left or self._answer.done():
                return
        try:
            outputs = [[task.result() for task in tasks] for tasks in self._tasks]
        except BaseException as error:  # noqa: BLE001 - a task's failure or cancellation is the answer's
            self._settle(error=error)
            return
        try:
            self.follow_up = self._pool.submit(self._finish, self._scenarios, outputs,
                                               time.perf_counter() - self._started)
        except RuntimeError:   # the pool was shut down (the server stopping) as the last replication came in
            self._settle(error=CancelledError())
            return
        self.follow_up.add_done_callback(self._copy)

    def _copy(self, follow_up: Any) -> None:
        try:
            self._settle(result=follow_up.result())
        except BaseException as error:  # noqa: BLE001 - passed on to whoever asks for the answer
            self._settle(error=error)

    def _settle(self, result: Any = None, error: BaseException | None = None) -> None:
        with self._lock:
            if self._answer.done():
                return
            if isinstance(error, CancelledError):
                self._answer.cancel()
            elif error is not None:
                self._answer.set_exception(error)
            else:
                self._answer.set_result(result)

    def done(self) -> bool:
        return self._answer.done()

    def result(self) -> Any:
        return self._answer.result()

    def cancel(self) -> bool:
        if self.follow_up is not None:
            self.follow_up.cancel()
        self._settle(error=CancelledError())
        return True


def _leave_interrupts_to_the_server() -> None:
    """A worker yields the cores to the server (which answers people), ignores Ctrl-C (the server stops the pool
    itself, without a traceback from each worker) and exits if the server dies without stopping it (``kill -9``),
    rather than simulate on for no one."""
    with suppress(OSError, AttributeError):   # no nice() off Unix: the workers run at the server's priority
        os.nice(WORKER_NICENESS)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    exit_with_parent()


def _cancel(tasks: list[list[Any]], answer: Any = None) -> None:
    for futures in tasks:
        for task in futures:
            task.cancel()
    if answer is not None:
        answer.cancel()
