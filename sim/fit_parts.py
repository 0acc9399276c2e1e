"""Each part of a scenario fitted from linked episodes, with where its numbers came from.

Every function here takes the linked episodes (:func:`sim.pathway.link`) of one level, or of the
whole extract, and returns the scenario keys it fitted, a note per key for the fitted file's
comments (how many records, which method, the AIC or the test) and rows for the fit's tables.
:mod:`sim.fit` puts the parts together into a scenario.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .fitting import fit_referrals, fit_returns, fit_stays, stays_differ, survival_curve
from .pathway import Durations, Window, exit_data, new_arrival_days, patience_data, stay_data
from .scenario import EXITS
from .today import MOST_DAYS_SINCE

FEWEST_STAYS = 30
"""Ended stays a route needs before it can have stays of its own."""
FEWEST_GAVE_UP = 10
"""People who gave up waiting at a level before its patience is fitted."""
FEWEST_RETURNS = 10
"""Returns after an exit before a relapse rule is fitted for it."""
COHORT_QUANTILE = 0.99
"""Routes are counted on stays admitted long enough before the as-of date for this share of stays to have ended."""
DAY_BANDS = (0, 1, 2, 3, 5, 7, 10, 14, 21, 28, 42, 56, 91, 182, 365, 730, 1095, 1825, 3650, 36500)
"""Edges of the bands today's patients are written in (days in care, days waiting)."""


class FitError(Exception):
    """An extract the fit cannot use as it is, with what to do about it."""


class ReferralsUnknown(FitError):
    """A level whose new referrals the extract cannot tell from returns of people who left care before it."""


@dataclass
class Part:
    """Scenario keys fitted, a note per key path, and table rows, gathered as the parts are fitted."""

    keys: dict[str, Any] = field(default_factory=dict)
    notes: dict[tuple, str] = field(default_factory=dict)
    rows: dict[str, list[dict]] = field(default_factory=dict)
    fits: dict[tuple[str, str], tuple[Any, Durations]] = field(default_factory=dict)
    """Each fitted duration law by (level, what: ``all``, a route or ``patience``), with the data it was fitted to."""

    def add_rows(self, table: str, rows: list[dict], **columns: Any) -> None:
        self.rows.setdefault(table, []).extend({**columns, **row} for row in rows)

    def merge(self, other: Part, at: tuple = (), group: str | None = None) -> None:
        """Take ``other``'s notes (under the key path ``at``), rows and fits; with ``group``, marked as that group's."""
        self.notes.update({(*at, *path): note for path, note in other.notes.items()})
        mark = {"group": group} if group is not None else {}
        for table, rows in other.rows.items():
            self.rows.setdefault(table, []).extend({**mark, **row} for row in rows)
        self.fits.update({((f"{group}@{level}" if group else level), what): fit
                          for (level, what), fit in other.fits.items()})


def recording(window: Window) -> dict[str, Any]:
    """How the extract's durations were recorded, as :mod:`sim.fitting` takes it."""
    return {"recorded": "dates", "resolution_days": 1.0} if window.dates else {"recorded": "floor",
                                                                              "resolution_days": 0.0}


def _days(value: float) -> str:
    return f"{value:.1f} d" if value < 100 else f"{value:,.0f} d"


def _stays_note(fit: Any, what: str) -> str:
    best = fit.best
    runner_up = [row for row in fit.table() if row["family"] != best.family]
    margin = f", AIC {runner_up[0]['delta_aic']:.1f} below {runner_up[0]['family']}" if runner_up else ""
    low, high = best.mean_ci
    return (f"{what}: {best.family} by maximum likelihood{margin}; {fit.n_observed:,} seen to end, "
            f"{fit.n_censored:,} still running at the as-of date (censored), {fit.n_truncated:,} begun before "
            f"the extract (truncated); mean {_days(best.mean)} (95% CI {_days(low)}-{_days(high)})")


