"""What a finished job answers, made on the worker pool rather than in the web server.

Gathering a run's replications into :class:`sim.Results` and drawing the report's figures take about
1.5 s of one core for a small run; done in the server, whose sessions share one interpreter lock, they
held up every other person's page. So the last step of a job is a task like the replications: these
top-level functions run in a worker and return everything the page shows, the figures as PNGs.
The replications are gathered exactly as :func:`sim.run` gathers them (:func:`sim.run.gathered`), so
the app's numbers and files are the command line's for the same scenario and seed.

No Streamlit here: a worker imports this module without the server's libraries.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from .. import plots, report
from ..compare import comparison_table
from ..planning import Plan, plan
from ..results import Results
from ..run import gathered
from ..scenario import Scenario

Drawn = list[tuple[str, str, bytes]]
"""Figures as ``(name, caption, PNG)``: drawn once per result, shown on every rerun of the page."""


@dataclass
class RunAnswer:
    """A run's results and the report's figures (and, for a run from today's state, the forecast section)."""

    results: Results
    figures: Drawn
    forecast: tuple[dict, Drawn] | None


@dataclass
class ComparisonAnswer:
    """A comparison's table and chart, and the changed scenario's run as :class:`RunAnswer`."""

    table: pd.DataFrame
    chart: bytes
    changed: RunAnswer
    base: Results


def drawn(figures: Sequence[tuple[str, str, Figure]]) -> Drawn:
    """Each figure as the report's own PNG (:func:`sim.plots.png_bytes`)."""
    return [(name, caption, plots.png_bytes(figure)) for name, caption, figure in figures]


def forecast(results: Results) -> tuple[dict, Drawn] | None:
    """The forecast section of the report (its tables as HTML) and its fan charts, for a forecast run."""
    if not report.is_forecast(results):
        return None
    section, fans = report.forecast_section(results)
    return section, drawn(fans)


def results_of(scenario: Scenario, outputs: list[Any], seconds: float) -> Results:
    """The replications' outputs as :func:`sim.run` gathers them (a pilot's whole run comes whole)."""
    if len(outputs) == 1 and isinstance(outputs[0], Results):
        return outputs[0]
    return gathered(scenario, outputs, {"executor": "app", "jobs": None}, time.perf_counter() - seconds)


def answered(results: Results) -> RunAnswer:
    return RunAnswer(results, drawn(report.figures(results)), forecast(results))


def run_answer(scenarios: list[Scenario], outputs: list[list[Any]], seconds: float) -> RunAnswer:
    """A run's answer from its replications' outputs; ``seconds`` the job has taken so far."""
    return answered(results_of(scenarios[0], outputs[0], seconds))


def comparison_answer(scenarios: list[Scenario], outputs: list[list[Any]], seconds: float) -> ComparisonAnswer:
    """The base and changed scenarios' runs (on common random numbers) compared, as ``continuum compare`` does."""
    base, changed = (results_of(scenario, done, seconds) for scenario, done in zip(scenarios, outputs, strict=True))
    table = comparison_table(base, {"changed": changed})
    return ComparisonAnswer(table, plots.png_bytes(plots.comparison_chart(table)), answered(changed), base)


def planned(scenario: Scenario, targets: list[Any], levels: list[str] | None) -> Plan:
    """The capacity plan, searched in this worker (the search is sequential)."""
    return plan(scenario, targets, levels, jobs=1)
