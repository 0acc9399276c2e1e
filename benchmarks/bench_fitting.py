"""How long does fitting a level's stays take? 200,000 stays, four families, as an extract records them.

Run by hand from the repository root (never part of the test suite)::

    python benchmarks/bench_fitting.py              # 200,000 stays, best of 3
    python benchmarks/bench_fitting.py --stays 20000 --repeats 1

The stays are lognormal (median 7 days, p90 19 days, mean 9.5), recorded as whole days; 20% are
still running at the as-of date (right-censored; the as-of date falls independently of the stay)
and 10% were already running when the extract began (truncated at 1 to 14 days). Each of
``"floor"`` and ``"dates"`` is timed: ``sim.fitting.fit_stays`` with the four parametric families,
their intervals included (the data are recorded as "floor", so "dates" is there for its time only).
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from scipy import stats

from sim.fitting import fit_stays

LOGNORMAL = stats.lognorm(s=math.log(19 / 7) / stats.norm.ppf(0.9), scale=7)


def extract(size: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``size`` stays as (recorded days, censored, entered): about 20% censored and 10% truncated.

    A share of stays began 1 to 14 days before the extract and is in it only if it lasted longer;
    the as-of date falls 1 to 44 days after admission (or after the extract began), whatever the stay.
    """
    rng = np.random.default_rng(seed)
    drawn = LOGNORMAL.rvs(size=4 * size, random_state=rng)
    entered = np.where(rng.random(len(drawn)) < 0.175, rng.integers(1, 15, len(drawn)), 0)
    seen = drawn > entered
    drawn, entered = drawn[seen][:size], entered[seen][:size]
    cutoff = entered + rng.integers(1, 45, size)
    censored = drawn > cutoff
    return np.where(censored, cutoff, np.floor(drawn)), censored, entered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stays", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3, help="runs per case; the best counts")
    options = parser.parse_args()
    stays, censored, entered = extract(options.stays)
    print(f"{len(stays):,} stays: {censored.mean():.0%} censored, {(entered > 0).mean():.0%} truncated, "
          f"{len(np.unique(stays))} distinct day counts")
    for recorded in ("floor", "dates"):
        times = []
        for _ in range(options.repeats):
            start = time.perf_counter()
            fit = fit_stays(stays, censored, entered, recorded=recorded)
            times.append(time.perf_counter() - start)
        best, (low, high) = fit.best, fit.best.mean_ci
        print(f"recorded={recorded}: {min(times):.2f} s (best of {len(times)}); best family {best.family}, "
              f"mean {best.mean:.2f} days (95% CI {low:.2f}-{high:.2f}; true {LOGNORMAL.mean():.2f})")


if __name__ == "__main__":
    main()
