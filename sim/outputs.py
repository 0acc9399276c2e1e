"""Every folder continuum writes: staged, moved into place whole or not at all, never over a user's files.

What each command writes (:func:`write_results`, :func:`write_comparison`, :func:`write_plan`,
a sweep's :class:`SweepFolder`) lives here, above the rooms that compute the results and draw
the report, so none of them has to reach up to write.

A folder is built in a hidden staging folder beside its target
(``.<name>.continuum-staging-<pid>-<random>``), gets a ``manifest.json`` saying continuum wrote
it, and is moved into place when complete. An existing folder is replaced only if it is empty,
holds a manifest, or the caller says ``overwrite``; the current folder (and those above it), the
home folder and a folder holding an input file are never replaced. Staging folders left behind
by a process that was killed are removed the next time the same target is staged.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from .analysis import SUMMARY_COLUMNS
from .report import comparison_section, plan_section, write_report
from .results import GROUP_COLUMNS, Results
from .scenario import Scenario, changed_keys
from .sweep import Tables, plain_data, point_label, short_text, value_text
from .sweep import sweep as sweep_points
from .version import package_version

if TYPE_CHECKING:   # a fit's modules load only when a fit is written: a run has no need of them
    from .fit import Fit
    from .planning import Plan

MANIFEST = "manifest.json"
STAGING_MARK = ".continuum-staging-"
NAME_KEPT = 50
"""Characters of the target's name kept in a staging folder's name (file names stop at 255 bytes)."""

Kind = Literal["run", "compare", "plan", "fit"]
ADVICE = "choose another --out (another folder in Python)"


class OutputFolderError(Exception):
    """An output folder continuum will not write: it holds files continuum did not write, it is
    the current folder, the home folder or holds an input file, or it cannot be created."""


def check_folder(path: str | Path, inputs: Iterable[str | Path] = (), overwrite: bool = False) -> None:
    """Raise :class:`OutputFolderError` now if ``path`` could not be written or must not be replaced.

    Called before a long simulation, so a bad ``--out`` is found in a second, not after an hour.
    It stages and removes an empty folder beside ``path`` and leaves nothing behind.

    Parameters
    ----------
    path
        The output folder.
    inputs
        The scenario files the command reads: a folder holding one is never replaced.
    overwrite
        Replace a non-empty folder without continuum's ``manifest.json``.
    """
    _, staging, created = _prepare(path, inputs, overwrite)
    _discard(staging, created)


@contextmanager
def staged_folder(path: str | Path, kind: Kind, inputs: Iterable[str | Path] = (),
                  overwrite: bool = False) -> Iterator[Path]:
    """A staging folder beside ``path`` to write into, moved into place only if the block succeeds.

    The rules of :func:`check_folder` apply; a ``manifest.json`` (``kind``: run, compare or
    plan; the package version; the files) is added last. On any error the staging folder and
    any parent folders made for it are removed.
    """
    target, staging, created = _prepare(path, inputs, overwrite)
    try:
        yield staging
        _write_manifest(staging, kind)
        replace_folder(staging, target)
    except BaseException:
        _discard(staging, created)
        raise


def replace_folder(staging: Path, target: Path) -> None:
    """Move a finished folder into place, replacing any earlier one at the last moment."""
    if not os.path.lexists(target):
        os.replace(staging, target)
        return
    retired = _new_staging(target)
    os.replace(target, retired / target.name)
    try:
        os.replace(staging, target)
    except OSError:
        os.replace(retired / target.name, target)   # the earlier folder goes back where it was
        retired.rmdir()
        raise
    shutil.rmtree(retired, ignore_errors=True)


def is_ours(folder: Path) -> bool:
    """Whether ``folder`` holds the ``manifest.json`` continuum writes into every output folder."""
    try:
        record = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and record.get("package") == "continuum"


# ---------------------------------------------------------------------------- refusals
def _prepare(path: str | Path, inputs: Iterable[str | Path], overwrite: bool) -> tuple[Path, Path, list[Path]]:
    """Check the target, make its parents and a staging folder: (target, staging, parents made)."""
    target = Path(os.path.abspath(path))    # "." and "x/.." get a real name to stage beside
    try:
        _refuse_protected(target, path, inputs)
        _refuse_foreign(target, path, overwrite)
        created = _make_parents(target.parent)
    except OSError as error:
        raise OutputFolderError(_os_reason(path, target, error)) from None
    try:
        _remove_stale(target)
        staging = _new_staging(target)
        (staging / target.name).mkdir()     # the file system takes the name itself, too
        (staging / target.name).rmdir()
    except OSError as error:
        _remove_empty(created)
        raise OutputFolderError(_os_reason(path, target, error)) from None
    return target, staging, created


def _refuse_protected(target: Path, shown: str | Path, inputs: Iterable[str | Path]) -> None:
    """Folders never replaced, even with overwrite: the current one and above, home, inputs."""
    existing = next(folder for folder in [target, *target.parents] if folder.exists())
    if not existing.is_dir():
        what = f"{shown} is" if existing == target else f"{shown} cannot be made: {existing} is"
        raise OutputFolderError(f"{what} a file, not a folder; {ADVICE}")
    real, here = target.resolve(), Path.cwd().resolve()
    never = {here: "the current folder", Path(real.anchor): "the root folder",
             Path(os.path.expanduser("~")).resolve(): "your home folder"}
    for above in here.parents:
        never.setdefault(above, f"a folder holding the current folder ({here})")
    if real in never:
        raise OutputFolderError(f"{shown} is {never[real]}: continuum never replaces it, even with --overwrite; "
                                f"{ADVICE}")
    for source in inputs:
        if Path(source).is_file() and real in Path(source).resolve().parents:
            raise OutputFolderError(f"{shown} holds the scenario file {source}, which replacing the folder would "
                                    f"delete: continuum never replaces it, even with --overwrite; {ADVICE}")


def _refuse_foreign(target: Path, shown: str | Path, overwrite: bool) -> None:
    if overwrite or not target.is_dir() or is_ours(target):
        return
    entries = sorted(entry.name for entry in target.iterdir())
    if entries:
        few = ", ".join(entries[:5]) + (f" and {len(entries) - 5} more" if len(entries) > 5 else "")
        raise OutputFolderError(f"{shown} holds files continuum did not write ({len(entries)}: {few}; no {MANIFEST}): "
                                "choose another --out or add --overwrite to replace it (overwrite=True in Python)")


def _os_reason(shown: str | Path, target: Path, error: OSError) -> str:
    """The OS's reason, and where it arose when that is not the folder itself (a parent, the staging folder)."""
    named = error.filename and Path(os.fsdecode(error.filename)).name != target.name
    where = f" ({os.fsdecode(error.filename)})" if named else ""
    return f"cannot write the output folder {shown}: {error.strerror or error}{where}"


