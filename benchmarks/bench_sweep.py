"""How fast is a sweep on Dask? One sweep on a local process pool and on a local Dask cluster, and its per-task cost.

Run by hand from the repository root (never part of the test suite)::

    python benchmarks/bench_sweep.py                 # 32 points x 20 replications, both backends, best of 3
    python benchmarks/bench_sweep.py --quick         # smoke check: 4 points x 4 replications, one repeat
    python benchmarks/bench_sweep.py --repeats 5 --jobs 2

The sweep is the bundled ``scenarios/teaching_mmc.yaml`` (one ward, M/M/c at 90% occupancy) shortened to
100 days of warm-up + 1,000 measured (one replication takes about 0.12 s on one core), swept over
``levels.ward.capacity`` = 19, 20, ... (32 values), 20 replications each: 640 replication tasks. It is
``sim.sweep(..., out=folder)``, what ``continuum sweep`` runs, written to a fresh temporary folder each
time, on

* **processes**: a local process pool of ``--jobs`` workers (``jobs=2``), and
* **dask**: a local Dask cluster of ``--jobs`` single-threaded worker processes
  (``sim.executors.local_dask_cluster``: ``LocalCluster(n_workers=2, threads_per_worker=1, processes=True)``,
  what ``continuum sweep --dask --jobs 2`` starts), timed from before the cluster starts to after it is closed.

The two backends run alternately, ``--repeats`` times each, and the best of each is kept: the machine may be
busy with other work, and the best run is the one least disturbed by it.

Then the per-task figures behind the expected speed-up per added worker:

* **task**: one replication on a worker, as Dask's task stream records it (compute only), and in this process;
* **end to end per task**: the sweep's wall time (cluster start-up and close left out) x workers / tasks;
* **overhead per task**: the two's difference (scheduling, moving the result, the client building each
  point's tables and files, idle workers);
* **per point in the client**: turning a point's 20 outputs into its tables and writing its folder, which
  the client does alone whatever the number of workers;
* **start-up**: starting and closing the local cluster (a remote cluster is already running).

From these, on a running cluster of W workers: wall(W) = tasks x (task + overhead) / W, but never less than
points x (per point in the client), the client's own serial part.
"""

from __future__ import annotations

import argparse
import os
import pickle
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sim
from sim.executors import local_dask_cluster, map_ordered
from sim.run import gathered, run_replication

REPOSITORY = Path(__file__).resolve().parent.parent
SCENARIO = REPOSITORY / "scenarios" / "teaching_mmc.yaml"
SWEPT = "levels.ward.capacity"
FIRST_CAPACITY = 19          # 95% occupancy: the busiest point
SHORTENED = {"run.warmup_days": 100, "run.days": 1000}


@dataclass
class Timing:
    """One sweep on one backend: wall seconds, and for Dask its start-up and the tasks' compute times."""

    wall_seconds: float
    startup_seconds: float = 0.0
    task_seconds: tuple[float, ...] = ()


def base_scenario(replications: int) -> sim.Scenario:
    return sim.load_scenario(SCENARIO).with_changes({**SHORTENED, "run.replications": replications})


def grid(points: int) -> dict[str, list[int]]:
    return {SWEPT: list(range(FIRST_CAPACITY, FIRST_CAPACITY + points))}


# ---------------------------------------------------------------------------- the two backends
def time_processes(base: sim.Scenario, points: int, jobs: int) -> Timing:
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        sim.sweep(base, grid(points), out=Path(folder) / "sweep", jobs=jobs, progress=False)
        return Timing(time.perf_counter() - started)


