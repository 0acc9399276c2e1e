"""Figures and report for patient groups: the groups chart, a flow diagram per group, and the
report's group sections; the per-group flows add up to the levels' and leave a run without groups
as it was."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from conftest import CHROMIUM, SCENARIOS, exponential, level, rendered_dom
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from test_groups import CONTINUUM, CONTINUUM_GROUPS, RELAPSE, two_groups

import sim
from sim import plots
from sim.engine import Model
from sim.figure_style import level_colors
from sim.records import PERIODS
from sim.results import GROUP_COLUMNS, estimate_text, levels_reached

GOLDEN = SCENARIOS.parent / "tests" / "golden" / "small_continuum.yaml"
LEVELS = list(CONTINUUM)
GROUPS = list(CONTINUUM_GROUPS)


@pytest.fixture(scope="module")
def grouped() -> sim.Results:
    scenario = two_groups(CONTINUUM, CONTINUUM_GROUPS, days=1000, replications=3, relapse=RELAPSE)
    return sim.run(scenario, jobs=1, progress=False)


def bars(panel) -> list[float]:
    return [patch.get_height() for patch in panel.patches if isinstance(patch, Rectangle)]


# ---------------------------------------------------------------------------- the groups chart
def test_the_chart_has_a_panel_per_metric_and_group_with_the_groups_means(grouped):
    metrics = ("wait_mean_days", "census_mean")
    figure = plots.groups_chart(grouped.groups, metrics)
    assert len(figure.axes) == len(metrics) * len(GROUPS)
    rows = grouped.groups.set_index(["group", "level", "metric"])["mean"]
    for index, panel in enumerate(figure.axes):
        metric, group = metrics[index // len(GROUPS)], GROUPS[index % len(GROUPS)]
        reached = levels_reached(grouped.groups, group)
        expected = [rows[(group, name, metric)] if name in reached else 0.0 for name in LEVELS]
        assert bars(panel) == pytest.approx(np.nan_to_num(expected), abs=1e-12), (metric, group)
        assert [label.get_text() for label in panel.get_xticklabels()] == LEVELS
        colors = [tuple(patch.get_facecolor()[:3]) for patch in panel.patches]
        assert colors == [pytest.approx(_rgb(level_colors(LEVELS)[name])) for name in LEVELS]
        if index < len(GROUPS):
            assert panel.get_title(loc="left") == group


def _rgb(color: str) -> tuple[float, ...]:
    return tuple(int(color[i: i + 2], 16) / 255 for i in (1, 3, 5))


def test_each_row_of_panels_shares_one_scale_and_unreached_levels_say_so(grouped):
    figure = plots.groups_chart(grouped.groups)
    for row in (figure.axes[: len(GROUPS)], figure.axes[len(GROUPS):]):
        assert len({panel.get_ylim() for panel in row}) == 1
    teen = figure.axes[GROUPS.index("teen")]
    assert "teen_clinic" not in levels_reached(grouped.groups, "adult")
    assert [text.get_text() for text in teen.texts].count("not used") == 1          # clinic: no teen goes there
    adult = figure.axes[GROUPS.index("adult")]
    assert [text.get_text() for text in adult.texts].count("not used") == 1         # teen_clinic: adults are refused


def test_the_chart_draws_into_the_callers_axes_and_refuses_the_wrong_number(grouped):
    figure = Figure(figsize=(9, 3.5), layout="constrained")
    assert plots.groups_chart(grouped.groups, ("occupancy",), ax=figure.subplots(1, 3)) is figure
    with pytest.raises(sim.SettingsError, match="3 Axes, one per metric and group"):
        plots.groups_chart(grouped.groups, ("occupancy",), ax=Figure().subplots(1, 2))


def test_levels_keep_the_scenarios_order_and_colours_when_the_first_group_is_refused_one():
    """A level that refuses a group has no rows of it: the first group's rows alone miss ``teen_unit``."""
    scenario_order = ["ward", "day_unit", "teen_unit", "clinic"]
    reach = {"adult": ["ward", "day_unit", "clinic"], "teen": ["ward", "teen_unit", "clinic"]}
    rows = [(group, name, metric, 2.0, 1.0, 3.0, 0.5, 3) for group, names in reach.items()
            for name in [*names, "all"] for metric in ("census_mean", "arrivals_per_year")]
    table = pd.DataFrame(rows, columns=GROUP_COLUMNS)
    for levels in (None, scenario_order):
        figure = plots.groups_chart(table, ("census_mean",), levels=levels)
        for panel in figure.axes:
            assert [label.get_text() for label in panel.get_xticklabels()] == scenario_order
            colors = [tuple(patch.get_facecolor()[:3]) for patch in panel.patches]
            assert colors == [pytest.approx(_rgb(level_colors(scenario_order)[name])) for name in scenario_order]