# ---------------------------------------------------------------------------- staging
def _make_parents(folder: Path) -> list[Path]:
    """Make ``folder`` and its missing parents; the ones made, deepest first (to remove on failure)."""
    missing = [above for above in [folder, *folder.parents] if not above.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    return missing


def _remove_empty(created: list[Path]) -> None:
    for folder in created:
        try:
            folder.rmdir()
        except OSError:   # something else has been put there since: leave it
            return


def _discard(staging: Path, created: list[Path]) -> None:
    shutil.rmtree(staging, ignore_errors=True)
    _remove_empty(created)


def _staging_prefix(target: Path) -> str:
    return f".{target.name[:NAME_KEPT]}{STAGING_MARK}"


def _new_staging(target: Path) -> Path:
    """An empty folder beside ``target`` named for it and this process (mode from the umask, as mkdir)."""
    prefix = f"{_staging_prefix(target)}{os.getpid()}-"
    while True:
        staging = target.with_name(prefix + secrets.token_hex(4))
        try:
            staging.mkdir()
            return staging
        except FileExistsError:
            continue


def _remove_stale(target: Path) -> None:
    """Remove staging folders for ``target`` whose process has ended (killed mid-write)."""
    pattern = re.compile(re.escape(_staging_prefix(target)) + r"(\d{1,10})-[0-9a-f]{8}")
    for sibling in target.parent.iterdir():
        found = pattern.fullmatch(sibling.name)
        if found and sibling.is_dir() and not sibling.is_symlink() and not _alive(int(found.group(1))):
            shutil.rmtree(sibling, ignore_errors=True)


def _alive(pid: int) -> bool:
    if os.name == "nt":   # os.kill there ends the process instead of asking about it: keep the folder
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):   # another user's process, or no pid at all: leave it alone
        return True
    return True


