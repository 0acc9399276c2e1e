"""Parameter sweeps: a scenario run at every combination of a grid of changes, on common random numbers.

Each grid point is ``run(scenario.with_changes(point))`` on the base scenario's seed, so
replication ``r`` sees the same patients at every point and differences between points are
the changes, not the noise. With an output folder each point is saved as soon as it finishes;
running the same sweep into the same folder again skips the finished points, so a sweep
killed halfway loses nothing.

Output folder::

    sweep.json                 the base scenario (seed and replications included), the grid, the points
    points/<point id>/         one run's folder (summary.csv, replications.csv, ...) plus point.json
    sweep.csv                  the tidy table over the grid, written when every point is done
    sweep_replications.csv     the same per replication (for paired comparisons between points)
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from tqdm.auto import tqdm

from .analysis import SUMMARY_COLUMNS
from .executors import local_dask_cluster
from .messages import ScenarioError
from .results import HEADLINE_METRICS, estimate_text
from .run import run, with_run_settings
from .scenario import Scenario
from .scenario_file import read_yaml
from .settings import check_run_options, check_settings

# A point id is its ``key=value,...`` label when that is made of these characters alone
# (safe in file names on every system); otherwise a slug of it plus a hash of the values.
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._=,+-]*")
_UNSAFE = re.compile(r"[^A-Za-z0-9._=,+-]+")
_LONGEST_ID = 120
# Floats must read back bit for bit (a loaded point equals a fresh run): pandas 3.1 does so by
# default and deprecates asking; earlier versions need asking.
_EXACT_FLOATS = ({} if tuple(int(part) for part in pd.__version__.split(".")[:2]) >= (3, 1)
                 else {"float_precision": "round_trip"})


class SweepFolderError(Exception):
    """An output folder that holds something other than this sweep (results must not mix)."""


# ---------------------------------------------------------------------------- the sweep
def sweep(scenario: Scenario, grid: dict[str, Iterable[Any]], *, out: str | Path | None = None,
          replications: int | None = None, seed: int | None = None, progress: bool = True,
          **run_options: Any) -> pd.DataFrame:
    """Run ``scenario`` at every combination of the ``grid`` values and gather one tidy table.

    Parameters
    ----------
    scenario
        The base scenario (see :func:`sim.load_scenario`).
    grid
        Dotted scenario keys mapped to the values to try, e.g.
        ``{"levels.php.capacity": [10, 20, 30], "levels.iop.capacity": [40, 60]}``. Every
        combination runs (the first key varies slowest). Values may come in any iterable (a
        range, a numpy array, a generator: each is read once). All points are validated before
        any runs: a bad value raises :class:`sim.ScenarioError` naming the key and value, and a
        bad setting (``replications=0``, ``jobs=0``) a ``sim.settings.SettingsError``.
    out
        A folder to save each point in as it finishes (see the module docstring). Running the
        same sweep into it again reuses the finished points; the grid may grow between runs,
        but a different base scenario, seed or number of replications raises
        :class:`SweepFolderError`.
    replications, seed
        Override the scenario's ``run.replications`` and ``run.seed`` (for every point).
    progress
        Show a progress bar over the points (only in a terminal or notebook).
    **run_options
        Passed on to :func:`sim.run` for every point (``jobs``, ``keep_episodes``, ...).

    Returns
    -------
    pandas.DataFrame
        One row per point, level and metric: a column per grid key (named as the key), then
        ``point`` (0, 1, ... in grid order) and the summary columns ``level, metric, mean,
        ci_low, ci_high, std, replications``.
    """
    given = check_settings("sim.sweep", scenario=scenario, replications=replications, seed=seed)
    run_options = check_run_options("sim.sweep", run_options)
    base = with_run_settings(given["scenario"], given["replications"], given["seed"])
    values = grid_values(grid)   # read once: a generator of values would be empty the second time
    points = grid_points(values)
    scenarios = _point_scenarios(base, points)
    ids = point_ids(points)
    folder = None if out is None else _open_folder(Path(out), base, values, points, ids)
    summaries, per_replication = [], []
    bar = tqdm(total=len(points), desc="sweep", unit="point", disable=None if progress else True)
    with bar, _shared_dask_cluster(run_options) as run_options:
        for index, (point, point_scenario, point_id) in enumerate(zip(points, scenarios, ids, strict=True)):
            bar.set_postfix_str(point_id[:60])
            point_folder = None if folder is None else folder / "points" / point_id
            summary, rows = _point_tables(point_scenario, point, point_folder, run_options)
            summaries.append(_tag(summary, index, point))
            per_replication.append(_tag(rows, index, point))
            bar.update()
    table = pd.concat(summaries, ignore_index=True)
    if folder is not None:
        _write_csv(table, folder / "sweep.csv")
        _write_csv(pd.concat(per_replication, ignore_index=True), folder / "sweep_replications.csv")
    return table


def _point_tables(scenario: Scenario, point: dict[str, Any], folder: Path | None,
                  run_options: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A point's summary and per-replication tables: loaded if already saved, else simulated."""
    if folder is not None and _finished(folder, point):
        return _load_point(folder)
    results = run(scenario, progress=False, **run_options)
    if folder is None:
        return results.summary, results.replications
    _save_point(results, point, folder)
    # read back what was written, so a resumed sweep gives the very same table as a fresh one
    return _load_point(folder)


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
            f"{_text(grid)}: give dotted keys mapped to lists of values, e.g. {{'levels.php.capacity': [10, 20, 30]}}"])
    problems, lists = [], {}
    for key, values in grid.items():
        if not isinstance(key, str) or not key:
            problems.append(f"{key!r}: keys are dotted scenario keys, e.g. levels.php.capacity")
        elif isinstance(values, str | bytes | dict) or not isinstance(values, Iterable):
            problems.append(f"{key} = {_text(values)}: give a list of values to try, e.g. [10, 20, 30]")
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
    return [f"{key} lists {_text(value)} more than once" for value in repeated]


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
    return ",".join(f"{key}={_text(value)}" for key, value in point.items())


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
    digest = hashlib.sha1(json.dumps(_plain(point), sort_keys=True).encode()).hexdigest()[:10]
    return f"{_UNSAFE.sub('_', label)[:60]}-{digest}"


