"""What do patient groups cost? The regional scenario with and without three groups.

Run by hand from the repository root (never part of the test suite)::

    python benchmarks/bench_groups.py               # 3 replications of the file's five years, best of 3
    python benchmarks/bench_groups.py --quick       # one replication of one year, one repeat

The grouped scenario is the regional one split into three groups that follow the levels' own
rules, each with a third of every level's referrals and of today's patients: the same patients
in the same places, so the difference in wall time is what the groups' bookkeeping costs (their
own streams, tallies and daily counts). Serial runs (``jobs=1``), best of ``--repeats``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import sim

REGIONAL_SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "regional_adult.yaml"
GROUPS = ("first", "second", "third")


def split_into_groups(scenario: sim.Scenario) -> sim.Scenario:
    """The scenario with its referrals and today's patients shared equally by three groups with the levels' rules."""
    groups = {}
    for index, group in enumerate(GROUPS):
        levels = {}
        for name, level in scenario.levels.items():
            census, waitlist = (count // len(GROUPS) + (index < count % len(GROUPS))
                                for count in (level.initial.census, level.initial.waitlist))
            levels[name] = {"initial": {"census": census, "waitlist": waitlist}}
        groups[group] = {"share_of_referrals": {name: 1 / len(GROUPS) for name in scenario.levels}, "levels": levels}
    changes = {f"levels.{name}.initial": {"census": 0, "waitlist": 0} for name in scenario.levels}
    return scenario.with_changes({**changes, "groups": groups})


def best_time(scenario: sim.Scenario, repeats: int) -> tuple[float, sim.Results]:
    times, results = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        results = sim.run(scenario, jobs=1, progress=False)
        times.append(time.perf_counter() - start)
    assert results is not None
    return min(times), results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one replication of one year, one repeat")
    parser.add_argument("--repeats", type=int, default=None, help="runs per case; the best counts (default 3)")
    parser.add_argument("--replications", type=int, default=3)
    parser.add_argument("--days", type=int, default=None, help="measured days (default the file's five years)")
    options = parser.parse_args()
    repeats = options.repeats or (1 if options.quick else 3)
    length = {"run.replications": 1, "run.days": 365} if options.quick else {"run.replications": options.replications}
    if options.days and not options.quick:
        length["run.days"] = options.days
    base = sim.load_scenario(REGIONAL_SCENARIO).with_changes(length)
    grouped = split_into_groups(base)
    plain_seconds, plain = best_time(base, repeats)
    grouped_seconds, split = best_time(grouped, repeats)
    admissions = [results.summary.query("level == 'all' and metric == 'admissions_per_year'")["mean"].iloc[0]
                  for results in (plain, split)]
    print(f"regional scenario, {base.run.replications} replications x {base.run.days} days, serial, best of {repeats}")
    print(f"  without groups: {plain_seconds:6.2f} s   ({admissions[0]:,.0f} admissions a year)")
    print(f"  three groups:   {grouped_seconds:6.2f} s   ({admissions[1]:,.0f} admissions a year)")
    print(f"  groups cost {grouped_seconds / plain_seconds - 1:+.1%} wall time (target: at most +15%)")


if __name__ == "__main__":
    main()
