"""Serial, process pool and Dask give the very same numbers, in input order; a missing Dask says how to install it."""

from __future__ import annotations

import json
import sys
import time

import pandas.testing as pdt
import pytest
from click.testing import CliRunner
from conftest import SCENARIOS

import sim
from sim.cli import main
from sim.executors import ExecutorUnavailable, local_dask_cluster, map_ordered, map_streamed, resolve_backend

SHORT = {"run.days": 200, "run.warmup_days": 50, "run.replications": 4}
CLI_SHORT = ["--replications", "4", "--set", "run.days=200", "--set", "run.warmup_days=50"]


def _after_a_nap(seconds: float) -> float:
    """Finishes later the larger its item, so the first item finishes last."""
    time.sleep(seconds)
    return seconds


@pytest.fixture(scope="module")
def address():
    """The scheduler of one local Dask cluster of two worker processes, for the whole module."""
    pytest.importorskip("dask.distributed")
    with local_dask_cluster(2) as scheduler:
        yield scheduler


@pytest.fixture(scope="module")
def short_mmc():
    return sim.load_scenario(SCENARIOS / "teaching_mmc.yaml").with_changes(SHORT)


@pytest.fixture(scope="module")
def serial(short_mmc):
    return sim.run(short_mmc, executor="serial", progress=False)


@pytest.fixture
def without_dask(monkeypatch):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)   # any import of it now fails


def _assert_same_numbers(expected: sim.Results, actual: sim.Results) -> None:
    pdt.assert_frame_equal(expected.replications, actual.replications, check_exact=True)
    pdt.assert_frame_equal(expected.daily, actual.daily, check_exact=True)


# ---------------------------------------------------------------------------- same numbers, same order
def test_process_pool_gives_the_serial_numbers(short_mmc, serial):
    pooled = sim.run(short_mmc, jobs=2, progress=False)
    _assert_same_numbers(serial, pooled)
    assert (serial.meta["executor"], serial.meta["jobs"]) == ("serial", 1)
    assert (pooled.meta["executor"], pooled.meta["jobs"]) == ("processes", 2)


def test_dask_cluster_gives_the_serial_numbers(short_mmc, serial, address):
    on_dask = sim.run(short_mmc, executor="dask", address=address, progress=False)
    _assert_same_numbers(serial, on_dask)
    assert (on_dask.meta["executor"], on_dask.meta["jobs"], on_dask.meta["address"]) == ("dask", None, address)


@pytest.mark.parametrize("executor", ["serial", "processes", "dask"])
def test_outputs_come_back_in_input_order_though_they_finish_out_of_it(executor, request):
    naps = [0.3, 0.2, 0.1, 0.0]
    address = request.getfixturevalue("address") if executor == "dask" else None
    jobs = None if executor == "dask" else 4
    assert map_ordered(_after_a_nap, naps, jobs=jobs, executor=executor, address=address, progress=False) == naps


def test_a_stream_hands_on_outputs_before_the_last_is_done_and_leaving_it_ends_the_rest():
    started = time.perf_counter()
    with map_streamed(_after_a_nap, [0.0, 0.0, 30.0], jobs=3) as outputs:
        assert [next(outputs), next(outputs)] == [0.0, 0.0]
    assert time.perf_counter() - started < 20   # waited neither for the last output nor for its worker


def test_equal_items_are_each_computed(address):
    # Dask would merge equal tasks if they were marked pure
    assert map_ordered(abs, [-1, -1, -1], executor="dask", address=address, progress=False) == [1, 1, 1]


# ---------------------------------------------------------------------------- choosing a backend
def test_many_items_go_to_dask_in_batches_and_come_back_each_in_its_place(address):
    """Dask gets the items in batches (its cost per task is many times a process pool's), about 32 per worker
    thread; the outputs are the items' own, in order, whatever batch each was in."""
    from distributed import Client

    items = list(range(-700, 0))
    with Client(address) as client:
        client.get_task_stream(start=time.time())   # the scheduler records tasks from now on
        started = time.time()
        outputs = map_ordered(abs, items, executor="dask", address=address, progress=False)
        tasks = [task["key"] for task in client.get_task_stream(start=started)]
    assert outputs == [-item for item in items]
    assert len([key for key in tasks if "_batch" in str(key)]) == 70   # 2 workers x 32: batches of 700 // 64 = 10


def test_backend_is_what_actually_runs():
    assert resolve_backend(8, jobs=1) == {"executor": "serial", "jobs": 1, "address": None}
    assert resolve_backend(2, jobs=16) == {"executor": "processes", "jobs": 2, "address": None}
    assert resolve_backend(8, jobs=3, executor="dask") == {"executor": "dask", "jobs": 3, "address": None}
    assert resolve_backend(8, executor="dask", address="tcp://scheduler:8786")["jobs"] is None


@pytest.mark.parametrize(("options", "message"), [
    ({"executor": "threads"}, "executor = 'threads': should be one of serial, processes, dask"),
    ({"address": "tcp://scheduler:8786"}, "applies to the dask executor only"),
    ({"executor": "dask", "address": "tcp://scheduler:8786", "jobs": 2}, "jobs = 2: does not apply"),
])
def test_bad_backend_choices_are_named(options, message):
    with pytest.raises(ValueError, match=message):
        resolve_backend(4, **options)


def test_missing_dask_says_how_to_install_it(without_dask):
    with pytest.raises(ExecutorUnavailable, match=r"pip install 'continuum\[dask\]'") as caught:
        map_ordered(abs, [1, 2], executor="dask", progress=False)
    assert "pip install -e '.[dask]'" in str(caught.value)
    with pytest.raises(ExecutorUnavailable), local_dask_cluster(1):
        pass


# ---------------------------------------------------------------------------- the command line
def test_cli_runs_on_a_local_dask_cluster_to_the_serial_files(serial, tmp_path):
    pytest.importorskip("dask.distributed")
    out = tmp_path / "dask"
    result = CliRunner().invoke(main, ["run", str(SCENARIOS / "teaching_mmc.yaml"), *CLI_SHORT, "--dask",
                                       "--jobs", "2", "--quiet", "--out", str(out)])
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "run.json").read_text())
    assert (meta["executor"], meta["jobs"], meta["address"]) == ("dask", 2, None)
    expected = sim.write_results(serial, tmp_path / "serial")
    for name in ("replications.csv", "daily.csv", "summary.csv", "monthly.csv"):
        assert (out / name).read_bytes() == (expected / name).read_bytes(), name


def test_cli_without_dask_exits_2_with_the_install_command(without_dask, tmp_path):
    result = CliRunner().invoke(main, ["run", str(SCENARIOS / "teaching_mmc.yaml"), *CLI_SHORT, "--dask",
                                       "--quiet", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and "pip install 'continuum[dask]'" in result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)


def test_cli_refuses_jobs_for_an_existing_cluster(tmp_path):
    result = CliRunner().invoke(main, ["run", str(SCENARIOS / "teaching_mmc.yaml"), "--dask", "tcp://scheduler:8786",
                                       "--jobs", "2", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "--jobs does not apply" in result.output


def test_a_sweep_on_dask_gives_the_process_pool_numbers(short_mmc, address, tmp_path):
    grid = {"levels.ward.capacity": [19, 22]}
    on_pool = sim.sweep(short_mmc, grid, jobs=2, progress=False)
    on_dask = sim.sweep(short_mmc, grid, out=tmp_path / "sweep", executor="dask", address=address, progress=False)
    pdt.assert_frame_equal(on_pool, on_dask, check_exact=True)
