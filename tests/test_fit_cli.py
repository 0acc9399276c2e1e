"""`continuum fit` from the planner's side: an extract in, a fitted scenario and its report out, or one clear
message and nothing written.

The extracts are small simulations written as a region would export them (about 2,400 episodes
over 400 days of a three-level continuum with relapse; a two-group one for patient groups), so
each fit takes a second or two. The happy path's extract has five rows under a level label the
base does not have, as real extracts do: they are left out, counted and listed. Bad extracts are
the good one spoiled in one way each. Fixtures are per module: the whole file takes under 30 s on
one core, about 23 s on two.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from conftest import CHROMIUM, SCENARIOS, exponential, level, rendered_dom

import sim
from sim.cli import main
from sim.extract import episodes_as_extract

START = "2023-01-01"
TRUTH = {
    "name": "fit from the command line",
    "run": {"warmup_days": 120, "days": 400, "replications": 3, "seed": 16},
    "levels": {
        "inpatient": level(20, {"dist": "lognormal", "median": 7, "p90": 19},
                           {"php": 0.3, "outpatient": 0.5, "discharged": 0.2}, referrals_per_year=500),
        "php": level(15, {"dist": "lognormal", "median": 17, "p90": 40},
                     {"outpatient": 0.7, "dropped_out": 0.1, "discharged": 0.2}, referrals_per_year=150,
                     patience=exponential(20), gave_up={"dropped_out": 1}),
        "outpatient": level(200, {"dist": "gamma", "mean": 60, "sd": 40}, {"discharged": 0.8, "dropped_out": 0.2},
                            referrals_per_year=600),
    },
    "relapse": {"after_discharged": {"probability": 0.2, "time": exponential(120)},
                "return_to": {"inpatient": 0.6, "outpatient": 0.4}},
}
GROUPS = {
    "name": "two groups",
    "run": {"warmup_days": 120, "days": 400, "replications": 1, "seed": 3},
    "levels": {"inpatient": level(40, {"dist": "lognormal", "median": 5, "p90": 12},
                                  {"outpatient": 0.6, "discharged": 0.4}, referrals_per_year=1800),
               "outpatient": level(400, exponential(40), {"discharged": 1}, referrals_per_year=1800)},
    "groups": {"adult": {"share_of_referrals": {"inpatient": 0.7, "outpatient": 0.4}},
               "youth": {"share_of_referrals": {"inpatient": 0.3, "outpatient": 0.6},
                         "levels": {"outpatient": {"los": exponential(60)}}}},
}
NOISE = ("Traceback", "Error:", "pandas", "pydantic", "Input should")
"""Words that would mean Python leaked through to the planner (a message starts "error: ", lower case)."""
RENAMED = {"patient": "PatientID", "level": "Unit", "referred": "RefDate", "admitted": "AdmitDate",
           "discharged": "DischDate", "discharge_to": "DischTo"}
LABELS = {"inpatient": "Acute Psych", "dropped_out": "AMA"}


def invoke(*args):
    return CliRunner().invoke(main, [str(arg) for arg in args])


def fit_cli(*args):
    return invoke("fit", *args)


def written_by_simulation(data: dict, folder, name: str, as_of_day: float | None = None):
    """``data`` simulated once and written as an extract (day 0 on START) and as a base scenario file."""
    truth = sim.validate(data)
    results = sim.run(truth, replications=1, jobs=1, progress=False, keep_episodes=True)
    extract = folder / f"{name}.csv"
    episodes_as_extract(results.episodes, START, truth.level_names, as_of_day).to_csv(extract, index=False)
    base = folder / f"{name}_base.yaml"
    base.write_text(yaml.safe_dump(truth.to_dict(), sort_keys=False), encoding="utf-8")
    return extract, base, results.episodes


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """One good extract, its base scenario, and one too short to fit (45 days)."""
    folder = tmp_path_factory.mktemp("made")
    extract, base, episodes = written_by_simulation(TRUTH, folder, "episodes")
    short = folder / "short.csv"
    episodes_as_extract(episodes, START, list(TRUTH["levels"]), as_of_day=45).to_csv(short, index=False)
    return {"extract": extract, "base": base, "short": short, "table": read_table(extract)}


def read_table(path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def happy(made, tmp_path_factory):
    """The good extract with five PHP rows under a label the base does not have (real extracts have a few
    such rows: they are left out, counted and listed), fitted with a back-test and a report."""
    folder = tmp_path_factory.mktemp("happy")
    table = made["table"].copy()
    strange = table.index[table["level"].eq("php") & table["discharged"].ne("")][:5]
    table.loc[strange, "level"] = "Day Program"
    extract, out, report = folder / "five_strange.csv", folder / "fitted.yaml", folder / "report"
    table.to_csv(extract, index=False)
    done = fit_cli(extract, "--base", made["base"], "--out", out, "--holdout-days", 60, "--report", report)
    assert done.exit_code == 0, done.output
    return {"out": out, "report": report, "done": done, "strange_rows": sorted(strange + 2)}


@pytest.fixture(scope="module")
def plain(made, tmp_path_factory):
    """The good extract fitted without a hold-out: what the mapped extracts must come back to."""
    out = tmp_path_factory.mktemp("plain") / "plain.yaml"
    done = fit_cli(made["extract"], "--base", made["base"], "--out", out, "--quiet")
    assert done.exit_code == 0, done.output
    return out


def fitted_dict(path) -> dict:
    """The fitted scenario as data, less its description (which names the extract file it came from)."""
    data = sim.load_scenario(path).to_dict()
    data.pop("description")
    return data


# ---------------------------------------------------------------------------- the happy path
def test_the_fitted_file_is_a_scenario_that_validates_and_runs(happy, tmp_path):
    out, done = happy["out"], happy["done"]
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# Fitted by continuum")
    scenario = sim.load_scenario(out)
    assert list(scenario.level_names) == ["inpatient", "php", "outpatient"]
    assert str(scenario.run.start_date) == "2023-12-07"      # the day after the cut: 60 days before the end
    assert "Back-test over the last 60 days" in done.stdout and "Fitted scenario written to" in done.stdout
    checked = invoke("validate", out)
    assert checked.exit_code == 0 and "valid" in checked.output, checked.output
    ran = invoke("run", out, "--replications", 2, "--set", "run.days=30", "--no-report", "--jobs", 1, "--quiet",
                 "--out", tmp_path / "run")
    assert ran.exit_code == 0, ran.output
    assert (tmp_path / "run" / "summary.csv").exists()


def test_the_report_folder_holds_the_report_its_tables_and_figures(happy):
    out, report = happy["out"], happy["report"]
    names = {path.relative_to(report).as_posix() for path in report.rglob("*") if path.is_file()}
    expected = {"fit_report.html", "fitted.yaml", "problems.csv", "fit_stays.csv", "backtest_daily.csv",
                "manifest.json", "figures/probability_plots.png", "figures/backtest_census.png",
                "figures/backtest_admissions.png"}
    assert expected <= names, expected - names
    manifest = json.loads((report / "manifest.json").read_text())
    assert manifest["kind"] == "fit" and set(manifest["files"]) == names - {"manifest.json"}
    assert (report / "fitted.yaml").read_text() == out.read_text()
    daily = pd.read_csv(report / "backtest_daily.csv")
    assert set(daily["level"]) == {"inpatient", "php", "outpatient"} and daily["day"].max() == 59
    stays = pd.read_csv(report / "fit_stays.csv")
    assert stays["chosen"].sum() >= 3


def test_a_few_rows_at_a_level_not_in_the_base_are_left_out_counted_and_listed(happy):
    out, report, done = happy["out"], happy["report"], happy["done"]
    assert "5 rows left out" in done.stdout and "unknown level" in done.stdout
    problems = pd.read_csv(report / "problems.csv")
    assert sorted(problems["row"]) == happy["strange_rows"]      # the CSV's lines, the header being line 1
    assert set(problems["reason"]) == {"unknown level"}
    assert problems["detail"].str.contains("'Day Program'").all()
    assert "5 rows left out: unknown level (5)" in out.read_text()


@pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"), reason="chromium is not installed here")
def test_the_fit_report_renders_in_headless_chromium_with_every_figure(happy, tmp_path):
    report = happy["report"]
    dom = rendered_dom(report / "fit_report.html", tmp_path)
    figures = len(list((report / "figures").glob("*.png")))
    assert figures == 3 and f'data-images="ok:{figures}"' in dom
    assert 'data-errors="0"' in dom
    assert "Back-test: the last 60 days held out" in dom and "Stays and patience" in dom


# ---------------------------------------------------------------------------- bad extracts
def spoiled(made, tmp_path, change) -> Path:
    """The good extract with one change made to its table, written as a new CSV."""
    table = change(made["table"].copy())
    path = tmp_path / "spoiled.csv"
    table.to_csv(path, index=False)
    return path


def most_rows(table: pd.DataFrame, column: str, value) -> pd.DataFrame:
    rows = table.index[: int(len(table) * 0.8)]
    table.loc[rows, column] = value(table.loc[rows, column]) if callable(value) else value
    return table


def american(dates: pd.Series) -> pd.Series:
    """ISO dates as 01/31/2023, the way a spreadsheet may export them."""
    parsed = pd.to_datetime(dates.where(dates != ""))
    return parsed.dt.strftime("%m/%d/%Y").fillna("")


BAD = {   # case: (the extract as a change to the table, or bytes for the file; extra options; fragments)
    "missing columns": (lambda table: table.drop(columns=["admitted", "discharge_to"]), [],
                        ["has no column 'admitted'", "'discharge_to'", "--columns admitted=YourColumn"]),
    "unparsable dates": (lambda table: most_rows(table, "admitted", american), [],
                         ["rows cannot be used", "unparsable date", "(2, 3, 4", "admitted '", "YYYY-MM-DD"]),
    "not a CSV": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06", [],
                  ["spoiled.csv: is not a CSV file"]),
    "empty": (b"", [], ["spoiled.csv: the file is empty"]),
    "header only": (b"patient,level,referred,admitted,discharged,discharge_to\n", [],
                    ["no rows below the header"]),
    "levels not in the base": (lambda table: most_rows(table, "level", "Acute Psych"), [],
                               ["rows cannot be used", "unknown level", "'Acute Psych'",
                                "inpatient, php, outpatient", "--levels"]),
    "as-of before the start": (lambda table: table, ["--as-of", "2020-01-01"],
                               ["every episode was referred after the as-of date"]),
    "start after the as-of date": (lambda table: table, ["--as-of", "2023-06-30", "--start", "2023-07-01"],
                                   ["the start 2023-07-01 is after the as-of date 2023-06-30"]),
}


def assert_refused(done, out, report, *fragments: str) -> None:
    """Status 2, one short message naming what is wrong, no traceback, and nothing written."""
    assert done.exit_code == 2, done.output
    assert done.stderr.startswith("error: "), done.stderr
    assert not any(word in done.stderr for word in NOISE), done.stderr
    assert len(done.stderr.splitlines()) < 25, done.stderr
    for fragment in fragments:
        assert fragment in done.stderr, f"{fragment!r} missing from:\n{done.stderr}"
    assert not out.exists() and not report.exists()


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_extract_is_refused_naming_the_column_or_rows_and_nothing_is_written(made, tmp_path, case):
    content, options, fragments = BAD[case]
    if isinstance(content, bytes):
        extract = tmp_path / "spoiled.csv"
        extract.write_bytes(content)
    else:
        extract = spoiled(made, tmp_path, content)
    before = extract.read_bytes()
    out, report = tmp_path / "fitted.yaml", tmp_path / "report"
    done = fit_cli(extract, "--base", made["base"], "--out", out, "--report", report, *options)
    assert_refused(done, out, report, *fragments)
    assert extract.read_bytes() == before


def test_an_extract_too_short_to_fit_says_how_long_it_is_and_what_is_needed(made, tmp_path):
    out, report = tmp_path / "fitted.yaml", tmp_path / "report"
    done = fit_cli(made["short"], "--base", made["base"], "--out", out, "--report", report)
    assert_refused(done, out, report, "short.csv: the extract covers", "at least 60 are needed")
    done = fit_cli(made["extract"], "--base", made["base"], "--out", out, "--holdout-days", 380)
    assert_refused(done, out, report, "after holding out the last 380 days", "fewer --holdout-days")


def test_rows_after_the_as_of_date_are_left_out_on_purpose_not_warned_about(made, tmp_path):
    out = tmp_path / "earlier.yaml"
    done = fit_cli(made["extract"], "--base", made["base"], "--out", out, "--as-of", "2023-10-01", "--quiet")
    assert done.exit_code == 0, done.output
    assert "could not be used" not in done.stderr, done.stderr     # a third of the rows, left out as asked
    assert "after as-of" in out.read_text().splitlines()[1]
    assert str(sim.load_scenario(out).run.start_date) == "2023-10-02"


def test_a_short_window_keeps_the_bases_referrals_it_cannot_fit_and_says_so(tmp_path):
    """220 days of the bundled extract (also reached with --holdout-days 900): the relapse fit cannot yet tell
    how many who left before the extract will return, so inpatient's new referrals cannot be told from those
    returns: the base's referrals are kept, flagged in the file and on stderr; without a base, exit 2."""
    out = tmp_path / "short.yaml"
    extract = SCENARIOS / "data" / "regional_adult_extract.csv"
    done = fit_cli(extract, "--base", SCENARIOS / "regional_adult.yaml", "--out", out, "--as-of", "2023-08-08",
                   "--quiet")
    assert done.exit_code == 0, done.stderr
    assert "base scenario's, not fitted" in done.stderr and "inpatient" in done.stderr
    assert "KEPT FROM THE BASE SCENARIO" in out.read_text()
    assert sim.load_scenario(out).levels["inpatient"].referrals_per_year == 1950
    alone = fit_cli(extract, "--out", tmp_path / "alone.yaml", "--as-of", "2023-08-08", "--quiet")
    assert alone.exit_code == 2 and "cannot be told from returns" in alone.stderr and "--base" in alone.stderr
    assert "Traceback" not in alone.stderr and not (tmp_path / "alone.yaml").exists()


