"""Figures: each returns a Figure with the expected panels and something drawn in them, on small
tables built here and on the tables of a short real run; save writes PNG and SVG."""

from __future__ import annotations

import subprocess
import sys
from datetime import date

import numpy as np
import pandas as pd
import pytest
from conftest import SCENARIOS
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, Polygon

import sim
from sim import figure_style, flow_figure, plots

LEVELS = ["ward", "day", "clinic"]


# ---------------------------------------------------------------------------- small tables
def daily_table(places_closed: bool = False) -> pd.DataFrame:
    rows = []
    for replication in range(3):
        for day in range(-5, 10):
            for index, level in enumerate(LEVELS):
                capacity = 10.0 * (index + 1)
                places = capacity + (2.0 if places_closed and day >= 3 else 0.0)
                census = min(capacity, 3.0 + day + index + replication)
                waitlist = float(max(0, day - 4 + replication)) if level == "ward" else 0.0
                rows.append((replication, day, level, "warm-up" if day < 0 else "measured", max(census, 0.0),
                             waitlist, 0.0, int(waitlist), capacity, places, places - capacity))
    return pd.DataFrame(rows, columns=["replication", "day", "level", "period", "census", "waitlist", "held",
                                       "waitlist_max", "capacity", "places", "closed_places"])


def summary_table() -> pd.DataFrame:
    rows = []
    for index, level in enumerate([*LEVELS, "all"]):
        for metric, mean in (("occupancy", 0.7 + 0.1 * index), ("blocked_days_per_year", 100.0 * index),
                             ("wait_p90_days", 3.0 + index), ("waitlist_mean", 2.0 * index)):
            rows.append((level, metric, mean, mean * 0.9, mean * 1.1, mean * 0.05, 3))
    return pd.DataFrame(rows, columns=["level", "metric", "mean", "ci_low", "ci_high", "std", "replications"])


def wait_quantile_table() -> pd.DataFrame:
    quantiles = np.round(np.linspace(0, 1, 101), 2)
    frames = []
    for replication in range(3):
        for index, level in enumerate(LEVELS):
            waits = np.full(101, np.nan) if level == "clinic" else (index + 1) * 10 * quantiles ** 2 + replication
            frames.append(pd.DataFrame({"replication": replication, "level": level, "quantile": quantiles,
                                        "wait_days": waits}))
    return pd.concat(frames, ignore_index=True)


FLOWS = [("community", "ward", 900.0), ("community", "clinic", 3000.0), ("relapse", "ward", 400.0),
         ("ward", "day", 500.0), ("ward", "clinic", 300.0), ("ward", "dropped_out", 500.0),
         ("day", "clinic", 400.0), ("day", "ward", 60.0), ("day", "discharged", 40.0), ("clinic", "day", 20.0),
         ("clinic", "discharged", 3000.0), ("clinic", "dropped_out", 680.0), ("clinic", "gave_up", 15.0)]


def flow_table(rows: list[tuple[str, str, float]] = FLOWS) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["source", "target", "per_year"])


def staffing_table(totals: bool = True) -> pd.DataFrame:
    roles = [("ward", "nurse"), ("ward", "doctor"), ("day", "therapist"), ("clinic", "therapist")]
    if totals:
        roles.append(("all", "all"))
    rows = []
    for level, role in roles:
        for basis, factor in (("mean", 1.0), ("p90", 1.2), ("capacity", 1.5)):
            fte = 10.0 * factor * (2 if level == "all" else 1)
            rows.append((level, role, "ratio", basis, 20.0 * factor, fte, fte * 0.9, fte * 1.1, fte * 9e4,
                         fte * 8e4, fte * 1e5, 3))
    return pd.DataFrame(rows, columns=["level", "role", "basis", "census_basis", "census", "fte", "fte_ci_low",
                                       "fte_ci_high", "cost_per_year", "cost_ci_low", "cost_ci_high",
                                       "replications"])


