"""Mutated scenarios, as a careless or hostile user writes them, and what the CLI does with each.

Run as a script (``python tests/fuzz_scenarios.py SEED COUNT FOLDER``) it prints one JSON line per
case: the mutation, the exit status of ``continuum validate`` and of a short ``continuum run``,
their messages and, for a run that finished, whether its output was sane. ``test_fuzz.py`` runs it
in a child process with a memory cap and judges the lines; a case that hangs is stopped by an
alarm and reported as such.
"""

from __future__ import annotations

import copy
import json
import math
import random
import signal
import sys
import traceback
from pathlib import Path
from typing import Any

import yaml

BASE: dict[str, Any] = {
    "name": "Fuzz base",
    "run": {"warmup_days": 10, "days": 60, "replications": 1, "seed": 3, "wait_target_days": 7, "start_month": 3},
    "levels": {
        "ward": {
            "capacity": 8, "los": {"dist": "lognormal", "median": 5, "p90": 12},
            "referrals_per_year": 400, "patience": {"dist": "exponential", "mean": 10},
            "gave_up": {"clinic": 0.5, "dropped_out": 0.5}, "initial": {"census": 4, "waitlist": 2},
            "next": {"php": {"share": 0.6, "los": {"dist": "gamma", "mean": 6, "sd": 2}}, "discharged": 0.4},
            "staff": [{"role": "nurse", "patients_per_staff": 4}],
            "staff_available": {"nurse": [{"from_day": 0, "fte": 12}, {"from_day": 30, "fte": 14}]},
        },
        "php": {
            "capacity": [{"from_day": 0, "capacity": 6}, {"from_day": 20, "capacity": 9}],
            "los": {"dist": "weibull", "shape": 1.5, "scale": 12}, "waitlist": "transfers_first",
            "program": {"days_per_week": 5, "hours_per_day": 6, "group_size": {"min": 2, "max": 8},
                        "intake": {"cohort_every_days": 7}},
            "staff": [{"role": "therapist", "per_group": 1}],
            "next": {"clinic": 0.7, "dropped_out": 0.3},
        },
        "clinic": {
            "capacity": 40, "los": {"dist": "triangular", "low": 10, "mode": 20, "high": 60},
            "referrals_per_year": 300, "referral_growth_per_year": 0.05, "when_next_full": "release",
            "referral_seasonality": [1.2, 1.1, 1, 1, 0.9, 0.8, 0.8, 0.9, 1, 1.1, 1.1, 1.2],
            "staff": [{"role": "counsellor", "caseload": 25}],
            "next": {"discharged": 0.8, "dropped_out": 0.2},
        },
    },
    "relapse": {
        "after_discharged": {"probability": 0.2, "time": {"dist": "uniform", "low": 5, "high": 40}},
        "after_dropped_out": {"probability": 0.5, "time": {"dist": "empirical", "values": [3, 8, 20]}},
        "return_to": {"ward": 0.7, "clinic": 0.3},
    },
    "staffing": {"fte_hours_per_week": 38, "cost_per_fte_per_year": {"nurse": 90000}},
}

ODD_VALUES: list[Any] = [
    math.inf, -math.inf, math.nan, 0, -1, 0.5, 1.5, 13, 10**9, 10**20, 1e300, -1e300, 1e-300, "", "2e3",
    "twelve", None, True, [], {}, [1, 2], {"dist": "fixed", "value": 0}, {"dist": "nonsense"}, "x" * 5000,
]
LIMITS = ["--limit", "visits_per_replication=4e4", "--limit", "visits=8e4", "--limit", "daily_rows=3e5"]
"""Low limits, so that every run the fuzz lets through finishes in a few seconds."""
ALARM_SECONDS = 30


def paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path in the data, mappings and lists included."""
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        return found + [p for key, value in node.items() for p in paths(value, (*prefix, key))]
    if isinstance(node, list):
        return found + [p for index, value in enumerate(node) for p in paths(value, (*prefix, index))]
    return found


def mutate(rng: random.Random) -> tuple[dict[str, Any], str, str]:
    """A copy of the base with one mutation: (data, the key path mutated, what was done)."""
    data = copy.deepcopy(BASE)
    path = rng.choice(paths(data))
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    key = path[-1]
    kind = rng.choice(["value"] * 8 + ["delete", "delete", "unknown key", "typo", "typo", "scale", "scale",
                                       "zero time"])
    if kind == "delete" and isinstance(parent, dict):
        del parent[key]
    elif kind in ("unknown key", "typo") and isinstance(parent, dict) and isinstance(key, str) and len(key) > 2:
        new_key = key[:-1] if kind == "typo" else rng.choice(["colour", "capacty", "x" * 300, "next_level"])
        parent[new_key] = parent.pop(key) if kind == "typo" else 1
        path = (*path[:-1], new_key)
    elif kind == "zero time":
        _zero_times(data, rng)
        path = ("levels",)
    elif kind == "scale" and isinstance(parent[key], int | float) and not isinstance(parent[key], bool):
        parent[key] = parent[key] * rng.choice([1e3, 1e6, -1, 1e-6])
    else:
        kind = "value"
        parent[key] = rng.choice(ODD_VALUES)
    shown = _short(parent[path[-1]]) if kind not in ("delete", "zero time") else ""
    return data, ".".join(map(str, path)), f"{kind} {shown}".strip()


def _zero_times(data: dict[str, Any], rng: random.Random) -> None:
    """Stays, patience and relapse times of 0 days in a few places: loops that take no time."""
    zero = {"dist": "fixed", "value": 0}
    for name, level in data["levels"].items():
        if rng.random() < 0.7:
            level["los"] = dict(zero)
            level["next"] = {k: v["share"] if isinstance(v, dict) else v for k, v in level["next"].items()}
        if rng.random() < 0.3:
            level["patience"], level["gave_up"] = dict(zero), {name: 1}
    if rng.random() < 0.7:
        data["relapse"]["after_discharged"] = {"probability": 1, "time": dict(zero)}


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def run_case(data: dict[str, Any], folder: Path) -> dict[str, Any]:
    """``continuum validate`` then, if valid, a short ``continuum run``: statuses, messages, sanity."""
    from click.testing import CliRunner

    from sim.cli import main

    scenario = folder / "scenario.yaml"
    scenario.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    runner = CliRunner()
    checked = runner.invoke(main, ["validate", str(scenario), *LIMITS])
    outcome = {"validate": checked.exit_code, "validate_output": checked.output[-2000:],
               "validate_error": _error(checked)}
    if checked.exit_code != 0:
        return outcome
    out = folder / "out"
    ran = runner.invoke(main, ["run", str(scenario), "--out", str(out), "--jobs", "1", "--quiet", "--no-report",
                               *LIMITS])
    outcome.update({"run": ran.exit_code, "run_output": ran.output[-2000:], "run_error": _error(ran)})
    if ran.exit_code == 0:
        outcome["insane"] = insane_output(out)
    return outcome


def _error(result: Any) -> str | None:
    if result.exception is None or isinstance(result.exception, SystemExit):
        return None
    return "".join(traceback.format_exception(result.exception))[-3000:]


def insane_output(folder: Path) -> list[str]:
    """What is wrong with a finished run's output, if anything (empty when sane)."""
    import numpy as np
    import pandas as pd

    problems = []
    summary = pd.read_csv(folder / "summary.csv")
    values = summary["mean"].to_numpy(dtype=float)
    if np.isinf(values).any() or (values < -1e-9).any():
        problems.append("a summary mean is infinite or negative")
    always_defined = summary["metric"].isin(["census_mean", "admissions_per_year", "arrivals_per_year"])
    if summary.loc[always_defined, "mean"].isna().any():
        problems.append("a census or admission count is missing")
    daily = pd.read_csv(folder / "daily.csv")
    numbers = daily[["census", "waitlist", "held", "capacity"]].to_numpy(dtype=float)
    if not np.isfinite(numbers).all() or (numbers < -1e-9).any():
        problems.append("daily figures are not finite and non-negative")
    return problems


def main(seed: int, count: int, folder: Path) -> None:
    signal.signal(signal.SIGALRM, _too_long)
    rng = random.Random(seed)
    for case in range(count):
        data, path, change = mutate(rng)
        case_folder = folder / str(case)
        case_folder.mkdir(parents=True)
        signal.alarm(ALARM_SECONDS)
        try:
            outcome = run_case(data, case_folder)
        except TookTooLong:
            outcome = {"hung": True}
        finally:
            signal.alarm(0)
        print(json.dumps({"case": case, "path": path, "change": change, **outcome}), flush=True)


class TookTooLong(Exception):
    pass


def _too_long(*_: Any) -> None:
    raise TookTooLong


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]))
