"""Settings given to ``sim.run``, ``sim.compare``, ``sim.sweep`` and ``sim.plan``, checked once at the edge.

The Python API and the command line check them with the same rules and say the same words
(``jobs = 0: should be a whole number of processes, 1 or more``), before anything runs. A bad
setting raises :class:`SettingsError`: a :class:`sim.ScenarioError`, so the command line
exits with status 2 and ``except sim.ScenarioError`` catches every bad input, and a
``ValueError``, which is what Python code expects of a bad argument.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from . import workload
from .messages import ScenarioError
from .scenario import Scenario

EXECUTORS = ("serial", "processes", "dask")
MOST_REPLICATIONS = 100_000
"""As ``run.replications`` allows."""
RUN_OPTIONS = ("jobs", "progress", "keep_episodes", "executor", "address", "precision", "max_replications",
               "limits")
"""What ``compare``, ``sweep`` and ``plan`` pass on to :func:`sim.run`."""


class SettingsError(ScenarioError, ValueError):
    """Settings (API arguments or command-line options) that cannot be used, with every problem found."""

    def __str__(self) -> str:
        count = len(self.problems)
        heading = f"{self.source}: {count} problem{'s' if count > 1 else ''} in the settings"
        return "\n".join([heading, *(f"  - {p}" for p in self.problems)])


Rule = Callable[[Any], str | None]
"""A setting's rule: ``None`` when the value is allowed, else what it should be."""


def _is_whole(value: Any) -> bool:
    # numpy integers are whole numbers too; True and False are not
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _whole(least: int, what: str = "a whole number", most: int | None = None) -> Rule:
    allowed = f"{what}, {least} or more" if most is None else f"{what}, {least} to {most}"

    def rule(value: Any) -> str | None:
        fits = _is_whole(value) and value >= least and (most is None or value <= most)
        return None if fits else f"should be {allowed}"

    return rule


def _share_of_mean(value: Any) -> str | None:
    fits = isinstance(value, numbers.Real) and not isinstance(value, bool) and 0 < float(value) <= 1
    return None if fits else "should be a share of the mean above 0 and at most 1, e.g. 0.05"


def _factor(value: Any) -> str | None:
    fits = isinstance(value, numbers.Real) and not isinstance(value, bool) and 1 <= float(value) < float("inf")
    return None if fits else "should be a number, 1 or more (how far above today's capacity to search)"


def _executor(value: Any) -> str | None:
    return None if isinstance(value, str) and value in EXECUTORS else f"should be one of {', '.join(EXECUTORS)}"


def _address(value: Any) -> str | None:
    return None if isinstance(value, str) else "should be a Dask scheduler's address, e.g. tcp://10.0.0.5:8786"


def _scenario(value: Any) -> str | None:
    if isinstance(value, Scenario):
        return None
    if isinstance(value, str | Path):
        return f"should be a Scenario: load the file first, sim.load_scenario({str(value)!r})"
    if isinstance(value, dict):
        return "should be a Scenario: build one from the data first, sim.validate(data)"
    return f"should be a Scenario (from sim.load_scenario or sim.validate), not {type(value).__name__}"


def _limits(value: Any) -> str | None:
    if not isinstance(value, Mapping):
        return "should be limit names mapped to numbers, e.g. {'visits_per_replication': 5e7}"
    return "; ".join(workload.limit_problems(value)) or None


RULES: dict[str, Rule] = {
    "scenario": _scenario,
    "replications": _whole(1, "a whole number of replications", MOST_REPLICATIONS),
    "max_replications": _whole(1, "a whole number of replications", MOST_REPLICATIONS),
    "seed": _whole(0),
    "jobs": _whole(1, "a whole number of processes"),
    "precision": _share_of_mean,
    "executor": _executor,
    "address": _address,
    "max_capacity_factor": _factor,
    "curve_width": _whole(0, "a whole number of places"),
    "limits": _limits,
}


def setting_problems(settings: Mapping[str, Any], spelled: Callable[[str], str] = str) -> list[str]:
    """``name = value: should be ...`` for every setting its rule refuses (``None`` means not given).

    ``spelled`` shows a name as the reader typed it (``--max-replications`` on the command line).
    """
    problems = []
    for name, value in settings.items():
        problem = None if value is None or name not in RULES else RULES[name](value)
        if problem:
            problems.append(f"{spelled(name)} = {_shown(value)}: {problem}")
    return problems


def backend_problems(jobs: Any, executor: Any, address: Any) -> list[str]:
    """What is wrong with the executor settings, each alone or together."""
    problems = setting_problems({"jobs": jobs, "executor": executor, "address": address})
    if problems or address is None:
        return problems
    if executor != "dask":
        return [f"address = {_shown(address)}: applies to the dask executor only, not to {_shown(executor)}"]
    if jobs is not None:
        return [f"jobs = {_shown(jobs)}: does not apply to an existing Dask cluster (address given): "
                "its workers decide"]
    return []


def check_settings(source: str, **settings: Any) -> dict[str, Any]:
    """The settings with numpy numbers made plain Python ones, or :class:`SettingsError` listing every problem.

    Settings without a rule (``progress``, ``keep_episodes``) pass unchecked.
    """
    problems = setting_problems(settings)
    if not problems and "address" in settings:
        problems = backend_problems(settings.get("jobs"), settings.get("executor", "processes"), settings["address"])
    if problems:
        raise SettingsError(source, problems)
    return {name: value.item() if isinstance(value, np.generic) else value for name, value in settings.items()}


def check_run_options(source: str, run_options: Mapping[str, Any], set_here: tuple[str, ...] = ()) -> dict[str, Any]:
    """:func:`check_settings` for options passed on to :func:`sim.run`, refusing names it does not take.

    ``set_here`` names the run options the caller sets itself (``plan`` runs without a progress bar).
    """
    passed_on = [name for name in RUN_OPTIONS if name not in set_here]
    unknown = [name for name in run_options if name not in passed_on]
    if unknown:
        raise SettingsError(source, [f"{name}: not a setting {source} passes on to sim.run; it passes on "
                                     f"{', '.join(passed_on)}" for name in unknown])
    return check_settings(source, **run_options)


def _shown(value: Any) -> str:
    """A value as the reader wrote it: text in quotes, so ``'2'`` is not mistaken for ``2``."""
    shown = repr(str(value)) if isinstance(value, str | Path) else str(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."