def _stay_rows(fit: Any, **columns: Any) -> list[dict]:
    best = fit.best.family
    return [{**columns, "family": row["family"], "chosen": row["family"] == best,
             "mean_days": row["mean"], "mean_ci_low": row["mean_ci_low"], "mean_ci_high": row["mean_ci_high"],
             "aic": row["aic"], "delta_aic": row["delta_aic"], "log_likelihood": row["log_likelihood"],
             "n_ended": fit.n_observed, "n_censored": fit.n_censored, "n_truncated": fit.n_truncated,
             "parameters": row["parameters"]} for row in fit.table()]


# ---------------------------------------------------------------------------- stays and routes
def level_stays_and_routes(level: pd.DataFrame, window: Window, name: str) -> Part:
    """A level's ``los`` and ``next``: shares of where stays ended, with stays per route where they clearly differ.

    Shares are counted on the stays admitted from day 0 until the :data:`COHORT_QUANTILE` of stays
    before the as-of date (almost all of those have ended, so a route of long stays is not
    undercounted for being still open). The level's ``los`` is fitted to every stay, censored and
    truncated ones included, less the ended stays of routes given stays of their own (a stay still
    running has no route yet, so those stay in: they are mostly the long ones of the other routes).
    """
    part = Part()
    stays = stay_data(level, window)
    pooled = fit_stays(stays.days, stays.censored, stays.entered, **recording(window))
    cohort = _route_cohort(level, stays, window)
    counts = pd.Series(cohort.labels).value_counts()
    own = _own_stays(cohort, pooled.best.family, counts, window, name, part)
    rest = stays.subset(~np.isin(stays.labels, list(own))) if own else stays
    fit = fit_stays(rest.days, rest.censored, rest.entered, **recording(window)) if own else pooled
    part.keys["los"] = compact(fit.as_scenario_los())
    part.notes[("los",)] = _stays_note(fit, "stays" if not own else f"stays (but those going to {', '.join(own)})")
    part.add_rows("stays", _stay_rows(fit, level=name, route="all"))
    part.fits[(name, "all")] = (fit, rest)
    part.keys["next"] = {route: ({"share": share, "los": own[route]} if route in own else share)
                         for route, share in shares(counts).items()}
    part.notes[("next",)] = (f"where {counts.sum():,} stays ended (admitted from the extract's start to "
                             f"{window.last_day - _cohort_days(stays, window):.0f} days in; a next episode "
                             "within a day is a transfer)")
    part.add_rows("routes", _share_rows(counts), level=name, kind="stay ended")
    return part


MOST_EMPIRICAL_VALUES = 1000


def compact(spec: dict) -> dict:
    """A fitted law as the fitted file writes it: parameters to 6 significant figures, and an empirical law of
    many stays as :data:`MOST_EMPIRICAL_VALUES` evenly spaced quantiles of them (the same law to within a
    thousandth of its probability), so the file stays readable."""
    values = spec.get("values")
    if values is not None and len(values) > MOST_EMPIRICAL_VALUES:
        quantiles = (np.arange(MOST_EMPIRICAL_VALUES) + 0.5) / MOST_EMPIRICAL_VALUES
        spec = {**spec, "values": [float(value) for value in np.quantile(values, quantiles, method="inverted_cdf")]}
    return {key: float(f"{value:.6g}") if isinstance(value, float) else value for key, value in spec.items()}


def _cohort_days(stays: Durations, window: Window) -> float:
    ended = stays.days[~stays.censored]
    return float(min(np.quantile(ended, COHORT_QUANTILE), window.last_day / 2)) if len(ended) else 0.0


def _route_cohort(level: pd.DataFrame, stays: Durations, window: Window) -> Durations:
    """Ended stays admitted early enough in the extract for nearly every stay admitted with them to have ended."""
    admitted = level.loc[level["admitted"].notna(), "admitted"].to_numpy(float)
    early = (admitted >= 0) & (admitted <= window.last_day - _cohort_days(stays, window)) & ~stays.censored
    cohort = stays.subset(early & (stays.labels != ""))
    return cohort if len(cohort) >= FEWEST_STAYS else stays.subset(~stays.censored & (stays.labels != ""))


