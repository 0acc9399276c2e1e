"""How long the capacity planner takes, and how much it simulates: the README's plan command.

Runs ``continuum plan scenarios/regional_adult.yaml --target "wait_p90_days<=14"`` in this process
(the command line's own code, writing its folder to a temporary directory) and prints its wall time,
the CPU time of this process and its workers, and the simulation it asked for: replications, the
days they simulate (replication-days), and the capacity sets they were run at. The counts are made
here, by wrapping the two doors through which the planner simulates (``sim.run`` for whole runs,
``sim.executors.map_ordered`` for replications it maps itself), so they do not depend on the
machine's load, and they count the same way for any version of the planner.

    python benchmarks/bench_planner.py                      # the README's command, all cores
    python benchmarks/bench_planner.py --jobs 2 --replications 10
    python benchmarks/bench_planner.py --scenario scenarios/teaching_step_down.yaml --target "wait_p90_days<=3"
    python benchmarks/bench_planner.py --scenario scenarios/teaching_step_down.yaml --levels inpatient \
        --target "wait_mean_days<=1"                        # theory misses the beds blocked by a full PHP

Wall time depends on the machine and on whatever else runs on it; CPU seconds (this process and its
workers) much less so, and the counts not at all.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

import sim
import sim.cli
import sim.planning
from sim.cli import main as command_line

REPOSITORY = Path(__file__).resolve().parent.parent
REGIONAL_SCENARIO = REPOSITORY / "scenarios" / "regional_adult.yaml"


class Tally:
    """Replications the planner simulates, per capacity set (levels' capacities and seed)."""

    def __init__(self) -> None:
        self.replications: Counter[tuple[Any, ...]] = Counter()
        self.days: Counter[tuple[Any, ...]] = Counter()
        self.planning_seconds = 0.0

    def add(self, scenario: sim.Scenario, replications: int) -> None:
        capacities = tuple((name, level.capacity[-1].capacity) for name, level in scenario.levels.items())
        key = (scenario.run.seed, capacities)
        self.replications[key] += replications
        warmup = scenario.run.warmup_days if isinstance(scenario.run.warmup_days, int | float) else 0
        self.days[key] += replications * (scenario.run.days + warmup)

    def wrap(self) -> None:
        """Count every simulation the planner asks for, then let it run."""
        whole, mapped = sim.planning.run, getattr(sim.planning, "map_ordered", None)

        def counted_run(scenario: sim.Scenario, *args: Any, **options: Any) -> sim.Results:
            results = whole(scenario, *args, **options)
            self.add(results.scenario, results.scenario.run.replications)
            return results

        def counted_map(function: Any, items: Any, **options: Any) -> list[Any]:
            items = list(items)
            for scenario, _ in items:     # (scenario, replication) pairs
                self.add(scenario, 1)
            return mapped(function, items, **options)

        def timed_plan(*args: Any, **options: Any) -> sim.Plan:
            started = time.perf_counter()
            found = planner(*args, **options)
            self.planning_seconds += time.perf_counter() - started
            return found

        planner = sim.cli.plan_capacity
        sim.cli.plan_capacity = timed_plan   # type: ignore[assignment]
        sim.planning.run = counted_run   # type: ignore[assignment]
        if mapped is not None:
            sim.planning.map_ordered = counted_map   # type: ignore[assignment]


def cpu_seconds() -> float:
    """User and system CPU time of this process and of its children that have ended (the pools' workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", default=str(REGIONAL_SCENARIO))
    parser.add_argument("--target", action="append", help="repeatable [default: wait_p90_days<=14]")
    parser.add_argument("--jobs", type=int, help="workers [default: all cores]")
    parser.add_argument("--replications", type=int, help="[default: the scenario's]")
    parser.add_argument("--levels", help="comma-separated levels to plan [default: all]")
    parser.add_argument("--keep", help="copy plan.csv and plan_curve.csv to this folder (to compare two versions)")
    options = parser.parse_args()
    tally = Tally()
    tally.wrap()
    scenario = sim.load_scenario(options.scenario)
    with tempfile.TemporaryDirectory() as folder:
        arguments = ["plan", options.scenario, "--out", str(Path(folder) / "plan"), "--quiet"]
        arguments += [item for target in options.target or ["wait_p90_days<=14"] for item in ("--target", target)]
        arguments += ["--jobs", str(options.jobs)] if options.jobs else []
        arguments += ["--replications", str(options.replications)] if options.replications else []
        arguments += ["--levels", options.levels] if options.levels else []
        cpu, started = cpu_seconds(), time.perf_counter()
        command_line(arguments, standalone_mode=False)
        wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu
        planning = tally.planning_seconds
        plan = pd.read_csv(Path(folder) / "plan" / "plan.csv")
        if options.keep:
            Path(options.keep).mkdir(parents=True, exist_ok=True)
            for name in ("plan.csv", "plan_curve.csv"):
                shutil.copy(Path(folder) / "plan" / name, Path(options.keep) / name)
    replications = options.replications or scenario.run.replications
    total = sum(tally.replications.values())
    with pd.option_context("display.width", 250, "display.max_colwidth", 120):
        print(plan.to_string(index=False))
    print(f"\nwall {wall:.1f} s (sim.plan {planning:.1f} s, then the plan's folder and report), "
          f"CPU {cpu:.1f} s (this process and its workers)")
    print(f"simulated: {total} replications ({total / replications:.2f} whole runs of {replications}), "
          f"{sum(tally.days.values()):,} replication-days, at {len(tally.replications)} capacity sets")
    whole = sum(count >= replications for count in tally.replications.values())
    print(f"capacity sets run whole: {whole}; screened only: {len(tally.replications) - whole}")


if __name__ == "__main__":
    main()