# ---------------------------------------------------------------------------- the extract's own names
def mapped_extract(made, tmp_path):
    table = made["table"].copy()
    for column in ("level", "discharge_to"):
        table[column] = table[column].replace(LABELS)
    path = tmp_path / "their_names.csv"
    table.rename(columns=RENAMED).to_csv(path, index=False)
    return path


def test_columns_and_labels_mapped_by_options_or_a_file_fit_the_same_scenario(made, plain, tmp_path):
    extract = mapped_extract(made, tmp_path)
    columns = ",".join(f"{ours}={theirs}" for ours, theirs in RENAMED.items())
    labels = ",".join(f"{theirs}={ours}" for ours, theirs in LABELS.items())
    by_options = fit_cli(extract, "--base", made["base"], "--out", tmp_path / "options.yaml", "--quiet",
                         "--columns", columns, "--levels", labels)
    assert by_options.exit_code == 0, by_options.output
    mapping = tmp_path / "mapping.yaml"
    labelled = {theirs: ours for ours, theirs in LABELS.items()}
    mapping.write_text(yaml.safe_dump({"columns": RENAMED, "levels": labelled}), encoding="utf-8")
    by_file = fit_cli(extract, "--base", made["base"], "--out", tmp_path / "file.yaml", "--quiet", "--mapping", mapping)
    assert by_file.exit_code == 0, by_file.output
    expected = fitted_dict(plain)
    assert fitted_dict(tmp_path / "options.yaml") == expected
    assert fitted_dict(tmp_path / "file.yaml") == expected


