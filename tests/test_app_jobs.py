"""The web app's shared worker pool: its runs are the command line's, sessions do not disturb each other,
a session's new job cancels its old one, and scenarios past the app's limits are refused before they run."""

from __future__ import annotations

import time

import pytest
from conftest import SCENARIOS

import sim
from sim.app.jobs import LIMITS, Pool, TooBigForTheApp, check_for_app


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
    results = finished(job)
    assert job.progress == 1
    alone = sim.run(small, jobs=1, progress=False)
    for table in ("summary", "replications", "daily", "monthly"):
        assert getattr(results, table).equals(getattr(alone, table)), table
    assert results.warnings == alone.warnings


def test_sessions_get_their_own_numbers_and_a_new_job_cancels_the_old(pool, small):
    other_seed = small.with_changes({"run.seed": 99})
    first = pool.run("a", small.with_changes({"run.replications": 40, "run.days": 1500}))
    mine, theirs = pool.run("a", small), pool.run("b", other_seed)     # session a's second job replaces its first
    assert any(task.cancelled() for task in first.tasks[0]), "the replaced job's waiting tasks are dropped"
    assert finished(mine).summary.equals(sim.run(small, jobs=1, progress=False).summary)
    assert finished(theirs).summary.equals(sim.run(other_seed, jobs=1, progress=False).summary)
    assert pool.jobs["a"] is mine and pool.jobs["b"] is theirs


def test_a_comparison_runs_both_on_common_random_numbers(pool, small):
    more = small.with_changes({"levels.php.capacity": 30})
    table, base, changed = finished(pool.compare("c", small, more))
    alone = sim.compare(small, more, jobs=1, progress=False)
    numbers = ["difference", "ci_low", "ci_high", "clear"]
    assert table[numbers].equals(alone[numbers]) and set(table["scenario"]) == {"changed"}
    assert base.summary.equals(sim.run(small, jobs=1, progress=False).summary)
    waits = table.query("level == 'inpatient' and metric == 'wait_mean_days'").iloc[0]
    assert waits["difference"] < 0 and waits["method"].startswith("paired")


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
