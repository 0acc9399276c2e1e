"""Parameter sweeps: a scenario run at every combination of a grid of changes, on common random numbers.

Each grid point is ``run(scenario.with_changes(point))`` on the base scenario's seed, so
replication ``r`` sees the same patients at every point and differences between points are
the changes, not the noise. Every replication of every point goes to the workers at once (one
pool or Dask cluster for the whole sweep), and each point is gathered as soon as it is done.
A :class:`PointStore` keeps each point as soon as it finishes
and hands it back when the same sweep runs again, so a sweep killed halfway loses nothing:
``sim.sweep(..., out=folder)`` keeps them in a folder (:class:`sim.outputs.SweepFolder`).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from typing import Any, Protocol

import numpy as np
import pandas as pd
import yaml
from tqdm.auto import tqdm

from . import workload
from .executors import local_dask_cluster, map_streamed, resolve_backend
from .messages import ScenarioError
from .results import ReplicationOutput, Results
from .run import gathered, run, run_replication, with_run_settings
from .scenario import Scenario
from .scenario_file import read_yaml
from .settings import check_run_options, check_settings

# A point id is its ``key=value,...`` label when that is made of these characters alone
# (safe in file names on every system); otherwise a slug of it plus a hash of the values.
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._=,+-]*")
_UNSAFE = re.compile(r"[^A-Za-z0-9._=,+-]+")
_LONGEST_ID = 120


# ---------------------------------------------------------------------------- the sweep
class PointStore(Protocol):
    """Where finished points are kept, so that a sweep run again skips them (``sim.outputs.SweepFolder``)."""

    def open(self, base: Scenario, grid: dict[str, list[Any]], points: list[dict[str, Any]],
             ids: list[str]) -> None: ...

    def load(self, point_id: str, point: dict[str, Any], groups: bool = False) -> Tables | None: ...

    def save(self, point_id: str, point: dict[str, Any], results: Results, groups: bool = False) -> Tables: ...

    def finish(self, table: pd.DataFrame, per_replication: pd.DataFrame, groups: bool = False) -> None: ...


Tables = tuple[pd.DataFrame, pd.DataFrame]
"""A point's summary and per-replication tables (with ``groups``, those per patient group)."""


def sweep(scenario: Scenario, grid: dict[str, Iterable[Any]], *, store: PointStore | None = None,
          replications: int | None = None, seed: int | None = None, progress: bool = True, groups: bool = False,
          **run_options: Any) -> pd.DataFrame:
    """Run ``scenario`` at every combination of the ``grid`` values and gather one tidy table.

    ``sim.sweep`` is this with an output folder (``out=``) as the ``store``: see
    :func:`sim.outputs.sweep` for the parameters and the table returned.
    """
    given = check_settings("sim.sweep", scenario=scenario, replications=replications, seed=seed)
    run_options = check_run_options("sim.sweep", run_options)
    base = with_run_settings(given["scenario"], given["replications"], given["seed"])
    if groups and not base.groups:
        raise ScenarioError("sim.sweep", [f"groups=True, but {base.name} has no patient groups (a top-level groups "
                                          "mapping)"])
    values = grid_values(grid)   # read once: a generator of values would be empty the second time
    points = grid_points(values)
    scenarios = _point_scenarios(base, points)
    ids = point_ids(points)
    if store is not None:
        store.open(base, values, points, ids)
    kept = [None if store is None else store.load(point_id, point, groups)
            for point, point_id in zip(points, ids, strict=True)]
    missing = [scenario for scenario, tables in zip(scenarios, kept, strict=True) if tables is None]
    summaries, per_replication = [], []
    bar = tqdm(total=len(points), desc="sweep", unit="point", disable=None if progress else True)
    with bar, _shared_dask_cluster(run_options) as run_options, _simulated(missing, run_options) as simulated:
        for index, (point, point_id, tables) in enumerate(zip(points, ids, kept, strict=True)):
            bar.set_postfix_str(point_id[:60])
            if tables is None:
                tables = _new_point_tables(next(simulated), point, point_id, store, groups)
            summary, rows = tables
            summaries.append(_tag(summary, index, point))
            per_replication.append(_tag(rows, index, point))
            bar.update()
    table = pd.concat(summaries, ignore_index=True)
    if store is not None:
        store.finish(table, pd.concat(per_replication, ignore_index=True), groups)
    return table