def test_crowded_level_names_are_slanted_and_a_narrow_not_used_stands_on_end():
    rows = [(group, name, "census_mean", mean, mean, mean, 0.0, 3)
            for group in ("first", "second")
            for name, mean in (("an_inpatient_ward", 4.0), ("a_partial_hospital", 0.0), ("an_outpatient_clinic", 9.0))]
    rows += [(group, name, "arrivals_per_year", mean, mean, mean, 0.0, 3) for group, name, _, mean, *_ in rows]
    table = pd.DataFrame(rows, columns=GROUP_COLUMNS)
    figure = Figure(figsize=(4, 3), layout="constrained")
    plots.groups_chart(table, ("census_mean",), ax=figure.subplots(1, 2))
    for panel in figure.axes:
        assert {label.get_rotation() for label in panel.get_xticklabels()} == {30.0}
        (missing,) = [text for text in panel.texts if text.get_text() == "not used"]
        assert missing.get_rotation() == 90.0


# ---------------------------------------------------------------------------- flows per group
def test_the_groups_flows_add_up_to_the_levels_flows(grouped):
    summed = grouped.group_flows.groupby(["source", "target"])["per_year"].sum()
    flows = grouped.flows.set_index(["source", "target"])["per_year"]
    assert set(summed.index) == set(flows.index)
    pd.testing.assert_series_equal(summed.reindex(flows.index), flows, rtol=1e-12, check_names=False)


def test_a_groups_flows_follow_its_own_rules(grouped):
    flows = grouped.group_flows
    teen = flows[flows["group"] == "teen"]
    assert set(teen["source"]) | set(teen["target"]) <= {"community", "relapse", "ward", "teen_clinic", "discharged",
                                                          "dropped_out", "gave_up", "turned_away"}
    assert not flows[(flows["group"] != "teen") & flows["target"].eq("teen_clinic")].shape[0]
    # sud relapses after dropping out 80% of the time, the others 50%: more of its patients come back
    back = flows[flows["source"] == "relapse"].groupby("group")["per_year"].sum()
    out = flows[flows["target"] == "dropped_out"].groupby("group")["per_year"].sum()
    assert back["sud"] / out["sud"] > back["adult"] / out["adult"]


def test_a_groups_relapses_are_counted_as_they_happen_and_one_group_counts_them_all():
    model = Model(sim.load_scenario(GOLDEN), 0).run()
    for period in PERIODS:
        system = model.system_tallies[period]
        assert system.group_relapses_to == [system.relapses_to] and sum(system.relapses_to) == system.relapses
    grouped = Model(two_groups(CONTINUUM, CONTINUUM_GROUPS, days=400, replications=1, relapse=RELAPSE), 0).run()
    for system in grouped.system_tallies.values():
        assert [sum(column) for column in zip(*system.group_relapses_to, strict=True)] == system.relapses_to


def test_a_run_without_groups_has_no_group_flows():
    results = sim.run(sim.load_scenario(GOLDEN).with_changes({"run.replications": 1}), jobs=1, progress=False)
    assert results.group_flows is None and results.groups is None
    with pytest.raises(sim.SettingsError, match="no groups"):
        results.headline(group="adult")


