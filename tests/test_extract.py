"""Reading a region's extract: clean rows come back as days from its start, bad rows are named by line
and reason, wrong files fail with a message that says what to do; a simulated run written as an
extract reads back to its own (whole-day) times."""

import numpy as np
import pandas as pd
import pytest
from conftest import SCENARIOS

import sim
from sim.extract import (
    AFTER_AS_OF,
    REQUIRED,
    ExtractError,
    Mapping,
    episodes_as_extract,
    parse_pairs,
    read_extract,
    read_mapping,
)

HEADER = ",".join(REQUIRED)
GOOD = [                                                          # row
    "A,inpatient,2024-01-01,2024-01-01,2024-01-05,php",           # 2
    "A,php,2024-01-05,2024-01-06,2024-01-20,discharged",          # 3
    "B,inpatient,2024-01-02,2024-01-03,2024-01-09,dropped_out",   # 4
    "C,php,2024-01-03,,2024-01-10,dropped_out",                   # 5: left the waitlist unadmitted
    "D,inpatient,2023-12-20,2023-12-28,,",                        # 6: in care since before the extract
    "E,php,2024-01-15,,,",                                        # 7: still waiting
]
LEVELS = ("inpatient", "php")


def write(tmp_path, lines, header=HEADER, name="extract.csv"):
    path = tmp_path / name
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


def test_a_clean_extract_reads_as_days_from_the_first_discharge_date(tmp_path):
    extract = read_extract(write(tmp_path, GOOD), levels=LEVELS)
    # D was admitted on 2023-12-28, before the first discharge (2024-01-05): the extract starts part-way
    assert extract.start == pd.Timestamp("2024-01-05") and extract.as_of == pd.Timestamp("2024-01-20")
    assert extract.as_of_day == 16 and extract.resolution_days == 1.0 and extract.problems.empty
    episodes = extract.episodes.set_index("row")
    assert list(extract.episodes.columns) == ["row", "patient", "level", "referred", "admitted", "discharged",
                                              "discharge_to"]
    assert list(extract.episodes["row"]) == [2, 3, 4, 5, 6, 7]   # by patient, then referred
    assert episodes.loc[2, ["referred", "admitted", "discharged"]].tolist() == [-4, -4, 0]
    assert episodes.loc[5, "admitted"] != episodes.loc[5, "admitted"] and episodes.loc[5, "discharged"] == 5
    assert np.isnan(episodes.loc[6, "discharged"]) and episodes.loc[6, "discharge_to"] == ""
    assert extract.levels == LEVELS and extract.groups is None


def test_with_no_admission_before_the_first_discharge_the_extract_starts_at_the_first_referral(tmp_path):
    lines = ["A,inpatient,2024-01-01,2024-01-01,2024-01-01,discharged", "B,php,2023-12-31,2024-01-02,,"]
    assert read_extract(write(tmp_path, lines)).start == pd.Timestamp("2023-12-31")


BAD = {   # reason: (the row added as line 8, what its detail says, options)
    "missing patient": (",inpatient,2024-01-02,2024-01-02,2024-01-04,discharged", "(empty)", {}),
    "missing level": ("F,,2024-01-02,2024-01-02,2024-01-04,discharged", "(empty)", {}),
    "missing referred": ("F,inpatient,,2024-01-02,2024-01-04,discharged", "(empty)", {}),
    "unparsable date": ("F,inpatient,2024-01-02,01/03/2024,2024-01-04,discharged", "admitted '01/03/2024'", {}),
    "unknown level": ("F,inpatent,2024-01-02,2024-01-02,2024-01-04,discharged", "did you mean 'inpatient'?",
                      {"levels": LEVELS}),
    "unknown discharge_to": ("F,inpatient,2024-01-02,2024-01-02,2024-01-04,home", "'home'", {"levels": LEVELS}),
    "admitted before referred": ("F,inpatient,2024-01-05,2024-01-02,2024-01-08,discharged",
                                 "admitted 2024-01-02, referred 2024-01-05", {}),
    "discharge before admission": ("F,inpatient,2024-01-02,2024-01-05,2024-01-03,discharged",
                                   "discharged 2024-01-03, admitted 2024-01-05", {}),
    "discharged before referred": ("F,php,2024-01-05,,2024-01-03,dropped_out", "discharged 2024-01-03", {}),
    "discharge_to without discharge": ("F,inpatient,2024-01-02,2024-01-02,,discharged", "'discharged'", {}),
    "discharge without discharge_to": ("F,inpatient,2024-01-02,2024-01-02,2024-01-04,", "2024-01-04", {}),
    "overlapping stays": ("A,inpatient,2024-01-03,2024-01-04,2024-01-08,discharged", "admitted 2024-01-04", {}),
    AFTER_AS_OF: ("F,inpatient,2024-02-01,2024-02-01,,", "referred 2024-02-01", {"as_of": "2024-01-31"}),
}