def shares(counts: pd.Series) -> dict[str, float]:
    """Counts as shares rounded to 4 places that still sum to exactly 1 (the largest takes the rounding)."""
    shares = {str(name): round(count / counts.sum(), 4) for name, count in counts.items()}
    largest = max(shares, key=lambda name: shares[name])
    shares[largest] = round(1 - math.fsum(share for name, share in shares.items() if name != largest), 4)
    return {name: share for name, share in shares.items() if share > 0}


def _share_rows(counts: pd.Series) -> list[dict]:
    """One row per destination: its share of all, a 95% Wilson interval, and the count."""
    total = int(counts.sum())
    z = stats.norm.ppf(0.975)
    rows = []
    for name, count in counts.items():
        share = count / total
        centre = (share + z * z / (2 * total)) / (1 + z * z / total)
        half = z * math.sqrt(share * (1 - share) / total + z * z / (4 * total * total)) / (1 + z * z / total)
        rows.append({"to": str(name), "share": share, "ci_low": centre - half, "ci_high": centre + half,
                     "n": int(count), "of": total})
    return rows


def _own_stays(cohort: Durations, family: str, counts: pd.Series, window: Window, name: str,
               part: Part) -> dict[str, dict]:
    """Routes whose stays clearly differ from the rest's, split off one at a time.

    While the routes left share one law only at a clear cost (:func:`sim.fitting.stays_differ`: a
    likelihood-ratio test and a 10% gap in means), the route furthest from their pooled mean gets
    stays of its own and the rest are tested again; so one very short route (dropouts) does not
    make every other route look different from a pooled mean it pulled down.
    """
    remaining = [str(route) for route, count in counts.items() if count >= FEWEST_STAYS]
    own: dict[str, dict] = {}
    while len(remaining) >= 2:
        kept = cohort.subset(np.isin(cohort.labels, remaining))
        test = stays_differ(kept.days, kept.censored, kept.entered, kept.labels, family, **recording(window))
        part.add_rows("stay_differences", [{"level": name, "routes": ", ".join(remaining), "p_value": test.p_value,
                                            "clearly": test.clearly, "pooled_mean_days": test.pooled_mean,
                                            **{f"mean_days_{route}": mean for route, mean in test.means.items()}}])
        if not test.clearly:
            break
        route = max(remaining, key=lambda label: abs(test.means[label] / test.pooled_mean - 1))
        stays = kept.subset(kept.labels == route)
        fit = fit_stays(stays.days, stays.censored, stays.entered, **recording(window))
        own[route] = compact(fit.as_scenario_los())
        part.notes[("next", route, "los")] = (_stays_note(fit, f"stays of those going to {route}")
                                              + f"; unlike the other routes' (likelihood ratio p = {test.p_value:.1g})")
        part.add_rows("stays", _stay_rows(fit, level=name, route=route))
        part.fits[(name, route)] = (fit, stays)
        remaining.remove(route)
    return own


# ---------------------------------------------------------------------------- waiting
def level_patience(level: pd.DataFrame, window: Window, name: str) -> Part:
    """A level's ``patience`` and ``gave_up`` when enough people left its waitlist unadmitted."""
    part = Part()
    waits = patience_data(level, window)
    gave_up = int((~waits.censored).sum())
    if gave_up < FEWEST_GAVE_UP:
        part.notes[("patience",)] = f"{gave_up} left the waitlist unadmitted: too few to fit patience"
        return part
    fit = fit_stays(waits.days, waits.censored, waits.entered, **recording(window))
    part.keys["patience"] = compact(fit.as_scenario_los())
    part.notes[("patience",)] = (_stays_note(fit, f"time to giving up, from {len(waits):,} waits").replace(
        "seen to end", "gave up").replace("still running at the as-of date (censored)",
                                          "admitted or still waiting (censored)"))
    counts = pd.Series(waits.labels[~waits.censored]).value_counts()
    part.keys["gave_up"] = shares(counts)
    part.notes[("gave_up",)] = f"where the {gave_up:,} who gave up went"
    part.add_rows("stays", _stay_rows(fit, level=name, route="patience"))
    part.fits[(name, "patience")] = (fit, waits)
    part.add_rows("routes", _share_rows(counts), level=name, kind="gave up")
    return part


