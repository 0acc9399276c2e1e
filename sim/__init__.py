"""continuum: simulate patients moving through a behavioral-health care continuum.

Load a scenario, run replications, read tidy tables::

    import sim
    scenario = sim.load_scenario("scenarios/regional_adult.yaml")
    results = sim.run(scenario, replications=10)
    results.summary
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from types import ModuleType

from . import theory
from .analysis import mser5_warmup, paired_difference, replications_needed, t_interval, welch_difference
from .compare import compare
from .executors import ExecutorUnavailable, local_dask_cluster
from .outputs import OutputFolderError
from .planning import Plan, Target, plan
from .results import Results
from .run import run, run_replication
from .scenario import Scenario, ScenarioError, load_scenario, validate
from .sweep import SweepFolderError, sweep

try:
    __version__ = version("continuum")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

LAZY_MODULES = ("plots", "report")
"""Loaded on first use (``sim.plots.census_over_time``): matplotlib and Jinja2 cost time to import."""


def __getattr__(name: str) -> ModuleType:
    if name in LAZY_MODULES:
        return import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ExecutorUnavailable",
    "OutputFolderError",
    "Plan",
    "Results",
    "Scenario",
    "ScenarioError",
    "Target",
    "SweepFolderError",
    "__version__",
    "compare",
    "load_scenario",
    "local_dask_cluster",
    "mser5_warmup",
    "paired_difference",
    "plan",
    "plots",
    "replications_needed",
    "report",
    "run",
    "run_replication",
    "sweep",
    "t_interval",
    "theory",
    "validate",
    "welch_difference",
]