def _new_point_tables(results: Results, point: dict[str, Any], point_id: str, store: PointStore | None,
                      groups: bool = False) -> Tables:
    """A point just simulated: its summary and per-replication tables (per group with ``groups``), kept."""
    if store is not None:
        return store.save(point_id, point, results, groups)
    if groups:
        assert results.groups is not None and results.group_replications is not None, "a scenario with groups"
        return results.groups, results.group_replications
    return results.summary, results.replications


# ---------------------------------------------------------------------------- simulating the points
@contextmanager
def _simulated(scenarios: list[Scenario], run_options: dict[str, Any]) -> Iterator[Iterator[Results]]:
    """Every scenario's :class:`Results`, in order, each as :func:`sim.run` gives it.

    Every replication of every point goes to the workers at once, in point order, and each point's
    results are made (and kept) here while the workers go on with later points: no worker waits for a
    point to finish. A run that decides its replications as it goes (``run.warmup_days: auto``, whose pilot
    picks the warm-up, or ``precision``) runs point by point through :func:`sim.run` instead.
    """
    if run_options.get("precision") is not None or any(s.run.warmup_days == "auto" for s in scenarios):
        yield (run(scenario, progress=False, **run_options) for scenario in scenarios)
        return
    for scenario in scenarios:
        workload.check(scenario, run_options.get("limits"))   # before anything runs, as sim.run would
    backend: dict[str, Any] = {key: run_options[key] for key in ("jobs", "executor", "address") if key in run_options}
    tasks = [(scenario, replication) for scenario in scenarios for replication in range(scenario.run.replications)]
    replicate = partial(_replication, keep_episodes=run_options.get("keep_episodes", False))
    with map_streamed(replicate, tasks, **backend) as outputs:
        yield _point_results(scenarios, outputs, backend)


def _replication(task: tuple[Scenario, int], keep_episodes: bool = False) -> ReplicationOutput:
    """One task of a sweep: replication ``task[1]`` of the point ``task[0]``."""
    scenario, replication = task
    return run_replication(scenario, replication, keep_episodes)


def _point_results(scenarios: list[Scenario], outputs: Iterator[ReplicationOutput],
                   backend: dict[str, Any]) -> Iterator[Results]:
    """Each point's :class:`Results` from the stream of every point's outputs, with ``run.json``'s record of
    how it ran as :func:`sim.run` would write it."""
    started = time.perf_counter()
    for scenario in scenarios:
        count = scenario.run.replications
        ran = resolve_backend(count, **backend)
        yield gathered(scenario, list(itertools.islice(outputs, count)), ran, started)
        started = time.perf_counter()


def _tag(table: pd.DataFrame, index: int, point: dict[str, Any]) -> pd.DataFrame:
    """``table`` with the point's values and number as its first columns."""
    tagged = table.copy()
    tagged.insert(0, "point", index)
    for position, (key, value) in enumerate(point.items()):
        tagged.insert(position, key, [_cell(value)] * len(tagged))
    return tagged