# ---------------------------------------------------------------------------- relapse
@dataclass(frozen=True)
class ReturnRule:
    """One exit's fitted relapse: its scenario rule and the fit behind it."""

    rule: dict
    fit: Any
    exits_per_day: float
    returned_by: tuple[np.ndarray, np.ndarray] = (np.zeros(0), np.zeros(0))
    """The share of leavers seen back by each lag (Kaplan-Meier, the not-yet-back censored): lags, shares."""

    def still_to_return(self, days: np.ndarray) -> np.ndarray:
        """The share of leavers who will return but have not ``days`` after leaving: ``p`` less those seen back
        by then (Kaplan-Meier) within the lags the extract shows, the fitted delay law's ``p S(t)`` beyond them.
        The seen returns carry the delay's shape, so a law whose tail fits loosely does not set how many late
        returns there are; the cure model's ``p`` sets only how many return in all."""
        lags, back = self.returned_by
        share = self.fit.probability
        fitted = share * self.fit.delay.survival(days)
        if not len(lags):
            return fitted
        seen = np.interp(days, lags, back, left=0.0)
        return np.where(days <= lags[-1], np.clip(share - seen, 0.0, None), fitted)


def relapse(frame: pd.DataFrame, window: Window) -> tuple[Part, dict[str, ReturnRule]]:
    """``relapse``: per exit, the share who ever return and their delay (a cure model), and ``return_to``."""
    part, rules = Part(), {}
    for exit_name in EXITS:
        left = exit_data(frame, window, exit_name)
        returned = int((~left.censored).sum())
        if returned < FEWEST_RETURNS:
            if len(left):
                part.notes[(f"after_{exit_name}",)] = f"{returned} of {len(left):,} came back: too few to fit"
            continue
        fit = fit_returns(left.days, ~left.censored, **recording(window))
        rule = {"probability": round(fit.probability, 4), "time": compact(fit.delay.parameters)}
        lags, not_back = survival_curve(window.middle(left.days), left.censored)
        rules[exit_name] = ReturnRule(rule, fit, len(left) / max(1.0, window.as_of_day), (lags, 1 - not_back))
        low, high = fit.probability_ci
        part.notes[(f"after_{exit_name}",)] = (
            f"cure model on {len(left):,} who left by {exit_name}, {returned:,} came back: {fit.probability:.1%} "
            f"ever return (95% CI {low:.1%}-{high:.1%}), after a {fit.delay.family} delay (mean "
            f"{_days(fit.delay.mean)}); those not back by the as-of date are censored there")
        part.add_rows("relapse", [fit_row | {"exit": exit_name} for fit_row in fit.table()])
    returns = frame.loc[frame["arrived_as"].eq("return"), "level"].value_counts()
    if rules and len(returns):
        part.keys = {f"after_{name}": rule.rule for name, rule in rules.items()}
        part.keys["return_to"] = shares(returns)
        part.notes[("return_to",)] = f"the levels {int(returns.sum()):,} returns came back to"
        part.add_rows("routes", _share_rows(returns), level="(relapse)", kind="returned to")
    return part, rules


def returns_from_before(rules: dict[str, ReturnRule], return_to: dict[str, float], level: str,
                        days: np.ndarray) -> np.ndarray:
    """Expected returns a day at ``level`` of people who left care before the extract began: three rows, with
    each exit's share who return at its fitted value and at the low and high ends of its 95% interval.

    They come back as patients the extract has not seen, so they look like new referrals. At the
    extract's exit rate (taken as steady before it), people who left ``s`` days before day 0 return
    on day ``t`` at rate ``p g(t + s)``; over all ``s`` that is ``p S(t)`` a day per exit a day, the
    share still to return ``t`` days after leaving (:meth:`ReturnRule.still_to_return`).
    """
    expected = np.zeros((3, len(days)))
    for rule in rules.values():
        middle = rule.still_to_return(days + 0.5)
        # the interval's ends move the share who ever return, the seen returns staying as they are
        shifts = np.nan_to_num(np.array([rule.fit.probability, *rule.fit.probability_ci]) - rule.fit.probability)
        expected += rule.exits_per_day * np.clip(middle + shifts[:, None], 0.0, None) * return_to.get(level, 0.0)
    return expected


