"""Ctrl-C, SIGTERM and kill -9, from the user's side: real processes, real signals.

An interrupted command says in one line what it kept and exits 130 (Ctrl-C) or 143 (SIGTERM),
with no traceback, no output or staging folder and no worker left running; a worker whose
parent is killed outright exits by itself. Each signal is sent at a moment the test can see
(a library mapped, a worker started, a folder written), not after a guessed delay.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pydantic
import pytest
from click.testing import CliRunner
from conftest import ROOT, SCENARIOS, running

import sim.cli
from sim.cli import main
from sim.scenario import Scenario

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="signals and /proc as on Linux")

# long enough to be mid-run when signalled (the replications take seconds each), two workers
LONG_RUN = [str(SCENARIOS / "regional_adult.yaml"), "--replications", "4", "--jobs", "2", "--no-report", "--quiet"]
SHORT_RUN = [str(SCENARIOS / "teaching_mmc.yaml"), "--replications", "2", "--jobs", "1", "--set", "run.days=100",
             "--set", "run.warmup_days=10", "--quiet"]
PATIENCE_SECONDS = 5  # for workers to go once their parent is stopped
PYTHON_M_SIM = [sys.executable, "-m", "sim"]


def installed_continuum() -> list[str]:
    """The ``continuum`` script installed beside this Python, or the same entry point through it."""
    script = Path(sys.executable).with_name("continuum")
    return [str(script)] if script.exists() else [sys.executable, "-c", "from sim.entry import main; main()"]


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen]]:
    """Starts ``continuum`` in its own process group (as a shell does) in ``tmp_path``; ends what is left."""
    started: list[subprocess.Popen] = []

    def start_continuum(*arguments: str, launcher: list[str] = PYTHON_M_SIM) -> subprocess.Popen:
        environment = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout's sim, however it is installed
        process = subprocess.Popen([*launcher, *arguments], cwd=tmp_path, env=environment, text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        started.append(process)
        return process

    yield start_continuum
    for process in started:
        if process.poll() is None:
            process.kill()
            process.communicate()


@pytest.fixture
def leftovers() -> Iterator[list[psutil.Process]]:
    """Workers a test records; any still running at the end is killed (so a failing test leaves none)."""
    workers: list[psutil.Process] = []
    yield workers
    for worker in running(workers):
        worker.kill()


def wait_for(condition: Callable[[], object], process: subprocess.Popen, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"continuum ended (status {process.returncode}) before {what}: {process.communicate()[1]}")
        if time.monotonic() > deadline:
            pytest.fail(f"no sign of {what} after {seconds} s")
        time.sleep(0.01)


def workers_of(process: subprocess.Popen, leftovers: list[psutil.Process], count: int = 2) -> list[psutil.Process]:
    """The pool's worker processes, once ``count`` of them are simulating.

    Not the moment they appear: a signal handled while ``fork`` runs its callbacks in the parent
    is lost (Python prints it as "Exception ignored" and carries on), whatever the handler.
    """
    parent = psutil.Process(process.pid)
    wait_for(lambda: len(parent.children(recursive=True)) >= count, process, f"{count} workers")
    workers = parent.children(recursive=True)
    leftovers.extend(workers)
    wait_for(lambda: all(worker.cpu_times().user > 0.1 for worker in workers), process, "the workers simulating")
    return workers


def has_loaded(process: subprocess.Popen, library: str) -> bool:
    """Whether the process has mapped a file of ``library`` (is importing it, or has)."""
    try:
        return f"/{library}/" in Path(f"/proc/{process.pid}/maps").read_text()
    except OSError:
        return False


def gone_within(workers: list[psutil.Process], seconds: float = PATIENCE_SECONDS) -> list[psutil.Process]:
    """The workers still running after ``seconds`` (none, if they all went)."""
    deadline = time.monotonic() + seconds
    while running(workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    return running(workers)


def ended(process: subprocess.Popen) -> tuple[int, str]:
    """The stopped process's exit status and stderr (read once it ended: a stray worker may hold the pipe)."""
    process.wait(timeout=60)
    return process.returncode, process.communicate(timeout=PATIENCE_SECONDS)[1]