def test_their_names_without_a_mapping_are_refused_saying_how_to_map_them(made, tmp_path):
    out, report = tmp_path / "fitted.yaml", tmp_path / "report"
    done = fit_cli(mapped_extract(made, tmp_path), "--base", made["base"], "--out", out)
    assert_refused(done, out, report, "has no column 'patient'", "'PatientID'", "--columns patient=YourColumn")


# ---------------------------------------------------------------------------- never lose a file
def test_a_file_continuum_did_not_write_is_kept_unless_overwrite_and_its_own_is_replaced(made, tmp_path):
    mine = tmp_path / "mine.yaml"
    mine.write_text("my own notes\n", encoding="utf-8")
    command = ["fit", made["extract"], "--base", made["base"], "--out", mine, "--quiet"]
    done = invoke(*command)
    assert_refused(done, tmp_path / "nothing.yaml", tmp_path / "report",
                   "mine.yaml exists and was not written by continuum fit", "--overwrite")
    assert mine.read_text() == "my own notes\n"
    replaced = invoke(*command, "--overwrite")
    assert replaced.exit_code == 0, replaced.output
    first = mine.read_text()
    assert first.startswith("# Fitted by continuum")
    again = invoke(*command)                 # the same command over its own earlier output: no --overwrite needed
    assert again.exit_code == 0, again.output
    assert mine.read_text() == first         # the same extract fits the same file, byte for byte
    assert [path.name for path in tmp_path.iterdir()] == ["mine.yaml"]   # nothing left beside it