def time_dask(base: sim.Scenario, points: int, jobs: int) -> Timing:
    """The sweep as ``executor="dask", jobs=jobs`` runs it (one local cluster for every point), with the
    cluster started here so that its start-up and the workers' own task times can be read apart."""
    from dask.distributed import Client

    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        with local_dask_cluster(jobs) as address, Client(address) as client:
            client.get_task_stream(start=time.time())   # the scheduler records task times from now on
            swept_from, epoch = time.perf_counter(), time.time()
            sim.sweep(base, grid(points), out=Path(folder) / "sweep", executor="dask", address=address,
                      progress=False)
            swept = time.perf_counter() - swept_from
            stream = client.get_task_stream(start=epoch)
        wall = time.perf_counter() - started
    tasks = tuple(part["stop"] - part["start"] for task in stream for part in task["startstops"]
                  if part["action"] == "compute")
    return Timing(wall, wall - swept, tasks)


def best_of(repeats: int, base: sim.Scenario, points: int, jobs: int) -> dict[str, Timing]:
    """Each backend ``repeats`` times, alternately, the fastest of each kept."""
    runs: dict[str, list[Timing]] = {"processes": [], "dask": []}
    for repeat in range(repeats):
        for name, timed in (("processes", time_processes), ("dask", time_dask)):
            runs[name].append(timed(base, points, jobs))
            print(f"  run {repeat + 1}: {name:9} {runs[name][-1].wall_seconds:7.2f} s", flush=True)
    return {name: min(timings, key=lambda timing: timing.wall_seconds) for name, timings in runs.items()}


# ---------------------------------------------------------------------------- the costs behind it
@dataclass
class Costs:
    """Per-task and per-point costs measured in this process, and the executors' bare per-task overhead."""

    task_seconds: float
    result_bytes: int
    pickle_seconds: float
    point_seconds: float
    empty_task_seconds: dict[str, float]


def measure_costs(base: sim.Scenario, jobs: int, repeats: int) -> Costs:
    scenario = base.with_changes({SWEPT: FIRST_CAPACITY})
    task_times, outputs = [], []
    for replication in range(base.run.replications):
        started = time.perf_counter()
        outputs.append(run_replication(scenario, replication))
        task_times.append(time.perf_counter() - started)
    pickled = [pickle.dumps(output) for output in outputs]
    started = time.perf_counter()
    for text in pickled:
        pickle.loads(pickle.dumps(pickle.loads(text)))
    pickle_seconds = (time.perf_counter() - started) / len(pickled)
    point_seconds = min(_one_point(scenario, outputs) for _ in range(repeats))
    return Costs(statistics.median(task_times), len(pickled[0]), pickle_seconds, point_seconds,
                 {name: _empty_task_seconds(name, jobs, 640) for name in ("processes", "dask")})


def _one_point(scenario: sim.Scenario, outputs: list[Any]) -> float:
    """A point's work in the client: its outputs to tables, and its folder written."""
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        results = gathered(scenario, outputs, {}, started)
        sim.write_results(results, Path(folder) / "point")
        return time.perf_counter() - started


def _empty_task_seconds(executor: str, jobs: int, tasks: int) -> float:
    """Wall seconds per task of ``tasks`` tasks that do nothing, on a started pool or cluster."""
    if executor == "dask":
        with local_dask_cluster(jobs) as address:
            map_ordered(abs, [1, 2], executor="dask", address=address, progress=False)  # workers warm
            started = time.perf_counter()
            map_ordered(abs, range(tasks), executor="dask", address=address, progress=False)
            return (time.perf_counter() - started) / tasks
    started = time.perf_counter()
    map_ordered(abs, range(tasks), jobs=jobs, progress=False)
    return (time.perf_counter() - started) / tasks