# ---------------------------------------------------------------------------- referrals
def level_referrals(frame: pd.DataFrame, window: Window, level: str, start: pd.Timestamp,
                    background: np.ndarray) -> Part:
    """``referrals_per_year`` (at the as-of date) with growth and seasons where the data support them.

    ``background``: :func:`returns_from_before`'s three rows. The tests of every level together keep a
    5% chance of a false trend or season anywhere: each level's are made at 5% divided by the number
    of levels (Bonferroni).
    """
    part = Part()
    days = new_arrival_days(frame, level)
    if not len(days):
        part.keys["referrals_per_year"] = 0
        part.notes[("referrals_per_year",)] = "no patient's first episode in the extract was here"
        return part
    window_days = np.arange(window.last_day + 1)
    months = (start + pd.to_timedelta(window_days, unit="D")).month.to_numpy() - 1
    levels = frame["level"].nunique()
    if background[0].sum() > 0.8 * len(days):
        raise ReferralsUnknown(f"{level}: {len(days):,} patients were first seen here in {window.last_day + 1} days, "
                               f"but {background[0].sum():,.0f} returns of people who left care before the extract "
                               "began are expected among them, so new referrals cannot be told from returns: give a "
                               "longer extract (a year or more; the relapse fit needs returns seen over months)")
    try:
        fit, *ends = (fit_referrals(days, 0, window.last_day, months, background=expected, test_level=0.05 / levels)
                      for expected in background)
    except ValueError:
        raise ReferralsUnknown(f"{level}: the referral rate could not be fitted: the returns of people who left care "
                               "before the extract seem to explain every patient first seen here; give a longer "
                               "extract (a year or more)") from None
    part.keys["referrals_per_year"] = round(fit.per_year, 1)
    part.keys["referral_growth_per_year"] = round(fit.growth_per_year, 4)
    if fit.seasonality is not None:
        part.keys["referral_seasonality"] = [round(float(factor), 3) for factor in fit.seasonality]
    low, high = _with_returns_unsure(fit, ends)
    returns = float(background[0].sum())
    part.notes[("referrals_per_year",)] = (
        f"{fit.n_referrals:,} patients first seen here over {window.last_day + 1:,} days, less an expected "
        f"{returns:,.0f} returns of people who left care before the extract (from the relapse fit); the rate "
        f"at the as-of date, {fit.per_year:,.0f} a year (95% CI {low:,.0f}-{high:,.0f}, the returns' own doubt "
        "included), Poisson maximum likelihood")
    for test in fit.tests:
        part.add_rows("referral_tests", [test], level=level)
    growth, seasons = (_trend_note(fit, term, 0.05 / levels) for term in ("growth", "seasons"))
    if fit.seasonality is not None:
        part.notes[("referral_growth_per_year",)] = growth
        part.notes[("referral_seasonality",)] = seasons
    else:
        part.notes[("referral_growth_per_year",)] = f"{growth}; {seasons}"
    part.add_rows("referrals", [{"level": level, "per_year": fit.per_year, "ci_low": low, "ci_high": high,
                                 "growth_per_year": fit.growth_per_year, "seasonal": fit.seasonality is not None,
                                 "first_seen": fit.n_referrals, "returns_from_before": returns}])
    return part


