"""When a run's numbers cannot be trusted: overload, a growing waitlist, a warm-up at its limit, wide intervals.

Checked after every run from its tables (never the model). Each warning is a dict
``{"level", "kind", "message", "evidence"}``: ``Results.warnings``, ``run.json``'s ``warnings``,
one line each on the terminal after ``continuum run``, and a box at the top of ``report.html``.

A level's waitlist "grows without bound" on two kinds of evidence. Theory: the traffic
equations (referrals, transfers and relapses) give each level's arrivals, times its mean stay
the places' worth of demand it is offered; at or above its capacity no steady state exists.
Simulation: each replication's least-squares slope of the daily waitlist over the measured
period, tested across replications (:func:`sim.analysis.trend_test`). With theory's support
(demand at or above all the places, or above those not held by patients waiting to move on) a
trend at p < 0.05 confirms it: ``overloaded``, or ``growing_waitlist`` blocked by a full level
downstream. Without it the trend must reach p < 0.001 (``growing_waitlist``: growing demand, a
warm-up cut short). Either way the rise must also matter: at least one person and a quarter of
the mean waitlist over the measured period. A busy but stable level's slope is noise around zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .analysis import precision_scale, trend_test
from .arrivals import expected_referrals
from .metrics import DAYS_PER_YEAR, HEADLINE_METRICS, SYSTEM_METRICS
from .scenario import Scenario
from .theory import traffic_rates
from .workload import moves_between_levels

if TYPE_CHECKING:
    from .results import Results

KINDS = ("overloaded", "growing_waitlist", "warmup_near_limit", "wide_intervals")
GROWTH_KINDS = ("overloaded", "growing_waitlist")
"""The kinds that say a level's waitlist grows without bound (its waits have no steady state)."""
LOAD_EVIDENCE_P = 0.05
"""With theory's demand at or above capacity, a rise this unlikely without a trend confirms the overload."""
TREND_EVIDENCE_P = 0.001
"""Without theory's support, the rise must be this unlikely without a trend (a stricter test)."""
RISE_SHARE = 0.25
"""The fitted rise over the measured period must be at least this share of the mean waitlist (and one person)."""
HELD_SHARE = 0.1
"""A growing level is blocked from downstream when patients held in place fill this share of its places by the
end of the measured period (the fitted line's end: a held count that grows, or one that is high throughout)."""