# ---------------------------------------------------------------------------- report
def report(best: dict[str, Timing], costs: Costs, points: int, replications: int, jobs: int) -> None:
    tasks = points * replications
    pool, dask = best["processes"], best["dask"]
    # Dask runs the items in batches (sim.executors.TASKS_PER_THREAD): a task's compute over the items it ran
    on_workers = sum(dask.task_seconds) / tasks if dask.task_seconds else float("nan")
    swept = dask.wall_seconds - dask.startup_seconds
    end_to_end = swept * jobs / tasks
    print(f"\nper task ({tasks} tasks = {points} points x {replications} replications, {jobs} workers):")
    print(f"  a task's compute on a Dask worker, per item ({len(dask.task_seconds)} tasks) {on_workers * 1e3:8.1f} ms")
    print(f"  task in this process (median of {replications})      {costs.task_seconds * 1e3:8.1f} ms")
    print(f"  end to end per task on Dask (wall x workers / tasks, start-up left out) {end_to_end * 1e3:6.1f} ms")
    print(f"  end to end per task on processes (wall x workers / tasks)            "
          f"{pool.wall_seconds * jobs / tasks * 1e3:6.1f} ms")
    print(f"  overhead per task on Dask (end to end - task on a worker)            "
          f"{(end_to_end - on_workers) * 1e3:6.1f} ms")
    for name, seconds in costs.empty_task_seconds.items():
        print(f"  an empty task's wall time on {name} (dispatch and return alone)       {seconds * 1e3:6.2f} ms")
    print(f"  a result pickled: {costs.result_bytes / 1e3:.0f} kB, {costs.pickle_seconds * 1e3:.2f} ms "
          "to pickle and unpickle")
    print(f"  per point in the client (tables and folder) {costs.point_seconds * 1e3:.0f} ms")
    print(f"  Dask cluster start-up and close {dask.startup_seconds:.2f} s (none on a cluster already running)")
    expected_speedup(end_to_end, costs.point_seconds, points, tasks)


def expected_speedup(per_task: float, per_point: float, points: int, tasks: int) -> None:
    """On a running cluster of W workers: wall(W) = tasks x per_task / W, floored by the client's own serial work."""
    floor = points * per_point

    def wall(workers: int) -> float:
        return max(tasks * per_task / workers, floor)

    print(f"\nexpected on a running cluster of W workers: wall = {tasks} x {per_task * 1e3:.0f} ms / W, "
          f"but at least {points} x {per_point * 1e3:.0f} ms (the client's tables and files)")
    print("  W   wall (s)   speed-up   efficiency   one more worker saves")
    for workers in (1, 2, 3, 4, 6, 8, 12, 16, 24, 32):
        speedup = wall(1) / wall(workers)
        print(f"{workers:3} {wall(workers):10.1f} {speedup:9.2f}x {speedup / workers:11.0%} "
              f"{wall(workers) - wall(workers + 1):13.1f} s")
    print(f"  the client's serial part caps the useful workers at about {tasks * per_task / floor:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 points x 4 replications, one repeat")
    parser.add_argument("--repeats", type=int, default=None, help="runs per backend, best kept (default 3)")
    parser.add_argument("--points", type=int, default=None, help="grid points (default 32)")
    parser.add_argument("--replications", type=int, default=None, help="replications per point (default 20)")
    parser.add_argument("--jobs", type=int, default=2, help="workers of each backend (default 2)")
    parser.add_argument("--no-costs", action="store_true", help="wall times only, no per-task figures")
    arguments = parser.parse_args()
    repeats = arguments.repeats or (1 if arguments.quick else 3)
    points = arguments.points or (4 if arguments.quick else 32)
    replications = arguments.replications or (4 if arguments.quick else 20)
    base = base_scenario(replications)
    print(f"continuum {sim.__version__}, Python {sys.version.split()[0]}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"sweep of {SCENARIO.name} (warm-up {SHORTENED['run.warmup_days']} + {SHORTENED['run.days']} days) over "
          f"{SWEPT} = {FIRST_CAPACITY}..{FIRST_CAPACITY + points - 1}: {points} points x {replications} "
          f"replications, {arguments.jobs} workers, best of {repeats}, backends alternately")
    best = best_of(repeats, base, points, arguments.jobs)
    pool, dask = best["processes"].wall_seconds, best["dask"].wall_seconds
    print(f"\nbest wall time: processes {pool:.2f} s, dask {dask:.2f} s, dask / processes = {dask / pool:.3f}")
    if not arguments.no_costs:
        report(best, measure_costs(base, arguments.jobs, repeats), points, replications, arguments.jobs)


if __name__ == "__main__":
    main()