def _write_manifest(folder: Path, kind: Kind) -> None:
    files = sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file())
    record = {"package": "continuum", "kind": kind, "version": package_version(), "files": files}
    (folder / MANIFEST).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


# ---------------------------------------------------------------------------- what each command writes
def write_results(results: Results, path: str | Path, report: bool = False, overwrite: bool = False,
                  also: dict[str, str] | None = None, jobs: int | None = 1) -> Path:
    """Write every table of a run to ``path``, whole or not at all (a staging folder moved into place).

    Parameters
    ----------
    results
        What :func:`sim.run` returned.
    path
        The folder: ``summary.csv``, ``replications.csv``, ``daily.csv``, ``monthly.csv``,
        ``groups.csv`` and ``group_replications.csv`` (with patient groups), ``episodes.csv`` (when
        kept), ``staffing.csv`` (with staff), ``scenario.yaml``, ``run.json``, ``manifest.json``.
    report
        Also the figures (``figures/*.png|svg``) and ``report.html``.
    overwrite
        Replace a folder continuum did not write (one without ``manifest.json``); the current
        folder, home and a folder holding the scenario file are never replaced
        (:class:`OutputFolderError`).
    also
        More text files (name to text) to move into place with the tables, such as a sweep
        point's ``point.json``.
    jobs
        Processes to draw the report's figures in (None: every core), where that is safe and quick
        (:func:`sim.plots.save_all`); by default this one.
    """
    with staged_folder(path, "run", [results.scenario.source], overwrite) as staging, \
            _alongside(partial(_write_tables, results, staging), report and jobs != 1):
        for name, text in (also or {}).items():
            (staging / name).write_text(text, encoding="utf-8")
        if report:
            write_report(results, staging, jobs=jobs)
    return Path(path)


@contextmanager
def _alongside(work: Callable[[], object], threaded: bool) -> Iterator[None]:
    """Do ``work`` in a thread while the block runs (a block that mostly waits for other processes, as the
    report's figures drawn in them) when ``threaded``, else first; an error in either is raised."""
    if not threaded:
        work()
        yield
        return
    failed: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as error:  # raised in the caller's thread below
            failed.append(error)

    thread = threading.Thread(target=run, name="continuum-tables")
    thread.start()
    try:
        yield
    finally:
        thread.join()   # only then may an error remove the staging folder: nothing writes into it any more
    if failed:
        raise failed[0]


def _write_tables(results: Results, folder: Path) -> None:
    results.summary.to_csv(folder / "summary.csv", index=False)
    results.replications.to_csv(folder / "replications.csv", index=False)
    results.daily.to_csv(folder / "daily.csv", index=False)
    if results.monthly is not None:
        monthly = results.monthly
        if results.group_monthly is not None:   # the groups' rows after the totals, told apart by ``group``
            monthly = pd.concat([monthly.assign(group="all"), results.group_monthly], ignore_index=True)
        monthly.to_csv(folder / "monthly.csv", index=False)
    if results.groups is not None and results.group_replications is not None:
        results.groups.to_csv(folder / "groups.csv", index=False)
        results.group_replications.to_csv(folder / "group_replications.csv", index=False)
    if results.episodes is not None:
        results.episodes.to_csv(folder / "episodes.csv", index=False)
    if results.staffing is not None:
        results.staffing.to_csv(folder / "staffing.csv", index=False)
    (folder / "scenario.yaml").write_text(results.scenario.to_yaml(), encoding="utf-8")
    (folder / "run.json").write_text(json.dumps(results.meta, indent=2) + "\n", encoding="utf-8")


COMPARISON_FILES = ("comparison.csv", "comparison_groups.csv", "report.html", "figures", MANIFEST)
"""What a comparison folder holds besides one folder per scenario (whose names must not collide)."""