# ---------------------------------------------------------------------------- evidence
def offered_loads(scenario: Scenario, capacity: pd.Series) -> pd.DataFrame:
    """Per level: arrivals a day by the traffic equations, mean stay, offered load and utilisation.

    Referrals are their average over the measured period (growth and seasonality included);
    ``capacity`` is the places in use, averaged over it. Patients who give up and go to another
    level are not in the equations (their number depends on the queue). NaN throughout when the
    routes form a closed loop (nobody leaves for good) or demand is not finite. With patient groups,
    each group's arrivals and stays by its own rules, summed (the stay weighted by the arrivals).
    """
    views = list(scenario.group_views().values())
    if len(views) == 1:
        arrivals, stays = _arrivals_and_stays(views[0])
    else:   # patient groups: each with its own referrals, routes and stays, sharing the places
        per_group = [_arrivals_and_stays(view) for view in views]
        arrivals = np.sum([rates for rates, _ in per_group], axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            stays = np.sum([rates * days for rates, days in per_group], axis=0) / arrivals
        stays = np.where(arrivals > 0, stays, per_group[0][1])
    offered, places = arrivals * stays, capacity.reindex(scenario.level_names).to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        utilisation = offered / places
    return pd.DataFrame({"arrivals_per_day": arrivals, "stay_days": stays, "offered_load": offered,
                         "capacity": places, "utilisation": utilisation}, index=scenario.level_names)


def _arrivals_and_stays(scenario: Scenario) -> tuple[np.ndarray, np.ndarray]:
    """Per level of a scenario without groups (or one group's view): arrivals a day and mean stay."""
    run = scenario.run.model_copy(update={"warmup_days": 0})   # referrals of the measured days only
    referrals = [expected_referrals(run, level) / run.days for level in scenario.levels.values()]
    try:
        arrivals = traffic_rates(referrals, moves_between_levels(scenario).tolist())
    except ValueError:
        arrivals = np.full(len(referrals), np.nan)
    return arrivals, np.array([level.mean_stay_days for level in scenario.levels.values()])


def daily_trends(daily: pd.DataFrame, columns: Sequence[str], days: int) -> dict[str, pd.DataFrame]:
    """Per column of ``columns``, per level: mean, slope a year, fitted rise over the measured period and one-sided p
    of a daily series.

    The slope is each replication's least-squares slope against day, averaged (the slope of the
    replication-averaged series); its p-value comes from the spread across replications. (Sums by
    ``np.bincount`` over level x replication, found once for every column: a pandas group-by over the string
    levels took 20 times as long.)
    """
    # the columns it needs, not a copy of the table; the measured period's days are those from 0 (``period``)
    day = daily["day"].to_numpy(dtype=float)
    measured = day >= 0
    level_of, levels = pd.factorize(daily["level"], sort=False)
    level_of = level_of[measured]
    replication_of, replications = pd.factorize(daily["replication"].to_numpy()[measured], sort=False)
    shape = (len(levels), len(replications))
    cell = level_of * shape[1] + replication_of

    def sums(values: np.ndarray) -> np.ndarray:
        return np.bincount(cell, values, minlength=shape[0] * shape[1])

    day = day[measured]
    rows = np.bincount(cell, minlength=shape[0] * shape[1])
    centred = day - (sums(day) / np.maximum(rows, 1))[cell]
    xx = sums(centred**2)
    present = (rows > 0).reshape(shape)
    per_level = np.bincount(level_of, minlength=len(levels))
    trends = {}
    for column in columns:
        value = daily[column].to_numpy(dtype=float)[measured]
        with np.errstate(divide="ignore", invalid="ignore"):
            slopes = np.where(xx > 0, sums(centred * value) / xx, np.nan).reshape(shape)
            mean = np.bincount(level_of, value, minlength=len(levels)) / per_level   # no measured days: NaN
        slope, p_value = np.array([trend_test(slopes[index][present[index]]) for index in range(len(levels))],
                                  dtype=float).reshape(len(levels), 2).T
        trends[column] = pd.DataFrame({"slope_per_day": slope, "p_value": p_value, "mean": mean,
                                       "slope_per_year": slope * DAYS_PER_YEAR, "rise": slope * days,
                                       "replications": present.sum(axis=1)}, index=pd.Index(levels))
    return trends


def _matters(trend: pd.Series) -> bool:
    """A fitted rise over the measured period of at least a person and a share of the mean."""
    return bool(trend["rise"] >= max(1.0, RISE_SHARE * trend["mean"]))


def _beyond_chance(trend: pd.Series, p_limit: float) -> bool:
    """The rise is unlikely without a trend (never with one replication: there is no spread to test against)."""
    return bool(trend["p_value"] < p_limit)


def growth_kind(trend: pd.Series, utilisation: float, free_utilisation: float) -> str | None:
    """``overloaded``, ``growing_waitlist`` or None for one level's waitlist trend and theory's utilisation
    of all its places (``utilisation``) and of those not held by patients waiting to move on."""
    # theory's support (demand at or above the places, all or those free to treat) asks less of the trend
    supported = utilisation >= 1 or free_utilisation >= 1
    if supported and _matters(trend) and _beyond_chance(trend, LOAD_EVIDENCE_P):
        return "overloaded" if utilisation >= 1 else "growing_waitlist"
    if _matters(trend) and _beyond_chance(trend, TREND_EVIDENCE_P):
        return "growing_waitlist"
    return None


# ---------------------------------------------------------------------------- warnings
def run_warnings(results: Results) -> list[dict[str, Any]]:
    """Every warning about ``results``: growing waitlists per level, the warm-up, wide intervals."""
    found = growth_warnings(results)
    if (note := results.meta.get("warmup", {})).get("near_limit"):
        found.append(_warning("all", "warmup_near_limit", warmup_text(note),
                              {"chosen_days": note["chosen_days"], "pilot_days": note["pilot_days"]}))
    return found + wide_interval_warnings(results)


def _warning(level: str, kind: str, message: str, evidence: dict[str, Any]) -> dict[str, Any]:
    return {"level": level, "kind": kind, "message": message, "evidence": evidence}


def _means(results: Results, metric: str) -> pd.Series:
    rows = results.summary[results.summary["metric"] == metric]
    return rows.set_index("level")["mean"]


def growth_warnings(results: Results) -> list[dict[str, Any]]:
    """``overloaded`` and ``growing_waitlist`` warnings, one per level at most."""
    scenario, days = results.scenario, results.scenario.run.days
    loads = offered_loads(scenario, _means(results, "capacity_mean"))
    trends = daily_trends(results.daily, ("waitlist", "held"), days)
    waitlists, held = trends["waitlist"], trends["held"]
    free_places = (loads["capacity"] - held["mean"]).clip(lower=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        free_utilisation = loads["offered_load"] / free_places
    found = []
    for level in scenario.level_names:
        kind = growth_kind(waitlists.loc[level], loads.loc[level, "utilisation"], free_utilisation[level])
        if kind is None:
            continue
        evidence = {**_load_evidence(loads.loc[level]), **_trend_evidence(waitlists.loc[level])}
        if blocker := blocked_by(results, level, held.loc[level]):
            evidence.update(blocked_by=blocker, held_mean=_number(held.loc[level, "mean"]),
                            held_slope_per_year=_number(held.loc[level, "slope_per_year"]),
                            utilisation_of_free_places=_number(free_utilisation[level]))
        found.append(_warning(level, kind, growth_text(results, level, kind, evidence), evidence))
    return found


def blocked_by(results: Results, level: str, held: pd.Series) -> str | None:
    """The full level downstream that keeps patients held in ``level``'s places, if they hold many."""
    spec = results.scenario.levels[level]
    downstream = [name for name in spec.next if name in results.scenario.levels]
    capacity = _means(results, "capacity_mean").get(level, np.nan)
    holding = held["mean"] + held["rise"] / 2 >= HELD_SHARE * capacity
    if spec.when_next_full != "hold" or not downstream or not holding:
        return None
    occupancy = _means(results, "occupancy")
    return max(downstream, key=lambda name: occupancy.get(name, 0.0))


def _number(value: Any) -> float | None:
    """A JSON-friendly number: six significant figures, None for NaN or infinity."""
    value = float(value)
    return float(f"{value:.6g}") if math.isfinite(value) else None


def _load_evidence(load: pd.Series) -> dict[str, Any]:
    return {"offered_load": _number(load["offered_load"]), "capacity": _number(load["capacity"]),
            "utilisation": _number(load["utilisation"]),
            "arrivals_per_year": _number(load["arrivals_per_day"] * DAYS_PER_YEAR),
            "stay_days": _number(load["stay_days"])}


def _trend_evidence(trend: pd.Series) -> dict[str, Any]:
    return {"waitlist_mean": _number(trend["mean"]), "waitlist_slope_per_year": _number(trend["slope_per_year"]),
            "waitlist_rise": _number(trend["rise"]), "p_value": _number(trend["p_value"]),
            "replications": int(trend["replications"])}


def wide_interval_warnings(results: Results) -> list[dict[str, Any]]:
    """Per level, the headline metrics whose 95% half-width exceeds their mean (a unit at least, as for
    ``--precision``): the interval says little more than that the number is positive."""
    summary = results.summary
    level, metric = summary["level"].to_numpy(dtype=object), summary["metric"].to_numpy(dtype=object)
    mean, high = summary["mean"].to_numpy(dtype=float), summary["ci_high"].to_numpy(dtype=float)
    shown = ((np.isin(level, results.scenario.level_names) & np.isin(metric, HEADLINE_METRICS))
             | ((level == "all") & np.isin(metric, SYSTEM_METRICS)))
    found = []
    for name in dict.fromkeys(level[shown]):   # the levels in the summary's order
        rows = np.flatnonzero(shown & (level == name))
        wide = [row for row in rows if np.isfinite(mean[row])
                and high[row] - mean[row] > precision_scale(metric[row], mean[row])]
        if wide:
            metrics = [{"metric": metric[row], "mean": _number(mean[row]), "half_width": _number(high[row] - mean[row])}
                       for row in wide]
            text = wide_text(name, metrics, results.scenario.run.replications)
            found.append(_warning(name, "wide_intervals", text, {"metrics": metrics}))
    return found


# ---------------------------------------------------------------------------- words
def _p_text(p_value: float) -> str:
    return "p < 0.001" if p_value < 0.001 else f"p = {p_value:.2g}"


def _amount(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def growth_text(results: Results, level: str, kind: str, evidence: dict[str, Any]) -> str:
    """One line for a level whose waitlist keeps growing, with the numbers behind it."""
    grows = (f"its waitlist grows by {_amount(evidence['waitlist_slope_per_year'])} a year over the measured "
             f"period ({_p_text(evidence['p_value'])})")
    load, capacity, utilisation = evidence["offered_load"], evidence["capacity"], evidence["utilisation"]
    if kind == "overloaded":
        share = f" (utilisation {utilisation:.0%})" if utilisation is not None else ""
        text = (f"{level} is overloaded: the traffic equations give it {_amount(load)} places' worth of demand for "
                f"{_amount(capacity)} places{share} and {grows}")
    elif utilisation is not None:
        text = f"{level}: {grows}, though demand by the traffic equations is {utilisation:.0%} of its places"
    else:
        text = (f"{level}: {grows}; its routes form a closed loop (nobody leaves care for good), so the traffic "
                "equations have no steady demand to give")
    if blocker := evidence.get("blocked_by"):
        text += "; " + blocked_text(results, blocker, evidence)
    elif kind == "growing_waitlist" and utilisation is not None:
        text += "; " + _likely_cause(results.scenario)
    return text + ". Its waits and waitlist measure the run's length, not a steady state."


def blocked_text(results: Results, blocker: str, evidence: dict[str, Any]) -> str:
    """Which level downstream holds patients in this one's places, and what is left to treat in."""
    full = _means(results, "occupancy").get(blocker, np.nan)
    free = evidence["utilisation_of_free_places"]
    return (f"blocked by {blocker}: {_amount(evidence['held_mean'])} of its {_amount(evidence['capacity'])} places "
            f"are held on average by patients waiting for {blocker} ({full:.0%} full)"
            + (f", leaving demand at {free:.0%} of the places free to treat" if free is not None else ""))


def _likely_cause(scenario: Scenario) -> str:
    growing = [name for name, level in scenario.levels.items() if level.referral_growth_per_year > 0]
    if growing:
        return (f"referrals grow over the run (referral_growth_per_year at {', '.join(growing)}), so demand by its "
                "end is above this average")
    if scenario.run.warmup_days == 0 and any(level.initial.census or level.initial.waitlist
                                             for view in scenario.group_views().values()
                                             for level in view.levels.values()):
        return ("the run starts from the state given for day 0 and, this close to full, the waitlist takes "
                "years to settle (look at the census and waitlist over time; more places settle it sooner)")
    return "the warm-up may be too short for the level to fill (look at the census over time)"


def warmup_text(note: dict[str, Any]) -> str:
    """The warning for an automatic warm-up that ran into the end of its pilot."""
    return (f"the warm-up MSER-5 chose ({note['chosen_days']} days) is near the longest its "
            f"{note['pilot_days']}-day pilot can find, so the system may still be filling when measuring "
            "starts. Lengthen run.days or set run.warmup_days by hand (look at the census over time).")


def wide_text(level: str, metrics: list[dict[str, Any]], replications: int) -> str:
    """One line naming the headline metrics whose interval is wider than the metric itself."""
    listed = ", ".join(f"{row['metric']} {row['mean']:,.3g} +/- {row['half_width']:,.3g}" for row in metrics)
    return (f"{level}: intervals too wide to read after {replications} replications ({listed}: the 95% half-width "
            "exceeds the mean); run more replications (--precision 0.2 adds them until they narrow).")
