"""How fast is the engine? continuum against bare SimPy, a bare heapq loop and Ciw, and the regional run.

Run by hand from the repository root (never part of the test suite)::

    python benchmarks/bench_engine.py                 # everything: tandem networks, then regional
    python benchmarks/bench_engine.py --quick         # smoke check: short runs, one repeat
    python benchmarks/bench_engine.py --skip-regional
    python benchmarks/bench_engine.py --regional-replications 4
    python benchmarks/bench_engine.py --skip-regional --memory   # memory of 5 and 50 simulated years

Part 1 simulates one 4-level tandem network (Poisson referrals to level 1, exponential stays,
FIFO, unlimited waitlists, places freed at the end of each stay) and a variant where 30% of
patients leaving level 4 go back to level 1, four ways: continuum through its public API with
its usual recording, a bare SimPy model (SimPy as nothing but the event calendar: the floor for
an engine built on SimPy), a bare heapq event loop (the Python floor for this network) and Ciw.
Speed is **patients per wall-second**, where patients = referrals from the community that
arrived within the simulated horizon (finished or not), the same count for all four. The ratios
are continuum's wall time per visit (a stay begun at a level) over each other engine's.

Part 2 times the bundled regional scenario (as the file is: 5 measured years, no warm-up: it starts
from today's census) over many replications on all cores, in a fresh interpreter so its peak memory
is its own.

Part 3 (``--memory``) runs one replication of the regional scenario for 5 and for 50 years, each in
a fresh interpreter, and prints its peak memory beside the size of its daily rows: issue 18 asks a
50-year run to need no more than a 5-year one beyond those rows.

Every figure is the best of ``--repeats`` runs (default 5): the machine may be busy with other
work, and the best run is the one least disturbed by it. In part 1 the engines take turns (continuum,
the floors, Ciw, then again), so that a busy spell does not fall on one engine's runs only.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from heapq import heappop, heappush
from itertools import chain
from pathlib import Path

import numpy as np
import simpy

import sim

REPOSITORY = Path(__file__).resolve().parent.parent
REGIONAL_SCENARIO = REPOSITORY / "scenarios" / "regional_adult.yaml"

PLACES = (20, 30, 60, 200)
MEAN_STAY_DAYS = (10.0, 14.0, 56.0, 120.0)
BUSIEST_OCCUPANCY = 0.85
WATCHED_LEVEL = 2          # level 3, the busiest: the one whose mean wait the engines report
SEED = 1
DAYS = 40_000              # about 110 years: 2.5-3.5 s for continuum before optimisation
QUICK_DAYS = 2_000


@dataclass(frozen=True)
class Network:
    """The tandem network: levels 1 -> 2 -> 3 -> 4 -> leave, or back to level 1."""

    name: str
    reenter_share: float   # of patients leaving level 4, the share who go back to level 1
    places: tuple[int, ...] = PLACES
    stays: tuple[float, ...] = MEAN_STAY_DAYS   # mean stay per level, days

    @property
    def referrals_per_day(self) -> float:
        """Referrals putting the busiest level at 85% occupancy (every level is visited
        1 / (1 - reenter_share) times per patient)."""
        busiest_load = max(stay / places for stay, places in zip(self.stays, self.places, strict=True))
        return BUSIEST_OCCUPANCY * (1 - self.reenter_share) / busiest_load

    @property
    def watched_arrivals_per_day(self) -> float:
        return self.referrals_per_day / (1 - self.reenter_share)


NETWORKS = (Network("tandem", 0.0), Network("re-entry 30%", 0.3),
            Network("small re-entry 20%", 0.2, places=(6, 8, 10, 5), stays=(4.0, 6.0, 9.0, 3.0)))
"""The bench's networks: the last is a Jackson network of the kind issue 18 names (feedback, a few levels of
5-10 places, short stays), many visits a day where the others have few."""


@dataclass
class Outcome:
    """One engine's run: how many patients and visits (stays begun at any level), how long it
    took and what they waited at level 3."""

    patients: int
    visits: int
    wall_seconds: float
    wait_mean_days: float

    @property
    def per_second(self) -> float:
        return self.patients / self.wall_seconds

    @property
    def seconds_per_visit(self) -> float:
        return self.wall_seconds / self.visits


# ---------------------------------------------------------------------------- continuum
def continuum_scenario(network: Network, days: int) -> sim.Scenario:
    """The network in continuum's terms: no warm-up, so every referral is in the period."""
    names = [f"level{number}" for number in range(1, len(network.places) + 1)]
    last_exit = {"discharged": 1.0 - network.reenter_share}
    if network.reenter_share:
        last_exit = {names[0]: network.reenter_share, **last_exit}
    levels = {
        name: {
            "capacity": places,
            "los": {"dist": "exponential", "mean": stay},
            "next": {names[index + 1]: 1} if index + 1 < len(names) else last_exit,
            "when_next_full": "release",
        }
        for index, (name, places, stay) in enumerate(zip(names, network.places, network.stays, strict=True))
    }
    levels[names[0]]["referrals_per_year"] = network.referrals_per_day * 365
    return sim.validate({
        "name": f"benchmark {network.name}",
        "run": {"warmup_days": 0, "days": days, "replications": 1, "seed": SEED},
        "levels": levels,
    })