def _text(value: Any) -> str:
    """A value as written in YAML (what ``--grid`` and ``--set`` read)."""
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, int | float | str):
        return str(value)
    return yaml.safe_dump(_plain(value), default_flow_style=True, sort_keys=False, width=10**6).strip()


def _short(text: str, longest: int = 40) -> str:
    return text if len(text) <= longest else text[: longest - 3] + "..."


def _cell(value: Any) -> Any:
    """A grid value for a table cell: numbers and text as they are, anything else as YAML text."""
    return value if value is None or isinstance(value, bool | int | float | str) else _text(value)


def _plain(data: Any) -> Any:
    """Data as JSON reads it back (tuples become lists), so stored and new values compare equal."""
    return json.loads(json.dumps(data, default=str))


# ---------------------------------------------------------------------------- the folder
def _open_folder(folder: Path, base: Scenario, grid: dict[str, list[Any]], points: list[dict[str, Any]],
                 ids: list[str]) -> Path:
    """Check ``folder`` is empty or holds this same sweep, then record the sweep in ``sweep.json``."""
    record = _plain({
        "scenario_file": base.source,
        "seed": base.run.seed,
        "replications": base.run.replications,
        "grid": grid,   # already plain numbers (grid_values)
        "points": [{"point": index, "id": point_id, "values": point}
                   for index, (point, point_id) in enumerate(zip(points, ids, strict=True))],
        "scenario": base.to_dict(),
    })
    sweep_file = folder / "sweep.json"
    if sweep_file.exists():
        _check_same_sweep(sweep_file, record["scenario"])
    elif folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise SweepFolderError(f"{folder} exists and is not a sweep folder (it has no sweep.json); "
                               "choose another output folder")
    folder.mkdir(parents=True, exist_ok=True)
    _write_text(json.dumps(record, indent=2) + "\n", sweep_file)
    return folder