def comparison_table() -> pd.DataFrame:
    rows = []
    for scenario, sign in (("more day places", -1.0), ("growing demand", 1.0)):
        for index, level in enumerate(LEVELS):
            for metric in ("wait_p90_days", "occupancy", "waitlist_mean"):
                difference = sign * (index + 1) * (0.02 if metric == "occupancy" else 2.0)
                spread = abs(difference) * (1.5 if level == "day" else 0.5)
                rows.append((scenario, level, metric, 5.0, 5.0 + difference, difference, difference - spread,
                             difference + spread, difference / 5.0, level != "day", 3, "paired"))
    return pd.DataFrame(rows, columns=["scenario", "level", "metric", "base", "alternative", "difference",
                                       "ci_low", "ci_high", "relative_change", "clear", "replications", "method"])


def sweep_table(second_key: bool = False) -> pd.DataFrame:
    rows = []
    grid = [(capacity, seats) for capacity in (10, 20, 30) for seats in ((5, 8) if second_key else (5,))]
    for point, (capacity, seats) in enumerate(grid):
        for index, level in enumerate(LEVELS):
            mean = 40.0 / capacity + index + seats / 10
            rows.append((capacity, seats, point, level, "wait_p90_days", mean, mean * 0.8, mean * 1.2, 1.0, 3))
    table = pd.DataFrame(rows, columns=["levels.ward.capacity", "levels.day.capacity", "point", "level", "metric",
                                        "mean", "ci_low", "ci_high", "std", "replications"])
    return table if second_key else table.drop(columns="levels.day.capacity")


def assert_drawn(figure: Figure, axes: int) -> None:
    """A Figure with ``axes`` panels, each holding data, and text somewhere (titles, labels)."""
    assert isinstance(figure, Figure)
    assert len(figure.axes) == axes
    for ax in figure.axes:
        assert ax.has_data()
    assert figure.texts or any(ax.get_title(loc) for ax in figure.axes for loc in ("left", "center"))


def texts(figure: Figure) -> list[str]:
    return [text.get_text() for ax in figure.axes for text in ax.texts] + [text.get_text() for text in figure.texts]


# ---------------------------------------------------------------------------- colours and saving
def test_level_colors_are_okabe_ito_in_order_and_all_is_black():
    colors = plots.level_colors(["inpatient", "php", "iop", "outpatient", "all"])
    assert list(colors)[:4] == ["inpatient", "php", "iop", "outpatient"]
    assert [colors[level] for level in ("inpatient", "php", "iop", "outpatient")] == list(figure_style.OKABE_ITO[:4])
    assert colors["all"] == "#000000"
    assert plots.level_colors(["php"])["php"] == plots.level_colors(["php", "iop"])["php"]