def run_continuum(network: Network, days: int) -> Outcome:
    scenario = continuum_scenario(network, days)
    started = time.perf_counter()
    results = sim.run(scenario, replications=1, jobs=1, progress=False)
    wall = time.perf_counter() - started
    summary = results.summary.set_index(["level", "metric"])["mean"]
    referrals = summary[("level1", "referrals_per_year")] * days / 365
    admissions = sum(summary[(f"level{number}", "admissions_per_year")]
                     for number in range(1, len(network.places) + 1)) * days / 365
    wait = summary[(f"level{WATCHED_LEVEL + 1}", "wait_mean_days")]
    return Outcome(round(referrals), round(admissions), wall, float(wait))


# ---------------------------------------------------------------------------- heapq floor
def batched(draw_batch: Callable[[int], np.ndarray]) -> Callable[[], float]:
    """Values from numpy batches, handed out one by one by a C-level iterator (the fastest
    way found to get single random numbers into Python: faster than ``random.expovariate``)."""
    return chain.from_iterable(iter(lambda: draw_batch(65_536).tolist(), None)).__next__


def heapq_floor(network: Network, days: float, seed: int) -> tuple[int, list[list[float]]]:
    """The least Python can do for this network: one heap of (time, level) events.

    Level -1 is the next referral; any other level is a stay ending there. Returns the
    referrals simulated and every admitted patient's wait at each level.
    """
    rng = np.random.default_rng(seed)
    unit_exponential, uniform = batched(rng.standard_exponential), batched(rng.random)
    gap_days, reenter, last = 1 / network.referrals_per_day, network.reenter_share, len(network.places) - 1
    places, stays = network.places, network.stays   # locals: the floor stays the least Python can do
    census = [0] * len(places)
    waitlists: list[deque[float]] = [deque() for _ in places]
    waits: list[list[float]] = [[] for _ in places]
    events = [(unit_exponential() * gap_days, -1)]
    referrals = 0
    while events:
        now, level = heappop(events)
        if now >= days:
            break
        if level < 0:
            referrals += 1
            heappush(events, (now + unit_exponential() * gap_days, -1))
            level = 0
        else:
            waitlist = waitlists[level]
            if waitlist:   # the freed place goes straight to the longest waiting
                waits[level].append(now - waitlist.popleft())
                heappush(events, (now + unit_exponential() * stays[level], level))
            else:
                census[level] -= 1
            if level < last:
                level += 1
            elif uniform() < reenter:
                level = 0
            else:
                continue
        if census[level] < places[level]:
            census[level] += 1
            waits[level].append(0.0)
            heappush(events, (now + unit_exponential() * stays[level], level))
        else:
            waitlists[level].append(now)
    return referrals, waits


def timed_floor(floor: Callable[[Network, float, int], tuple[int, list[list[float]]]], network: Network,
                days: int) -> Outcome:
    """One run of a floor (heapq or SimPy) with the bench's seed: referrals, visits, wall time, level-3 wait."""
    started = time.perf_counter()
    referrals, waits = floor(network, days, SEED)
    wall = time.perf_counter() - started
    return Outcome(referrals, sum(map(len, waits)), wall, statistics.fmean(waits[WATCHED_LEVEL]))


def run_heapq(network: Network, days: int) -> Outcome:
    return timed_floor(heapq_floor, network, days)


