"""Staffing: FTE by hand on small cases, monotone in census, groups, caseloads, cost, the CSV, bad input."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import fixed, level, scenario
from hypothesis import given
from hypothesis import strategies as st

import sim
from sim.capacity import fte_needed, groups_needed, staff_hours_per_week
from sim.cli import main
from sim.scenario import Program, Staffing, StaffRole
from sim.staffing import COLUMNS, staffing_table

DEFAULT = Staffing()                   # 40 h a week, 85% productive: 34 productive hours per FTE
PROGRAM = Program(days_per_week=3, hours_per_day=3, group_size={"min": 6, "max": 12})


def ratio(patients: float, hours: float = 24, days: float = 7) -> StaffRole:
    return StaffRole(role="nurse", patients_per_staff=patients, hours_per_day=hours, days_per_week=days)


def per_group(staff: float = 1) -> StaffRole:
    return StaffRole(role="therapist", per_group=staff)


def caseload(clients: float) -> StaffRole:
    return StaffRole(role="therapist", caseload=clients)


# ---------------------------------------------------------------------------- arithmetic by hand
@pytest.mark.parametrize("census, on_duty", [(0, 0), (1, 1), (6, 1), (6.5, 2), (12, 2), (13, 3)])
def test_ratio_rounds_staff_on_duty_up(census, on_duty):
    assert staff_hours_per_week(ratio(6), census, None) == on_duty * 24 * 7


def test_ratio_fte_by_hand():
    # 13 patients at 1:6 around the clock: 3 on duty x 168 h = 504 h / 34 h = 14.82 FTE
    assert fte_needed(ratio(6), 13, None, DEFAULT) == pytest.approx(504 / 34)
    # a psychiatrist per 12, weekdays 8 h: 2 x 40 h = 80 h / 34 h
    assert fte_needed(ratio(12, hours=8, days=5), 13, None, DEFAULT) == pytest.approx(80 / 34)
    # every contracted hour productive, 37.5 h posts
    own = Staffing(fte_hours_per_week=37.5, productive_share=1.0)
    assert fte_needed(ratio(6), 13, None, own) == pytest.approx(504 / 37.5)


def test_ratio_ignores_floating_point_noise_in_a_time_average():
    assert staff_hours_per_week(ratio(6), 12 + 1e-12, None) == 2 * 168
    assert staff_hours_per_week(ratio(6), 12.01, None) == 3 * 168


def test_ratio_shift_defaults_to_around_the_clock():
    entry = sim.validate({"levels": {"ward": level(10, fixed(1), {"discharged": 1},
                                                   staff=[{"role": "nurse", "patients_per_staff": 6}])}})
    role = entry.levels["ward"].staff[0]
    assert (role.hours_per_day, role.days_per_week, role.basis) == (24, 7, "patients_per_staff")


@pytest.mark.parametrize("census, groups", [
    (0, 0),        # nobody: no group
    (3, 1),        # under min: one small group still runs for them
    (6, 1), (12, 1),
    (12.5, 2),     # above max: split
    (13, 2), (24, 2), (25, 3), (100, 9),
])
def test_groups_split_above_max_and_run_under_min(census, groups):
    assert groups_needed(census, PROGRAM) == groups


def test_per_group_fte_by_hand():
    # 25 patients in groups of at most 12: 3 groups x 2 therapists x 3 h x 3 d = 54 h / 34 h
    assert staff_hours_per_week(per_group(2), 25, PROGRAM) == 54
    assert fte_needed(per_group(2), 25, PROGRAM, DEFAULT) == pytest.approx(54 / 34)


def test_caseload_is_fte_directly():
    assert fte_needed(caseload(35), 70, None, DEFAULT) == 2
    assert fte_needed(caseload(35), 10, None, DEFAULT) == pytest.approx(10 / 35)   # no rounding
    own = Staffing(fte_hours_per_week=20, productive_share=0.5)
    assert fte_needed(caseload(35), 70, None, own) == 2                            # no hours conversion


# ---------------------------------------------------------------------------- monotone
roles = st.one_of(
    st.builds(ratio, st.floats(0.5, 20), st.floats(1, 24), st.floats(1, 7)),
    st.builds(per_group, st.floats(0.5, 3)),
    st.builds(caseload, st.floats(1, 60)),
)


@given(role=roles, census=st.floats(0, 500), more=st.floats(0, 500))
def test_more_census_never_needs_fewer_staff(role, census, more):
    assert fte_needed(role, census + more, PROGRAM, DEFAULT) >= fte_needed(role, census, PROGRAM, DEFAULT)


# ---------------------------------------------------------------------------- the table
def staffed(capacity: int = 30, **staffing) -> sim.Scenario:
    """One ward with nurses 1:6, therapists per group of 6-12 (3 d x 3 h) and a caseload of 35."""
    data = {
        "run": {"warmup_days": 0, "days": 10, "replications": 1},
        "levels": {"ward": level(capacity, fixed(1), {"discharged": 1},
                                 program={"days_per_week": 3, "hours_per_day": 3, "group_size": {"min": 6, "max": 12}},
                                 staff=[{"role": "nurse", "patients_per_staff": 6},
                                        {"role": "therapist", "per_group": 1},
                                        {"role": "therapist", "caseload": 35}])},
        "staffing": staffing,
    }
    return sim.validate(data)


def daily(censuses: dict[int, list[float]], capacity: int = 30) -> pd.DataFrame:
    """A hand-made ``Results.daily`` for level ``ward``, with two warm-up days that must be ignored."""
    rows = []
    for replication, values in censuses.items():
        rows += [(replication, day, "ward", "warm-up", 999.0, 0.0, 0.0, 0, capacity) for day in (-2, -1)]
        rows += [(replication, day, "ward", "measured", census, 0.0, 0.0, 0, capacity)
                 for day, census in enumerate(values)]
    return pd.DataFrame(rows, columns=["replication", "day", "level", "period", "census", "waitlist", "held",
                                       "waitlist_max", "capacity"])


def row(table: pd.DataFrame, level: str, role: str, census_basis: str) -> pd.Series:
    found = table[(table["level"] == level) & (table["role"] == role) & (table["census_basis"] == census_basis)]
    assert len(found) == 1
    return found.iloc[0]


def test_table_by_hand_at_mean_p90_and_capacity():
    # ten days of census 12, so mean = p90 = 12; capacity 30
    table = staffing_table(staffed(cost_per_fte_per_year={"nurse": 95_000}), daily({0: [12] * 10, 1: [12] * 10}))
    assert list(table.columns) == COLUMNS
    nurse = row(table, "ward", "nurse", "mean")
    assert nurse["census"] == 12 and nurse["replications"] == 2
    assert nurse["fte"] == pytest.approx(2 * 168 / 34)
    assert nurse["fte_ci_low"] == nurse["fte_ci_high"] == nurse["fte"]          # identical replications
    assert nurse["cost_per_year"] == pytest.approx(2 * 168 / 34 * 95_000)
    assert row(table, "ward", "nurse", "capacity")["fte"] == pytest.approx(5 * 168 / 34)
    # therapists add up their two entries: one group (9 h) and a caseload of 12/35
    therapist = row(table, "ward", "therapist", "mean")
    assert therapist["basis"] == "per_group+caseload"
    assert therapist["fte"] == pytest.approx(9 / 34 + 12 / 35)
    assert math.isnan(therapist["cost_per_year"])                               # no cost given
    at_capacity = row(table, "ward", "therapist", "capacity")                  # 30: 3 groups
    assert at_capacity["fte"] == pytest.approx(27 / 34 + 30 / 35)


def test_table_p90_and_interval_across_replications():
    # replication 0: census 0..9 -> mean 4.5, p90 8.1; replication 1: census 10..19 -> mean 14.5, p90 18.1
    table = staffing_table(staffed(), daily({0: list(range(10)), 1: list(range(10, 20))}))
    mean, p90 = row(table, "ward", "nurse", "mean"), row(table, "ward", "nurse", "p90")
    assert mean["census"] == pytest.approx(9.5) and p90["census"] == pytest.approx(13.1)
    on_duty_mean, on_duty_p90 = [1, 3], [2, 4]                                  # ceil(4.5/6), ceil(14.5/6); 8.1, 18.1
    low, high = sim.t_interval(np.array(on_duty_mean) * 168 / 34)[1:3]
    assert mean["fte"] == pytest.approx(2 * 168 / 34)
    assert (mean["fte_ci_low"], mean["fte_ci_high"]) == pytest.approx((max(low, 0), high))
    assert p90["fte"] == pytest.approx(np.mean(on_duty_p90) * 168 / 34)


def test_all_rows_add_up_levels_and_roles():
    data = staffed(cost_per_fte_per_year={"nurse": 100, "therapist": 10}).to_dict()
    data["levels"]["clinic"] = level(100, fixed(1), {"discharged": 1}, staff=[{"role": "therapist", "caseload": 35}])
    two = sim.validate(data)
    days = pd.concat([daily({0: [12] * 10}), daily({0: [70] * 10}).assign(level="clinic")])
    table = staffing_table(two, days)
    therapists = row(table, "all", "therapist", "mean")
    assert therapists["fte"] == pytest.approx(9 / 34 + 12 / 35 + 2)
    assert math.isnan(therapists["census"])
    everyone = row(table, "all", "all", "mean")
    assert everyone["fte"] == pytest.approx(2 * 168 / 34 + 9 / 34 + 12 / 35 + 2)
    assert everyone["cost_per_year"] == pytest.approx(2 * 168 / 34 * 100 + (9 / 34 + 12 / 35 + 2) * 10)


def test_no_staff_no_table():
    plain = scenario({"ward": level(10, fixed(1), {"discharged": 1}, referrals_per_year=100)})
    assert staffing_table(plain, daily({0: [5] * 10})) is None
    assert sim.run(plain, jobs=1, progress=False).staffing is None


def full_ward(replications: int = 2) -> sim.Scenario:
    """13 places kept full: a waitlist far longer than the run empties, so census is exactly 13."""
    staff = [{"role": "nurse", "patients_per_staff": 6}, {"role": "therapist", "caseload": 35}]
    return scenario({"ward": level(13, fixed(5), {"discharged": 1}, staff=staff,
                                   initial={"census": 13, "waitlist": 5000})},
                    replications=replications)


def test_simulated_census_gives_the_fte_by_hand():
    results = sim.run(full_ward(), jobs=1, progress=False)
    for census_basis in ("mean", "p90", "capacity"):
        nurse = row(results.staffing, "ward", "nurse", census_basis)
        assert nurse["census"] == pytest.approx(13)
        assert nurse["fte"] == pytest.approx(3 * 168 / 34)
        assert row(results.staffing, "ward", "therapist", census_basis)["fte"] == pytest.approx(13 / 35)


def test_regional_scenario_is_staffed(regional):
    roles = {(name, role.role) for name, spec in regional.levels.items() for role in spec.staff or ()}
    assert roles == {("inpatient", "nurse"), ("inpatient", "psychiatrist"), ("php", "therapist"),
                     ("iop", "therapist"), ("outpatient", "therapist")}
    assert set(regional.staffing.cost_per_fte_per_year) == {"nurse", "psychiatrist", "therapist"}


# ---------------------------------------------------------------------------- command line
def test_run_writes_staffing_csv(tmp_path):
    path = tmp_path / "full.yaml"
    path.write_text(full_ward().to_yaml())
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["run", str(path), "--out", str(out), "--jobs", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    written = pd.read_csv(out / "staffing.csv")
    assert list(written.columns) == COLUMNS
    assert set(written["census_basis"]) == {"mean", "p90", "capacity"}
    assert set(written["level"]) == {"ward", "all"}


def test_run_without_staff_writes_no_staffing_csv(tmp_path):
    path = tmp_path / "plain.yaml"
    path.write_text(scenario({"ward": level(5, fixed(1), {"discharged": 1})}).to_yaml())
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["run", str(path), "--out", str(out), "--jobs", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    assert (out / "summary.csv").exists() and not (out / "staffing.csv").exists()


GOOD = """\
levels:
  iop:
    capacity: 24
    los: {dist: fixed, value: 10}
    next: {discharged: 1}
    program: {days_per_week: 3, hours_per_day: 3, group_size: {min: 6, max: 12}, intake: rolling}
    staff:
      - {role: therapist, per_group: 1}
      - {role: nurse, patients_per_staff: 12, hours_per_day: 3, days_per_week: 3}
