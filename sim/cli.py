"""The ``continuum`` command: parse, call the API, print, exit with a clear status.

Exit status: 0 done; 2 bad input (scenario file, ``--set`` value or option) or setup (``--dask``
without Dask installed), with a message naming the file, key, value and what is allowed; 1 anything else.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
import pandas as pd

from .executors import ExecutorUnavailable
from .results import SYSTEM_METRICS
from .run import run as run_scenario
from .scenario import ScenarioError, load_scenario, parse_assignment

BAD_INPUT = 2


def _load(path: str, assignments: tuple[str, ...] = (), **settings: int | None):
    """Load a scenario with ``--set`` assignments and run settings given as options."""
    try:
        overrides = dict(parse_assignment(text) for text in assignments)
    except ScenarioError as error:
        raise ScenarioError(f"{path} with --set", error.problems) from None
    overrides.update({f"run.{key}": value for key, value in settings.items() if value is not None})
    return load_scenario(path, overrides)


def _fail(error: ScenarioError | ExecutorUnavailable) -> None:
    click.echo(f"error: {error}", err=True)
    sys.exit(BAD_INPUT)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="continuum")
def main() -> None:
    """Simulate patients moving through a behavioral-health care continuum."""


@main.command()
@click.argument("scenario", metavar="SCENARIO")
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Output folder [default: results/<scenario file stem>].")
@click.option("--replications", type=int, help="Override run.replications.")
@click.option("--seed", type=int, help="Override run.seed.")
@click.option("--jobs", type=click.IntRange(min=1), help="Processes to use [default: all cores].")
@click.option("--dask", "dask_address", is_flag=False, flag_value="", default=None, metavar="[ADDRESS]",
              help="Run on Dask: the cluster whose scheduler is at ADDRESS, or without one a local cluster "
                   "of --jobs workers (give it after SCENARIO). Needs the dask extra.")
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE",
              help="Override any scenario key, e.g. levels.php.capacity=30 (repeatable).")
@click.option("--episodes", is_flag=True, help="Also write episodes.csv (one row per patient visit).")
@click.option("--quiet", is_flag=True, help="No progress bar or table.")
def run(scenario: str, out_dir: str | None, replications: int | None, seed: int | None,
        jobs: int | None, dask_address: str | None, assignments: tuple[str, ...], episodes: bool,
        quiet: bool) -> None:
    """Run SCENARIO (a YAML file) and write summary.csv and friends to the output folder."""
    if dask_address and jobs is not None:
        raise click.UsageError("--jobs does not apply to --dask ADDRESS: the cluster's workers decide.")
    try:
        loaded = _load(scenario, assignments, replications=replications, seed=seed)
    except ScenarioError as error:
        _fail(error)
    executor = "processes" if dask_address is None else "dask"
    try:
        results = run_scenario(loaded, jobs=jobs, progress=not quiet, keep_episodes=episodes, executor=executor,
                               address=dask_address or None)
    except ExecutorUnavailable as error:
        _fail(error)
    folder = results.to_folder(out_dir or Path("results") / Path(scenario).stem)
    if not quiet:
        with pd.option_context("display.width", 200, "display.max_columns", 20):
            click.echo(f"\n{loaded.name}: {results.meta['replications']} replications, "
                       f"{loaded.run.days} days measured after {loaded.run.warmup_days} days of warm-up "
                       "(mean, 95% interval)\n")
            click.echo(results.headline().to_string())
            click.echo("\n" + results.headline(SYSTEM_METRICS, ["all"]).to_string())
    click.echo(f"\nResults written to {folder}/")


@main.command()
@click.argument("scenario", metavar="SCENARIO")
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE",
              help="Override any scenario key before checking.")
def validate(scenario: str, assignments: tuple[str, ...]) -> None:
    """Check SCENARIO without running it."""
    try:
        loaded = _load(scenario, assignments)
    except ScenarioError as error:
        _fail(error)
    levels = ", ".join(f"{name} ({spec.capacity[0].capacity} places)" for name, spec in loaded.levels.items())
    click.echo(f"{scenario}: valid. {loaded.name}: {levels}")
