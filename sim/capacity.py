"""Places and the staff to run them, day by day, from the scenario.

A level's places follow its capacity schedule; where the level gives the staff it actually has
(``staff_available``), :func:`usable_capacity` keeps only the places those staff can safely run.
The engine takes its place schedule from here; :mod:`sim.staffing` uses :func:`fte_needed` to
count the staff a simulated census needs. The exact definitions are in ``scenarios/README.md``
("Staffing").
"""

from __future__ import annotations

import math

from .scenario import Level, Program, Staffing, StaffRole

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
