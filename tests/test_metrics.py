"""The metric registry (sim/metrics.py) is the one place a metric is described, and everything agrees with it.

A metric added to the run but not to the registry, added to the registry but not to the README,
or labelled somewhere else, fails here.
"""

from __future__ import annotations

import ast
import dataclasses

import pandas as pd
import pytest
from conftest import ROOT

import sim
from sim import plots, report, results, theory
from sim.metrics import (
    ALL_METRICS,
    HEADLINE_METRICS,
    LEVEL_METRICS,
    METRICS,
    MONTHLY,
    MONTHLY_METRICS,
    MONTHLY_REGISTRY,
    PLANNABLE_METRICS,
    REGISTRY,
    SYSTEM_METRICS,
    SYSTEM_TOTALS,
    Metric,
    monthly_readme_table,
    readme_tables,
)
from sim.planning import Target, target_problem

GOLDEN = ROOT / "tests" / "golden"
FIGURES = {field.name for field in dataclasses.fields(theory.QueueFigures)}
REGENERATE = "print the tables with `python -m sim.metrics` and paste them into scenarios/README.md"


# ---------------------------------------------------------------------------- the README
@pytest.mark.parametrize("table", [*readme_tables(), monthly_readme_table()], ids=["per level", "level all",
                                                                                   "monthly"])
def test_the_readme_tables_are_the_registry_exactly(table):
    text = (ROOT / "scenarios" / "README.md").read_text(encoding="utf-8")
    assert f"\n\n{table}\n\n" in text, REGENERATE


def test_the_readme_tables_list_every_metric_in_order_with_its_unit_and_description():
    level, total = readme_tables()
    rows = [line.split(" | ") for line in level.splitlines()[2:]]
    assert [row[0].strip("|` ") for row in rows] == list(LEVEL_METRICS)
    assert [row[1] for row in rows] == [METRICS[name].unit for name in LEVEL_METRICS]
    assert [row[2].rstrip(" |") for row in rows] == [METRICS[name].description for name in LEVEL_METRICS]
    assert [line.split(" | ")[0].strip("|` ") for line in total.splitlines()[2:]] == list(ALL_METRICS)
    assert not any("|" in metric.description + metric.unit for metric in REGISTRY), "a | would break the table"


# ---------------------------------------------------------------------------- the run's metrics
def test_summary_rows_are_the_registry_in_order():
    summary = pd.read_csv(GOLDEN / "summary.csv")
    for level, rows in summary.groupby("level", sort=False):
        assert tuple(rows["metric"]) == (ALL_METRICS if level == "all" else LEVEL_METRICS)
    assert set(summary["metric"]) == set(METRICS)


def test_every_metric_the_run_computes_is_registered(monkeypatch):
    computed: dict[str, set[str]] = {"level": set(), "system": set()}

    def spy(function, kind):
        def spied(*args):
            values = function(*args)
            computed[kind] |= set(values)
            return values
        return spied

    monkeypatch.setattr(results, "level_metrics", spy(results.level_metrics, "level"))
    monkeypatch.setattr(results, "system_metrics", spy(results.system_metrics, "system"))
    scenario = sim.load_scenario(GOLDEN / "small_continuum.yaml")
    ran = sim.run(scenario, replications=1, jobs=1, progress=False)
    assert computed["level"] == set(LEVEL_METRICS), "add the metric to sim/metrics.py (or stop computing it)"
    assert computed["system"] == set(SYSTEM_TOTALS)
    assert set(ran.summary["metric"]) == set(METRICS)


def test_all_rows_follow_the_registry_rules():
    summary = pd.read_csv(GOLDEN / "summary.csv")
    levels = summary[summary["level"] != "all"]
    for name in ALL_METRICS:
        total = summary[(summary["level"] == "all") & (summary["metric"] == name)]["mean"].item()
        if METRICS[name].total == "sum":
            assert total == pytest.approx(levels[levels["metric"] == name]["mean"].sum())


