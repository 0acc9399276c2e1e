"""The planner's page through Streamlit's app testing API: load, a form error, a run, a comparison, a plan,
downloads equal to the command line's, and bad uploads.

AppTest runs the page in this process; its runs go to the shared worker pool (worker processes), so a
test presses a button and reruns the page until the session's job is done, as the browser's fragment does.
"""

from __future__ import annotations

import io
import math
import re
import time
import zipfile

import pytest
from click.testing import CliRunner
from conftest import ROOT, SCENARIOS

import sim
from sim.app import forms, views
from sim.app.jobs import LIMITS
from sim.cli import main

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

pytestmark = pytest.mark.xdist_group("app")
"""The app's tests share one test process: one worker pool and one Streamlit import, not one per process."""

FAST = {"replications": 2, "days": 200}
"""Run settings that make teaching_mmc a second's work."""


def page(scenario: str = "teaching_step_down.yaml") -> AppTest:
    at = AppTest.from_file(str(ROOT / "sim" / "app" / "main.py"), default_timeout=60).run()
    if at.selectbox(key="scenario_choice").value != scenario:
        at.selectbox(key="scenario_choice").set_value(scenario).run()
    assert not at.exception, at.exception
    return at


def press(at: AppTest, button: str, **values: object) -> AppTest:
    for key, value in values.items():
        at.number_input(key=key).set_value(value)
    return at.button(key=button).click().run()


def job(at: AppTest) -> object:
    return at.session_state.get("job")


def finished(at: AppTest, seconds: float = 60) -> AppTest:
    """Rerun the page until the session's job is done and collected."""
    deadline = time.monotonic() + seconds
    while job(at) is not None:
        assert time.monotonic() < deadline, "the job did not finish"
        time.sleep(0.2)
        at.run()
    assert not at.exception, at.exception
    return at


def errors(at: AppTest) -> list[str]:
    return [element.value for element in at.error]


def cli_problem(assignment: str) -> str:
    """The problem ``continuum validate --set`` prints for teaching_step_down, without its line number."""
    done = CliRunner().invoke(main, ["validate", str(SCENARIOS / "teaching_step_down.yaml"), "--set", assignment])
    assert done.exit_code == 2, done.output
    problem = done.output.split("\n  - ")[1].strip()
    return re.sub(r"^line \d+, ", "", problem)


# ---------------------------------------------------------------------------- the page
def test_a_scenario_loads_with_its_table_of_levels_and_its_own_form():
    at = page()
    assert list(at.dataframe[0].value.index) == ["inpatient", "php"]
    assert at.number_input(key="capacity:php").value == 20
    at.selectbox(key="scenario_choice").set_value("teaching_mmc.yaml").run()
    assert list(at.dataframe[0].value.index) == ["ward"]
    assert at.number_input(key="stay:ward").value == pytest.approx(4)
    # a level of the same name in the next scenario shows that scenario's values, not the ones typed before
    at.selectbox(key="scenario_choice").set_value("teaching_step_down.yaml").run()
    at.number_input(key="capacity:inpatient").set_value(3)
    at.selectbox(key="scenario_choice").set_value("teaching_acute_unit.yaml").run()
    unit = forms.load_bundled("teaching_acute_unit.yaml").levels["inpatient"]
    assert at.number_input(key="capacity:inpatient").value == unit.capacity[0].capacity
    assert at.number_input(key="referrals:inpatient").value == pytest.approx(unit.referrals_per_year)


@pytest.mark.parametrize("field, value, assignment", [
    ("capacity:php", -1, "levels.php.capacity=-1"),
    ("next:inpatient:php", 0.5, "levels.inpatient.next.php=0.5"),
], ids=["negative places", "shares not summing to 1"])
def test_a_form_error_shows_the_command_lines_message_and_runs_nothing(field, value, assignment):
    at = press(page(), "run", **{field: value})
    shown = "\n".join(errors(at))
    assert cli_problem(assignment).replace("(changed on the command line)", "(changed in the form)") in shown, shown
    assert job(at) is None and not at.exception


