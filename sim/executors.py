"""Mapping a picklable function over items, in order, with a progress bar: serially, over local
processes or on a Dask cluster.

Whichever backend runs the map, the result is ``[function(item) for item in items]``: the
function must be pure for the backends to agree, and top-level (picklable) for the parallel
ones. Dask is optional (``pip install 'continuum[dask]'``) and imported only when asked for.

A local pool's workers never outlive the process that started them: an exception or interrupt in
the map ends them at once, and a worker whose parent dies (even by ``kill -9``) exits too, so no
orphan keeps simulating, holding memory and the caller's pipes.
"""

from __future__ import annotations

import ctypes
import importlib
import logging
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager, suppress
from typing import Any, TypeVar

from tqdm.auto import tqdm

from .settings import SettingsError, backend_problems

Item = TypeVar("Item")
Output = TypeVar("Output")

DASK_INSTALL = "pip install 'continuum[dask]' (or, in a clone, pip install -e '.[dask]')"


class ExecutorUnavailable(RuntimeError):
    """The chosen executor cannot run here, e.g. Dask without the optional ``dask`` extra."""


def local_workers(jobs: int | None, count: int) -> int:
    """Workers for a local pool: ``jobs``, by default all cores, never more than the items."""
    wanted = (os.cpu_count() or 1) if jobs is None else jobs
    return max(1, min(wanted, count))


def resolve_backend(count: int, *, jobs: int | None = None, executor: str = "processes",
                    address: str | None = None) -> dict[str, Any]:
    """How :func:`map_ordered` will run ``count`` items, as recorded in ``run.json``.

    Returns ``{"executor": ..., "jobs": ..., "address": ...}``: a process pool of one is
    ``"serial"``; ``jobs`` is ``None`` on an existing Dask cluster (its workers decide).

    Raises
    ------
    sim.settings.SettingsError
        A ``ValueError`` too: for ``jobs`` below 1, an unknown executor, an address without
        Dask, or ``jobs`` with an address.
    """
    problems = backend_problems(jobs, executor, address)
    if problems:
        raise SettingsError("executor settings", problems)
    if address is not None:
        return {"executor": "dask", "jobs": None, "address": address}
    workers = 1 if executor == "serial" else local_workers(jobs, count)
    if executor == "processes" and workers == 1:
        executor = "serial"
    return {"executor": executor, "jobs": workers, "address": None}


def map_ordered(function: Callable[[Item], Output], items: Iterable[Item], *, jobs: int | None = None,
                executor: str = "processes", address: str | None = None, progress: bool = True,
                description: str = "", unit: str = "item") -> list[Output]:
    """``[function(item) for item in items]``, computed by the chosen backend.

    Parameters
    ----------
    function
        A pure, picklable (top-level, or a ``functools.partial`` of one) function of one item.
    items
        The inputs; the outputs come back in their order whatever order they finish in.
    jobs
        Local workers: processes in the pool, or workers of a local Dask cluster. Default all
        cores, never more than the items. With ``executor="processes"``, ``jobs=1`` runs
        serially in this process.
    executor
        ``"processes"`` (a local process pool, the default), ``"serial"`` or ``"dask"``.
    address
        With ``"dask"``: the scheduler of an existing cluster (e.g. ``"tcp://10.0.0.5:8786"``),
        whose workers must have ``continuum`` installed. Without it, a local cluster of
        ``jobs`` single-threaded worker processes is started and closed again.
    progress
        Show a progress bar as items finish (only when writing to a terminal or notebook).
    description, unit
        The progress bar's label and what it counts.

    Raises
    ------
    ExecutorUnavailable
        ``executor="dask"`` but Dask's distributed scheduler is not installed.
    """
    items = list(items)
    bar = tqdm(total=len(items), desc=description, unit=unit, disable=None if progress else True)
    with bar, map_streamed(function, items, jobs=jobs, executor=executor, address=address,
                           finished=bar.update) as outputs:
        return list(outputs)