def test_the_ordered_lists_are_as_they_always_were():
    assert LEVEL_METRICS[:5] == ("referrals_per_year", "arrivals_per_year", "admissions_per_year", "census_mean",
                                 "occupancy")
    assert ALL_METRICS[:3] == ("relapses_per_year", "readmit_30d_share", "patients_in_care_mean")
    assert HEADLINE_METRICS == ("admissions_per_year", "occupancy", "waitlist_mean", "wait_mean_days",
                                "wait_p90_days", "blocked_days_per_year")
    assert SYSTEM_METRICS == ("patients_in_care_mean", "relapses_per_year", "readmit_30d_share")
    assert results.LEVEL_METRICS is LEVEL_METRICS and results.ALL_METRICS is ALL_METRICS


# ---------------------------------------------------------------------------- the rules
def test_every_entry_is_whole():
    assert len(METRICS) == len(REGISTRY), "two metrics with one name"
    for metric in REGISTRY:
        assert metric.label and metric.unit and metric.description.endswith(".")
        if metric.label.endswith(")") and not metric.is_share:
            assert metric.label.endswith(f"({metric.unit})"), metric.name
        if metric.theory is not None:   # a figure of an M/M/c queue, or one of its methods
            assert metric.theory in FIGURES or callable(getattr(theory.QueueFigures, metric.theory, None)), metric.name
    assert set(PLANNABLE_METRICS) == set(LEVEL_METRICS)


def test_a_broken_entry_is_refused():
    with pytest.raises(ValueError, match="not plannable"):
        Metric("x", "X", "days", "time", "X.", "system")
    with pytest.raises(ValueError, match="quantile"):
        Metric("x", "X", "days", "time", "X.", theory="wait_percentile_days")
    with pytest.raises(ValueError, match="kind"):
        Metric("x", "X", "days", "when", "X.")   # type: ignore[arg-type]


def test_planner_target_ranges_come_from_the_bounds():
    assert target_problem(Target("occupancy", "<=", 0)) is not None
    assert target_problem(Target("wait_over_target_share", "<=", 0)) is None
    assert "between 0 and 1" in target_problem(Target("gave_up_or_turned_away_share", "<=", 2))
    assert "0 or more" in target_problem(Target("wait_p95_days", "<=", -1))


# ---------------------------------------------------------------------------- labels
def _label_tables() -> list[str]:
    """Dict literals outside sim/metrics.py mapping two or more metric names to text: a second label table."""
    found = []
    for path in sorted((ROOT / "sim").glob("*.py")):
        if path.name == "metrics.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Dict):
                named = [key.value for key, value in zip(node.keys, node.values, strict=True)
                         if isinstance(key, ast.Constant) and key.value in METRICS
                         and isinstance(value, ast.Constant) and isinstance(value.value, str)]
                if len(named) >= 2:
                    found.append(f"{path.name}:{node.lineno} {named}")
    return found


def _labels_written_elsewhere() -> list[str]:
    """A registry label written out as text outside sim/metrics.py."""
    labels = {metric.label for metric in (*REGISTRY, *MONTHLY_REGISTRY)}
    return [f"{path.name}:{node.lineno} {node.value!r}" for path in sorted((ROOT / "sim").glob("*.py"))
            if path.name != "metrics.py" for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.Constant) and node.value in labels]


def test_no_label_table_outside_the_registry():
    assert _label_tables() == []
    assert _labels_written_elsewhere() == []


def test_figures_and_report_use_the_registry_labels():
    for metric in REGISTRY:
        assert plots.metric_label(metric.name) == metric.label
        assert report.COLUMN_LABELS[metric.name] == metric.label
    assert {metric.name for metric in REGISTRY if metric.is_share} == plots.SHARE_METRICS
    headers = report._table(pd.DataFrame([[1.0] * len(SYSTEM_METRICS)], columns=list(SYSTEM_METRICS)))
    assert all(f"<th>{METRICS[name].label}</th>" in headers for name in SYSTEM_METRICS)


# ---------------------------------------------------------------------------- monthly.csv
def test_monthly_metrics_are_the_summary_s_or_registered_counts_of_a_month():
    assert set(MONTHLY) == set(MONTHLY_METRICS)
    assert not {metric.name for metric in MONTHLY_REGISTRY} & set(METRICS), "a month's count is not a summary metric"
    for name in MONTHLY_METRICS:
        assert MONTHLY[name] is METRICS.get(name, MONTHLY[name])
    assert {metric.kind for metric in MONTHLY_REGISTRY} == {"count"}