def write_comparison(folder: str | Path, table: pd.DataFrame, results: dict[str, Results],
                     sources: list[str | Path], overwrite: bool = False, groups: pd.DataFrame | None = None,
                     jobs: int | None = 1) -> Path:
    """Write ``comparison.csv``, ``report.html`` and each scenario's results folder, whole or not at all.

    ``overwrite``: replace a folder continuum did not write; see :func:`write_results`. ``groups``: the
    comparison per patient group (``sim.compare(..., groups=True)``), written as ``comparison_groups.csv``.
    ``jobs``: processes to draw the figures in, as for :func:`write_results`.
    """
    inputs = [*sources, *(outcome.scenario.source for outcome in results.values())]
    with staged_folder(folder, "compare", inputs, overwrite) as staging:
        table.to_csv(staging / "comparison.csv", index=False)
        if groups is not None:
            groups.to_csv(staging / "comparison_groups.csv", index=False)
        names = _folder_names(sources, list(results.values()))
        for name, outcome in zip(names, results.values(), strict=True):
            write_results(outcome, staging / name, report=True, jobs=jobs)
        compared, drawn = comparison_section(table)
        write_report(next(iter(results.values())), staging, [compared], drawn, jobs=jobs,
                     figures_from=staging / names[0] / "figures")
    return Path(folder)


def _folder_names(sources: list[str | Path], outcomes: list[Results]) -> list[str]:
    """A folder name per scenario: its file stem, prefixed by its place in the list when stems repeat
    or one would collide with a file the comparison writes (``report.html.yaml``)."""
    names = [_folder_name(source, outcome) for source, outcome in zip(sources, outcomes, strict=True)]
    counts = Counter(names)
    taken = {name.casefold() for name in (*COMPARISON_FILES, "", ".", "..")}
    chosen = []
    for index, name in enumerate(names):
        unique = name if counts[name] == 1 else f"{index}_{name}"
        while unique.casefold() in taken:   # case-blind file systems take Report.html for report.html
            unique = f"{index}_{unique}"
        taken.add(unique.casefold())
        chosen.append(unique)
    return chosen


def _folder_name(source: str | Path, outcome: Results) -> str:
    if isinstance(source, str | Path) and Path(source).suffix in (".yaml", ".yml"):
        return Path(source).stem
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in outcome.scenario.name)[:60]


def write_plan(found: Plan, folder: str | Path, overwrite: bool = False, jobs: int | None = 1) -> Path:
    """``plan.csv``, ``plan_curve.csv``, ``report.html`` and the planned run's folder (``planned/``),
    whole or not at all.

    ``overwrite``: replace a folder continuum did not write; see :func:`write_results`. ``jobs``: processes to
    draw the figures in, as for :func:`write_results`.
    """
    with staged_folder(folder, "plan", [found.scenario.source], overwrite) as staging:
        found.capacities.to_csv(staging / "plan.csv", index=False)
        found.curve.to_csv(staging / "plan_curve.csv", index=False)
        write_results(found.results, staging / "planned", report=True, jobs=jobs)
        planned, drawn = plan_section(found.capacities, found.curve)
        write_report(found.results, staging, [planned], drawn, jobs=jobs, figures_from=staging / "planned" / "figures")
    return Path(folder)


FITTED_MARK = "# Fitted by continuum"
"""How a fitted scenario file begins: such a file may be replaced by the next fit without --overwrite."""


def check_fitted_file(path: str | Path, inputs: Iterable[str | Path] = (), overwrite: bool = False) -> None:
    """Raise :class:`OutputFolderError` if the fitted scenario may not be written to ``path``: it is an input,
    a folder, or a file continuum did not write (unless ``overwrite``)."""
    target = Path(os.path.abspath(path))
    if any(target == Path(os.path.abspath(given)) for given in inputs):
        raise OutputFolderError(f"{path} is an input of this fit: {ADVICE}")
    if target.is_dir():
        raise OutputFolderError(f"{path} is a folder: --out names the fitted scenario file (FITTED.yaml)")
    if target.exists() and not overwrite and not _fitted_before(target):
        raise OutputFolderError(f"{path} exists and was not written by continuum fit: it is kept; {ADVICE}, "
                                "or give --overwrite to replace it")
    if not target.parent.is_dir():
        raise OutputFolderError(f"{path}: the folder {target.parent} does not exist")