@pytest.mark.parametrize("which", ["extract", "base"])
def test_out_at_an_input_is_refused_and_the_input_is_kept(made, tmp_path, which):
    before = made[which].read_bytes()
    for options in ([], ["--overwrite"]):
        done = fit_cli(made["extract"], "--base", made["base"], "--out", made[which], *options)
        assert_refused(done, tmp_path / "nothing.yaml", tmp_path / "report", "is an input of this fit")
        assert made[which].read_bytes() == before


# ---------------------------------------------------------------------------- without a base
def test_without_a_base_places_are_the_census_seen_flagged_to_check(made, tmp_path):
    out = tmp_path / "no_base.yaml"
    done = fit_cli(made["extract"], "--out", out, "--quiet")
    assert done.exit_code == 0, done.output
    lines = out.read_text().splitlines()
    capacity = [number for number, line in enumerate(lines) if line.startswith("    capacity:")]
    assert len(capacity) == 3
    assert all("ASSUMPTION TO CHECK" in lines[number - 1] for number in capacity)
    assert "warning: Places at" in done.stderr and "--base" in done.stderr
    scenario = sim.load_scenario(out)
    seen = made["table"]
    assert set(scenario.level_names) == set(seen["level"])
    for spec in scenario.levels.values():
        assert spec.capacity[0].capacity >= max(1, spec.initial.census)     # at least everyone in a place today