@pytest.mark.parametrize("reason", list(BAD))
def test_each_kind_of_bad_row_is_set_aside_with_its_line_and_reason(tmp_path, reason):
    line, detail, options = BAD[reason]
    extract = read_extract(write(tmp_path, [*GOOD, line]), **options)
    assert extract.problems[["row", "reason"]].values.tolist() == [[8, reason]]
    assert detail in extract.problems["detail"].iloc[0]
    assert sorted(extract.episodes["row"]) == [2, 3, 4, 5, 6, 7]
    assert extract.problem_counts().values.tolist() == [[reason, 1, "8"]]


def test_of_two_overlapping_stays_the_later_is_set_aside_wherever_it_is_in_the_file(tmp_path):
    # one long stay with two short ones inside it (lines 9 and 10): both overlap it, though not each other
    lines = [*GOOD, "A,inpatient,2023-12-25,2023-12-26,2024-01-03,discharged",
             "G,php,2024-01-01,2024-01-01,2024-01-11,discharged", "G,php,2024-01-02,2024-01-02,2024-01-04,discharged",
             "G,php,2024-01-06,2024-01-06,2024-01-08,discharged", "G,php,2024-01-11,2024-01-11,2024-01-12,discharged"]
    problems = read_extract(write(tmp_path, lines)).problems
    assert problems[["row", "reason"]].values.tolist() == [[2, "overlapping stays"], [10, "overlapping stays"],
                                                           [11, "overlapping stays"]]


def test_a_row_reports_only_the_first_problem_found(tmp_path):
    extract = read_extract(write(tmp_path, [*GOOD, ",inpatient,2024-01-05,2024-01-02,bad,"]))
    assert extract.problems["reason"].tolist() == ["missing patient"]


def test_an_empty_group_is_a_problem_and_groups_are_kept(tmp_path):
    lines = [line + ",adult" for line in GOOD] + ["F,php,2024-01-02,2024-01-02,2024-01-04,discharged,"]
    extract = read_extract(write(tmp_path, [*lines], header=HEADER + ",group"))
    assert extract.problems[["row", "reason"]].values.tolist() == [[8, "missing group"]]
    assert extract.groups == ("adult",) and extract.episodes.columns[-1] == "group"


def test_when_most_rows_are_bad_it_stops_saying_how_many_by_reason_and_where(tmp_path):
    lines = [*GOOD[:2], *(f"X{i},php,1/{i}/2024,,," for i in range(1, 5)), "Y,ward,2024-01-02,,,"]
    with pytest.raises(ExtractError) as caught:
        read_extract(write(tmp_path, lines), levels=LEVELS)
    message = str(caught.value)
    assert "extract.csv: 5 of 7 rows cannot be used (more than 50%)" in message
    assert "unparsable date: 4 rows (4, 5, 6, 7); dates are YYYY-MM-DD" in message
    assert "unknown level: 1 row (8)" in message and "--levels" in message
    assert read_extract(write(tmp_path, lines), levels=LEVELS, most_bad_share=0.8).problems["row"].tolist() == [
        4, 5, 6, 7, 8]


