"""The ``continuum`` command: parse, call the API, print, exit with a clear status.

Exit status: 0 done; 2 bad input (scenario file, ``--set`` value or option), setup (``--dask``
without Dask installed) or an ``--out`` folder refused (checked before anything runs), with a message
naming the file, key, value and what is allowed; 130 after Ctrl-C and 143 after SIGTERM, with one line
saying what was kept; 1 anything else. The ``continuum`` entry point is :mod:`sim.entry`, which
imports this module (and with it pandas and SciPy) where Ctrl-C is already answered.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import CodeType, FrameType
from typing import TYPE_CHECKING, Any, NoReturn

import click
import pandas as pd

from . import workload
from .compare import NOT_COMPARED, comparison_table, not_compared, run_all
from .compiled import engine_build
from .executors import ExecutorUnavailable
from .messages import ScenarioError
from .metrics import HEADLINE_METRICS, SYSTEM_METRICS
from .outputs import (
    OutputFolderError,
    SweepFolderError,
    check_fitted_file,
    check_folder,
    write_comparison,
    write_fit,
    write_plan,
    write_results,
)
from .outputs import sweep as sweep_scenario
from .planning import parse_target
from .planning import plan as plan_capacity
from .report import write_sweep_report
from .results import Results, sweep_headline
from .run import run as run_scenario
from .scenario_file import load_scenario, parse_assignment
from .settings import SettingsError, setting_problems
from .sweep import parse_grid

if TYPE_CHECKING:   # the fitting modules load only for continuum fit
    from .extract import Mapping
    from .fit import Fit

BAD_INPUT = 2
INTERRUPTED = 130  # 128 + the signal's number, as shells report a command ended by SIGINT
TERMINATED = 143  # ... and by SIGTERM
KEPT_WHEN_STOPPED = {"sweep": "the finished points are kept; the same command again runs only the rest"}
"""What an interrupted command leaves behind; every other command writes its folder whole or not at all."""


def _load(path: str, assignments: tuple[str, ...] = (), **settings: int | None):
    """Load a scenario with ``--set`` assignments and run settings given as options."""
    try:
        overrides = dict(parse_assignment(text) for text in assignments)
    except ScenarioError as error:
        raise ScenarioError(f"{path} with --set", error.problems) from None
    overrides.update({f"run.{key}": value for key, value in settings.items() if value is not None})
    return load_scenario(path, overrides)


def _fail(error: Exception) -> NoReturn:
    click.echo(f"error: {error}", err=True)
    sys.exit(BAD_INPUT)


def _checked(context: click.Context, option: click.Parameter, value: object) -> object:
    """An option checked by the rule ``sim.run`` uses, refused in its words (exit status 2)."""
    problems = setting_problems({option.name or "": value}, spelled=lambda name: f"--{name.replace('_', '-')}")
    if problems:
        _fail(SettingsError(f"continuum {context.info_name}", problems))
    return value


def run_setting_options(command):
    """``--replications``, ``--seed``, ``--jobs`` and ``--limit``, the same on every command that runs scenarios."""
    command = click.option("--limit", "limit_texts", multiple=True, metavar="NAME=VALUE",
                           help="Raise a size limit checked before running, e.g. visits_per_replication=5e7 "
                                "(repeatable; the limits are listed in scenarios/README.md).")(command)
    command = click.option("--jobs", type=int, callback=_checked, help="Processes to use [default: all cores].")(
        command)
    command = click.option("--seed", type=int, callback=_checked,
                           help="Override run.seed (the same for every scenario and point).")(command)
    return click.option("--replications", type=int, callback=_checked, help="Override run.replications.")(command)


overwrite_option = click.option(
    "--overwrite", is_flag=True,
    help="Replace the output folder even if it holds files continuum did not write (never the current "
         "folder, home or a folder holding a scenario file).")

dask_option = click.option(
    "--dask", "dask_address", is_flag=False, flag_value="", default=None, metavar="[ADDRESS]",
    help="Run on Dask: the cluster whose scheduler is at ADDRESS, or without one a local cluster "
         "of --jobs workers (give it after the scenario files). Needs the dask extra.")


def _limits(texts: tuple[str, ...]) -> dict[str, float]:
    """``--limit NAME=VALUE`` options as ``{name: value}``, checked like the API's ``limits``."""
    try:
        given = dict(parse_assignment(text) for text in texts)
    except ScenarioError as error:
        raise SettingsError("--limit", error.problems) from None
    problems = workload.limit_problems(given)
    if problems:
        raise SettingsError("--limit", problems)
    return given