def _with_returns_unsure(fit: Any, ends: list[Any]) -> tuple[float, float]:
    """The rate's 95% interval, widened for the returns taken out not being known exactly: half the spread of
    the rates fitted with the relapse shares at the ends of their intervals, added in quadrature."""
    low, high = fit.per_year_ci
    unsure = abs(ends[0].per_year - ends[1].per_year) / 2
    return fit.per_year - math.hypot(fit.per_year - low, unsure), fit.per_year + math.hypot(high - fit.per_year, unsure)


def _trend_note(fit: Any, term: str, level_share: float) -> str:
    """What the likelihood-ratio test that decided ``term`` (growth or seasons) found."""
    test = next((row for row in fit.tests if row["term"] == term and row["decides"]), None)
    if test is None:
        return f"{term}: not tested (some month has no referral in the extract)"
    verdict = "kept" if test["kept"] else "not kept"
    return (f"{term}: likelihood-ratio test of {test['model']} against {test['against']}, p = {test['p_value']:.2g} "
            f"(kept below {level_share:.3g}), {verdict}")


# ---------------------------------------------------------------------------- today
def bands(days: np.ndarray) -> list[dict]:
    """Days (in care, waiting) counted in the bands of :data:`DAY_BANDS`."""
    edges = np.asarray(DAY_BANDS, dtype=float)
    counts = np.histogram(np.clip(days, 0, edges[-1] - 1), bins=edges)[0]
    return [{"from_days": float(low), "to_days": float(high), "count": int(count)}
            for low, high, count in zip(edges[:-1], edges[1:], counts, strict=True) if count]


def today(level: pd.DataFrame, window: Window, holds: bool) -> dict:
    """A level's ``initial``: who was in a place (by days in care), held for the next level (when the level
    ``holds``; else they count as in care) and waiting (by days waiting) at the as-of date."""
    open_ = level[level["discharged"].isna()]
    in_place = open_[open_["admitted"].notna()]
    held = in_place["stay_end"].notna() & holds
    in_care, waiting = in_place[~held], open_[open_["admitted"].isna()]
    initial: dict[str, Any] = {}
    if len(in_care):
        initial["in_care_bands"] = bands(window.middle(window.elapsed(in_care["admitted"])))
    if held.any():
        initial["held"] = [{"to": str(to), "held_days": [round(float(days), 1) for days in
                                                         window.middle(window.elapsed(rows["stay_end"]))]}
                           for to, rows in in_place[held].groupby("route")]
    if len(waiting):
        initial["waiting_bands"] = bands(window.middle(window.elapsed(waiting["referred"])))
    return initial


def at_risk(frame: pd.DataFrame, window: Window, rules: dict[str, ReturnRule]) -> list[dict]:
    """People who left care by an exit with a relapse rule and had not come back at the as-of date.

    Those seen leaving in the extract are counted by days since (in weeks, then months); people who
    left before it began are added at the extract's exit rate, from its length back until 99% of
    those who return would have.
    """
    people = []
    for exit_name, rule in rules.items():
        left = exit_data(frame, window, exit_name)
        since = window.middle(left.days[left.censored])
        people += _binned(since, exit_name, window)
        law = rule.fit.delay.law()
        longest = min(float(law.ppf(0.99)), MOST_DAYS_SINCE)
        edges = np.arange(window.as_of_day, max(window.as_of_day, longest) + 30, 30)
        middles = (edges[:-1] + edges[1:]) / 2
        counts = np.round(rule.exits_per_day * np.diff(edges) * (1 - rule.fit.probability * law.cdf(middles)))
        people += [{"after": exit_name, "days_since": round(float(middle), 1), "count": int(count)}
                   for middle, count in zip(middles, counts, strict=True) if count]
    return people


def _binned(since: np.ndarray, exit_name: str, window: Window) -> list[dict]:
    edges = np.concatenate([np.arange(0, 91, 7), np.arange(91, window.as_of_day + 30, 30)]).astype(float)
    counts, _ = np.histogram(since, bins=edges)
    weights, _ = np.histogram(since, bins=edges, weights=since)
    return [{"after": exit_name, "days_since": round(float(total / count), 1), "count": int(count)}
            for count, total in zip(counts, weights, strict=True) if count]

