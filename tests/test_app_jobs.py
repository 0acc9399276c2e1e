"""The web app's shared worker pool: its runs are the command line's, sessions do not disturb each other,
a session's new job cancels its old one, and scenarios past the app's limits are refused before they run."""

from __future__ import annotations

import gc
import subprocess
import sys
import time

import psutil
import pytest
from conftest import SCENARIOS, running

import sim
from sim.app.jobs import LIMITS, Pool, TooBigForTheApp, check_for_app
from sim.executors import local_dask_cluster

pytestmark = pytest.mark.xdist_group("app")
"""The app's tests share one test process: one worker pool and one Streamlit import, not one per process."""


@pytest.fixture(scope="module")
def pool():
    shared = Pool(workers=2)
    yield shared
    shared.close()


@pytest.fixture(scope="module")
def small():
    return sim.load_scenario(SCENARIOS / "teaching_step_down.yaml").with_changes(
        {"run.replications": 3, "run.days": 200, "run.warmup_days": 60})


def finished(job, seconds=120):
    ends = time.monotonic() + seconds
    while not job.done():
        assert time.monotonic() < ends, "the job did not finish"
        time.sleep(0.05)
    return job.result()


def test_a_run_in_the_pool_is_the_command_lines_run(pool, small):
    job = pool.run("one", small)
    answer = finished(job)
    results = answer.results
    assert job.progress == 1
    assert [name for name, _, _ in answer.figures] == [name for name, _, _ in sim.report.figures(results)]
    assert all(image.startswith(b"\x89PNG") for _, _, image in answer.figures)
    alone = sim.run(small, jobs=1, progress=False)
    for table in ("summary", "replications", "daily", "monthly"):
        assert getattr(results, table).equals(getattr(alone, table)), table
    assert results.warnings == alone.warnings


def test_sessions_get_their_own_numbers_and_a_new_job_cancels_the_old(pool, small):
    other_seed = small.with_changes({"run.seed": 99})
    first = pool.run("a", small.with_changes({"run.replications": 40, "run.days": 400}))
    mine, theirs = pool.run("a", small), pool.run("b", other_seed)     # session a's second job replaces its first
    assert any(task.cancelled() for task in first.tasks[0]), "the replaced job's waiting tasks are dropped"
    assert finished(mine).results.summary.equals(sim.run(small, jobs=1, progress=False).summary)
    assert finished(theirs).results.summary.equals(sim.run(other_seed, jobs=1, progress=False).summary)
    assert pool.jobs["a"] is mine and pool.jobs["b"] is theirs


def test_a_comparison_runs_both_on_common_random_numbers(pool, small):
    more = small.with_changes({"levels.php.capacity": 30})
    answer = finished(pool.compare("c", small, more))
    table, base = answer.table, answer.base
    alone = sim.compare(small, more, jobs=1, progress=False)
    numbers = ["difference", "ci_low", "ci_high", "clear"]
    assert table[numbers].equals(alone[numbers]) and set(table["scenario"]) == {"changed"}
    assert base.summary.equals(sim.run(small, jobs=1, progress=False).summary)
    waits = table.query("level == 'inpatient' and metric == 'wait_mean_days'").iloc[0]
    assert waits["difference"] < 0 and waits["method"].startswith("paired")


def test_on_a_dask_cluster_a_run_and_a_comparison_are_the_command_lines(small):
    """``continuum app --dask ADDRESS``: the replications and the last task (gathering, figures) on the cluster."""
    pytest.importorskip("dask.distributed")
    more = small.with_changes({"levels.php.capacity": 30})
    with local_dask_cluster(2) as address:
        on_dask = Pool(address)
        try:
            ran, compared = on_dask.run("r", small), on_dask.compare("c", small, more)
            assert finished(ran).results.summary.equals(sim.run(small, jobs=1, progress=False).summary)
            numbers = ["difference", "ci_low", "ci_high", "clear"]
            table = finished(compared).table
            assert table[numbers].equals(sim.compare(small, more, jobs=1, progress=False)[numbers])
        finally:
            on_dask.close()


def test_the_app_refuses_what_it_should_not_run_before_anything_starts(pool, small):
    for changes, words in (({"run.replications": 10**4}, "at most 100"), ({"run.days": 3_650_000}, "at most 3650"),
                           ({"levels.inpatient.referrals_per_year": 1e9}, "too big")):
        big = small.with_changes(changes)
        with pytest.raises(sim.ScenarioError, match=words):
            pool.run("d", big)
    assert "d" not in pool.jobs
    check_for_app(small)
    with pytest.raises(TooBigForTheApp):
        check_for_app(small.with_changes({"run.days": LIMITS["days"] + 1}))


def test_a_closed_sessions_job_leaves_the_pool_and_its_waiting_replications_are_dropped(pool, small):
    """The page holds its job; once Streamlit drops a closed session's state, the pool forgets the job too."""
    job = pool.run("gone", small.with_changes({"run.replications": 40, "run.days": 400}))
    tasks = job.tasks[0]
    del job
    gc.collect()
    assert "gone" not in pool.jobs
    assert any(task.cancelled() for task in tasks), "nobody will read them: the waiting replications are dropped"


HOLDER = """
import sys, time
import sim
from sim.app.jobs import Pool
if __name__ == "__main__":
    pool = Pool(workers=2)
    job = pool.run("s", sim.load_scenario(sys.argv[1]).with_changes({"run.replications": 40, "run.days": 3650}))
    while len(pool.executor._processes or {}) < 2:   # private, but the only way to the workers' ids before 3.14
        time.sleep(0.05)
    time.sleep(1)   # the workers at work
    print(*pool.executor._processes, flush=True)
    time.sleep(600)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="kill -9 and process ids as on Linux")
def test_the_pools_workers_exit_when_the_server_is_killed(tmp_path):
    """A server ended by ``kill -9`` (or the out-of-memory killer) cannot stop its pool: the workers see it gone
    and exit, rather than simulate on for no one holding memory and cores. (Without the watch, each finishes its
    replication, ten years of the regional scenario (2.6 s here), then blocks for ever sending it back.)"""
    script = tmp_path / "holder.py"
    script.write_text(HOLDER)
    server = subprocess.Popen([sys.executable, str(script), str(SCENARIOS / "regional_adult.yaml")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        workers = [psutil.Process(int(pid)) for pid in server.stdout.readline().split()]
        assert len(workers) == 2 and all(worker.is_running() for worker in workers)
    finally:
        server.kill()
        server.wait()
    deadline = time.monotonic() + 10   # at once when idle; a worker still starting up (importing) on a busy machine
    while (alive := running(workers)) and time.monotonic() < deadline:
        time.sleep(0.05)
    for worker in alive:
        worker.kill()
    assert not alive, f"workers {[worker.pid for worker in alive]} outlived their killed server"
