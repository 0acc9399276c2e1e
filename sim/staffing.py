"""Staff roles, ratios, groups and caseloads -> full-time equivalents (FTE) and cost.

Pure functions of the daily census (``Results.daily``, measured period only) and the scenario's
``staff``, ``program`` and ``staffing`` keys; the exact definitions are in ``scenarios/README.md``
("Staffing"). Staff follow the census, except where a level gives the staff it actually has
(``staff_available``): then :func:`usable_capacity` turns that into the places it can safely run.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .analysis import t_interval
from .scenario import Level, Program, Scenario, Staffing, StaffRole

CENSUS_BASES = ("mean", "p90", "capacity")
"""The census each FTE figure is computed at: the mean, the 90th percentile of daily census, full capacity."""

COLUMNS = ["level", "role", "basis", "census_basis", "census", "fte", "fte_ci_low", "fte_ci_high",
           "cost_per_year", "cost_ci_low", "cost_ci_high", "replications"]
PER_REPLICATION_COLUMNS = ["replication", "level", "role", "basis", "census_basis", "census", "fte",
                           "cost_per_year"]

ROUNDING = 1e-9
"""Counts are rounded up, but a time-averaged census a hair above a whole number of staff's
patients (floating-point noise) never adds a person."""


def _whole(value: float) -> int:
    return math.ceil(value - ROUNDING)


def groups_needed(census: float, program: Program) -> int:
    """Groups to run for ``census`` patients: split above ``group_size.max``.

    A group short of ``group_size.min`` still runs for the patients who are there (they cannot go
    untreated), so any census above 0 needs at least one group and ``min`` never changes the count.
    """
    assert program.group_size is not None  # validated: per_group roles need a group_size
    return _whole(census / program.group_size.max) if census > 0 else 0


def staff_hours_per_week(role: StaffRole, census: float, program: Program | None) -> float:
    """Weekly hours on duty a ratio or per-group role needs at ``census``."""
    if role.patients_per_staff is not None:
        assert role.hours_per_day is not None and role.days_per_week is not None  # filled by the schema
        return _whole(census / role.patients_per_staff) * role.hours_per_day * role.days_per_week
    if role.per_group is not None:
        assert program is not None
        return groups_needed(census, program) * role.per_group * program.hours_per_day * program.days_per_week
    raise ValueError(f"a {role.basis} role is counted in clients, not hours")


def fte_needed(role: StaffRole, census: float, program: Program | None, staffing: Staffing) -> float:
    """Full-time equivalents of ``role`` at ``census``.

    Hours-based roles: weekly hours / (``fte_hours_per_week`` x ``productive_share``). A caseload
    already counts the clients a full-time clinician carries, leave and admin included, so its FTE
    is ``census / caseload`` with no hours conversion.
    """
    if role.caseload is not None:
        return census / role.caseload
    productive_hours = staffing.fte_hours_per_week * staffing.productive_share
    return staff_hours_per_week(role, census, program) / productive_hours


def census_points(daily: pd.DataFrame) -> pd.DataFrame:
    """Per replication and level, the measured period's mean census, 90th percentile of daily
    census and mean capacity: columns ``replication, level`` and one per :data:`CENSUS_BASES`."""
    measured = daily[daily["period"] == "measured"]
    grouped = measured.groupby(["replication", "level"], sort=False)
    return pd.DataFrame({
        "mean": grouped["census"].mean(),
        "p90": grouped["census"].quantile(0.9),
        "capacity": grouped["capacity"].mean(),
    }).reset_index()


def _roles(scenario: Scenario) -> list[tuple[str, str, list[StaffRole]]]:
    """(level, role, entries) in file order; entries of one role at one level are added up."""
    found: dict[tuple[str, str], list[StaffRole]] = {}
    for level, spec in scenario.levels.items():
        for entry in spec.staff or ():
            found.setdefault((level, entry.role), []).append(entry)
    return [(level, role, entries) for (level, role), entries in found.items()]


def _joined_bases(bases) -> str:
    return "+".join(dict.fromkeys(bases))


def fte_per_replication(scenario: Scenario, daily: pd.DataFrame) -> pd.DataFrame:
    """One row per replication, level, role and census basis: the census and the FTE and cost at it.

    Rows for level ``all`` add each role up over the levels, and ``all``/``all`` adds up every
    role; their ``census`` is NaN (censuses of different levels do not add up to anything).
    """
    costs = scenario.staffing.cost_per_fte_per_year
    points = census_points(daily).set_index(["replication", "level"])
    rows = []
    for level, role, entries in _roles(scenario):
        program = scenario.levels[level].program
        basis = _joined_bases(entry.basis for entry in entries)
        for replication, census_at in points.xs(level, level="level").iterrows():
            for census_basis in CENSUS_BASES:
                census = float(census_at[census_basis])
                fte = sum(fte_needed(entry, census, program, scenario.staffing) for entry in entries)
                rows.append((replication, level, role, basis, census_basis, census, fte, fte * costs.get(role, np.nan)))
    table = pd.DataFrame(rows, columns=PER_REPLICATION_COLUMNS)
    return pd.concat([table, *_totals(table)], ignore_index=True)


def _totals(table: pd.DataFrame) -> list[pd.DataFrame]:
    """Level ``all`` rows: each role over the levels, then every role together."""
    def add_up(by: list[str], role: str | None) -> pd.DataFrame:
        grouped = table.groupby([*by, "census_basis"], sort=False)
        total = grouped.agg(basis=("basis", lambda bases: _joined_bases(b for joined in bases
                                                                        for b in joined.split("+"))),
                            fte=("fte", "sum"),
                            cost_per_year=("cost_per_year", lambda cost: cost.sum(skipna=False)))
        total = total.reset_index()
        total["level"], total["census"] = "all", np.nan
        if role is not None:
            total["role"] = role
        return total[PER_REPLICATION_COLUMNS]

    if table.empty:
        return []
    return [add_up(["replication", "role"], None), add_up(["replication"], "all")]


def staffing_table(scenario: Scenario, daily: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame | None:
    """FTE and cost per level, role and census basis: mean across replications and Student-t interval.

    Columns are :data:`COLUMNS`; ``None`` when no level has staff. Lower ends of intervals are
    clipped at 0, as no FTE or cost can be negative; costs are NaN for roles without a
    ``staffing.cost_per_fte_per_year``.
    """
    if not _roles(scenario):
        return None
    per_replication = fte_per_replication(scenario, daily)
    rows = []
    keys = ["level", "role", "basis", "census_basis"]
    for key, group in per_replication.groupby(keys, sort=False):
        fte, fte_low, fte_high, _, count = t_interval(group["fte"], confidence)
        cost, cost_low, cost_high, _, _ = t_interval(group["cost_per_year"], confidence)
        rows.append((*key, float(group["census"].mean()), fte, fte_low, fte_high, cost, cost_low, cost_high, count))
    table = pd.DataFrame(rows, columns=COLUMNS)
    for column in ("fte_ci_low", "cost_ci_low"):
        table[column] = table[column].clip(lower=0)
    return table


def places_covered(level: Level, role: str, fte: float, staffing: Staffing, places: int) -> int:
    """The most patients (up to ``places``) that ``fte`` of ``role`` can safely look after here.

    The role's entries at this level (e.g. a day and a night ratio) together may need no more
    FTE than are on hand; the FTE needed never falls as the census grows, so a bisection finds it.
    """
    entries = [entry for entry in level.staff or () if entry.role == role]

    def affordable(census: int) -> bool:
        return sum(fte_needed(entry, census, level.program, staffing) for entry in entries) <= fte + ROUNDING

    low, high = 0, places
    if affordable(high):
        return high
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if affordable(middle) else (low, middle)
    return low


def usable_capacity(level: Level, staffing: Staffing) -> list[tuple[float, int, int]]:
    """``(from_day, usable places, places)`` steps: the lesser of places and what staff can cover.

    Without ``staff_available`` the usable capacity is the place schedule itself. Change days are
    those of the place schedule and of every role's hiring plan.
    """
    plans = level.staff_available or {}
    days = sorted({step.from_day for step in level.capacity} | {s.from_day for steps in plans.values() for s in steps})
    schedule: list[tuple[float, int, int]] = []
    for day in days:
        places = [step.capacity for step in level.capacity if step.from_day <= day][-1]
        usable = places
        for role, steps in plans.items():
            fte = [step.fte for step in steps if step.from_day <= day][-1]
            usable = min(usable, places_covered(level, role, fte, staffing, places))
        if not schedule or schedule[-1][1:] != (usable, places):
            schedule.append((day, usable, places))
    return schedule
