"""The report: generated sentences, a self-contained file, and a real headless Chromium render."""

from __future__ import annotations

import os
import re

import pytest
from conftest import CHROMIUM, SCENARIOS, rendered_dom

import sim
from sim.report import findings


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    scenario = sim.load_scenario(SCENARIOS / "regional_adult.yaml").with_changes(
        {"run.replications": 2, "run.warmup_days": 200, "run.days": 300})
    results = sim.run(scenario, jobs=1, progress=False)
    return results, sim.write_results(results, tmp_path_factory.mktemp("report") / "run", report=True)


def test_report_and_figures_are_written_whole(folder):
    _, path = folder
    names = {p.name for p in (path / "figures").iterdir()}
    for figure in ("census_over_time", "wait_curves", "flow_diagram", "occupancy_and_blocking", "staffing"):
        assert {f"{figure}.png", f"{figure}.svg"} <= names
    html = (path / "report.html").read_text()
    assert "http://" not in html and "https://" not in html        # nothing to fetch: works offline
    assert html.count("data:image/png;base64,") == 5
    assert "STRESS-DES" in html and "levels:" in html               # checklist and the scenario as run


def test_findings_are_sentences_from_the_numbers(folder):
    results, _ = folder
    sentences = findings(results)
    p90 = results.summary.query("level == 'inpatient' and metric == 'wait_p90_days'")["mean"].iloc[0]
    assert sentences[0].startswith("inpatient: 90% of patients start within")
    assert re.search(r"within ([0-9.]+) days", sentences[0]).group(1) in (f"{p90:.0f}", f"{p90:.1f}")
    assert any("readmitted" in sentence for sentence in sentences)


@pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"), reason="chromium is not installed here")
def test_report_renders_in_headless_chromium_without_errors(folder, tmp_path):
    _, path = folder
    dom = rendered_dom(path / "report.html", tmp_path)
    assert 'data-images="ok:5"' in dom
    assert 'data-errors="0"' in dom