def test_save_writes_png_and_svg(tmp_path):
    paths = plots.save(plots.occupancy_and_blocking(summary_table(), LEVELS), tmp_path / "figures", "occupancy")
    assert [path.name for path in paths] == ["occupancy.png", "occupancy.svg"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = paths[1].read_text(encoding="utf-8")
    assert "<svg" in svg and "<dc:date>" not in svg
    again = plots.save(plots.occupancy_and_blocking(summary_table(), LEVELS), tmp_path / "again", "occupancy")
    assert [path.read_bytes() for path in again] == [path.read_bytes() for path in paths]   # no random ids


# ---------------------------------------------------------------------------- each figure, small tables
def test_census_over_time_has_two_panels_per_level_and_shades_warmup():
    figure = plots.census_over_time(daily_table(), LEVELS, warmup_days=5)
    assert_drawn(figure, 2 * len(LEVELS))
    legend = [text.get_text() for text in figure.legends[0].get_texts()]
    assert "Warm-up (not measured)" in legend and not any("Places" in label for label in legend)
    assert "No one waited" in texts(figure)


def test_census_over_time_says_what_day_0_is():
    """Day 0 is the end of the warm-up where there is one, else the run's first day (today, for a run from today)."""
    labels = {warmup: {axes.get_xlabel() for axes in plots.census_over_time(daily_table(), LEVELS, warmup).axes}
              for warmup in (5, 0)}
    assert "Day (0 = end of warm-up; measured from there on)" in labels[5]
    assert "Day of the run (0 = its first day)" in labels[0] and not any("warm-up" in label for label in labels[0])


def test_census_over_time_draws_places_when_some_are_closed():
    figure = plots.census_over_time(daily_table(places_closed=True), LEVELS, warmup_days=5)
    assert any("Places" in text.get_text() for text in figure.legends[0].get_texts())


def test_fan_chart_draws_the_measured_period_with_two_bands_and_the_capacity_steps():
    figure = plots.fan_chart(daily_table(places_closed=True), "ward")
    assert_drawn(figure, 2)
    census, waiting = figure.axes
    assert len(census.collections) == 2 and len(waiting.collections) == 2    # the 90% and the 50% band
    median, capacity, places = census.get_lines()
    assert min(median.get_xdata()) == 0                                       # no warm-up in a forecast
    assert list(capacity.get_ydata()) == [10.0] * 10 and places.get_linestyle() == ":"
    assert list(places.get_ydata()) == [10.0] * 3 + [12.0] * 7              # a step, never a ramp
    legend = [text.get_text() for text in figure.legends[0].get_texts()]
    assert legend[1:3] == ["Half of replications within", "Nine in ten within"]
    assert "Places (incl. closed)" in legend and figure.get_suptitle().startswith("ward: forecast")


def test_fan_chart_runs_along_the_calendar_from_the_start_date():
    figure = plots.fan_chart(daily_table(), "day", start_date=date(2027, 3, 1))
    line = figure.axes[0].get_lines()[0]
    assert line.get_xdata()[0] == np.datetime64("2027-03-01")
    assert figure.axes[1].get_xlabel() == "Date (day 0 is 1 March 2027)"
    assert "No one waited" in texts(figure)


def test_wait_curves_names_share_over_target_and_levels_without_admissions():
    figure = plots.wait_curves(wait_quantile_table(), LEVELS, target_days=7)
    assert_drawn(figure, 1)
    labels = figure.axes[0].get_legend_handles_labels()[1]
    # ward waits 10 q^2 + 0, 1, 2 days: at most 7 days up to q = 0.83, 0.77, 0.70 on the 1% grid,
    # so 17%, 23% and 30% waited longer
    assert labels[0] == "ward: 23% waited over 7 days"
    assert labels[2] == "clinic: no admissions"
    assert plots.wait_curves(wait_quantile_table(), LEVELS, target_days=None).axes[0].has_data()


def test_wait_curves_and_blocking_say_so_when_no_one_waited_or_was_held():
    no_waits = wait_quantile_table().assign(wait_days=0.0)
    assert "No one waited: every admission started the day it was referred" in texts(
        plots.wait_curves(no_waits, LEVELS, target_days=7))
    summary = summary_table()
    summary.loc[summary["metric"] == "blocked_days_per_year", ["mean", "ci_low", "ci_high"]] = 0.0
    assert "No one was held: every patient moved on when ready" in texts(plots.occupancy_and_blocking(summary,
                                                                                                      LEVELS))


def test_flow_diagram_draws_bands_to_scale_step_ups_as_arrows_and_a_relapse_loop():
    figure = plots.flow_diagram(flow_table(), LEVELS)
    assert_drawn(figure, 1)
    ax = figure.axes[0]
    bands = [patch for patch in ax.patches if isinstance(patch, Polygon)]
    step_ups = [patch for patch in ax.patches if isinstance(patch, FancyArrowPatch)]
    assert len(bands) == len(FLOWS) - 2 and len(step_ups) == 2  # day->ward and clinic->day step up
    thickness = sorted(round(float(np.ptp(band.get_xy()[[0, -2], 1]))) for band in bands)
    forward = [volume for source, target, volume in FLOWS if (source, target) not in {("day", "ward"),
                                                                                       ("clinic", "day")}]
    assert thickness == sorted(round(volume) for volume in forward)
    words = " ".join(texts(figure))
    assert "Relapse: 400 a year come back into care" in words and "3,000" in words and "Gave up waiting" in words


def test_flow_diagram_faces_never_overflow():
    diagram = flow_figure._FlowDiagram(flow_figure._sort_flows(flow_table(), LEVELS), LEVELS, Figure().add_subplot(),
                                 height_points=400)
    for node in diagram.nodes.values():
        assert node.used["in"] <= node.height + 1e-6 and node.used["out"] <= node.height + 1e-6


def test_flow_diagram_reads_relapse_given_by_the_exit_people_left_by():
    rows = [("community", "ward", 100.0), ("ward", "discharged", 80.0), ("ward", "dropped_out", 20.0),
            ("discharged", "ward", 10.0), ("dropped_out", "ward", 15.0)]
    book = flow_figure._sort_flows(flow_table(rows), LEVELS)
    assert book.into[("relapse", "ward")] == 25.0 and book.returns == {"discharged": 10.0, "dropped_out": 15.0}
    words = " ".join(texts(plots.flow_diagram(flow_table(rows), LEVELS)))
    assert "Relapse: 25 a year come back into care (10 after discharged, 15 after dropped out)" in words


def test_flow_diagram_without_relapse_or_flows():
    figure = plots.flow_diagram(flow_table([("community", "ward", 10.0), ("ward", "discharged", 10.0)]), LEVELS)
    assert not any("Relapse" in text for text in texts(figure))
    assert "No patient flows to show" in texts(plots.flow_diagram(flow_table([]), LEVELS))


def test_occupancy_and_blocking_has_two_panels_with_intervals():
    figure = plots.occupancy_and_blocking(summary_table(), LEVELS)
    assert_drawn(figure, 2)
    assert {"70%", "80%", "90%", "0", "100", "200"} <= set(texts(figure))


def test_staffing_chart_one_bar_per_level_and_role():
    figure = plots.staffing_chart(staffing_table())
    assert_drawn(figure, 1)
    labels = [label.get_text() for label in figure.axes[0].get_yticklabels()]
    assert labels == ["ward: nurse", "ward: doctor", "day: therapist", "clinic: therapist"]
    assert figure.axes[0].get_title("left").startswith("In total 20 FTE at the mean census (18-22)")
    assert plots.staffing_chart(staffing_table(totals=False)).axes[0].has_data()


def test_comparison_chart_one_panel_per_metric():
    figure = plots.comparison_chart(comparison_table())
    assert_drawn(figure, 3)
    assert [label.get_text() for label in figure.axes[0].get_yticklabels()] == LEVELS
    lonely = plots.comparison_chart(comparison_table(), metrics=("wait_p90_days", "readmit_30d_share"))
    assert len(lonely.axes) == 2 and "not in this comparison" in texts(lonely)


def test_comparison_chart_tells_untouched_metrics_from_chance():
    def legend_labels(figure):
        return [text.get_text() for legend in figure.legends for text in legend.get_texts()]

    assert "The same in every replication" not in legend_labels(plots.comparison_chart(comparison_table()))
    table = comparison_table()
    untouched = table["level"] == LEVELS[0]
    table.loc[untouched, ["difference", "ci_low", "ci_high"]] = 0.0
    table.loc[untouched, "clear"] = False
    assert "The same in every replication" in legend_labels(plots.comparison_chart(table))


def test_sweep_curve_one_panel_per_other_key_value():
    figure = plots.sweep_curve(sweep_table(), "levels.ward.capacity")
    assert_drawn(figure, 1)
    assert figure.axes[0].get_xlabel() == "ward capacity (places)"
    assert_drawn(plots.sweep_curve(sweep_table(second_key=True), "levels.ward.capacity"), 2)


def test_sweep_curve_takes_a_key_that_is_not_a_number():
    table = sweep_table().assign(**{"levels.ward.capacity": lambda t: t["levels.ward.capacity"].map(
        {10: "fifo", 20: "transfers_first", 30: "fifo_again"})})
    figure = plots.sweep_curve(table, "levels.ward.capacity")
    assert [label.get_text() for label in figure.axes[0].get_xticklabels()] == ["fifo", "transfers_first",
                                                                                  "fifo_again"]


# ---------------------------------------------------------------------------- a short real run
@pytest.fixture(scope="module")
def real() -> sim.Results:
    scenario = sim.load_scenario(SCENARIOS / "regional_adult.yaml").with_changes(
        {"run.replications": 2, "run.warmup_days": 100, "run.days": 200})
    return sim.run(scenario, jobs=1, progress=False)


def test_real_census_occupancy_and_staffing(real):
    levels = real.scenario.level_names
    assert_drawn(plots.census_over_time(real.daily, levels, real.scenario.run.warmup_days), 2 * len(levels))
    assert_drawn(plots.occupancy_and_blocking(real.summary, levels), 2)
    assert_drawn(plots.staffing_chart(real.staffing), 1)


def test_real_fan_charts(real):
    for level in real.scenario.level_names:
        assert_drawn(plots.fan_chart(real.daily, level, date(2027, 1, 15)), 2)


def test_real_wait_curves(real):
    table = real.wait_quantiles
    assert_drawn(plots.wait_curves(table, real.scenario.level_names, real.scenario.run.wait_target_days), 1)


def test_real_flow_diagram(real):
    assert_drawn(plots.flow_diagram(real.flows, real.scenario.level_names), 1)


def test_real_comparison_and_sweep_tables(real):
    """The comparison and sweep figures on tables shaped as sim.compare and sim.sweep return them
    (built from this run's summary rather than running more scenarios)."""
    summary = real.summary[real.summary["metric"].isin(["wait_p90_days", "occupancy", "waitlist_mean"])]
    comparison = summary.assign(scenario="same again", base=summary["mean"], alternative=summary["mean"],
                                difference=0.0, ci_low=0.0, ci_high=0.0, relative_change=0.0, clear=False,
                                method="paired")
    assert_drawn(plots.comparison_chart(comparison), 3)
    points = [summary.assign(**{"levels.php.capacity": capacity, "point": point}) for point, capacity
              in enumerate((150, 180))]
    sweep = pd.concat(points, ignore_index=True)[["levels.php.capacity", "point", *summary.columns]]
    assert_drawn(plots.sweep_curve(sweep, "levels.php.capacity"), 1)


def test_import_sim_gives_plots_on_first_use_without_loading_matplotlib_up_front():
    code = ("import sys, sim; before = 'matplotlib' in sys.modules; "
            "figure = sim.plots.census_over_time; print(before, 'sim.plots' in sys.modules)")
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert shown == ["False", "True"]


def test_a_level_drawn_alone_keeps_its_colour():
    figure = plots.sweep_curve(sweep_table(), "levels.ward.capacity", levels=[LEVELS[1]])
    drawn = {line.get_color() for ax in figure.axes for line in ax.get_lines() if len(line.get_xdata()) > 1}
    assert drawn == {plots.level_colors(LEVELS)[LEVELS[1]]}


# ---------------------------------------------------------------------------- drawing into your own axes
def test_two_figures_side_by_side_in_one_figure_of_yours(tmp_path):
    figure = Figure(figsize=(16, 5), layout="constrained")
    left, right = figure.subplots(1, 2)
    assert plots.wait_curves(wait_quantile_table(), LEVELS, target_days=7, ax=left) is figure
    assert plots.staffing_chart(staffing_table(), ax=right) is figure
    assert figure.axes == [left, right] and left.has_data() and right.has_data()
    assert left.get_legend_handles_labels()[1][0] == "ward: 23% waited over 7 days"
    assert [label.get_text() for label in right.get_yticklabels()][0] == "ward: nurse"
    assert figure.get_suptitle() == ""            # your figure's title stays yours
    assert plots.save(figure, tmp_path, "both")[0].stat().st_size > 0
    alone = plots.wait_curves(wait_quantile_table(), LEVELS, target_days=7)   # by default, a figure of its own
    assert alone is not figure and len(alone.axes) == 1 and len(figure.axes) == 2


def test_figures_of_several_panels_draw_into_an_array_of_your_axes():
    figure = Figure(figsize=(14, 12), layout="constrained")
    grid = figure.subfigures(3, 1)
    census = grid[0].subplots(len(LEVELS), 2)
    assert plots.census_over_time(daily_table(), LEVELS, warmup_days=5, ax=census) is figure
    assert all(ax.has_data() for ax in census.ravel()) and census[1, 0].get_title("left") == "day"
    assert "Warm-up (not measured)" in [text.get_text() for text in census[-1, -1].get_legend().get_texts()]
    four = grid[1].subplots(1, 4)
    plots.comparison_chart(comparison_table(), ax=four[:3])
    plots.sweep_curve(sweep_table(), "levels.ward.capacity", ax=four[3])
    assert [label.get_text() for label in four[2].get_yticklabels()] == LEVELS
    flow, occupancy, blocked = grid[2].subplots(1, 3)
    assert plots.flow_diagram(flow_table(), LEVELS, ax=flow) is figure
    assert plots.occupancy_and_blocking(summary_table(), LEVELS, ax=[occupancy, blocked]) is figure
    assert len(figure.axes) == 2 * len(LEVELS) + 4 + 3 and all(ax.has_data() for ax in figure.axes)
    assert not any(part.legends for part in (figure, *grid)) and figure.get_suptitle() == ""
    assert any("Relapse: 400 a year" in text.get_text() for text in flow.texts)


def test_axes_of_the_wrong_number_or_kind_are_refused_saying_what_is_wanted():
    figure = Figure()
    one, two = figure.subplots(1, 2)
    with pytest.raises(sim.ScenarioError) as refused:
        plots.occupancy_and_blocking(summary_table(), LEVELS, ax=one)
    assert "sim.plots.occupancy_and_blocking" in str(refused.value)
    assert "ax = 1 Axes: should be 2 Axes (occupancy, blocked days), e.g. figure.subplots(1, 2)" in str(refused.value)
    with pytest.raises(ValueError, match=r"ax = 2 Axes: should be 6 Axes, two per level .* figure.subplots\(3, 2\)"):
        plots.census_over_time(daily_table(), LEVELS, warmup_days=5, ax=[one, two])
    with pytest.raises(ValueError, match="ax = str: should be one matplotlib Axes"):
        plots.flow_diagram(flow_table(), LEVELS, ax="left")
    with pytest.raises(ValueError, match="ax = 2 Axes: should be one matplotlib Axes"):
        plots.wait_curves(wait_quantile_table(), LEVELS, target_days=7, ax=[one, two])
    with pytest.raises(ValueError, match=r"ax = 1 Axes: should be 2 Axes \(in care, waiting\)"):
        plots.fan_chart(daily_table(), "ward", ax=one)
    assert not one.has_data() and not two.has_data()


def test_a_fan_chart_draws_into_your_axes_with_its_legend_beside():
    figure = Figure(figsize=(10, 6), layout="constrained")
    panels = figure.subplots(2, 1, sharex=True)
    assert plots.fan_chart(daily_table(), "ward", ax=panels) is figure
    assert all(ax.has_data() for ax in panels) and not figure.legends and figure.get_suptitle() == ""
    assert panels[-1].get_legend().get_title().get_text() == "ward"
