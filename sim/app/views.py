"""What the planner's page shows of a scenario and of results, and the files it offers for download.

The tables and figures come from the package (:mod:`sim.report`, :mod:`sim.plots`, :class:`sim.Results`);
the files are written by :func:`sim.write_results` and :func:`sim.report.write_report`, so they are the
command line's. The ``show_*`` functions draw with Streamlit; the rest are plain functions.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from tempfile import TemporaryDirectory

import pandas as pd
import streamlit as st

import sim
from sim.app.answers import Drawn, RunAnswer
from sim.compare import NOT_COMPARED
from sim.metrics import HEADLINE_METRICS, LABELS, SYSTEM_METRICS
from sim.scenario import Scenario

COMPARISON_SHOWN = ["level", "metric", "base", "alternative", "difference", "ci_low", "ci_high", "clear"]


# ---------------------------------------------------------------------------- the scenario
def levels_table(scenario: Scenario) -> pd.DataFrame:
    """A row per level: places (and their schedule), referrals and growth, mean stay, routes out."""
    rows = []
    for name, level in scenario.levels.items():
        later = "; ".join(f"{step.capacity} from day {step.from_day:g}" for step in level.capacity[1:])
        rows.append({
            "level": name,
            "places": str(level.capacity[0].capacity) + (f" ({later})" if later else ""),
            "referrals a year": round(level.referrals_per_year, 1),
            "growth (% a year)": round(100 * level.referral_growth_per_year, 2),
            "mean stay (days)": round(level.mean_stay_days, 1),
            "routes out": ", ".join(f"{dest} {step.share:.0%}" for dest, step in level.next.items()),
            "when next is full": level.when_next_full,
        })
    return pd.DataFrame(rows).set_index("level")


# ---------------------------------------------------------------------------- results
def mean_waits(results: sim.Results) -> dict[str, float]:
    """Each level's mean wait in days (the mean across replications)."""
    rows = results.summary[results.summary["metric"] == "wait_mean_days"].set_index("level")["mean"]
    return {level: float(rows[level]) for level in results.scenario.level_names if level in rows.index}


def labelled(table: pd.DataFrame) -> pd.DataFrame:
    """A headline table with the report's column names."""
    return table.rename(columns=sim.report.COLUMN_LABELS)


def show_results(answer: RunAnswer) -> None:
    """The headline table, mean waits, staffing and cost, warnings, the report's figures and any forecast."""
    results, figures, forecasted = answer.results, answer.figures, answer.forecast
    st.caption(f"{results.scenario.name}: {results.run_sentence()}. Mean (95% interval).")
    for warning in results.warnings:
        st.warning(warning["message"])
    waits = mean_waits(results)
    for column, (level, mean) in zip(st.columns(len(waits) or 1), waits.items(), strict=False):
        column.metric(label=f"{level}: mean wait (days)", value=f"{mean:.2f}")
    st.dataframe(labelled(results.headline()))
    st.dataframe(labelled(results.headline(SYSTEM_METRICS, ["all"])))
    staffing = results.staffing_headline()
    if staffing is not None:
        st.markdown("**Staff needed** (FTE, mean and 95% interval) **and cost a year**")
        st.dataframe(labelled(staffing))
    if forecasted is not None:
        section, fans = forecasted
        with st.expander(section["title"], expanded=True):
            st.caption(section["note"])
            st.html(section["table"])
            show_figures(fans, per_row=2)
    show_figures([figure for figure in figures if figure[0] != "flow_diagram"])


def show_figures(figures: Drawn, per_row: int = 1) -> None:
    for start in range(0, len(figures), per_row):
        for column, (_, caption, image) in zip(st.columns(per_row), figures[start:start + per_row], strict=False):
            column.image(image, caption=caption)


# ---------------------------------------------------------------------------- comparison and plan
def comparison_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The headline metrics of each level, as ``continuum compare`` prints them: paired rows only."""
    paired = ~table["method"].isin(NOT_COMPARED.values())
    shown = table[paired & table["metric"].isin(HEADLINE_METRICS) & (table["level"] != "all")]
    return shown.assign(metric=shown["metric"].map(lambda metric: LABELS.get(metric, metric)))[COMPARISON_SHOWN]


def show_comparison(table: pd.DataFrame, chart: bytes) -> None:
    st.caption("Your changed scenario minus the one loaded, per level: paired 95% intervals on common random "
               "numbers (the same seed and replications). clear: the interval excludes 0, so the difference is "
               "real, not chance.")
    st.dataframe(comparison_rows(table), hide_index=True)
    st.image(chart)


def show_plan(capacities: pd.DataFrame, staffing: pd.DataFrame | None, targets: str) -> None:
    st.caption(f"The fewest places meeting {targets} with 95% confidence, verified on fresh random numbers.")
    st.dataframe(capacities.rename(columns=sim.report.PLAN_LABELS), hide_index=True)
    if staffing is not None:
        st.markdown("**Staff the planned capacities need** (FTE, mean and 95% interval)")
        st.dataframe(labelled(staffing))


# ---------------------------------------------------------------------------- downloads
def results_zip(results: sim.Results) -> bytes:
    """The files ``continuum run --no-report`` writes (summary.csv, daily.csv, ...), zipped."""
    with TemporaryDirectory() as folder:
        written = sim.write_results(results, Path(folder) / "results")
        return _zipped(written)


def report_html(results: sim.Results) -> bytes:
    """``report.html`` as ``continuum run`` writes it: one file, its figures embedded."""
    with TemporaryDirectory() as folder:
        return sim.report.write_report(results, folder).read_bytes()


def _zipped(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


def file_stem(scenario: Scenario) -> str:
    """A file name for downloads: the scenario file's stem, or its name made safe."""
    stem = Path(scenario.source).stem if scenario.source != "<dict>" else scenario.name
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in stem) or "scenario"


def downloads(scenario: Scenario, results: sim.Results | None) -> None:
    """The changed scenario as YAML; with results, their CSV files zipped and the report."""
    stem = file_stem(scenario)
    columns = st.columns(3)
    columns[0].download_button("Scenario (YAML)", scenario.to_yaml(), file_name=f"{stem}.yaml",
                               mime="application/x-yaml", key="download_yaml", on_click="ignore")
    columns[0].caption("With your changes; it runs unchanged with continuum run FILE.")
    if results is None:
        columns[1].caption("Run to download the results and the report.")
        return
    columns[1].download_button("Results (zip of CSV files)", lambda: results_zip(results),
                               file_name=f"{stem}_results.zip", mime="application/zip", key="download_zip",
                               on_click="ignore")
    columns[1].caption("The files continuum run writes: summary.csv, daily.csv, monthly.csv, ...")
    columns[2].download_button("Report (report.html)", lambda: report_html(results), file_name=f"{stem}_report.html",
                               mime="text/html", key="download_report", on_click="ignore")
    columns[2].caption("The report continuum run writes, its figures embedded.")