def wait_spread(network: Network, days: int, runs: int = 10) -> list[float]:
    """Level-3 mean waits of the heapq floor with other seeds: how far one run's figure strays.

    Waits at 85% occupancy come in bursts, so one run's mean is noisy even over a century.
    """
    return [statistics.fmean(heapq_floor(network, days, SEED + 1 + run)[1][WATCHED_LEVEL])
            for run in range(runs)]


# ---------------------------------------------------------------------------- SimPy floor
def simpy_floor(network: Network, days: float, seed: int) -> tuple[int, list[list[float]]]:
    """The least an engine built on SimPy can do for this network: SimPy as the event calendar.

    One ``Timeout`` per referral gap and per stay, each with a callback that does the model's
    work: a referral admits to level 1 and books the next referral; a stay's end gives the place
    to the longest waiting (or frees it) and moves the patient on. Plain int counts and deque
    waitlists, no Resources and no processes. Random numbers are drawn as the heapq floor draws
    them, in the same order, so both floors simulate the same patients. Returns the referrals
    simulated and every admitted patient's wait at each level.
    """
    rng = np.random.default_rng(seed)
    unit_exponential, uniform = batched(rng.standard_exponential), batched(rng.random)
    gap_days, reenter, last = 1 / network.referrals_per_day, network.reenter_share, len(network.places) - 1
    places, stays = network.places, network.stays   # locals: the floor stays the least Python can do
    env = simpy.Environment()
    timeout = env.timeout
    census = [0] * len(places)
    waitlists: list[deque[float]] = [deque() for _ in places]
    waits: list[list[float]] = [[] for _ in places]
    referrals = 0

    def arrive(level: int) -> None:
        if census[level] < places[level]:
            census[level] += 1
            waits[level].append(0.0)
            timeout(unit_exponential() * stays[level], level).callbacks.append(stay_ends)
        else:
            waitlists[level].append(env.now)

    def stay_ends(event: simpy.Event) -> None:
        level = event.value
        waitlist = waitlists[level]
        if waitlist:   # the freed place goes straight to the longest waiting
            waits[level].append(env.now - waitlist.popleft())
            timeout(unit_exponential() * stays[level], level).callbacks.append(stay_ends)
        else:
            census[level] -= 1
        if level < last:
            arrive(level + 1)
        elif uniform() < reenter:
            arrive(0)

    def referral(_: simpy.Event) -> None:
        nonlocal referrals
        referrals += 1
        timeout(unit_exponential() * gap_days).callbacks.append(referral)
        arrive(0)

    timeout(unit_exponential() * gap_days).callbacks.append(referral)
    env.run(until=days)
    return referrals, waits


def run_simpy(network: Network, days: int) -> Outcome:
    return timed_floor(simpy_floor, network, days)


# ---------------------------------------------------------------------------- Ciw
def run_ciw(network: Network, days: int) -> Outcome | None:
    try:
        import ciw
    except ImportError:
        return None
    count = len(network.places)
    routing = [[1.0 if to == at + 1 else 0.0 for to in range(count)] for at in range(count)]
    routing[-1][0] = float(network.reenter_share)
    model = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(network.referrals_per_day)]
        + [None] * (count - 1),
        service_distributions=[ciw.dists.Exponential(1 / stay) for stay in network.stays],
        number_of_servers=list(network.places),
        routing=routing,
    )
    ciw.seed(SEED)
    started = time.perf_counter()
    simulation = ciw.Simulation(model)
    simulation.simulate_until_max_time(days)
    records = simulation.get_all_records()
    wall = time.perf_counter() - started
    waits = [record.waiting_time for record in records if record.node == WATCHED_LEVEL + 1]
    in_service = sum(server.busy for node in simulation.transitive_nodes for server in node.servers)
    visits = sum(record.record_type == "service" for record in records) + in_service
    return Outcome(simulation.nodes[0].number_of_individuals, visits, wall, statistics.fmean(waits))