def test_a_run_finishes_with_mean_waits_and_its_downloads_are_the_command_lines(tmp_path):
    at = finished(press(page("teaching_mmc.yaml"), "run", **FAST))
    metrics = {metric.label: float(metric.value) for metric in at.metric}
    assert set(metrics) == {"ward: mean wait (days)"} and metrics["ward: mean wait (days)"] > 0
    assert {button.key for button in at.get("download_button")} == {"download_yaml", "download_zip", "download_report"}
    results, scenario = at.session_state["results"]["answer"].results, at.session_state["scenario"]
    # the downloaded scenario runs unchanged with continuum run, and gives the files of the downloaded zip
    (tmp_path / "app.yaml").write_text(scenario.to_yaml(), encoding="utf-8")
    done = CliRunner().invoke(main, ["run", str(tmp_path / "app.yaml"), "--out", str(tmp_path / "cli"), "--jobs", "1",
                                     "--no-report", "--quiet"])
    assert done.exit_code == 0, done.output
    with zipfile.ZipFile(io.BytesIO(views.results_zip(results))) as archive:
        assert sorted(archive.namelist()) == sorted(path.name for path in (tmp_path / "cli").iterdir())
        for name in ("summary.csv", "replications.csv", "daily.csv", "monthly.csv", "scenario.yaml"):
            assert archive.read(name) == (tmp_path / "cli" / name).read_bytes(), name


def test_a_comparison_shows_each_difference_with_its_interval_and_clear_flag():
    at = finished(press(page("teaching_mmc.yaml"), "compare", **FAST, **{"capacity:ward": 23}))
    table = next(frame.value for frame in at.dataframe if "clear" in frame.value.columns)
    occupancy = table[table["metric"] == sim.report.COLUMN_LABELS["occupancy"]].iloc[0]
    assert occupancy["level"] == "ward" and occupancy["clear"] and occupancy["ci_high"] < 0
    assert set(table["metric"]) >= {sim.report.COLUMN_LABELS[name] for name in ("wait_mean_days", "wait_p90_days")}


def test_a_plan_finds_places_for_a_target():
    at = page("teaching_mmc.yaml")
    at.number_input(key="replications").set_value(3)
    at.number_input(key="days").set_value(300)
    at.button(key="apply").click().run()
    at.text_input(key="target").set_value("wait_p90_days<=3")
    at = finished(at.button(key="plan").click().run(), seconds=90)
    planned = at.session_state["planned"]["capacities"]
    assert list(planned["level"]) == ["ward"] and planned["planned_capacity"].iloc[0] >= 20
    at.button(key="use_plan").click().run()
    assert at.session_state["scenario"].levels["ward"].capacity[0].capacity == planned["planned_capacity"].iloc[0]


def test_a_scenario_starting_from_today_shows_its_forecast_and_fan_charts():
    """regional_adult starts from today's census and waitlist: its results have the report's forecast section
    (when waits first pass the target, the months, one fan chart per level), as ``continuum run`` writes it."""
    at = finished(press(page("regional_adult.yaml"), "run", replications=2, days=90))
    answer = at.session_state["results"]["answer"]
    assert answer.forecast is not None
    section, fans = answer.forecast
    assert [element.label for element in at.expander] == [section["title"]] == ["Forecast month by month"]
    scenario = sim.load_scenario(SCENARIOS / "regional_adult.yaml")
    assert len(fans) == len(scenario.level_names) and all(image.startswith(b"\x89PNG") for _, _, image in fans)
    alone = sim.run(scenario.with_changes({"run.replications": 2, "run.days": 90}), jobs=1, progress=False)
    assert answer.results.monthly.equals(alone.monthly)