# ---------------------------------------------------------------------------- the flow diagram of one group
def test_a_groups_flow_diagram_shows_its_levels_in_their_usual_colours(grouped):
    figure = plots.flow_diagram(grouped.group_flows, LEVELS, group="teen")
    headers = {text.get_text(): text.get_color() for text in figure.axes[0].texts}
    colors = level_colors(LEVELS)
    assert headers["ward"] == colors["ward"] and headers["teen_clinic"] == colors["teen_clinic"]
    assert "clinic" not in headers
    assert "teen patients" in figure._suptitle.get_text()
    relapse = [text for text in headers if text.startswith("Relapse:")]
    assert relapse and relapse[0].startswith(f"Relapse: {_teen_returns(grouped):,.0f} a year")


def _teen_returns(results: sim.Results) -> float:
    flows = results.group_flows
    return flows[(flows["group"] == "teen") & (flows["source"] == "relapse")]["per_year"].sum()


def test_a_group_needs_the_flows_per_group(grouped):
    with pytest.raises(sim.SettingsError, match="Results.group_flows"):
        plots.flow_diagram(grouped.flows, LEVELS, group="teen")
    figure = plots.flow_diagram(grouped.group_flows, LEVELS, group="nobody")
    assert any("No flows of patient group 'nobody'" in text.get_text() for text in figure.axes[0].texts)


def test_a_groups_headline_is_its_own_figures(grouped):
    table = grouped.headline(group="sud")
    wanted = grouped.groups.query("group == 'sud' and level == 'ward' and metric == 'admissions_per_year'")
    assert table.loc["ward", "admissions_per_year"] == estimate_text(wanted.iloc[0])
    assert table.loc["ward", "admissions_per_year"] != grouped.headline().loc["ward", "admissions_per_year"]
    with pytest.raises(sim.SettingsError, match="adult, sud, teen"):
        grouped.headline(group="children")


# ---------------------------------------------------------------------------- the report
@pytest.fixture(scope="module")
def report(grouped, tmp_path_factory):
    return sim.write_results(grouped, tmp_path_factory.mktemp("groups") / "run", report=True)


def test_the_report_of_a_grouped_run_has_a_section_per_group(report):
    html = (report / "report.html").read_text(encoding="utf-8")
    written = {path.name for path in (report / "figures").iterdir()}
    assert "<h2>Patient groups</h2>" in html
    for group in GROUPS:
        assert f"<h3>Group: {group}</h3>" in html
        assert {f"flow_diagram_{group}.png", f"flow_diagram_{group}.svg"} <= written
    assert (report / "figures" / "groups_chart.png").exists()
    assert html.count("data:image/png;base64,") == 4 + 1 + len(GROUPS)
    teen = html[html.index("<h3>Group: teen</h3>"):]
    assert "it never reached clinic" in teen[: teen.index("</table>")]


@pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"), reason="chromium is not installed here")
def test_the_grouped_report_renders_in_headless_chromium(report, tmp_path):
    dom = rendered_dom(report / "report.html", tmp_path)
    assert f'data-images="ok:{4 + 1 + len(GROUPS)}"' in dom and 'data-errors="0"' in dom


@pytest.mark.parametrize("groups", [None, {"everyone": {}}], ids=["no groups", "one group"])
def test_the_report_of_a_run_without_several_groups_has_no_group_section(groups, tmp_path):
    ward = level(8, exponential(5), {"discharged": 1}, referrals_per_year=400)
    data = {"name": "plain", "run": {"warmup_days": 30, "days": 200, "replications": 2, "seed": 3},
            "levels": {"ward": ward}, **({"groups": groups} if groups else {})}
    results = sim.run(sim.validate(data), jobs=1, progress=False)
    folder = sim.write_results(results, tmp_path / "run", report=True)
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert "Patient groups" not in html and "<h3>" not in html
    assert not any(path.name.startswith(("groups_chart", "flow_diagram_")) for path in (folder / "figures").iterdir())