# ---------------------------------------------------------------------------- part 1
def best_of(repeats: int, engines: dict[str, Callable[[Network, int], Outcome | None]], network: Network,
            days: int) -> dict[str, Outcome | None]:
    """Each engine's least disturbed of several identical runs (same seed, so the same work), the engines
    taking turns (one run each, then the next round), so that a spell of a busy machine falls on all alike."""
    runs: dict[str, list[Outcome | None]] = {name: [] for name in engines}
    for _ in range(repeats):
        for name, engine in engines.items():
            runs[name].append(engine(network, days))
    return {name: None if outcomes[0] is None else min(outcomes, key=lambda outcome: outcome.wall_seconds)
            for name, outcomes in runs.items()}


def compare_engines(network: Network, days: int, repeats: int) -> None:
    print(f"\n{network.name}: {network.referrals_per_day:.4f} referrals a day, {days:,} days, "
          f"best of {repeats}, the engines taking turns")
    engines = {"continuum": run_continuum, "SimPy floor": run_simpy, "heapq floor": run_heapq,
               "Ciw": run_ciw}
    outcomes = best_of(repeats, engines, network, days)
    print(f"  {'engine':<12} {'patients':>9} {'visits':>9} {'wall s':>8} {'patients/s':>11} "
          f"{'us/visit':>9} {'level-3 wait days':>18}")
    for name, outcome in outcomes.items():
        if outcome is None:
            print(f"  {name:<12} Ciw not installed: pip install -e .[bench]")
            continue
        print(f"  {name:<12} {outcome.patients:>9,} {outcome.visits:>9,} {outcome.wall_seconds:>8.2f} "
              f"{outcome.per_second:>11,.0f} {outcome.seconds_per_visit * 1e6:>9.2f} "
              f"{outcome.wait_mean_days:>18.3f}")
    theory = sim.theory.mmc(network.watched_arrivals_per_day, network.stays[WATCHED_LEVEL],
                            network.places[WATCHED_LEVEL])
    spread = wait_spread(network, days)
    print(f"  level-3 wait days: theory (Jackson network, Erlang C) {theory.wait_mean_days:.3f}; "
          f"noise: heapq floor with {len(spread)} other seeds\n    {min(spread):.3f} to "
          f"{max(spread):.3f}, mean {statistics.fmean(spread):.3f}")
    ours = outcomes["continuum"]
    assert ours is not None, "continuum always runs"
    print("  continuum's time per visit over the other engine's (issue 18's target against the SimPy floor: "
          "<= 1.5x)")
    for name in ("SimPy floor", "heapq floor", "Ciw"):
        if outcomes[name] is not None:
            slower = ours.seconds_per_visit / outcomes[name].seconds_per_visit
            ratio = ours.per_second / outcomes[name].per_second
            print(f"    continuum/{name:<12} {slower:>6.2f}x   (ours/{name.split()[0]} in patients per second: "
                  f"{ratio:.3f})")


# ---------------------------------------------------------------------------- part 2
def regional_child(replications: int, quick: bool) -> None:
    """Run in a fresh interpreter: time the regional scenario, print one JSON line."""
    import resource

    scenario = sim.load_scenario(REGIONAL_SCENARIO)
    if quick:
        scenario = scenario.with_changes({"run.warmup_days": 365, "run.days": 365})
    jobs = os.cpu_count() or 1
    started = time.perf_counter()
    results = sim.run(scenario, replications=replications, jobs=jobs, progress=False)
    wall = time.perf_counter() - started
    to_mb = 1 / 1024 if sys.platform != "darwin" else 1 / 1024**2   # ru_maxrss: KB, bytes on macOS
    main_peak_mb = own_peak_mb() or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * to_mb
    summary = results.summary.set_index(["level", "metric"])["mean"]
    print(json.dumps({
        "replications": replications,
        "jobs": results.meta["jobs"],
        "simulated_years": (scenario.run.warmup_days + scenario.run.days) / 365,
        "wall_seconds": wall,
        "main_peak_mb": main_peak_mb,
        "largest_worker_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * to_mb,
        "inpatient_occupancy": summary[("inpatient", "occupancy")],
        "readmit_30d_share": summary[("all", "readmit_30d_share")],
    }))


def memory_child(years: int) -> None:
    """Run in a fresh interpreter: one regional replication of ``years``; print one JSON line."""
    from sim.run import run_replication

    scenario = sim.load_scenario(REGIONAL_SCENARIO).with_changes({"run.days": 365 * years})
    imported_mb = own_peak_mb()
    started = time.perf_counter()
    output = run_replication(scenario, 0)
    print(json.dumps({"years": years, "wall_seconds": time.perf_counter() - started, "imported_mb": imported_mb,
                      "peak_mb": own_peak_mb(), "daily_rows_mb": (output.days.nbytes + output.states.nbytes) / 2**20}))


