"""How long does `continuum fit` take on an extract of 200,000 episodes? Issue 16's target: under 30 s on 2 cores.

Run by hand from the repository root (never part of the test suite)::

    python benchmarks/bench_fit.py                          # simulate the extract, then time the fit
    python benchmarks/bench_fit.py --extract /tmp/big.csv   # keep the extract there (reused when it exists)
    python benchmarks/bench_fit.py --days 400               # a small extract, for a smoke check

The extract: one replication (seed 2026) of ``scenarios/regional_adult.yaml`` run for ``--days``
days (default 2,760, about 7.6 years) from 2019-01-01 with its episodes kept, written with
``sim.extract.episodes_as_extract`` as ``scenarios/data/make_synthetic_extract.py`` writes the
bundled three-year extract (82,442 episodes; 2,760 days gives 200,676). It goes to a
temporary folder unless ``--extract`` names a file; an existing file there is reused as it is.

Then, with ``--base scenarios/regional_adult.yaml``, each step is timed with ``time.perf_counter``:
``sim.read_extract`` (the CSV read and cleaned), ``sim.fit`` on the read extract (no hold-out, then
``holdout_days=180``: the back-test simulates 180 days with the base's 20 replications on every
core) and ``sim.write_fit`` (the fitted YAML alone, then the report folder). The target is for read + fit +
write of the YAML. Last, the whole command ``python -m sim fit EXTRACT --base ... --out ...`` is
timed end to end (imports included), as a planner would run it: plain, and with
``--holdout-days 180 --report DIR``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sim
from sim.extract import episodes_as_extract

ROOT = Path(__file__).resolve().parent.parent
BASE = ROOT / "scenarios" / "regional_adult.yaml"
START_DATE = "2019-01-01"
TARGET_SECONDS = 30.0


def write_extract(path: Path, days: int) -> None:
    """The regional scenario simulated for ``days`` days, written as a region's extract."""
    scenario = sim.load_scenario(BASE).with_changes({"run.days": days, "run.replications": 1, "run.seed": 2026,
                                                    "run.start_date": START_DATE})
    started = time.perf_counter()
    results = sim.run(scenario, replications=1, jobs=1, keep_episodes=True, progress=False)
    table = episodes_as_extract(results.episodes, START_DATE, scenario.level_names, as_of_day=days)
    table.to_csv(path, index=False)
    print(f"simulated and wrote {path} in {time.perf_counter() - started:.1f} s")


def timed(what: str, step, *args, **options):
    started = time.perf_counter()
    value = step(*args, **options)
    seconds = time.perf_counter() - started
    print(f"  {what:<40} {seconds:7.2f} s")
    return value, seconds


def fit_once(extract_path: Path, base: sim.Scenario, folder: Path, holdout_days: int) -> float:
    """Read, fit and write once; the seconds from the read to the fitted YAML written (the report apart)."""
    print(f"\nholdout_days={holdout_days}")
    extract, read = timed("read (sim.read_extract)", sim.read_extract, extract_path, levels=base.level_names)
    found, fitted = timed("fit (sim.fit)", sim.fit, extract, base=base, holdout_days=holdout_days)
    if found.backtest is not None:
        simulated = found.backtest.results.meta["wall_time_seconds"]
        replications = found.backtest.results.scenario.run.replications
        print(f"    of which the back-test's simulation        {simulated:7.2f} s  ({replications} replications)")
    out = folder / f"fitted_{holdout_days}.yaml"
    _, written = timed("write the YAML (sim.write_fit)", sim.write_fit, found, out, overwrite=True)
    timed("write the report folder (sim.write_fit)", sim.write_fit, found, None, folder / f"report_{holdout_days}",
          overwrite=True)
    total = read + fitted + written
    print(f"  {'read + fit + write':<40} {total:7.2f} s  (target {TARGET_SECONDS:.0f} s: "
          f"{'met' if total < TARGET_SECONDS else 'NOT met'})")
    return total


def whole_command(extract_path: Path, folder: Path, *options: str) -> None:
    """``python -m sim fit EXTRACT --base ... --out ...`` and ``options``, timed from outside (imports included)."""
    command = [sys.executable, "-m", "sim", "fit", str(extract_path), "--base", str(BASE),
               "--out", str(folder / "command.yaml"), "--quiet", "--overwrite", *options]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    seconds = time.perf_counter() - started
    status = "" if done.returncode == 0 else f" (exit {done.returncode}: {done.stderr.strip()[-300:]})"
    shown = " ".join("DIR" if option.startswith(str(folder)) else option for option in options)
    print(f"  continuum fit ... {shown or '(no more options)':<38} {seconds:7.2f} s{status}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=2760, help="days of the regional scenario to simulate")
    parser.add_argument("--extract", type=Path, help="where to keep the extract (reused when it exists)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        path = options.extract or folder / "regional_extract.csv"
        if not path.exists():
            write_extract(path, options.days)
        lines = sum(1 for _ in path.open(encoding="utf-8")) - 1
        print(f"{path}: {lines:,} episodes, {path.stat().st_size / 1e6:.1f} MB; {os.cpu_count()} cores")
        base = sim.load_scenario(BASE)
        for holdout_days in (0, 180):
            fit_once(path, base, folder, holdout_days)
        print("\nthe whole command, python -m sim fit EXTRACT --base regional_adult.yaml --out ... (imports included)")
        whole_command(path, folder)
        whole_command(path, folder, "--holdout-days", "180", "--report", str(folder / "command_report"))


if __name__ == "__main__":
    main()