# ---------------------------------------------------------------------------- patient groups
@pytest.fixture(scope="module")
def grouped(tmp_path_factory):
    folder = tmp_path_factory.mktemp("groups")
    extract, base, _ = written_by_simulation(GROUPS, folder, "grouped")
    out = folder / "fitted.yaml"
    done = fit_cli(extract, "--base", base, "--out", out, "--quiet")
    assert done.exit_code == 0, done.output
    return out


def test_an_extract_with_groups_fits_each_groups_share_of_referrals(grouped, tmp_path):
    """About 2,000 new patients a level: a share's standard error is at most 0.011, so 0.03 is near 3 of them."""
    scenario = sim.load_scenario(grouped)
    assert list(scenario.group_names) == ["adult", "youth"]
    for group, spec in GROUPS["groups"].items():
        fitted = scenario.groups[group].share_of_referrals
        for level_name, share in spec["share_of_referrals"].items():
            assert fitted[level_name] == pytest.approx(share, abs=0.03), (group, level_name)
    ran = invoke("run", grouped, "--replications", 1, "--set", "run.days=30", "--no-report", "--jobs", 1, "--quiet",
                 "--out", tmp_path / "run")
    assert ran.exit_code == 0, ran.output
    assert set(pd.read_csv(tmp_path / "run" / "groups.csv")["group"]) == {"adult", "youth"}