def test_rows_after_the_as_of_date_do_not_count_as_bad(tmp_path):
    extract = read_extract(write(tmp_path, GOOD), as_of="2024-01-04")
    assert extract.problems[["row", "reason"]].values.tolist() == [[3, AFTER_AS_OF], [7, AFTER_AS_OF]]
    assert extract.start == pd.Timestamp("2023-12-20")   # no discharge by 01-04: the first referral
    with pytest.raises(ExtractError, match="every episode was referred after the as-of date"):
        read_extract(write(tmp_path, GOOD), as_of="2023-01-01")


def test_a_missing_column_is_named_with_the_columns_the_file_has_and_how_to_map_it(tmp_path):
    path = write(tmp_path, ["A,inpatient,2024-01-01,2024-01-01,2024-01-05,discharged"],
                 header="patient,level,referred,Admitted,discharged,discharge_to")
    with pytest.raises(ExtractError) as caught:
        read_extract(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: the extract has no column 'admitted' (did you mean 'Admitted'?)")
    assert "'patient', 'level', 'referred', 'Admitted', 'discharged', 'discharge_to'" in message
    assert "--columns admitted=YourColumn" in message and "mapping YAML" in message


@pytest.mark.parametrize(("content", "expected"), [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10", "is not a CSV file (it holds binary data)"),
    (b"", "the file is empty: the extract has no episodes"),
    (b"\n\n", "the file is empty"),
    (HEADER.encode() + b"\n", "the extract has no episodes (no rows below the header)"),
    (HEADER.encode() + b"\n,,,,,\n\n", "the extract has no episodes"),
    (b"name: Regional\nlevels:\n  inpatient: {capacity: 20}\n", "is it an extract CSV?"),
], ids=["png", "empty", "blank", "header only", "bare commas", "yaml"])
def test_a_file_that_is_not_an_extract_is_refused_naming_it(tmp_path, content, expected):
    path = tmp_path / "upload.csv"
    path.write_bytes(content)
    with pytest.raises(ExtractError, match="upload.csv: ") as caught:
        read_extract(path)
    assert expected in str(caught.value)


def test_a_missing_file_a_folder_and_a_file_too_big_are_refused(tmp_path, monkeypatch):
    with pytest.raises(ExtractError, match="no such file"):
        read_extract(tmp_path / "nowhere.csv")
    with pytest.raises(ExtractError, match="is a folder"):
        read_extract(tmp_path)
    monkeypatch.setattr("sim.extract.MAX_BYTES", 100)
    with pytest.raises(ExtractError, match="an extract may be; export only the columns"):
        read_extract(write(tmp_path, GOOD))


REGIONAL_HEADER = "PatientID,Unit,RefDate,AdmitDate,DischDate,DischTo"
REGIONAL = ["7,Acute Psych,2024-01-01,2024-01-01,2024-01-05,PHP", "7,PHP,2024-01-05,2024-01-05,2024-01-09,AMA",
            "8,Acute Psych,2023-12-30,2023-12-31,,"]


def test_columns_and_labels_are_mapped_from_the_command_line_or_a_yaml_file(tmp_path):
    path = write(tmp_path, REGIONAL, header=REGIONAL_HEADER)
    columns = parse_pairs("patient=PatientID, level=Unit,referred=RefDate,admitted=AdmitDate,discharged=DischDate,"
                          "discharge_to=DischTo", "--columns")
    labels = parse_pairs("Acute Psych=inpatient,PHP=php,AMA=dropped_out", "--levels")
    from_options = read_extract(path, Mapping(columns, labels), levels=LEVELS)
    mapping_file = tmp_path / "mapping.yaml"
    mapping_file.write_text("columns: {patient: PatientID, level: Unit, referred: RefDate, admitted: AdmitDate,\n"
                            "          discharged: DischDate, discharge_to: DischTo}\n"
                            "levels:\n  Acute Psych: inpatient\n  PHP: php\n  AMA: dropped_out\n", encoding="utf-8")
    from_file = read_extract(path, read_mapping(mapping_file), levels=LEVELS)
    pd.testing.assert_frame_equal(from_options.episodes, from_file.episodes)
    assert from_file.problems.empty and from_file.episodes["level"].tolist() == ["inpatient", "php", "inpatient"]
    assert from_file.episodes["discharge_to"].tolist() == ["php", "dropped_out", ""]
    assert from_file.episodes["patient"].tolist() == ["7", "7", "8"]


def test_a_group_column_mapped_but_absent_is_named(tmp_path):
    with pytest.raises(ExtractError, match="no column 'group' \\(mapped to 'AgeBand'\\)"):
        read_extract(write(tmp_path, GOOD), Mapping(columns={"group": "AgeBand"}))


def test_the_shipped_example_mapping_reads():
    mapping = read_mapping(SCENARIOS / "data" / "example_mapping.yaml")
    assert mapping.columns["admitted"] == "AdmitDate" and mapping.labels["Acute Psych"] == "inpatient"


@pytest.mark.parametrize(("text", "expected"), [
    ("admitted", "'admitted' is not a pair NAME=VALUE"),
    ("admitted=", "'admitted=' is not a pair"),
    ("=AdmitDate", "'=AdmitDate' is not a pair"),
    ("a=b=c", "'a=b=c' is not a pair"),
    ("admitted=A,admitted=B", "'admitted' is given twice"),
])
def test_a_malformed_pair_is_named(text, expected):
    with pytest.raises(ExtractError, match="--columns: ") as caught:
        parse_pairs(text, "--columns")
    assert expected in str(caught.value)


@pytest.mark.parametrize(("content", "expected"), [
    ("colums: {admitted: AdmitDate}\n", "unknown key 'colums'"),
    ("- admitted\n", "holds 'columns:' and 'levels:' mappings"),
    ("columns: [admitted]\n", "'columns' must be a mapping"),
    ("levels: {yes: inpatient}\n", "quote labels"),
    ("columns: {admited: AdmitDate}\n", "'admited', which is not one of our columns"),
    ("columns: {admitted: [\n", "cannot read the mapping"),
])
def test_a_bad_mapping_file_is_named_with_the_key(tmp_path, content, expected):
    path = tmp_path / "mapping.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ExtractError, match="mapping.yaml: ") as caught:
        read_mapping(path)
    assert expected in str(caught.value)
    with pytest.raises(ExtractError, match="no such file|cannot read"):
        read_mapping(tmp_path / "nowhere.yaml")


def test_a_label_mapped_to_no_level_of_the_base_is_refused(tmp_path):
    with pytest.raises(ExtractError, match="sends 'PHP' to 'ph', which is not a level .* did you mean 'php'"):
        read_extract(write(tmp_path, GOOD), Mapping(labels={"PHP": "ph"}), levels=LEVELS)


def test_date_times_give_resolution_zero_and_fractions_of_a_day(tmp_path):
    lines = ["A,inpatient,2024-01-01 06:00,2024-01-01 14:30,2024-01-05T12:00:00,discharged", *GOOD[2:]]
    extract = read_extract(write(tmp_path, lines))
    assert extract.resolution_days == 0.0 and extract.start == pd.Timestamp("2024-01-05")
    row = extract.episodes.set_index("row").loc[2]
    assert (row["referred"], row["admitted"], row["discharged"]) == pytest.approx((-3.75, -4 + 14.5 / 24, 0.5))
    midnight = ["A,inpatient,2024-01-01 00:00:00,2024-01-01 00:00,2024-01-05,php", *GOOD[1:]]
    assert read_extract(write(tmp_path, midnight)).resolution_days == 1.0   # a date column exported as date-times


def test_cut_gives_the_extract_as_it_stood_at_an_earlier_date(tmp_path):
    path = write(tmp_path, GOOD)
    extract = read_extract(path)
    cut = extract.cut("2024-01-08")
    assert cut.as_of == pd.Timestamp("2024-01-08") and cut.as_of_day == 4 and cut.start == extract.start
    episodes = cut.episodes.set_index("row")
    assert 7 not in episodes.index                                         # E was referred on 01-15
    assert np.isnan(episodes.loc[3, "discharged"]) and episodes.loc[3, "discharge_to"] == ""   # A at php: in care
    assert np.isnan(episodes.loc[4, "discharged"]) and episodes.loc[4, "admitted"] == -2        # B: 01-09 is after
    assert episodes.loc[2, "discharge_to"] == "php"                                              # ended before
    as_read = read_extract(path, as_of="2024-01-08")
    pd.testing.assert_frame_equal(cut.episodes, as_read.episodes)
    assert as_read.problems["reason"].tolist() == [AFTER_AS_OF]
    with pytest.raises(ExtractError, match="cannot cut at 2024-02-01: the extract runs from 2024-01-05 to 2024-01-20"):
        extract.cut("2024-02-01")


def test_a_dataframe_reads_like_its_csv_with_rows_counted_from_two():
    frame = pd.DataFrame([line.split(",") for line in GOOD], columns=list(REQUIRED))
    frame["admitted"] = pd.to_datetime(frame["admitted"].replace("", None))   # dates as dates, gaps as NaT
    frame.loc[2, "patient"] = None
    frame.loc[0, "level"] = " inpatient "
    extract = read_extract(frame)
    assert extract.source == "<DataFrame>" and extract.problems[["row", "reason"]].values.tolist() == [
        [4, "missing patient"]]
    assert extract.episodes.set_index("row").loc[3, "admitted"] == 1 and extract.resolution_days == 1.0
    assert extract.levels == LEVELS   # values are stripped, as from a file


def test_semicolons_blank_lines_and_latin_1_keep_the_row_numbers(tmp_path):
    lines = [line.replace(",", ";") for line in GOOD[:3]] + ["", "Zoé;php;2024-01-03;;bad;"]
    path = tmp_path / "extract.csv"
    path.write_bytes("\n".join([HEADER.replace(",", ";"), *lines]).encode("latin-1"))
    extract = read_extract(path)
    assert extract.problems.values.tolist() == [[6, "unparsable date", "discharged 'bad'"]]
    assert extract.episodes["row"].tolist() == [2, 3, 4]


def test_twenty_thousand_rows_with_planted_mistakes_are_all_found():
    rng = np.random.default_rng(16)
    patients = 10_000
    referred = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 700, patients), unit="D")
    admitted = referred + pd.to_timedelta(rng.integers(0, 5, patients), unit="D")
    discharged = admitted + pd.to_timedelta(rng.integers(1, 30, patients), unit="D")
    second = discharged + pd.to_timedelta(rng.integers(0, 60, patients), unit="D")
    dates = [d.strftime("%Y-%m-%d") for d in (referred, admitted, discharged, second,
                                               second + pd.to_timedelta(rng.integers(1, 20, patients), unit="D"))]
    ids = [f"P{i}" for i in range(patients)]
    frame = pd.concat([
        pd.DataFrame({"patient": ids, "level": "inpatient", "referred": dates[0], "admitted": dates[1],
                      "discharged": dates[2], "discharge_to": "php"}),
        pd.DataFrame({"patient": ids, "level": "php", "referred": dates[2], "admitted": dates[3],
                      "discharged": dates[4], "discharge_to": "discharged"}),
    ], ignore_index=True)
    planted = rng.choice(len(frame), 300, replace=False)
    frame.loc[planted[:100], "admitted"] = "2020-02-30"
    frame.loc[planted[100:200], "level"] = "ward"
    frame.loc[planted[200:], "discharge_to"] = ""
    extract = read_extract(frame, levels=LEVELS)
    found = extract.problems.set_index("row")["reason"]
    assert found.to_dict() == {**dict.fromkeys(planted[:100] + 2, "unparsable date"),
                               **dict.fromkeys(planted[100:200] + 2, "unknown level"),
                               **dict.fromkeys(planted[200:] + 2, "discharge without discharge_to")}
    assert len(extract.episodes) == len(frame) - 300
    assert extract.episodes["patient"].is_monotonic_increasing