@contextmanager
def map_streamed(function: Callable[[Item], Output], items: Iterable[Item], *, jobs: int | None = None,
                 executor: str = "processes", address: str | None = None,
                 finished: Callable[[], Any] | None = None) -> Iterator[Iterator[Output]]:
    """:func:`map_ordered`'s outputs as they come: every item is handed to the workers at once, and the
    block gets an iterator of the outputs in input order, each as soon as it and those before it are done.

    One pool (or Dask client) serves every item, so a caller that cuts a long map into parts (a sweep's
    points) keeps every worker busy across the parts, and works on each part while later ones run.
    Leaving the block ends the workers, finished or not. ``finished`` is called as each item finishes
    (in any order: a progress bar's ``update``); the other parameters are :func:`map_ordered`'s.
    """
    items = list(items)
    backend = resolve_backend(len(items), jobs=jobs, executor=executor, address=address)
    distributed = _import_distributed() if backend["executor"] == "dask" else None
    tick = finished or _nothing
    if backend["executor"] == "serial":
        yield (_counted(function(item), tick) for item in items)
    elif backend["executor"] == "processes":
        with _process_pool(backend["jobs"]) as pool:
            futures = {pool.submit(function, item): index for index, item in enumerate(items)}
            # a future is dropped once its output is taken, so that outputs handed on are not also kept here
            yield _in_order(((futures.pop(future), future.result()) for future in as_completed(futures)), tick)
            if futures:   # left before every item finished: the rest is not wanted
                _end_workers(pool)
    else:
        with _dask_client(distributed, backend["jobs"], backend["address"]) as client:
            yield _in_order(_dask_finished(distributed, client, function, items), tick)


def _nothing() -> None:
    return None


def _counted(output: Output, tick: Callable[[], Any]) -> Output:
    tick()
    return output


def _in_order(finished: Iterable[tuple[int, Output]], tick: Callable[[], Any] = _nothing) -> Iterator[Output]:
    """Outputs in input order from ``(index, output)`` pairs that come in any order, each handed on as soon
    as every output before it has come, ticking ``tick`` as each comes."""
    waiting: dict[int, Output] = {}
    following = 0
    for index, output in finished:
        waiting[index] = output
        tick()
        while following in waiting:
            yield waiting.pop(following)
            following += 1


@contextmanager
def _process_pool(jobs: int) -> Iterator[ProcessPoolExecutor]:
    pool = ProcessPoolExecutor(max_workers=jobs, initializer=_end_with_parent)
    try:
        yield pool
    except BaseException:  # a failure, Ctrl-C or SIGTERM: end the workers now rather than wait for them
        _end_workers(pool)
        raise
    pool.shutdown(cancel_futures=True)


def _end_workers(pool: ProcessPoolExecutor) -> None:
    """Kill the workers and shut the pool, so that no worker is left running or a zombie.

    A worker holds nothing to save (it only computes), so SIGKILL, which it cannot catch, ends it
    at once; the pool's thread then sees them die, reaps them and closes its pipes before we go on.
    """
    # _processes is private, but Python before 3.14 (kill_workers) has no public way to reach the workers
    for worker in list((pool._processes or {}).values()):
        worker.kill()
    pool.shutdown(wait=True, cancel_futures=True)


def _end_with_parent() -> None:
    """Pool initializer: the worker leaves interrupts to its parent and exits when the parent is gone.

    Ctrl-C in a terminal reaches every process of the group: the parent handles it and ends its
    workers, which would otherwise each print a traceback. A forked worker inherits the parent's
    handlers (the CLI's, which turns SIGTERM into an exception), so SIGTERM is made to end it
    plainly again. Two guards end a worker whose parent died without ending it (``kill -9``): on
    Linux the kernel sends it SIGKILL (``PR_SET_PDEATHSIG``), which works even while the worker is
    busy in C code; everywhere, a thread waits on the pipe multiprocessing gives each child, which
    closes when the parent dies (and covers a parent that died before the first guard was set).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform == "linux":
        _kill_me_when_parent_dies()
    exit_with_parent()


def exit_with_parent() -> None:
    """In a child of :mod:`multiprocessing`: a thread that ends this process when its parent has exited.

    The guard for pools started from a thread that ends before the pool does (a web server's request
    thread): ``PR_SET_PDEATHSIG`` fires when the *thread* that started the child ends, so it would
    kill such a pool's workers early, while this waits for the parent process itself.
    """
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_when_ended, args=(parent,), name="continuum-parent-watch", daemon=True).start()


def _kill_me_when_parent_dies() -> None:
    pr_set_pdeathsig = 1  # from <linux/prctl.h>
    with suppress(OSError, AttributeError):  # an unusual libc: the watching thread still guards
        ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGKILL)


def _exit_when_ended(parent: Any) -> None:
    parent.join()  # returns when the parent's end of the pipe closes, i.e. when the parent has exited
    os._exit(1)


TASKS_PER_THREAD = 32
"""Items go to Dask in batches, about this many batches for each worker thread: enough to share the work out
evenly, few enough that Dask's cost per task (about 3 ms of scheduler and messages, against 0.2 ms for a
process pool) stays small beside the work. One task per item took a sweep of 32 x 20 short replications
1.24 times the process pool's wall time, batches of 10 (here: 640 items, 2 workers) 1.08 times."""