def test_importing_the_command_line_loads_none_of_the_heavy_libraries():
    """Ctrl-C can only be handled once ``main`` runs: until then only click and the package's stubs load."""
    code = "import sys, sim.entry; print(sorted({'numpy', 'pandas', 'scipy', 'matplotlib'} & set(sys.modules)))"
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert shown.stdout.strip() == "[]"


@pytest.mark.parametrize("moment", ["numpy", "scipy", "workers"])
def test_ctrl_c_at_any_moment_of_a_run_says_so_in_one_line(start, leftovers, tmp_path, moment):
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it) while importing or mid-run."""
    process = start("run", *LONG_RUN, "--out", "out")
    if moment == "workers":
        workers = workers_of(process, leftovers)
    else:
        wait_for(lambda: has_loaded(process, moment), process, f"{moment} loading")
        workers = []
    os.killpg(process.pid, signal.SIGINT)
    process.wait(timeout=60)
    assert gone_within(workers) == []
    assert ended(process) == (130, "interrupted: nothing was written\n")
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_while_the_installed_command_imports(start, tmp_path):
    """The ``continuum`` entry point too: its way to ``main`` is light, the heavy imports inside it."""
    process = start("run", *LONG_RUN, "--out", "out", launcher=installed_continuum())
    wait_for(lambda: has_loaded(process, "pandas"), process, "pandas loading")
    process.send_signal(signal.SIGINT)
    assert ended(process) == (130, "interrupted: nothing was written\n")
    assert list(tmp_path.iterdir()) == []


def test_sigterm_mid_run_ends_the_workers_and_writes_nothing(start, leftovers, tmp_path):
    process = start("run", *LONG_RUN, "--out", "out")
    workers = workers_of(process, leftovers)
    process.terminate()
    process.wait(timeout=60)
    assert gone_within(workers) == []
    assert ended(process) == (143, "terminated: nothing was written\n")
    assert list(tmp_path.iterdir()) == []


def test_sigterm_while_writing_removes_the_staging_folder(start, tmp_path):
    """Stopped while the report is drawn into the hidden staging folder: the folder goes too."""
    process = start("run", *SHORT_RUN, "--out", "out")
    wait_for(lambda: any(tmp_path.glob(".*/summary.csv")), process, "the hidden staging folder")
    process.terminate()
    assert ended(process) == (143, "terminated: nothing was written\n")
    assert list(tmp_path.iterdir()) == []


def test_workers_exit_when_their_parent_is_killed(start, leftovers):
    """kill -9 leaves the parent no chance to clean up: the workers notice and exit by themselves."""
    process = start("run", *LONG_RUN, "--out", "out")
    workers = workers_of(process, leftovers)
    process.kill()
    process.wait(timeout=60)
    assert gone_within(workers) == []


def test_ctrl_c_in_a_python_script_raises_keyboard_interrupt_once(start, leftovers, tmp_path):
    """In Python (a script, a notebook) Ctrl-C stays a KeyboardInterrupt; the workers go without a word."""
    script = tmp_path / "script.py"
    script.write_text(
        "import sim\n"
        f"scenario = sim.load_scenario({str(SCENARIOS / 'regional_adult.yaml')!r})\n"
        "try:\n"
        "    sim.run(scenario, replications=4, jobs=2, progress=False)\n"
        "except KeyboardInterrupt:\n"
        "    print('KeyboardInterrupt')\n", encoding="utf-8")
    process = start(launcher=[sys.executable, str(script)])
    workers = workers_of(process, leftovers)
    os.killpg(process.pid, signal.SIGINT)
    process.wait(timeout=60)
    assert gone_within(workers) == []
    assert process.communicate() == ("KeyboardInterrupt\n", "")
    assert process.returncode == 0


def test_an_interrupted_sweep_keeps_its_finished_points(start, tmp_path):
    """The first point (a short run) is saved; Ctrl-C during the second keeps it, and a rerun reuses it."""
    sweep = ["sweep", str(SCENARIOS / "teaching_mmc.yaml"), "--replications", "2", "--jobs", "1", "--quiet",
             "--set", "run.warmup_days=10", "--out", "swept"]
    process = start(*sweep, "--grid", "run.days=100,200000")
    finished = tmp_path / "swept" / "points" / "run.days=100" / "summary.csv"
    wait_for(finished.exists, process, "the first point")
    saved = finished.stat().st_mtime_ns
    os.killpg(process.pid, signal.SIGINT)
    kept = "interrupted: the finished points are kept; the same command again runs only the rest\n"
    assert ended(process) == (130, kept)

    again = start(*sweep, "--grid", "run.days=100")  # the rerun, short of the long point
    assert ended(again) == (0, "")
    assert finished.stat().st_mtime_ns == saved  # loaded, not simulated again
    assert (tmp_path / "swept" / "sweep.csv").exists()


class _SignalledWhileSerialized(pydantic.BaseModel):
    """A model whose serializer calls back into Python, as the scenario's does, and is signalled there."""

    signal_number: int

    @pydantic.field_serializer("signal_number")
    def _signalled_here(self, number: int) -> int:
        os.kill(os.getpid(), number)   # the handler runs here, inside pydantic's callback
        return number


