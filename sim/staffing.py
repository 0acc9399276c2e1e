"""Staff roles, ratios, groups and caseloads -> full-time equivalents (FTE) and cost.

Pure functions of the daily census (``Results.daily``, measured period only) and the scenario's
``staff``, ``program`` and ``staffing`` keys; the exact definitions are in ``scenarios/README.md``
("Staffing"). Staff follow the census, except where a level gives the staff it actually has
(``staff_available``): then :func:`sim.capacity.usable_capacity` turns that into the places it can
safely run, and the engine runs only those. The FTE a census needs comes from :mod:`sim.capacity`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .analysis import t_interval
from .capacity import fte_needed
from .scenario import Scenario, StaffRole

CENSUS_BASES = ("mean", "p90", "capacity")
"""The census each FTE figure is computed at: the mean, the 90th percentile of daily census, full capacity."""

COLUMNS = ["level", "role", "basis", "census_basis", "census", "fte", "fte_ci_low", "fte_ci_high",
           "cost_per_year", "cost_ci_low", "cost_ci_high", "replications"]
PER_REPLICATION_COLUMNS = ["replication", "level", "role", "basis", "census_basis", "census", "fte",
                           "cost_per_year"]


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