# ---------------------------------------------------------------------------- bad uploads
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
TOO_BIG = b"# a comment\n" * (LIMITS["upload_bytes"] // 12 + 1)


def yaml_of(**run: int) -> bytes:
    return (f"run: {run}\nlevels:\n  ward: {{capacity: 5, los: {{dist: exponential, mean: 3}}, "
            "referrals_per_year: 300, next: {discharged: 1}}\n").encode()


@pytest.mark.parametrize("name, data, says", [
    ("broken.yaml", b"levels:\n  ward: {capacity: 5\n", "not valid YAML"),
    ("picture.png", PNG, "YAML"),
    ("picture.yaml", PNG, "cannot be read"),
    ("big.yaml", TOO_BIG, "MB"),
    ("many.yaml", yaml_of(replications=10**6), "run.replications"),
    ("long.yaml", yaml_of(days=365 * 10**4), "run.days"),
], ids=["broken YAML", "a PNG", "a PNG named .yaml", "50 MB", "10^6 replications", "10^4 years"])
def test_a_bad_upload_gets_a_clear_message_and_the_page_goes_on(name, data, says):
    at = page()
    at.file_uploader(key="upload").set_value((name, data, "application/octet-stream")).run()
    assert not at.exception, at.exception
    shown = errors(at) or [element.value for element in at.get("alert")]
    assert any(says in text for text in shown), shown
    assert not at.number_input and job(at) is None
    at.file_uploader(key="upload").set_value(None).run()
    assert not errors(at) and at.number_input(key="capacity:php").value == 20


def test_without_a_scenarios_folder_upload_still_works(monkeypatch, tmp_path):
    monkeypatch.setattr(forms, "SCENARIO_FOLDER", tmp_path / "none")   # an installed wheel has no scenarios folder
    at = AppTest.from_file(str(ROOT / "sim" / "app" / "main.py"), default_timeout=60).run()
    assert not at.exception and not at.number_input and "upload a scenario" in at.info[0].value
    text = (SCENARIOS / "teaching_mmc.yaml").read_bytes()
    at.file_uploader(key="upload").set_value(("mmc.yaml", text, "application/x-yaml")).run()
    assert not at.exception and at.number_input(key="capacity:ward").value == 20


def test_an_uploaded_file_says_what_the_command_line_says(tmp_path):
    text = b"run: {days: 100}\nlevels:\n  ward: {capacity: -3, los: {dist: exponential, mean: 3}, next: {home: 1}}\n"
    (tmp_path / "mine.yaml").write_bytes(text)
    with pytest.raises(sim.ScenarioError) as expected:
        sim.load_scenario(tmp_path / "mine.yaml")
    with pytest.raises(sim.ScenarioError) as found:
        forms.load_upload("mine.yaml", text)
    assert str(found.value) == str(expected.value).replace(str(tmp_path / "mine.yaml"), "mine.yaml")
    assert "line 3" in str(found.value)


# ---------------------------------------------------------------------------- the form's fields
@pytest.mark.parametrize("name", forms.bundled_scenarios())
def test_the_form_as_loaded_changes_nothing(name):
    scenario = forms.load_bundled(name)
    values = {field.key: field.value for field in forms.every_field(scenario)}
    assert forms.changes(scenario, values) == {}


def test_a_new_mean_stay_keeps_the_shape_of_every_stay():
    scenario = forms.load_bundled("teaching_step_down.yaml")
    php = scenario.levels["php"]
    changed = forms.changed(scenario, {"stay:php": 2 * php.mean_stay_days}).levels["php"]
    assert changed.mean_stay_days == pytest.approx(2 * php.mean_stay_days)
    for before, after in [(php.los, changed.los), (php.next["dropped_out"].los, changed.next["dropped_out"].los)]:
        assert before is not None and after is not None
        old, new = before.sampler(), after.sampler()
        assert new.mean == pytest.approx(2 * old.mean)
        assert math.sqrt(new.variance) / new.mean == pytest.approx(math.sqrt(old.variance) / old.mean)


def test_every_family_of_stay_scales_to_the_mean_asked_for():
    specs = [{"dist": "exponential", "mean": 4, "max": 30}, {"dist": "lognormal", "mu": 1.5, "sigma": 0.6},
             {"dist": "gamma", "mean": 5, "sd": 2}, {"dist": "weibull", "shape": 1.5, "scale": 6},
             {"dist": "triangular", "low": 1, "mode": 3, "high": 9}, {"dist": "uniform", "low": 2, "high": 4},
             {"dist": "fixed", "value": 7}, {"dist": "empirical", "values": [1, 2, 9]}]
    for spec in specs:
        level = {"capacity": 5, "los": spec, "referrals_per_year": 100, "next": {"discharged": 1}}
        scenario = sim.validate({"levels": {"ward": level}})
        mean = scenario.levels["ward"].mean_stay_days
        changed = forms.changed(scenario, {"stay:ward": 1.7 * mean})
        assert changed.levels["ward"].mean_stay_days == pytest.approx(1.7 * mean, rel=1e-6), spec
