"""continuum: simulate patients moving through a behavioral-health care continuum.

Load a scenario, run replications, read tidy tables::

    import sim
    scenario = sim.load_scenario("scenarios/regional_adult.yaml")
    results = sim.run(scenario, replications=10)
    results.summary

The public names are loaded on first use, so that ``import sim`` (and the ``continuum`` command,
which must answer Ctrl-C from its first moment) costs milliseconds rather than the second or
two SciPy, pandas and matplotlib take to import.
"""

from __future__ import annotations

import sys
from importlib import import_module
from types import ModuleType
from typing import TYPE_CHECKING, Any

from .compiled import run_source_if_stale

run_source_if_stale()   # before anything imports the engine: compiled modules only while they match their source

if TYPE_CHECKING:  # what type checkers and editors see; at run time __getattr__ loads these
    from . import monthly, plots, report, theory
    from .analysis import mser5_warmup, paired_difference, replications_needed, t_interval, welch_difference
    from .compare import compare
    from .executors import ExecutorUnavailable, local_dask_cluster
    from .extract import ExtractError, read_extract
    from .fit import Fit, FitError, fit
    from .messages import ScenarioError
    from .outputs import (
        OutputFolderError,
        SweepFolderError,
        sweep,
        write_comparison,
        write_fit,
        write_plan,
        write_results,
    )
    from .planning import Plan, Target, plan
    from .results import Results
    from .run import run, run_replication
    from .scenario import Scenario, validate
    from .scenario_file import load_scenario
    from .settings import SettingsError

    __version__: str

PUBLIC = {
    "mser5_warmup": "analysis", "paired_difference": "analysis", "replications_needed": "analysis",
    "t_interval": "analysis", "welch_difference": "analysis",
    "compare": "compare",
    "ExecutorUnavailable": "executors", "local_dask_cluster": "executors",
    "ExtractError": "extract", "read_extract": "extract",
    "Fit": "fit", "FitError": "fit", "fit": "fit",
    "ScenarioError": "messages",
    "OutputFolderError": "outputs", "SweepFolderError": "outputs", "sweep": "outputs",
    "write_results": "outputs", "write_comparison": "outputs", "write_plan": "outputs", "write_fit": "outputs",
    "Plan": "planning", "Target": "planning", "plan": "planning",
    "Results": "results",
    "run": "run", "run_replication": "run",
    "Scenario": "scenario", "validate": "scenario",
    "load_scenario": "scenario_file",
    "SettingsError": "settings",
}
"""Each public name and the module it comes from, loaded on first use (``sim.run``, ``from sim import run``)."""

LAZY_MODULES = ("monthly", "plots", "report", "theory")
"""Public modules loaded on first use (``sim.plots.census_over_time``)."""


def __getattr__(name: str) -> Any:
    if name in PUBLIC:
        value = getattr(import_module(f".{PUBLIC[name]}", __name__), name)
    elif name in LAZY_MODULES:
        value = import_module(f".{name}", __name__)
    elif name == "__version__":
        value = import_module(".version", __name__).package_version()
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # found directly from now on
    return value


def __dir__() -> list[str]:
    """The public API only: what ``from sim import *`` gives; the helpers above and submodules
    imported along the way stay reachable by name but are not listed (editors, ``dir(sim)``)."""
    return sorted(__all__)


class _Package(ModuleType):
    """The ``sim`` module, whose functions ``run``, ``compare``, ``plan`` and ``sweep`` share their names
    with submodules: importing such a submodule must not replace the function."""

    def __setattr__(self, name: str, value: Any) -> None:
        if not (isinstance(value, ModuleType) and name in PUBLIC):
            super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

__all__ = [
    "ExecutorUnavailable",
    "ExtractError",
    "Fit",
    "FitError",
    "OutputFolderError",
    "Plan",
    "Results",
    "Scenario",
    "ScenarioError",
    "SettingsError",
    "Target",
    "SweepFolderError",
    "__version__",
    "compare",
    "fit",
    "load_scenario",
    "local_dask_cluster",
    "monthly",
    "mser5_warmup",
    "paired_difference",
    "plan",
    "plots",
    "read_extract",
    "replications_needed",
    "report",
    "run",
    "run_replication",
    "sweep",
    "t_interval",
    "theory",
    "validate",
    "welch_difference",
    "write_comparison",
    "write_fit",
    "write_plan",
    "write_results",
]