# ---------------------------------------------------------------------------- the grid
@contextmanager
def _shared_dask_cluster(run_options: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """On Dask without an address, one local cluster for every point rather than one each."""
    if run_options.get("executor") != "dask" or run_options.get("address"):
        yield run_options
        return
    with local_dask_cluster(run_options.get("jobs")) as address:
        yield {**run_options, "address": address, "jobs": None}


def grid_points(grid: Mapping[str, Iterable[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, in order (the first key varies slowest).

    Raises :class:`sim.ScenarioError` for a grid that is not keys mapped to lists of distinct values.
    """
    lists = grid_values(grid)
    return [dict(zip(lists, values, strict=True)) for values in itertools.product(*lists.values())]


def grid_values(grid: Mapping[str, Iterable[Any]]) -> dict[str, list[Any]]:
    """The grid with each key's values read once into a list (numpy numbers made plain), checked.

    Raises :class:`sim.ScenarioError` for a grid that is not keys mapped to lists of distinct values.
    """
    if not isinstance(grid, dict) or not grid:
        raise ScenarioError("sweep grid", [
            f"{value_text(grid)}: give dotted keys mapped to lists of values, "
            "e.g. {'levels.php.capacity': [10, 20, 30]}"])
    problems, lists = [], {}
    for key, values in grid.items():
        if not isinstance(key, str) or not key:
            problems.append(f"{key!r}: keys are dotted scenario keys, e.g. levels.php.capacity")
        elif isinstance(values, str | bytes | dict) or not isinstance(values, Iterable):
            problems.append(f"{key} = {value_text(values)}: give a list of values to try, e.g. [10, 20, 30]")
        else:
            lists[key] = [_plain_value(value) for value in values]
            problems += _list_problems(key, lists[key])
    if problems:
        raise ScenarioError("sweep grid", problems)
    return lists


def _list_problems(key: str, values: list[Any]) -> list[str]:
    if not values:
        return [f"{key} = []: give at least one value to try"]
    repeated = [value for index, value in enumerate(values) if value in values[:index]]
    return [f"{key} lists {value_text(value)} more than once" for value in repeated]


def _plain_value(value: Any) -> Any:
    """numpy numbers (from ``np.arange``, ``np.linspace``) as plain Python numbers."""
    return value.item() if isinstance(value, np.generic) else value


def _point_scenarios(base: Scenario, points: list[dict[str, Any]]) -> list[Scenario]:
    """Every point's scenario, or one :class:`ScenarioError` listing every distinct problem."""
    scenarios, problems = [], []
    for point in points:
        try:
            scenarios.append(base.with_changes(point))
        except ScenarioError as error:
            problems += error.problems
    if problems:
        raise ScenarioError(f"{base.source}, sweep grid", list(dict.fromkeys(problems)))
    return scenarios


def point_label(point: dict[str, Any]) -> str:
    """``key=value,key=value``: how a point is shown to people."""
    return ",".join(f"{key}={value_text(value)}" for key, value in point.items())


def point_ids(points: list[dict[str, Any]]) -> list[str]:
    """A stable, filesystem-safe folder name per point: its label, or a slug and hash of it."""
    ids = [_point_id(point) for point in points]
    if len(set(ids)) < len(ids):
        twice = sorted({point_label(p) for p, i in zip(points, ids, strict=True) if ids.count(i) > 1})
        raise ScenarioError("sweep grid", [f"these points cannot be told apart: {', '.join(twice)}"])
    return ids


def _point_id(point: dict[str, Any]) -> str:
    label = point_label(point)
    if _SAFE_ID.fullmatch(label) and len(label) <= _LONGEST_ID:
        return label
    digest = hashlib.sha1(json.dumps(plain_data(point), sort_keys=True).encode()).hexdigest()[:10]
    return f"{_UNSAFE.sub('_', label)[:60]}-{digest}"


def value_text(value: Any) -> str:
    """A value as written in YAML (what ``--grid`` and ``--set`` read)."""
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, int | float | str):
        return str(value)
    return yaml.safe_dump(plain_data(value), default_flow_style=True, sort_keys=False, width=10**6).strip()


def short_text(text: str, longest: int = 40) -> str:
    return text if len(text) <= longest else text[: longest - 3] + "..."


def _cell(value: Any) -> Any:
    """A grid value for a table cell: numbers and text as they are, anything else as YAML text."""
    return value if value is None or isinstance(value, bool | int | float | str) else value_text(value)


def plain_data(data: Any) -> Any:
    """Data as JSON reads it back (tuples become lists), so stored and new values compare equal."""
    return json.loads(json.dumps(data, default=str))


# ---------------------------------------------------------------------------- for people
def parse_grid(texts: Iterable[str]) -> dict[str, Iterable[Any]]:
    """Read ``KEY=V1,V2,...`` texts (the CLI's ``--grid``) into a grid; values are read as YAML.

    The values are read as a YAML flow list, so ``levels.php.next={iop: 0.5, discharged: 0.5},{iop: 1}``
    gives two mappings and ``levels.ward.capacity=[{from_day: 0, capacity: 20}]`` one schedule.
    """
    grid: dict[str, Iterable[Any]] = {}
    problems = []
    for text in texts:
        key, sep, values = (part.strip() for part in text.partition("="))
        if not sep or not key or not values:
            problems.append(f"'{text}' is not KEY=V1,V2,... (e.g. levels.php.capacity=10,20,30)")
        elif key in grid:
            problems.append(f"{key} is given twice; list all its values in one --grid")
        else:
            try:
                grid[key] = read_yaml(f"[{values}]")
            except yaml.YAMLError as error:
                problem = getattr(error, "problem", None) or "unreadable"
                problems.append(f"{key} = {values}: not a comma-separated list of YAML values ({problem})")
    if problems:
        raise ScenarioError("--grid", problems)
    return grid
