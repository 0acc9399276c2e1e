"""How long does the README's main command take, part by part? (issue 18, target 2)

Run by hand from the repository root (never part of the test suite)::

    python benchmarks/bench_main_command.py                   # best of 3, about 2 minutes on 2 cores
    python benchmarks/bench_main_command.py --repeats 1
    python benchmarks/bench_main_command.py --replications 4  # a shorter simulation; the other parts change little

The command is ``continuum run scenarios/regional_adult.yaml`` (report included), timed whole in a
fresh interpreter (``python -m sim run ... --quiet``, so no table is printed). Its parts:

* **start-up and imports**: a fresh interpreter loading what the command loads (``import sim.cli``),
  and for comparison ``continuum --help``;
* **simulation**: ``sim.run(scenario, progress=False)`` on all cores, as the command calls it;
* **tables and report**: ``sim.write_results(results, folder, report=True)`` as the command calls
  it (figures in several processes where it may, the CSV files written meanwhile); then, to see what
  each costs on its own, the **CSV files** alone (``report=False``) and the **report** alone
  (``sim.report.write_report``: ``report.html`` and ``figures/``).

The parts run in a fresh interpreter of their own, so their imports and memory are not the
whole command's. Every figure is the best of ``--repeats`` runs: the machine may be busy with
other work, and the best run is the one least disturbed by it. The load average is printed before
and after. Code without the ``jobs`` setting of ``write_results`` (before issue 18) is timed
as it is, so the script also measures another checkout: ``PYTHONPATH=../other python benchmarks/...``
times the ``sim`` that PYTHONPATH names, in its own folder.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# the checkout whose ``sim`` is imported (PYTHONPATH may name another than this script's): the commands run in it
REPOSITORY = Path(importlib.util.find_spec("sim").origin or "").resolve().parent.parent
REGIONAL_SCENARIO = REPOSITORY / "scenarios" / "regional_adult.yaml"
PARTS = ("simulation", "tables_and_report", "csv_files", "report")


def wall_seconds(command: list[str]) -> float:
    """Wall time of ``command`` in a fresh process, which must succeed."""
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=REPOSITORY)
    return time.perf_counter() - started


def with_jobs(write: Callable[..., Any], *args: Any, **options: Any) -> Any:
    """Call ``write`` as the command does: with ``jobs=None`` (all cores) where it takes ``jobs``."""
    if "jobs" in inspect.signature(write).parameters:
        options["jobs"] = None
    return write(*args, **options)


def parts_child(replications: int | None) -> None:
    """In a fresh interpreter: time the simulation, then writing its folder, then the CSV files and the
    report on their own; print them as JSON."""
    import sim.cli  # noqa: F401  # what the command loads, so that nothing below is an import
    from sim import outputs, report

    scenario = sim.load_scenario(REGIONAL_SCENARIO)
    if replications is not None:
        scenario = scenario.with_changes({"run.replications": replications})
    seconds = {}
    started = time.perf_counter()
    results = sim.run(scenario, progress=False)
    seconds["simulation"] = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        with_jobs(outputs.write_results, results, Path(folder) / "run", report=True)
        seconds["tables_and_report"] = time.perf_counter() - started
        started = time.perf_counter()
        outputs.write_results(results, Path(folder) / "tables")
        seconds["csv_files"] = time.perf_counter() - started
        (Path(folder) / "report").mkdir()
        started = time.perf_counter()
        with_jobs(report.write_report, results, Path(folder) / "report")
        seconds["report"] = time.perf_counter() - started
    print(json.dumps(seconds))


def one_round(replications: int | None) -> dict[str, float]:
    """Every part once: the whole command, start-up and imports, ``--help``, then the parts."""
    more = ["--replications", str(replications)] if replications is not None else []
    found = {}
    with tempfile.TemporaryDirectory() as folder:
        found["whole_command"] = wall_seconds([sys.executable, "-m", "sim", "run", str(REGIONAL_SCENARIO),
                                               "--out", str(Path(folder) / "out"), "--quiet", *more])
    found["startup_and_imports"] = wall_seconds([sys.executable, "-c", "import sim.cli"])
    found["help"] = wall_seconds([sys.executable, "-m", "sim", "--help"])
    child = subprocess.run([sys.executable, __file__, "--parts-child", *more], check=True, capture_output=True,
                           text=True, cwd=REPOSITORY)
    found.update(json.loads(child.stdout.strip().splitlines()[-1]))
    return found


LABELS = {
    "whole_command": "whole command (report included)",
    "startup_and_imports": "start-up and imports (import sim.cli)",
    "help": "continuum --help",
    "simulation": "simulation (sim.run)",
    "tables_and_report": "CSV files and report, as the command writes them",
    "csv_files": "  of which CSV files alone",
    "report": "  of which report alone (report.html, figures/)",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="rounds, best kept (default 3)")
    parser.add_argument("--replications", type=int, default=None,
                        help="override run.replications (default: the scenario's 20)")
    parser.add_argument("--parts-child", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.parts_child:
        parts_child(arguments.replications)
        return
    print(f"{REPOSITORY}: Python {sys.version.split()[0]}, {os.cpu_count()} cores, load average before "
          f"{os.getloadavg()[0]:.2f}; {REGIONAL_SCENARIO.name}"
          + (f" with {arguments.replications} replications" if arguments.replications else ""))
    rounds = [one_round(arguments.replications) for _ in range(arguments.repeats)]
    print(f"{'part':<50} {'best s':>7}   every run")
    for key, label in LABELS.items():
        runs = [found[key] for found in rounds]
        print(f"{label:<50} {min(runs):>7.2f}   " + " ".join(f"{value:.2f}" for value in runs))
    best = {key: min(found[key] for found in rounds) for key in LABELS}
    print(f"{'outside the simulation (whole - simulation)':<50} {best['whole_command'] - best['simulation']:>7.2f}")
    print(f"load average after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
