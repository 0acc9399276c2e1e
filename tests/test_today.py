"""Starting from today: patients found mid-stay, mid-wait and held, and people still at risk of relapse.

Bad input is checked from the planner's side (the real command, status 2, the key and line named);
the engine against exact expectations on fixed and exponential times; the at-risk pool of ``auto``
on the regional scenario, started at its own long-run census (no relapse hole).
"""

from __future__ import annotations

import pytest
from test_bad_input import GOOD, assert_bad_input, edited, invoke


# ---------------------------------------------------------------------------- bad input
@pytest.fixture
def scenario_file(tmp_path):
    def write(text: str):
        path = tmp_path / "scenario.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


WARD_INITIAL = "    next: {clinic: 0.5, discharged: 0.5}\n"
CLINIC_INITIAL = "    next: {discharged: 0.9, dropped_out: 0.1}\n"


def ward_with(lines: str, text: str = GOOD) -> str:
    """The good scenario with lines added to the ward (after its ``next``, line 12)."""
    return edited(WARD_INITIAL, WARD_INITIAL + lines, text)


def clinic_with(lines: str, text: str = GOOD) -> str:
    return edited(CLINIC_INITIAL, CLINIC_INITIAL + lines, text)


BOUNDED_WARD = edited("{dist: exponential, mean: 4}", "{dist: uniform, low: 1, high: 9}")

BAD_TODAY = {
    "days in care past the longest stay": (
        ward_with("    initial: {in_care_days: [3, 12]}\n", BOUNDED_WARD),
        ["line 13", "levels.ward.initial.in_care_days.1", "12 days is longer than any stay los allows",
         "at most 9 days"]),
    "days in care past max": (
        clinic_with("    initial: {in_care_days: [200]}\n",
                    edited("p90: 60}", "p90: 60, max: 120}")),
        ["line 17", "levels.clinic.initial.in_care_days.0", "at most 120 days"]),
    "days in care past a fixed stay": (
        ward_with("    initial: {in_care_days: [5]}\n", edited("exponential, mean: 4", "fixed, value: 4")),
        ["line 13", "levels.ward.initial.in_care_days.0", "at most 4 days"]),
    "band of days in care starting past the longest stay": (
        ward_with("    initial:\n      in_care_bands: [{from_days: 10, to_days: 20, count: 2}]\n", BOUNDED_WARD),
        ["line 14", "levels.ward.initial.in_care_bands.0.from_days", "at most 9 days"]),
    "days waited past the longest patience": (
        clinic_with("    patience: {dist: empirical, values: [10, 20, 30]}\n    initial: {waiting_days: [31]}\n"),
        ["line 18", "levels.clinic.initial.waiting_days.0", "anyone waits before giving up", "at most 30 days"]),
    "census above capacity": (
        ward_with("    initial: {census: 25}\n"),
        ["line 13", "levels.ward.initial", "census 25 is above the capacity 20 at day 0"]),
    "listed patients above capacity": (
        ward_with("    initial:\n      in_care_bands: [{from_days: 0, to_days: 7, count: 21}]\n"),
        ["levels.ward.initial", "census 21 is above the capacity 20"]),
    "census below the patients listed": (
        ward_with("    initial: {census: 2, in_care_days: [1, 2, 3]}\n"),
        ["line 13", "levels.ward.initial.census", "2 is fewer than the 3 patients listed"]),
    "negative count in a band": (
        ward_with("    initial:\n      in_care_bands: [{from_days: 0, to_days: 7, count: -4}]\n"),
        ["line 14", "levels.ward.initial.in_care_bands.0.count = -4", "greater than or equal to 0"]),
    "negative days waited": (
        clinic_with("    initial: {waiting_days: [-3]}\n"),
        ["line 17", "levels.clinic.initial.waiting_days.0 = -3", "greater than or equal to 0"]),
    "inverted band": (
        clinic_with("    initial:\n      waiting_bands: [{from_days: 14, to_days: 7, count: 3}]\n"),
        ["line 18", "levels.clinic.initial.waiting_bands.0.to_days", "7 is not after from_days 14"]),
    "overlapping bands": (
        ward_with("    initial:\n      in_care_bands:\n        - {from_days: 0, to_days: 7, count: 3}\n"
                  "        - {from_days: 5, to_days: 14, count: 2}\n"),
        ["line 16", "levels.ward.initial.in_care_bands.1", "5-14 days overlaps the band 0-7 days"]),
    "held without hold": (
        ward_with("    initial: {held: {to: clinic, count: 2}}\n"),
        ["line 13", "levels.ward.initial.held", "when_next_full: hold", "waitlist instead"]),
    "held for a level not next": (
        ward_with("    when_next_full: hold\n    initial: {held: {to: clinc, count: 2}}\n"),
        ["line 14", "levels.ward.initial.held.0.to", "'clinc'", "did you mean 'clinic'?"]),
    "held with count and days": (
        ward_with("    when_next_full: hold\n    initial: {held: {to: clinic, count: 2, held_days: [1, 2]}}\n"),
        ["line 14", "levels.ward.initial.held.0", "count", "held_days", "not both"]),
    "at risk after an exit without a rule": (
        GOOD + "  at_risk: [{after: dropped_out, days_since: 10, count: 4}]\n",
        ["line 20", "relapse.at_risk.0.after", "nobody returns after dropped_out", "after_dropped_out"]),
    "at risk negative count": (
        GOOD + "  at_risk: [{after: discharged, days_since: 10, count: -4}]\n",
        ["line 20", "relapse.at_risk.0.count = -4", "greater than or equal to 0"]),
    "at risk after no exit": (
        GOOD + "  at_risk: [{after: clinic, days_since: 10, count: 4}]\n",
        ["line 20", "relapse.at_risk.0.after = 'clinic'", "'discharged' or 'dropped_out'"]),
    "at risk in words": (
        GOOD + "  at_risk: automatic\n",
        ["line 20", "relapse.at_risk = 'automatic'", "auto (filled from the scenario's own flows"]),
}


@pytest.mark.parametrize("text, expected", BAD_TODAY.values(), ids=BAD_TODAY.keys())
def test_bad_state_of_today_is_explained(scenario_file, text, expected):
    path = scenario_file(text)
    assert_bad_input(invoke("validate", path), str(path), *expected)


def test_bad_state_of_today_writes_nothing(scenario_file, tmp_path):
    out = tmp_path / "out"
    text = ward_with("    initial: {in_care_days: [3, 12]}\n", BOUNDED_WARD)
    assert_bad_input(invoke("run", scenario_file(text), "--out", out, "--quiet"), "levels.ward.initial.in_care_days")
    assert not out.exists()


def test_good_state_of_today_is_valid(scenario_file):
    text = ward_with("    when_next_full: hold\n    initial:\n      census: 12\n      in_care_days: [1, 2.5]\n"
                     "      in_care_bands: [{from_days: 0, to_days: 7, count: 3},\n"
                     "                      {from_days: 7, to_days: 30, count: 2}]\n"
                     "      held: [{to: clinic, count: 1}, {to: clinic, held_days: [4]}]\n"
                     "      waiting_days: [3]\n",
                     GOOD + "  at_risk: [{after: discharged, days_since: 10, count: 4}]\n")
    result = invoke("validate", scenario_file(text))
    assert result.exit_code == 0, result.output