def _check_same_sweep(sweep_file: Path, scenario: dict[str, Any]) -> None:
    try:
        earlier = json.loads(sweep_file.read_text(encoding="utf-8"))["scenario"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise SweepFolderError(f"{sweep_file} cannot be read ({error}); choose another output folder") from None
    changed = _differences(earlier, scenario)
    if changed:
        shown = "; ".join(changed[:5]) + (f"; and {len(changed) - 5} more" if len(changed) > 5 else "")
        raise SweepFolderError(
            f"{sweep_file.parent} holds a sweep of a different base scenario ({shown}), whose points "
            f"would not be comparable with new ones. Choose another output folder, or delete "
            f"{sweep_file.parent} to start this sweep afresh.")


def _differences(before: Any, after: Any, path: str = "") -> list[str]:
    """``key: old in the folder, new now`` for every dotted key whose value differs."""
    if isinstance(before, dict) and isinstance(after, dict):
        return [line for key in dict.fromkeys([*before, *after])
                for line in _differences(before.get(key), after.get(key), f"{path}.{key}" if path else str(key))]
    if before == after:
        return []
    return [f"{path}: {_short(_text(before))} in the folder, {_short(_text(after))} now"]


def _finished(folder: Path, point: dict[str, Any]) -> bool:
    """Whether ``folder`` holds this point's finished run (points are moved into place whole)."""
    marker = folder / "point.json"
    if not marker.exists():
        return False
    stored = json.loads(marker.read_text(encoding="utf-8"))["values"]
    if stored != _plain(point):
        raise SweepFolderError(f"{folder} holds the point {point_label(stored)}, not {point_label(point)}")
    return True


def _save_point(results: Any, point: dict[str, Any], folder: Path) -> None:
    """Write a point's run with its ``point.json``, whole or not at all: a point is finished once it is there.

    A kill while writing leaves a staging folder, which the next write of the point removes.
    """
    marker = json.dumps({"id": folder.name, "values": _plain(point)}, indent=2) + "\n"
    results.to_folder(folder, overwrite=True, also={"point.json": marker})


def _load_point(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    return _read_csv(folder / "summary.csv")[SUMMARY_COLUMNS], _read_csv(folder / "replications.csv")


def _read_csv(path: Path) -> pd.DataFrame:
    # level names are text whatever they look like ("NA", "null")
    return pd.read_csv(path, dtype={"level": str, "metric": str}, keep_default_na=False, na_values=[""],
                       **_EXACT_FLOATS)


def _write_csv(table: pd.DataFrame, path: Path) -> None:
    _write_atomically(path, lambda temporary: table.to_csv(temporary, index=False))


def _write_text(text: str, path: Path) -> None:
    _write_atomically(path, lambda temporary: Path(temporary).write_text(text, encoding="utf-8"))


def _write_atomically(path: Path, write: Any) -> None:
    """Write through a temporary file beside ``path`` and rename it, so ``path`` is whole or absent."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(handle)
    try:
        write(temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


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


def sweep_headline(table: pd.DataFrame, metrics: tuple[str, ...] = HEADLINE_METRICS,
                   levels: list[str] | None = None) -> pd.DataFrame:
    """A compact table for people: a row per point and level, a column per metric, ``mean (95% CI)``.

    ``levels`` defaults to every level but ``all``.
    """
    keys = list(table.columns[: table.columns.get_loc("point")])
    if levels is None:
        levels = [level for level in table["level"].unique() if level != "all"]
    rows = table[table["metric"].isin(metrics) & table["level"].isin(levels)]
    text = rows.assign(text=[estimate_text(row) for _, row in rows.iterrows()])
    wide = text.pivot_table(index=["point", *keys, "level"], columns="metric", values="text",
                            aggfunc="first", sort=False)
    return wide.droplevel("point")[[metric for metric in metrics if metric in wide.columns]]