# ---------------------------------------------------------------------------- a simulated run as an extract
@pytest.fixture(scope="module")
def simulated():
    scenario = sim.load_scenario(SCENARIOS / "teaching_step_down.yaml").with_changes(
        {"run.days": 150, "run.warmup_days": 20})
    results = sim.run(scenario, replications=1, progress=False, keep_episodes=True, jobs=1)
    return scenario, results.episodes


def test_a_simulated_run_written_as_an_extract_reads_back_to_its_whole_day_times(simulated, tmp_path):
    scenario, episodes = simulated
    path = tmp_path / "synthetic.csv"
    episodes_as_extract(episodes, "2024-01-01", scenario.level_names, as_of_day=150).to_csv(path, index=False)
    extract = read_extract(path, levels=scenario.level_names)
    # an extract holds the episodes open at some time from its start: those over in the warm-up are not in it
    truth = episodes[(episodes["status"] != "turned_away") & (episodes["arrived_day"] < 150)
                     & ~(episodes["left_day"] < 0)]
    first_discharge = np.floor(truth["left_day"].min())
    assert (truth["admitted_day"] < first_discharge).any()         # warm-up stays were running when it began
    assert extract.start == pd.Timestamp("2024-01-01") + pd.Timedelta(days=first_discharge)
    assert extract.problems.empty and extract.as_of == pd.Timestamp("2024-05-29") and extract.as_of_day == 150 - (
        first_discharge)
    shift = -first_discharge
    expected = pd.DataFrame({
        "patient": "P" + truth["patient"].astype(str), "level": truth["level"],
        "referred": np.floor(truth["arrived_day"]) + shift, "admitted": np.floor(truth["admitted_day"]) + shift,
        "discharged": np.floor(truth["left_day"]) + shift,
        "discharge_to": truth["route"].where(truth["left_day"].notna(), "")})
    keys = ["patient", "level", "referred"]
    assert not expected.duplicated(keys).any()
    got = extract.episodes.drop(columns="row").sort_values(keys).reset_index(drop=True)
    expected = expected.sort_values(keys).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert (truth["status"] == "gave_up").any() and (truth["left_day"].isna()).any()   # both kinds were written


def test_an_earlier_as_of_day_drops_later_arrivals_and_clears_later_times(simulated):
    scenario, episodes = simulated
    whole = episodes_as_extract(episodes, "2024-01-01", scenario.level_names)
    early = episodes_as_extract(episodes, "2024-01-01", scenario.level_names, as_of_day=60)
    assert early["referred"].max() == "2024-02-29" and whole["referred"].max() > "2024-05-01"
    for column in ("admitted", "discharged"):
        assert early.loc[early[column] != "", column].max() <= "2024-02-29"
    both = early.merge(whole, on=["patient", "level", "referred"], suffixes=("", "_whole"), validate="1:1")
    assert len(both) == len(early)
    later = both["discharged_whole"] > "2024-02-29"
    assert later.sum() > 10 and (both.loc[later, ["discharged", "discharge_to"]] == "").all().all()
    assert (both.loc[~later, "discharge_to"] == both.loc[~later, "discharge_to_whole"]).all()


def test_a_table_from_another_scenario_is_refused(simulated):
    _, episodes = simulated
    with pytest.raises(ValueError, match="the episodes name inpatient"):
        episodes_as_extract(episodes, "2024-01-01", ["php", "iop"])