def _fitted_before(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8") as file:
            return file.read(len(FITTED_MARK)) == FITTED_MARK
    except (OSError, UnicodeDecodeError):
        return False


def write_fit(found: Fit, path: str | Path | None = None, report: str | Path | None = None,
              inputs: Iterable[str | Path] = (), overwrite: bool = False) -> None:
    """Write a fit: the scenario to ``path`` (a YAML file, whole or not at all) and, with ``report``, a folder
    with ``fit_report.html``, ``figures/``, ``fitted.yaml`` and one CSV per table (``fit_<table>.csv``,
    ``problems.csv``, ``backtest_daily.csv``, ``backtest_monthly.csv``, ``backtest_coverage.csv``).

    A file at ``path`` that continuum did not write is kept unless ``overwrite``; ``inputs`` (the
    extract, the base scenario) are never replaced.
    """
    inputs = list(inputs)
    if path is not None:
        check_fitted_file(path, inputs, overwrite)
    if report is not None:
        from .fit_report import write_fit_report

        with staged_folder(report, "fit", inputs, overwrite) as staging:
            _write_fit_tables(found, staging)
            write_fit_report(found, staging)
    if path is not None:
        _write_text(found.to_yaml(), Path(path))


def _write_fit_tables(found: Fit, folder: Path) -> None:
    (folder / "fitted.yaml").write_text(found.to_yaml(), encoding="utf-8")
    found.problems.to_csv(folder / "problems.csv", index=False)
    for name, table in found.tables.items():
        table.to_csv(folder / f"fit_{name}.csv", index=False)
    if found.backtest is not None:
        for name in ("daily", "monthly", "coverage"):
            getattr(found.backtest, name).to_csv(folder / f"backtest_{name}.csv", index=False)


# ---------------------------------------------------------------------------- a sweep's folder
class SweepFolderError(Exception):
    """An output folder that holds something other than this sweep (results must not mix)."""


def sweep(scenario: Scenario, grid: dict[str, Iterable[Any]], *, out: str | Path | None = None,
          replications: int | None = None, seed: int | None = None, progress: bool = True, groups: bool = False,
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
        A folder to save each point in as it finishes (:class:`SweepFolder`). Running the
        same sweep into it again reuses the finished points; the grid may grow between runs,
        but a different base scenario, seed or number of replications raises
        :class:`SweepFolderError`.
    replications, seed
        Override the scenario's ``run.replications`` and ``run.seed`` (for every point).
    progress
        Show a progress bar over the points (only in a terminal or notebook).
    groups
        Rows per patient group (a scenario with ``groups``): the table gains a ``group`` column before
        ``level``, and ``out`` gets ``sweep_groups.csv`` and ``sweep_group_replications.csv``.
    **run_options
        Passed on to :func:`sim.run` for every point (``jobs``, ``keep_episodes``, ...).

    Returns
    -------
    pandas.DataFrame
        One row per point, level and metric: a column per grid key (named as the key), then
        ``point`` (0, 1, ... in grid order) and the summary columns ``level, metric, mean,
        ci_low, ci_high, std, replications``.
    """
    store = None if out is None else SweepFolder(out)
    return sweep_points(scenario, grid, store=store, replications=replications, seed=seed, progress=progress,
                        groups=groups, **run_options)


# Floats must read back bit for bit (a loaded point equals a fresh run): pandas 3.1 does so by
# default and deprecates asking; earlier versions need asking.
_EXACT_FLOATS = ({} if tuple(int(part) for part in pd.__version__.split(".")[:2]) >= (3, 1)
                 else {"float_precision": "round_trip"})


class SweepFolder:
    """A sweep's folder, where each point is kept as soon as it finishes::

        sweep.json                 the base scenario (seed and replications included), the grid, the points
        points/<point id>/         one run's folder (summary.csv, replications.csv, ...) plus point.json
        sweep.csv                  the tidy table over the grid, written when every point is done
        sweep_replications.csv     the same per replication (for paired comparisons between points)

    Running the same sweep into it again skips the finished points (a :class:`sim.sweep.PointStore`).
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def open(self, base: Scenario, grid: dict[str, list[Any]], points: list[dict[str, Any]],
             ids: list[str]) -> None:
        """Check the folder is empty or holds this same sweep, then record the sweep in ``sweep.json``."""
        record = plain_data({
            "scenario_file": base.source,
            "seed": base.run.seed,
            "replications": base.run.replications,
            "grid": grid,   # already plain numbers (grid_values)
            "points": [{"point": index, "id": point_id, "values": point}
                       for index, (point, point_id) in enumerate(zip(points, ids, strict=True))],
            "scenario": base.to_dict(),
        })
        sweep_file = self.path / "sweep.json"
        if sweep_file.exists():
            _check_same_sweep(sweep_file, record["scenario"])
        elif self.path.exists() and (not self.path.is_dir() or any(self.path.iterdir())):
            raise SweepFolderError(f"{self.path} exists and is not a sweep folder (it has no sweep.json); "
                                   "choose another output folder")
        self.path.mkdir(parents=True, exist_ok=True)
        _write_text(json.dumps(record, indent=2) + "\n", sweep_file)

    def load(self, point_id: str, point: dict[str, Any], groups: bool = False) -> Tables | None:
        """A finished point's tables, or None (points are moved into place whole)."""
        folder = self.path / "points" / point_id
        marker = folder / "point.json"
        if not marker.exists():
            return None
        stored = json.loads(marker.read_text(encoding="utf-8"))["values"]
        if stored != plain_data(point):
            raise SweepFolderError(f"{folder} holds the point {point_label(stored)}, "
                                   f"not {point_label(point)}")
        return _load_point(folder, groups)

    def save(self, point_id: str, point: dict[str, Any], results: Results, groups: bool = False) -> Tables:
        """Write a point's run with its ``point.json``, whole or not at all, and read it back (so a
        resumed sweep gives the very same table as a fresh one). A kill while writing leaves a
        staging folder, which the next write of the point removes."""
        folder = self.path / "points" / point_id
        marker = json.dumps({"id": point_id, "values": plain_data(point)}, indent=2) + "\n"
        write_results(results, folder, overwrite=True, also={"point.json": marker})
        return _load_point(folder, groups)

    def finish(self, table: pd.DataFrame, per_replication: pd.DataFrame, groups: bool = False) -> None:
        """Write ``sweep.csv`` and ``sweep_replications.csv`` once every point is done (per patient group:
        ``sweep_groups.csv`` and ``sweep_group_replications.csv``)."""
        stem = "sweep_group" if groups else "sweep"
        _write_csv(table, self.path / f"{stem}{'s' if groups else ''}.csv")
        _write_csv(per_replication, self.path / f"{stem}_replications.csv")


def _check_same_sweep(sweep_file: Path, scenario: dict[str, Any]) -> None:
    try:
        earlier = json.loads(sweep_file.read_text(encoding="utf-8"))["scenario"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise SweepFolderError(f"{sweep_file} cannot be read ({error}); choose another output folder") from None
    changed = [f"{key}: {short_text(value_text(before))} in the folder, "
               f"{short_text(value_text(after))} now"
               for key, before, after in changed_keys(earlier, scenario)]
    if changed:
        shown = "; ".join(changed[:5]) + (f"; and {len(changed) - 5} more" if len(changed) > 5 else "")
        raise SweepFolderError(
            f"{sweep_file.parent} holds a sweep of a different base scenario ({shown}), whose points "
            f"would not be comparable with new ones. Choose another output folder, or delete "
            f"{sweep_file.parent} to start this sweep afresh.")


def _load_point(folder: Path, groups: bool = False) -> Tables:
    if groups:
        return _read_csv(folder / "groups.csv")[GROUP_COLUMNS], _read_csv(folder / "group_replications.csv")
    return _read_csv(folder / "summary.csv")[SUMMARY_COLUMNS], _read_csv(folder / "replications.csv")


def _read_csv(path: Path) -> pd.DataFrame:
    # level names are text whatever they look like ("NA", "null")
    return pd.read_csv(path, dtype={"level": str, "metric": str}, keep_default_na=False, na_values=[""],
                       **_EXACT_FLOATS)


def _write_csv(table: pd.DataFrame, path: Path) -> None:
    _write_atomically(path, lambda temporary: table.to_csv(temporary, index=False))


def _write_text(text: str, path: Path) -> None:
    _write_atomically(path, lambda temporary: Path(temporary).write_text(text, encoding="utf-8"))


def _write_atomically(path: Path, write: Callable[[str], Any]) -> None:
    """Write through a temporary file beside ``path`` and rename it, so ``path`` is whole or absent."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(handle)
    try:
        write(temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