def _dask_finished(distributed: Any, client: Any, function: Callable[[Item], Output],
                   items: list[Item]) -> Iterator[tuple[int, Output]]:
    """``(index, output)`` pairs as the items' batches finish on the cluster, in any order."""
    threads = max(1, sum(client.nthreads().values()))
    size = max(1, len(items) // (threads * TASKS_PER_THREAD))
    starts = range(0, len(items), size)
    # pure=False: every batch is its own task even when two are equal
    futures = client.map(_batch, [function] * len(starts), [items[start:start + size] for start in starts],
                         pure=False)
    first = {future.key: start for start, future in zip(starts, futures, strict=True)}
    # with_results fetches finished outputs in batches, a round trip per batch rather than per task; the
    # futures are left to as_completed alone, so each output is let go on the workers once it is here
    finished = distributed.as_completed(futures, with_results=True)
    del futures
    for future, outputs in finished:
        for offset, output in enumerate(outputs):
            yield first[future.key] + offset, output


def _batch(function: Callable[[Item], Output], items: list[Item]) -> list[Output]:
    """One Dask task: ``function`` of each of ``items``, in order."""
    return [function(item) for item in items]


@contextmanager
def local_dask_cluster(jobs: int | None = None) -> Iterator[str]:
    """A quiet local Dask cluster of ``jobs`` single-threaded worker processes (default all cores).

    Yields the scheduler's address, to pass as ``address`` to many runs (a sweep, say) so they
    share one cluster instead of starting their own; the cluster is closed on leaving the block.

    Raises
    ------
    ExecutorUnavailable
        Dask's distributed scheduler is not installed.
    """
    distributed = _import_distributed()
    # No dashboard; the scheduler's HTTP health checks go to any free port, not to a 8787 another cluster may hold
    quiet = {"dashboard_address": None, "scheduler_kwargs": {"dashboard_address": "127.0.0.1:0"},
             "silence_logs": logging.ERROR}
    with _forked_workers(), distributed.LocalCluster(n_workers=jobs or os.cpu_count() or 1, threads_per_worker=1,
                                                     processes=True, **quiet) as cluster:
        yield cluster.scheduler_address


FORKSERVER_PRELOAD = ("__main__", "distributed", "sim.run", "sim.sweep")
"""What a local cluster's fork server imports once for all its workers: Dask, the simulation and the caller's
own main module (which a worker started afresh imports again, as multiprocessing's ``spawn`` does)."""


@contextmanager
def _forked_workers() -> Iterator[None]:
    """Local workers forked from a server that has imported Dask and the simulation once, where there is one.

    Dask starts each worker as a fresh interpreter (``spawn``), which imports Dask, the simulation and the
    caller's main module (the ``continuum`` command: all of ``sim.cli``) again: seconds per worker, and as many
    times as there are workers. A fork server (POSIX) imports them once and forks each worker from itself,
    which also makes the workers quicker to close. The fork server is never this process, whose threads
    (Dask's event loop among them) a plain ``fork`` could copy mid-operation.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        yield
        return
    dask = importlib.import_module("dask")
    with dask.config.set({"distributed.worker.multiprocessing-method": "forkserver"}):
        # Dask sets its own preload list on first use; ours (its list's core plus the simulation) replaces it
        importlib.import_module("distributed.utils").get_mp_context()
        multiprocessing.get_context("forkserver").set_forkserver_preload(list(FORKSERVER_PRELOAD))
        yield


@contextmanager
def _dask_client(distributed: Any, jobs: int | None, address: str | None) -> Iterator[Any]:
    """A client of the cluster at ``address``, or of a local cluster started and closed here."""
    if address is not None:
        with distributed.Client(address) as client:
            yield client
        return
    with local_dask_cluster(jobs) as local_address, distributed.Client(local_address) as client:
        yield client


def _import_distributed() -> Any:
    try:
        return importlib.import_module("dask.distributed")
    except ImportError as error:
        raise ExecutorUnavailable(f"the dask executor needs Dask's distributed scheduler, which is not "
                                  f"installed ({error}); install it with {DASK_INSTALL}") from None