def _backend(jobs: int | None, dask_address: str | None) -> dict:
    """Run options for the executor the command line asked for."""
    if dask_address and jobs is not None:
        raise click.UsageError("--jobs does not apply to --dask ADDRESS: the cluster's workers decide.")
    if dask_address is None:
        return {"jobs": jobs}
    return {"jobs": jobs, "executor": "dask", "address": dask_address or None}


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so that staging folders and workers are cleaned up on the way out."""


class _Stops:
    """The command line's own Ctrl-C and SIGTERM handlers, which remember the stop they raise.

    A library calling back into Python may turn what the callback raised into its own error. pydantic's
    serializer does: a SIGTERM landing while scenario.yaml is written surfaces as a
    ``PydanticSerializationError``, with the stop as its cause or (in JSON mode) nowhere at all.
    An error escaping the command after a stop arrived is therefore taken for that stop.

    A stop landing in a finalizer (an object's ``__del__``, run whenever the object goes) cannot leave it:
    Python prints it as a traceback and carries on. ``swallowed`` (the ``sys.unraisablehook`` while a
    command runs) has a thread send such a stop again, to land in the command's own code (a stop landing
    in the hook itself is sent again too); ``settle`` waits for those sent before the command ends.
    """

    def __init__(self, unraisable_hook: Callable[[Any], Any]) -> None:
        self.received: BaseException | None = None
        self.unraisable_hook = unraisable_hook
        self.sending: list[threading.Thread] = []

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if _inside(frame, self.swallowed.__code__):
            self._send_again(signum)
            return
        self.received = Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()
        raise self.received

    def swallowed(self, unraisable: Any) -> None:
        if isinstance(unraisable.exc_value, (KeyboardInterrupt, Terminated)):
            self._send_again(signal.SIGTERM if isinstance(unraisable.exc_value, Terminated) else signal.SIGINT)
        else:
            self.unraisable_hook(unraisable)

    def _send_again(self, number: int) -> None:
        sender = threading.Thread(target=_send_soon, args=(number,), name="continuum-stop", daemon=True)
        self.sending.append(sender)
        sender.start()

    def settle(self) -> None:
        """Wait for every stop sent again: the first that arrives meanwhile is raised once all are sent."""
        arrived: BaseException | None = None
        while self.sending:
            try:
                self.sending[-1].join()
                self.sending.pop()
            except (KeyboardInterrupt, Terminated) as stop:
                arrived = arrived or stop
        if arrived is not None:
            raise arrived

    def behind(self, error: Exception) -> BaseException:
        """The stop ``error`` was raised from or after, else ``error`` itself, raised again."""
        seen: set[int] = set()
        cause: BaseException | None = error
        while cause is not None and id(cause) not in seen:
            if isinstance(cause, (KeyboardInterrupt, Terminated)):
                return cause
            seen.add(id(cause))
            cause = cause.__cause__ or cause.__context__
        if self.received is None:
            raise error
        return self.received


def _inside(frame: FrameType | None, code: CodeType) -> bool:
    """Whether ``frame`` or a frame that called it runs ``code``."""
    while frame is not None:
        if frame.f_code is code:
            return True
        frame = frame.f_back
    return False


def _send_soon(number: int) -> None:
    time.sleep(0.001)   # a moment for the hook that started this thread to return
    os.kill(os.getpid(), number)


def _stopped(command: str | None, stop: BaseException) -> NoReturn:
    """One line for Ctrl-C or SIGTERM, then exit 130 or 143."""
    how, status = ("terminated", TERMINATED) if isinstance(stop, Terminated) else ("interrupted", INTERRUPTED)
    click.echo(f"{how}: {KEPT_WHEN_STOPPED.get(command or '', 'nothing was written')}", err=True)
    sys.exit(status)


class _Continuum(click.Group):
    """The command group, which ends on Ctrl-C or SIGTERM with one line rather than a traceback.

    Only the command line does so: in Python (a notebook, say) Ctrl-C raises KeyboardInterrupt as usual.
    """

    stops = _Stops(sys.unraisablehook)   # main's own, but where main cannot set handlers (not the main thread)

    def main(self, *args: Any, **options: Any) -> Any:
        if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
            return super().main(*args, **options)
        self.stops = _Stops(sys.unraisablehook)
        numbers = (signal.SIGINT, signal.SIGTERM)
        previous = {number: signal.signal(number, self.stops) for number in numbers}
        sys.unraisablehook = self.stops.swallowed
        try:
            return super().main(*args, **options)
        finally:
            sys.unraisablehook = self.stops.unraisable_hook
            for number, handler in previous.items():
                signal.signal(number, handler if handler is not None else signal.SIG_DFL)

    def make_context(self, *args: Any, **options: Any) -> click.Context:
        try:
            return super().make_context(*args, **options)
        except (KeyboardInterrupt, Terminated) as stop:  # click would say "Aborted!" and exit 1
            _stopped(None, stop)
        except Exception as error:
            _stopped(None, self.stops.behind(error))

    def invoke(self, ctx: click.Context) -> Any:
        try:
            try:
                return super().invoke(ctx)
            finally:
                self.stops.settle()
        except (KeyboardInterrupt, Terminated) as stop:
            _stopped(ctx.invoked_subcommand, stop)
        except Exception as error:
            _stopped(ctx.invoked_subcommand, self.stops.behind(error))


@click.group(cls=_Continuum, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="continuum", message=f"%(prog)s, version %(version)s, engine {engine_build()}")
def main() -> None:
    """Simulate patients moving through a behavioral-health care continuum."""


@main.command()
@click.argument("scenario", metavar="SCENARIO")
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Output folder [default: results/<scenario file stem>].")
@run_setting_options
@dask_option
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE",
              help="Override any scenario key, e.g. levels.php.capacity=30 (repeatable).")
@click.option("--episodes", is_flag=True, help="Also write episodes.csv (one row per patient visit).")
@click.option("--precision", type=float, callback=_checked,
              help="Add replications until every headline metric's 95%% half-width is within this share "
                   "of its mean (e.g. 0.05), or --max-replications is reached.")
@click.option("--max-replications", type=int, callback=_checked, default=200, show_default=True,
              help="The cap for --precision.")
@click.option("--no-report", is_flag=True, help="Skip the figures and report.html (faster).")
@overwrite_option
@click.option("--quiet", is_flag=True, help="No progress bar or table.")
def run(scenario: str, out_dir: str | None, replications: int | None, seed: int | None,
        jobs: int | None, limit_texts: tuple[str, ...], dask_address: str | None, assignments: tuple[str, ...],
        episodes: bool, precision: float | None, max_replications: int, no_report: bool, overwrite: bool,
        quiet: bool) -> None:
    """Run SCENARIO (a YAML file) and write summary.csv and friends to the output folder."""
    backend = _backend(jobs, dask_address)
    folder = Path(out_dir) if out_dir else Path("results") / Path(scenario).stem
    try:
        loaded = _load(scenario, assignments, replications=replications, seed=seed)
        limits = _limits(limit_texts)
        check_folder(folder, [scenario], overwrite)   # a bad --out is found before the run, not after
    except (ScenarioError, OutputFolderError) as error:
        _fail(error)
    try:
        results = run_scenario(loaded, progress=not quiet, keep_episodes=episodes, precision=precision,
                               max_replications=max_replications, limits=limits, **backend)
    except (ScenarioError, ExecutorUnavailable) as error:
        _fail(error)
    try:
        write_results(results, folder, report=not no_report, overwrite=overwrite, jobs=backend["jobs"])
    except OutputFolderError as error:
        _fail(error)
    if not quiet:
        _print_results(results)
    _print_warnings(results)
    report = " (open report.html for the figures and findings)" if not no_report else ""
    click.echo(f"\nResults written to {folder}/{report}")


def _print_results(results: Results) -> None:
    chosen = results.scenario
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        click.echo(f"\n{chosen.name}: {results.run_sentence()} (mean, 95% interval)")
        if "warmup" in results.meta:
            pilot = results.meta["warmup"]
            click.echo(f"Warm-up chosen by MSER-5 from a pilot of {pilot['pilot_replications']} replications: "
                       f"{pilot['chosen_days']} days")
        if "precision" in results.meta:
            click.echo(_precision_text(results.meta["precision"]))
        click.echo("\n" + results.headline().to_string())
        click.echo("\n" + results.headline(SYSTEM_METRICS, ["all"]).to_string())
        staffing = results.staffing_headline()
        if staffing is not None:
            click.echo("\nStaff needed (FTE, mean and 95% interval)\n")
            click.echo(staffing.to_string())


def _print_warnings(results: Results, whose: str = "") -> None:
    """One line on stderr per reason not to trust some numbers, even with --quiet (``whose``: which run)."""
    for warning in results.warnings:
        click.echo(f"warning: {whose}{warning['message']}", err=True)


def _precision_text(note: dict) -> str:
    target = f"{note['target']:.0%}"
    if note["met"]:
        return f"Precision: every headline metric within {target} of its mean after {note['replications']} replications"
    short = "; ".join(f"{row['level']} {row['metric']} {row['mean']:.3g} +/- {row['half_width']:.2g}"
                      for row in note["short"][:6])
    return (f"Precision NOT met: {note['replications']} replications (the cap) leave these wider than "
            f"{target} of their mean: {short}")


@main.command()
@click.argument("scenario", metavar="SCENARIO")
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE",
              help="Override any scenario key before checking.")
@click.option("--limit", "limit_texts", multiple=True, metavar="NAME=VALUE",
              help="Raise a size limit, as for run (repeatable).")
def validate(scenario: str, assignments: tuple[str, ...], limit_texts: tuple[str, ...]) -> None:
    """Check SCENARIO without running it, and estimate the size of its run."""
    try:
        loaded = _load(scenario, assignments)
        size = workload.check(loaded, _limits(limit_texts))
    except ScenarioError as error:
        _fail(error)
    levels = ", ".join(f"{name} ({spec.capacity[0].capacity} places)" for name, spec in loaded.levels.items())
    click.echo(f"{scenario}: valid. {loaded.name}: {levels}")
    click.echo(f"A run: {loaded.run.replications} replications of about {size.visits_per_replication:,.0f} "
               f"patient visits to levels over {size.days_per_replication:,} days each.")


@main.command()
@click.argument("base", metavar="BASE")
@click.argument("alternatives", metavar="ALT...", nargs=-1, required=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Output folder [default: results/compare_<base file stem>].")
@run_setting_options
@dask_option
@overwrite_option
@click.option("--quiet", is_flag=True, help="No progress bar or table.")
def compare(base: str, alternatives: tuple[str, ...], out_dir: str | None, replications: int | None,
            seed: int | None, jobs: int | None, limit_texts: tuple[str, ...], dask_address: str | None,
            overwrite: bool, quiet: bool) -> None:
    """Compare scenario files ALT... with BASE on common random numbers.

    Writes comparison.csv (each metric's difference from BASE with a paired 95% interval and a
    'clear' flag) and one results folder per scenario; when every scenario has patient groups, also
    comparison_groups.csv (the same per group).
    """
    folder = Path(out_dir) if out_dir else Path("results") / f"compare_{Path(base).stem}"
    try:
        scenarios = [_load(path, replications=replications, seed=seed) for path in (base, *alternatives)]
        check_folder(folder, [base, *alternatives], overwrite)
        backend = _backend(jobs, dask_address)
        results = run_all(*scenarios, progress=not quiet, limits=_limits(limit_texts), **backend)
    except (ScenarioError, ExecutorUnavailable, OutputFolderError) as error:
        _fail(error)
    base_label, *others = results
    alternatives_run = {label: results[label] for label in others}
    table = comparison_table(results[base_label], alternatives_run)
    grouped = all(outcome.scenario.groups for outcome in results.values())
    by_group = comparison_table(results[base_label], alternatives_run, groups=True) if grouped else None
    for label, outcome in results.items():
        _print_warnings(outcome, f"{label}: ")
    try:
        write_comparison(folder, table, results, [base, *alternatives], overwrite=overwrite, groups=by_group,
                         jobs=backend["jobs"])
    except OutputFolderError as error:
        _fail(error)
    if not quiet:
        _print_comparison(table, base_label)
    written = "comparison.csv, comparison_groups.csv" if grouped else "comparison.csv"
    click.echo(f"\nResults written to {folder}/ ({written}, and one folder per scenario)")


def _print_comparison(table: pd.DataFrame, base_label: str) -> None:
    paired = ~table["method"].isin(NOT_COMPARED.values())
    shown = table[paired & table["metric"].isin(HEADLINE_METRICS) & (table["level"] != "all")].copy()
    shown["difference (95% CI)"] = shown.apply(
        lambda row: f"{row['difference']:+.3g} ({row['ci_low']:.3g} to {row['ci_high']:.3g})"
        + (" *" if row["clear"] else ""), axis=1)
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_rows", 500):
        for label, rows in shown.groupby("scenario", sort=False):
            click.echo(f"\n{label} minus {base_label} (paired, common random numbers; * = clearly real)\n")
            click.echo(rows.pivot(index="level", columns="metric", values="difference (95% CI)")
                       .reindex(index=rows["level"].unique(), columns=[m for m in HEADLINE_METRICS])
                       .to_string())
    if left_out := not_compared(table, base_label):
        click.echo("\nNot compared, being in one scenario only (their own figures are in comparison.csv): "
                   + "; ".join(left_out))


@main.command()
@click.argument("scenario", metavar="SCENARIO")
@click.option("--grid", "grid_options", multiple=True, required=True, metavar="KEY=V1,V2,...",
              help="A scenario key and the values to try, read as YAML, e.g. levels.php.capacity=10,20,30 "
                   "(repeatable: every combination runs).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Output folder; running the same sweep into it again skips the finished points "
                   "[default: results/<scenario file stem>_sweep].")
@run_setting_options
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE",
              help="Override any scenario key before sweeping (repeatable).")
@dask_option
@click.option("--quiet", is_flag=True, help="No progress bar or table.")
def sweep(scenario: str, grid_options: tuple[str, ...], out_dir: str | None, replications: int | None,
          seed: int | None, jobs: int | None, limit_texts: tuple[str, ...], assignments: tuple[str, ...],
          dask_address: str | None, quiet: bool) -> None:
    """Run SCENARIO at every combination of --grid values, all on the same random numbers."""
    folder = Path(out_dir) if out_dir else Path("results") / f"{Path(scenario).stem}_sweep"
    try:
        loaded = _load(scenario, assignments, replications=replications, seed=seed)
        table = sweep_scenario(loaded, parse_grid(grid_options), out=folder, progress=not quiet,
                               limits=_limits(limit_texts), **_backend(jobs, dask_address))
    except (ScenarioError, SweepFolderError, ExecutorUnavailable) as error:
        _fail(error)
    if not quiet:
        with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_rows", 1000):
            click.echo(f"\n{loaded.name}: {table['point'].nunique()} points x {loaded.run.replications} "
                       f"replications on common random numbers (seed {loaded.run.seed}); mean (95% interval)\n")
            click.echo(sweep_headline(table).to_string())
            click.echo("\n" + sweep_headline(table, SYSTEM_METRICS, ["all"]).to_string())
    write_sweep_report(loaded, table, list(parse_grid(grid_options)), folder)
    click.echo(f"\nResults written to {folder}/ (sweep.csv: one row per point, level and metric; report.html)")


@main.command()
@click.argument("scenario", metavar="SCENARIO")
@click.option("--target", "target_texts", multiple=True, required=True, metavar="[LEVEL:]METRIC<=VALUE",
              help="A target to meet with 95% confidence: at every planned level (wait_p90_days<=14) or at one "
                   "(\"iop: occupancy <= 0.9\"); repeatable.")
@click.option("--levels", help="Comma-separated levels to plan [default: all].")
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Output folder [default: results/<scenario file stem>_plan].")
@run_setting_options
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE",
              help="Override any scenario key before planning (repeatable).")
@overwrite_option
@click.option("--quiet", is_flag=True, help="No table.")
def plan(scenario: str, target_texts: tuple[str, ...], levels: str | None, out_dir: str | None,
         replications: int | None, seed: int | None, jobs: int | None, limit_texts: tuple[str, ...],
         assignments: tuple[str, ...], overwrite: bool, quiet: bool) -> None:
    """Find the fewest places at every level that together meet every --target, verified on fresh random numbers."""
    folder = Path(out_dir) if out_dir else Path("results") / f"{Path(scenario).stem}_plan"
    try:
        loaded = _load(scenario, assignments, replications=replications, seed=seed)
        targets = [parse_target(text) for text in target_texts]
        chosen = [name.strip() for name in levels.split(",")] if levels else None
        check_folder(folder, [scenario], overwrite)
        found = plan_capacity(loaded, targets, chosen, jobs=jobs, limits=_limits(limit_texts))
    except (ScenarioError, OutputFolderError) as error:
        _fail(error)
    try:
        write_plan(found, folder, overwrite=overwrite, jobs=jobs)
    except OutputFolderError as error:
        _fail(error)
    if not quiet:
        with pd.option_context("display.width", 200, "display.max_columns", 20):
            click.echo(f"\n{loaded.name}: targets {', '.join(map(str, targets))} with 95% confidence, "
                       f"{loaded.run.replications} replications on common random numbers\n")
            click.echo(found.capacities.to_string(index=False))
            staffing = found.results.staffing_headline()
            if staffing is not None:
                click.echo("\nStaff the planned capacities need (FTE, mean and 95% interval)\n")
                click.echo(staffing.to_string())
    _print_warnings(found.results, "the verification run of the plan: ")
    click.echo(f"\nResults written to {folder}/ (plan.csv, plan_curve.csv, planned/)")


@main.command()
@click.argument("extract", metavar="EXTRACT")
@click.option("--out", "out_file", type=click.Path(dir_okay=False),
              help="The fitted scenario file [default: <extract file stem>_fitted.yaml beside the extract].")
@click.option("--base", help="A scenario supplying places, staff, programs and run settings (its levels are the "
                             "only ones allowed); without it, places are the highest census seen.")
@click.option("--as-of", "as_of", metavar="DATE", help="The extract's end [default: its last date].")
@click.option("--start", metavar="DATE", help="The extract's first day [default: found from its dates, see "
                                              "scenarios/data/README.md].")
@click.option("--holdout-days", type=click.IntRange(min=0), default=0, show_default=True,
              help="Fit on the extract up to this many days before its end, simulate those days and compare "
                   "(the fitted file is then the fit up to that date; fit again without it to use every record).")
@click.option("--columns", metavar="OURS=THEIRS,...", help="The extract's column names, e.g. "
                                                           "admitted=AdmitDate,discharged=DischDate.")
@click.option("--levels", "level_labels", metavar="LABEL=LEVEL,...",
              help="The extract's level labels, e.g. \"Acute Psych=inpatient,Day Program=php\".")
@click.option("--mapping", metavar="FILE", help="A YAML file with columns: and levels: mappings (kept beside the "
                                                "extract; --columns and --levels add to it).")
@click.option("--transfer-within-days", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="A patient's next episode referred within this many days of a discharge is a transfer, "
                   "whatever discharge_to says.")
@click.option("--report", "report_dir", type=click.Path(file_okay=False),
              help="Also write fit_report.html, the fit's tables and figures into this folder.")
@click.option("--replications", type=int, callback=_checked, help="Replications of the back-test.")
@overwrite_option
@click.option("--quiet", is_flag=True, help="No table.")
def fit(extract: str, out_file: str | None, base: str | None, as_of: str | None, start: str | None,
        holdout_days: int, columns: str | None, level_labels: str | None, mapping: str | None,
        transfer_within_days: float, report_dir: str | None, replications: int | None, overwrite: bool,
        quiet: bool) -> None:
    """Fit a scenario from EXTRACT (a CSV of episodes of care), and back-test it with --holdout-days."""
    from .extract import ExtractError
    from .fit import FitError
    from .fit import fit as fit_extract
    from .fit_report import warnings_of

    path = Path(out_file) if out_file else Path(extract).with_name(f"{Path(extract).stem}_fitted.yaml")
    inputs = [extract, *([base] if base else []), *([mapping] if mapping else [])]
    try:
        check_fitted_file(path, inputs, overwrite)
        if report_dir:
            check_folder(report_dir, inputs, overwrite)
        loaded = load_scenario(base) if base else None
        found = fit_extract(extract, loaded, as_of=as_of, start=start, holdout_days=holdout_days,
                            mapping=_mapping(mapping, columns, level_labels), replications=replications,
                            transfer_within_days=transfer_within_days)
        write_fit(found, path, report_dir, inputs, overwrite)
    except (ScenarioError, OutputFolderError, ExtractError, FitError) as error:
        _fail(error)
    if not quiet:
        _print_fit(found)
    for text in warnings_of(found):     # even with --quiet, as every command's warnings
        click.echo(f"warning: {text}", err=True)
    written = f" and {Path(report_dir)}/ (fit_report.html)" if report_dir else ""
    click.echo(f"\nFitted scenario written to {path}{written}")


def _mapping(path: str | None, columns: str | None, labels: str | None) -> Mapping | None:
    """The mapping file (if any) with --columns and --levels added over it."""
    from .extract import Mapping, parse_pairs, read_mapping

    if path is None and columns is None and labels is None:
        return None
    found = read_mapping(path) if path else Mapping({}, {})
    return Mapping({**found.columns, **parse_pairs(columns or "", "--columns")},
                   {**found.labels, **parse_pairs(labels or "", "--levels")})


def _print_fit(found: Fit) -> None:
    from .fit_report import stays_table

    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_rows", 200):
        extract = found.extract
        click.echo(f"\n{extract.source}: {len(extract.episodes):,} episodes from {extract.start:%Y-%m-%d} to "
                   f"{extract.as_of:%Y-%m-%d}; {len(found.problems):,} rows left out")
        if len(found.problems):
            click.echo(extract.problem_counts().to_string(index=False))
        click.echo("\nStays (chosen law, mean days and 95% interval)\n")
        click.echo(stays_table(found).to_string(index=False))
        if "referrals" in found.tables:
            click.echo("\nReferrals a year at the as-of date\n")
            click.echo(found.tables["referrals"].round(3).to_string(index=False))
        if found.backtest is not None:
            click.echo(f"\nBack-test over the last {found.backtest.holdout_days} days: share of observed days and "
                       "months inside the simulated 90% band\n")
            click.echo(found.backtest.coverage.round(2).to_string(index=False))


@main.command()
@click.option("--port", type=click.IntRange(1, 65535), default=8501, show_default=True, help="The port to serve on.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to serve on (0.0.0.0: every network the machine is on).")
@click.option("--dask", "dask_address", metavar="ADDRESS", help="Run the app's jobs on the Dask cluster whose "
                                                                 "scheduler is at ADDRESS (default: local processes).")
def app(port: int, host: str, dask_address: str | None) -> None:
    """Serve the web app (pip install -e '.[app]'); Ctrl-C stops it."""
    if importlib.util.find_spec("streamlit") is None:
        _fail(SettingsError("continuum app", ["the web app needs Streamlit: pip install -e '.[app]'"]))
    if not _port_free(host, port):
        _fail(SettingsError("continuum app", [f"port {port} on {host} is taken: give another with --port"]))
    script = Path(__file__).parent / "app" / "main.py"
    command = [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
               "--server.address", host, "--server.headless", "true", "--browser.gatherUsageStats", "false",
               "--server.maxUploadSize", "1", "--server.fileWatcherType", "none",
               # Streamlit's default full garbage collection after every script run (each progress bar's
               # redraw is one) took most of a core with five people running; CPython frees without it
               "--runner.postScriptGC", "false",
               "--client.toolbarMode", "minimal"]   # no "Deploy" button: the app serves from this machine
    environment = {**os.environ, **({"CONTINUUM_DASK_ADDRESS": dask_address} if dask_address else {})}
    click.echo(f"continuum app at http://{host}:{port} (Ctrl-C stops it)")
    server = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL)
    try:
        status = server.wait()   # Ctrl-C reaches the server too (one process group): it stops on its own
    except (KeyboardInterrupt, Terminated):
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        status = 0               # stopped as asked, however the server took it
    if status != 0:              # the server died by itself (killed, out of memory, a crash): not a clean stop
        how = f"was killed by signal {-status}" if status < 0 else f"ended with status {status}"
        click.echo(f"continuum app stopped: its server {how} (its messages are above)", err=True)
        sys.exit(1)
    click.echo("continuum app stopped")


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True