staffing:
  cost_per_fte_per_year: {therapist: 80000}
"""

BAD = {
    "two bases": (
        ("{role: therapist, per_group: 1}", "{role: therapist, per_group: 1, caseload: 35}"),
        ["line 8", "levels.iop.staff.0", "exactly one basis", "per_group, caseload"]),
    "no basis": (
        ("{role: therapist, per_group: 1}", "{role: therapist}"),
        ["line 8", "levels.iop.staff.0", "exactly one basis", "has none"]),
    "per_group without program": (
        ("    program: {days_per_week: 3, hours_per_day: 3, group_size: {min: 6, max: 12}, intake: rolling}\n", ""),
        ["line 7", "levels.iop.staff.0.per_group", "needs the level's program with a group_size"]),
    "cohort intake without a waitlist": (
        ("intake: rolling}", "intake: {cohort_every_days: 14}}\n    when_full: turn_away"),
        ["levels.iop.program.intake", "cohorts need a waitlist", "when_full: wait"]),
    "hiring plan for a role the level lacks": (
        ("staffing:", "    staff_available: {therapists: 3}\nstaffing:"),
        ["levels.iop.staff_available.therapists", "did you mean 'therapist'?"]),
    "intake misspelt": (
        ("intake: rolling", "intake: weekly"),
        ["line 6", "levels.iop.program.intake = 'weekly'", "cohort_every_days"]),
    "group size upside down": (
        ("{min: 6, max: 12}", "{min: 12, max: 6}"),
        ["line 6", "levels.iop.program.group_size.max", "below min 12"]),
    "shift on a group role": (
        ("{role: therapist, per_group: 1}", "{role: therapist, per_group: 1, hours_per_day: 8}"),
        ["line 8", "levels.iop.staff.0.hours_per_day", "applies to patients_per_staff only"]),
    "misspelt basis": (
        ("per_group: 1}", "per_groups: 1}"),
        ["line 8", "levels.iop.staff.0.per_groups", "did you mean 'per_group'?"]),
    "cost for no role": (
        ("{therapist: 80000}", "{therapists: 80000}"),
        ["line 11", "staffing.cost_per_fte_per_year.therapists", "did you mean 'therapist'?"]),
    "productive share as a percentage": (
        ("cost_per_fte_per_year", "productive_share: 85\n  cost_per_fte_per_year"),
        ["line 11", "staffing.productive_share = 85", "0.85"]),
}


def test_good_staffing_is_valid(tmp_path):
    path = tmp_path / "good.yaml"
    path.write_text(GOOD)
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("edit, expected", BAD.values(), ids=BAD.keys())
def test_bad_staffing_is_explained(tmp_path, edit, expected):
    old, new = edit
    assert GOOD.count(old) == 1
    path = tmp_path / "bad.yaml"
    path.write_text(GOOD.replace(old, new))
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: {path}: 1 problem"), result.output
    for fragment in expected:
        assert fragment in result.output, f"{fragment!r} missing from:\n{result.output}"