@pytest.mark.parametrize("mode", ["python", "json"])
@pytest.mark.parametrize("number, expected", [(signal.SIGTERM, (143, "terminated: nothing was written\n")),
                                              (signal.SIGINT, (130, "interrupted: nothing was written\n"))],
                         ids=["SIGTERM", "SIGINT"])
def test_a_stop_a_library_wraps_in_its_own_error_still_ends_in_one_line(monkeypatch, tmp_path, number,
                                                                        expected, mode):
    """pydantic turns a stop inside its serializer into its own error, the stop its cause (Python mode) or
    lost (JSON mode); seen on CI when a SIGTERM hit the writing of scenario.yaml. The command still says
    one line, exits 143 or 130 and leaves no folder."""
    def dump(scenario: Scenario) -> str:
        model = _SignalledWhileSerialized(signal_number=number)
        return model.model_dump_json() if mode == "json" else str(model.model_dump(mode="json"))

    monkeypatch.setattr(Scenario, "to_yaml", dump)
    result = CliRunner().invoke(main, ["run", *SHORT_RUN, "--no-report", "--out", str(tmp_path / "out")])
    assert (result.exit_code, result.stderr) == expected
    assert list(tmp_path.iterdir()) == []


class _SignalsWhenCollected:
    """An object whose finalizer is signalled: Python cannot raise a stop out of a finalizer."""

    def __init__(self, number: int) -> None:
        self.number = number

    def __del__(self) -> None:
        os.kill(os.getpid(), self.number)


@pytest.mark.parametrize("number, expected", [(signal.SIGTERM, (143, "terminated: nothing was written\n")),
                                              (signal.SIGINT, (130, "interrupted: nothing was written\n"))],
                         ids=["SIGTERM", "SIGINT"])
def test_a_stop_landing_in_a_finalizer_is_not_swallowed(monkeypatch, tmp_path, number, expected):
    """A stop handled while some object's ``__del__`` runs would be printed as "Exception ignored" and
    lost, the run going on to write its folder: it is sent again and stops the run."""
    running_scenario = sim.cli.run_scenario

    def run_scenario(*arguments: Any, **options: Any) -> Any:
        _SignalsWhenCollected(number)   # collected at once: its finalizer runs here
        return running_scenario(*arguments, **options)

    monkeypatch.setattr(sim.cli, "run_scenario", run_scenario)
    result = CliRunner().invoke(main, ["run", *SHORT_RUN, "--no-report", "--out", str(tmp_path / "out")])
    assert (result.exit_code, result.stderr) == expected
    assert list(tmp_path.iterdir()) == []