def time_memory(year_counts: tuple[int, ...] = (5, 50)) -> None:
    print("\nregional_adult.yaml, one replication in a fresh interpreter: memory by simulated years")
    print(f"  {'years':>5} {'wall s':>7} {'peak MB':>8} {'imports MB':>11} {'daily rows MB':>14}")
    for years in year_counts:
        child = subprocess.run([sys.executable, __file__, "--memory-child", str(years)], capture_output=True,
                               text=True, check=True)
        figures = json.loads(child.stdout.strip().splitlines()[-1])
        print(f"  {years:>5} {figures['wall_seconds']:>7.1f} {figures['peak_mb']:>8.0f} "
              f"{figures['imported_mb']:>11.0f} {figures['daily_rows_mb']:>14.1f}")


def own_peak_mb() -> float | None:
    """This process's peak resident memory from /proc (Linux), else None.

    Not ``ru_maxrss``: on Linux it survives ``exec``, so a child started from this script
    would report the parent's peak (Ciw's records and all) instead of its own.
    """
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def time_regional(replications: int, quick: bool) -> None:
    command = [sys.executable, __file__, "--regional-child", str(replications)]
    command += ["--quick"] * quick
    child = subprocess.run(command, capture_output=True, text=True, check=True)
    figures = json.loads(child.stdout.strip().splitlines()[-1])
    jobs = figures["jobs"]
    label = " (quick: 2 simulated years, not a benchmark figure)" if quick else ""
    print(f"\nregional_adult.yaml{label}: {replications} replications x "
          f"{figures['simulated_years']:g} simulated years, jobs = {jobs}")
    print(f"  wall time            {figures['wall_seconds']:.1f} s "
          f"({figures['wall_seconds'] / math.ceil(replications / jobs):.2f} s per round of {jobs})")
    print(f"  peak RSS, main       {figures['main_peak_mb']:.0f} MB")
    if jobs > 1:
        print(f"  peak RSS, worker     {figures['largest_worker_peak_mb']:.0f} MB (the largest; "
              f"all together at most main + {jobs} x this)")
    print(f"  inpatient occupancy  {figures['inpatient_occupancy']:.6f}; "
          f"30-day readmission {figures['readmit_30d_share']:.6f}")
    if replications < 100 and not quick:
        rounds = math.ceil(100 / jobs) / math.ceil(replications / jobs)
        print(f"  EXTRAPOLATED to 100 replications: about {figures['wall_seconds'] * rounds:.0f} s "
              f"(x{rounds:g} rounds of {jobs}; main-process memory grows with replications "
              "and is not extrapolated)")


# ---------------------------------------------------------------------------- command line
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="short runs, one repeat: a smoke check")
    parser.add_argument("--repeats", type=int, default=None,
                        help="runs per figure, best kept (default 5, 1 with --quick)")
    parser.add_argument("--skip-regional", action="store_true", help="skip the regional scenario")
    parser.add_argument("--regional-replications", type=int, default=100, metavar="N",
                        help="replications of the regional scenario (default 100)")
    parser.add_argument("--memory", action="store_true",
                        help="peak memory of one regional replication of 5 and of 50 years")
    parser.add_argument("--regional-child", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--memory-child", type=int, default=None, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.regional_child is not None:
        regional_child(arguments.regional_child, arguments.quick)
        return
    if arguments.memory_child is not None:
        memory_child(arguments.memory_child)
        return
    repeats = arguments.repeats or (1 if arguments.quick else 5)
    days = QUICK_DAYS if arguments.quick else DAYS
    print(f"continuum {sim.__version__}, Python {sys.version.split()[0]}, {os.cpu_count()} cores")
    print("patients = referrals from the community to level 1 within the horizon, finished or not")
    for network in NETWORKS:
        compare_engines(network, days, repeats)
    if not arguments.skip_regional:
        replications = arguments.regional_replications
        time_regional(min(replications, 2) if arguments.quick else replications, arguments.quick)
    if arguments.memory:
        time_memory()


if __name__ == "__main__":
    main()
