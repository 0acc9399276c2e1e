"""Fit a scenario's numbers to a region's records, respecting how the records were made.

Stays taken from a region's records are not plain draws: a stay recorded as whole days is only known
to a day (interval-censored), a stay still running at the as-of date is only known to be longer than
what has been seen (right-censored), and a stay already running when the extract starts was seen only
because it lasted that long (left-truncated). Fitting as if they were plain draws makes stays look
shorter or longer than they are. :func:`fit_stays` fits each candidate family by maximum likelihood
with all three in the likelihood and ranks them by AIC; :meth:`StayFit.as_scenario_los` hands the
chosen one back as a scenario's ``los``. Each fit says how sure it is of the mean stay.

Around it, what else a scenario needs from records, fitted the same careful way:

- :func:`survival_curve`, the Kaplan-Meier estimate with left truncation, to set beside a fit's
  :meth:`FamilyFit.survival` in a probability plot;
- :func:`stays_differ`, whether stays differ by destination enough to fit each apart;
- :func:`fit_returns`, the share of exits who ever come back and their delay (a cure model);
- :func:`fit_referrals`, the referral rate with growth and seasons when the data support them.

How a stay was recorded (``recorded``) changes what a recorded ``d`` days says about the true stay
``s``, for a resolution of ``r`` days (1 for dates):

- ``"floor"``: ``s`` lies in ``[d, d + r)`` (a stay timed from its start and rounded down);
- ``"dates"``: ``d`` is the difference of two dates, each the true time rounded down to the day. With
  the time of day ``a`` of admission uniform, ``floor(a + s) = d``, so ``P(d) = ∫_0^1 F(d + 1 - a) -
  F(d - a) da``, a triangular kernel over ``(d - 1, d + 1)``: the mean of ``d`` is the mean of ``s``,
  and reading ``d`` as ``"floor"`` would add half a day to every stay.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
from pydantic import TypeAdapter
from scipy import optimize, special, stats

from .distributions import Distribution
from .metrics import DAYS_PER_YEAR

FAMILIES = ("exponential", "gamma", "lognormal", "weibull")
"""The parametric families :func:`fit_stays` can fit (the empirical one is added when it can be)."""

RECORDED = ("floor", "dates")
"""How stays can have been recorded (see the module's docstring)."""

CLEAR_P_VALUE = 0.001
"""How unlikely a difference between labels' stays must be by chance for :func:`stays_differ` to call it clear."""

CLEAR_RELATIVE_DIFFERENCE = 0.10
"""How far (a share of the pooled mean) some label's mean stay must be from the pooled one to matter to a plan."""

TEST_LEVEL = 0.05
"""The p-value below which :func:`fit_referrals` keeps growth or seasons."""

_Z95 = float(stats.norm.ppf(0.975))
_NODES, _NODE_WEIGHTS = np.polynomial.legendre.leggauss(8)
_DAY_STARTS = (_NODES + 1) / 2
"""Where in its first day a stay began (a share of the day), Gauss-Legendre nodes for averaging over it."""


@dataclass(frozen=True)
class _Family:
    """How to fit one family: its starting point from the moments, and its parameters as a scipy law and a spec.

    Parameters ``theta`` live on the log scale (``mu`` of the lognormal excepted), so any real
    ``theta`` is a valid law and the optimiser needs no bounds. ``logsf`` is the log-survival at
    ``theta`` written out (0 at and below 0 days): a scipy law costs more to make than the
    likelihood of a whole extract costs to add up once its stays are tallied.
    """

    start: Callable[[float, float], list[float]]
    law: Callable[[np.ndarray], stats.rv_continuous]
    spec: Callable[[np.ndarray], dict]
    logsf: Callable[[np.ndarray, np.ndarray], np.ndarray]


def _weibull_start(mean: float, sd: float) -> list[float]:
    shape = (sd / mean) ** -1.086     # a close approximation of the shape with this coefficient of variation
    return [math.log(shape), math.log(mean / math.gamma(1 + 1 / shape))]


def _lognormal_start(mean: float, sd: float) -> list[float]:
    sigma2 = math.log1p((sd / mean) ** 2)
    return [math.log(mean) - sigma2 / 2, 0.5 * math.log(sigma2)]


def _gamma_spec(theta: np.ndarray) -> dict:
    shape, scale = np.exp(theta)
    return {"dist": "gamma", "mean": float(shape * scale), "sd": float(math.sqrt(shape) * scale)}


def _exponential_logsf(theta: np.ndarray, days: np.ndarray) -> np.ndarray:
    return -np.maximum(days, 0) / np.exp(theta[0])


def _gamma_logsf(theta: np.ndarray, days: np.ndarray) -> np.ndarray:
    shape, scale = np.exp(theta)
    return np.log(special.gammaincc(shape, np.maximum(days, 0) / scale))


def _lognormal_logsf(theta: np.ndarray, days: np.ndarray) -> np.ndarray:
    return special.log_ndtr((theta[0] - np.log(np.maximum(days, 0))) / np.exp(theta[1]))


def _weibull_logsf(theta: np.ndarray, days: np.ndarray) -> np.ndarray:
    shape, scale = np.exp(theta)
    return -((np.maximum(days, 0) / scale) ** shape)


_FAMILIES = {
    "exponential": _Family(
        start=lambda mean, sd: [math.log(mean)],
        law=lambda theta: stats.expon(scale=np.exp(theta[0])),
        spec=lambda theta: {"dist": "exponential", "mean": float(np.exp(theta[0]))},
        logsf=_exponential_logsf),
    "gamma": _Family(
        start=lambda mean, sd: [2 * math.log(mean / sd), math.log(sd**2 / mean)],
        law=lambda theta: stats.gamma(a=np.exp(theta[0]), scale=np.exp(theta[1])),
        spec=_gamma_spec,
        logsf=_gamma_logsf),
    "lognormal": _Family(
        start=_lognormal_start,
        law=lambda theta: stats.lognorm(s=np.exp(theta[1]), scale=np.exp(theta[0])),
        spec=lambda theta: {"dist": "lognormal", "mu": float(theta[0]), "sigma": float(np.exp(theta[1]))},
        logsf=_lognormal_logsf),
    "weibull": _Family(
        start=_weibull_start,
        law=lambda theta: stats.weibull_min(c=np.exp(theta[0]), scale=np.exp(theta[1])),
        spec=lambda theta: {"dist": "weibull", "shape": float(np.exp(theta[0])), "scale": float(np.exp(theta[1]))},
        logsf=_weibull_logsf),
}


@dataclass(frozen=True)
class FamilyFit:
    """One family's maximum-likelihood fit: its scenario spec, log-likelihood, AIC (lower is better) and mean.

    ``mean_ci`` is a 95% interval from the observed information: the numerical Hessian of the
    negative log-likelihood at the optimum, in ``theta``, inverted, and carried to the log of the
    mean by the delta method (so the interval stays above 0 and is skewed like the mean's
    uncertainty). For the empirical family it is the normal interval of the recorded values' mean.
    ``(nan, nan)`` when the Hessian is not positive definite (a fit on the edge of its family).
    """

    family: str
    parameters: dict
    """The fitted law as a scenario ``los`` mapping (``dist`` and its parameters)."""
    log_likelihood: float
    n_parameters: int
    theta: tuple[float, ...] = ()
    """The fitted parameters on the optimiser's scale (see ``_Family``); empty for the empirical family."""
    mean: float = math.nan
    """The fitted law's mean, in days."""
    mean_ci: tuple[float, float] = (math.nan, math.nan)
    n: int = 0
    """Stays (or delays) the fit used: those seen to end and those censored."""

    @property
    def aic(self) -> float:
        return 2 * self.n_parameters - 2 * self.log_likelihood

    def law(self) -> stats.rv_continuous:
        """The fitted law as a frozen scipy distribution; the empirical family has none (use :meth:`cdf`)."""
        if self.family not in _FAMILIES:
            raise ValueError(f"the {self.family} fit has no scipy law: use its cdf or survival")
        return _FAMILIES[self.family].law(np.asarray(self.theta))

    def cdf(self, days) -> np.ndarray:
        """The fitted chance that a stay is at most ``days`` long (the values' shares for the empirical family)."""
        days = np.asarray(days, dtype=float)
        if self.family == "empirical":
            values = np.sort(np.asarray(self.parameters["values"], dtype=float))
            return np.searchsorted(values, days, side="right") / len(values)
        return self.law().cdf(days)

    def survival(self, days) -> np.ndarray:
        """The fitted chance that a stay is longer than ``days``: to set beside :func:`survival_curve`."""
        if self.family == "empirical":
            return 1 - self.cdf(days)
        return self.law().sf(np.asarray(days, dtype=float))


@dataclass(frozen=True)
class StayFit:
    """The candidate families fitted to one set of stays, and the one AIC prefers.

    ``notes`` says why a family asked for is missing (the empirical one when stays are censored or
    truncated; a family whose fit did not converge).
    """

    fits: dict[str, FamilyFit]
    n_observed: int
    """Stays seen to end (interval-censored when ``resolution_days`` > 0)."""
    n_censored: int
    """Stays still running at the as-of date (right-censored)."""
    n_truncated: int
    """Stays already running when the extract started (left-truncated)."""
    notes: tuple[str, ...] = ()
    recorded: str = "floor"
    """How the stays were recorded (see :data:`RECORDED`)."""

    @property
    def best(self) -> FamilyFit:
        """The fit with the lowest AIC."""
        return min(self.fits.values(), key=lambda fit: fit.aic)

    def table(self) -> list[dict]:
        """One row per family, best first: family, parameters, log-likelihood, AIC, AIC above the best, mean."""
        best = self.best.aic
        return [{"family": fit.family, "parameters": fit.parameters, "log_likelihood": fit.log_likelihood,
                 "aic": fit.aic, "delta_aic": fit.aic - best, "mean": fit.mean,
                 "mean_ci_low": fit.mean_ci[0], "mean_ci_high": fit.mean_ci[1]}
                for fit in sorted(self.fits.values(), key=lambda fit: fit.aic)]

    def as_scenario_los(self, family: str | None = None) -> dict:
        """The chosen fit (``family``, else the best) as a scenario ``los`` mapping, checked by the scenario's model."""
        spec = dict(self.fits[family or self.best.family].parameters)
        TypeAdapter(Distribution).validate_python(spec)
        return spec


def fit_stays(stays, censored=None, entered=None, resolution_days: float = 1.0,
              families: Sequence[str] = FAMILIES, recorded: str = "floor") -> StayFit:
    """Fit each of ``families`` to ``stays`` by maximum likelihood and rank them by AIC.

    Stays are tallied first (one term per distinct recorded value, weighted by how many stays
    share it), so 200,000 stays cost about what a few hundred do.

    Parameters
    ----------
    stays
        Lengths of stay in days. A stay seen to end is recorded as ``d`` days (whole days from the
        difference of two dates, when ``resolution_days`` is 1); a censored one as the days in care
        so far, ``c``.
    censored
        True where the stay had not ended at the as-of date, so it is only known to have lasted
        longer than ``c`` (the likelihood uses ``S(c)``). Under ``"dates"``, ``c`` is the as-of date
        less the admission date and the extract holds the whole as-of day: the stay outlasted
        ``c + 1 - a`` (about ``c + 0.5``), averaged over the time of day ``a`` of admission. None:
        no stay is censored.
    entered
        Days each stay had already run when the extract started (0: admitted within the extract).
        Such a stay was seen only because it lasted past ``entered``, so its likelihood is divided
        by ``S(entered)``; under ``"dates"``, ``entered`` is the extract's first date less the
        admission date, so the stay had run ``entered - a`` (about ``entered - 0.5``) at the
        extract's first midnight, averaged over ``a`` the same way. None: no stay is truncated.
        Must not exceed the stay.
    resolution_days
        How finely stays were recorded. Under ``"floor"`` a stay recorded as ``d`` days lies in
        ``[d, d + resolution_days)`` (its likelihood is ``F(d + resolution) - F(d)``). 0: stays are
        exact (the density ``f(d)``; then a stay of 0 days is impossible for most families).
    families
        Any of :data:`FAMILIES`, and ``"empirical"``: the observed stays resampled (at the middle of
        their interval under ``"floor"``, as recorded under ``"dates"``, whose mean is the stays'),
        offered only when nothing is censored or truncated and stays are recorded to a resolution,
        where its log-likelihood is that of the day counts' shares.
    recorded
        ``"floor"`` or ``"dates"``: how a recorded stay relates to the true one (module docstring).

    Raises
    ------
    ValueError
        Negative or non-finite stays, lengths that differ, every stay censored, an unknown family.
    """
    stays, censored, entered = _checked(stays, censored, entered)
    _check_options(resolution_days, recorded, families, allowed=(*FAMILIES, "empirical"))
    records = _records(stays, censored, entered, np.ones(len(stays)), recorded, resolution_days)
    fits: dict[str, FamilyFit] = {}
    notes: list[str] = []
    for family in families:
        fit = _fit_empirical(records) if family == "empirical" else _fit_family(family, records)
        if isinstance(fit, str):
            notes.append(fit)
        else:
            fits[family] = fit
    if not fits:
        raise ValueError("no family could be fitted to these stays: " + "; ".join(notes))
    return StayFit(fits, n_observed=int((~censored).sum()), n_censored=int(censored.sum()),
                   n_truncated=int((entered > 0).sum()), notes=tuple(notes), recorded=recorded)


def _checked(stays, censored, entered, name: str = "stays", flags: str = "censored"):
    """The inputs as float and bool arrays of one length, or a ValueError naming what is wrong.

    ``name`` and ``flags`` are what the caller calls the lengths and the censored flags, for the messages.
    """
    stays = np.asarray(stays, dtype=float)
    if stays.ndim != 1 or len(stays) == 0:
        raise ValueError(f"{name} must be a non-empty list of lengths in days")
    if not np.isfinite(stays).all() or (stays < 0).any():
        bad = int(np.flatnonzero(~np.isfinite(stays) | (stays < 0))[0])
        raise ValueError(f"{name} must be finite and 0 or more days ({name[:-1]} {bad} is {stays[bad]})")
    censored = np.zeros(len(stays), bool) if censored is None else np.asarray(censored, dtype=bool)
    entered = np.zeros(len(stays)) if entered is None else np.asarray(entered, dtype=float)
    for what, values in ((flags, censored), ("entered", entered)):
        if values.shape != stays.shape:
            raise ValueError(f"{what} has {values.size} values but there are {len(stays)} {name}")
    if not np.isfinite(entered).all() or (entered < 0).any() or (entered > stays).any():
        raise ValueError("entered must be finite, 0 or more, and no longer than the stay it belongs to")
    if censored.all():
        raise ValueError(f"all {len(stays)} {name} are censored: at least one seen to end is needed")
    return stays, censored, entered


def _check_options(resolution_days: float, recorded: str, families: Sequence[str], allowed: Sequence[str]) -> None:
    if not math.isfinite(resolution_days) or resolution_days < 0:
        raise ValueError(f"resolution_days must be 0 or more (got {resolution_days})")
    if recorded not in RECORDED:
        raise ValueError(f"recorded must be one of {', '.join(RECORDED)} (got {recorded!r})")
    unknown = sorted(set(families) - set(allowed))
    if unknown or not families:
        raise ValueError(f"families must be some of {', '.join(allowed)} (got {unknown or 'none'})")


@dataclass(frozen=True)
class _Records:
    """Stays tallied, so the log-likelihood is a weighted sum over distinct values, not over stays.

    Every term is the log-survival at some ``point - start``, averaged over ``starts``, where in its
    first day a stay began (``[0]`` under ``"floor"``; Gauss-Legendre nodes over the day, with
    ``weights``, under ``"dates"``). So one call of the survival on the grid ``points - starts`` per
    likelihood serves every term: ``low`` and ``high`` index a stay's ``d`` and ``d + r``,
    ``beyond`` a censored stay's ``c`` (``c + r`` under "dates": it outlasted ``c + r - start``),
    ``entry`` a truncated stay's ``entered``. Counts say how many stays share each distinct value.
    """

    points: np.ndarray
    ended: np.ndarray
    ended_count: np.ndarray
    low: np.ndarray
    high: np.ndarray
    censored_count: np.ndarray
    beyond: np.ndarray
    entered_count: np.ndarray
    entry: np.ndarray
    resolution_days: float
    recorded: str
    starts: np.ndarray
    weights: np.ndarray

    @property
    def n(self) -> int:
        return int(round(self.ended_count.sum() + self.censored_count.sum()))

    def moments(self) -> tuple[float, float]:
        """Mean and sd of the stays seen to end (at the middle of their day under "floor"), to start from."""
        values = self.ended + (self.resolution_days / 2 if self.recorded == "floor" else 0)
        mean = max(float(np.average(values, weights=self.ended_count)), 1e-3)
        sd = math.sqrt(float(np.average((values - mean) ** 2, weights=self.ended_count)))
        return mean, max(sd, 0.1 * mean)    # kept positive when every value is the same


def _records(stays, censored, entered, weights, recorded: str, resolution_days: float) -> _Records:
    dated = recorded == "dates" and resolution_days > 0
    truncated = entered > 0
    ended, ended_count = _tally(stays[~censored], weights[~censored])
    beyond, censored_count = _tally(stays[censored] + (resolution_days if dated else 0), weights[censored])
    entry, entered_count = _tally(entered[truncated], weights[truncated])
    points, index = np.unique(np.concatenate([ended, ended + resolution_days, beyond, entry]), return_inverse=True)
    low, high, beyond_index, entry_index = np.split(index, np.cumsum([len(ended), len(ended), len(beyond)]))
    return _Records(points, ended, ended_count, low, high, censored_count, beyond_index, entered_count, entry_index,
                    resolution_days, recorded, starts=resolution_days * _DAY_STARTS if dated else np.zeros(1),
                    weights=_NODE_WEIGHTS / 2 if dated else np.ones(1))


def _tally(values: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    distinct, index = np.unique(values, return_inverse=True)
    return distinct, np.bincount(index, weights=weights, minlength=len(distinct))


def log_likelihood(law, stays, censored, entered, resolution_days: float, weights=None,
                   recorded: str = "floor") -> float:
    """The log-likelihood of the stays under a frozen scipy ``law``: interval, right-censored, left-truncated.

    ``weights`` counts each row that many times (None: once each); ``recorded`` as in :func:`fit_stays`.
    """
    stays = np.asarray(stays, dtype=float)
    weights = np.ones(len(stays)) if weights is None else np.asarray(weights, dtype=float)
    if recorded not in RECORDED:
        raise ValueError(f"recorded must be one of {', '.join(RECORDED)} (got {recorded!r})")
    if weights.shape != stays.shape:
        raise ValueError(f"weights has {weights.size} values but there are {len(stays)} stays")
    records = _records(stays, np.asarray(censored, dtype=bool), np.asarray(entered, dtype=float), weights,
                       recorded, resolution_days)
    return _log_likelihood(law.logsf, law.logpdf, records)


def _log_likelihood(logsf: Callable, logpdf: Callable, records: _Records) -> float:
    with np.errstate(all="ignore"):
        ended, beyond, entry = _log_terms(logsf, logpdf, records)
        total = records.ended_count @ ended + records.censored_count @ beyond - records.entered_count @ entry
    return float(total) if np.isfinite(total) else -math.inf


def _log_terms(logsf: Callable, logpdf: Callable, records: _Records) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log-chances of each distinct stay seen to end, censored stay's survival, and truncated stay's survival."""
    grid = logsf(records.points - records.starts[:, None])
    if records.resolution_days == 0:
        ended = logpdf(records.ended)
    else:
        below, above = grid[:, records.low], grid[:, records.high]
        # log(S(d) - S(d + r)) from the survival's logs, so a long stay's chance is not lost to rounding
        ended = _log_mean(below + np.log(-np.expm1(above - below)), records.weights)
    weights = records.weights
    return ended, _log_mean(grid[:, records.beyond], weights), _log_mean(grid[:, records.entry], weights)


def _log_mean(logs: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The log of the ``weights``-average of ``exp(logs)`` down each column, without underflow."""
    if len(weights) == 1:
        return logs[0]
    top = logs.max(axis=0)
    top = np.where(np.isfinite(top), top, 0)
    return top + np.log(weights @ np.exp(logs - top))


def _fit_family(family: str, records: _Records) -> FamilyFit | str:
    """Maximise the family's log-likelihood from a method-of-moments start; a note if it does not converge."""
    spec = _FAMILIES[family]

    def cost(theta: np.ndarray) -> float:
        return -_log_likelihood(partial(spec.logsf, theta), lambda days: spec.law(theta).logpdf(days), records)

    found = _minimise(cost, spec.start(*records.moments()))
    if isinstance(found, str):
        return f"{family}: {found}"
    theta, log_likelihood = found
    return _family_fit(family, theta, log_likelihood, _covariance(cost, theta), records.n)


def _minimise(cost: Callable[[np.ndarray], float], start: list[float]) -> tuple[np.ndarray, float] | str:
    """The minimum of ``cost`` (a negative log-likelihood) and the log-likelihood there, or why it was not found."""
    found = optimize.minimize(cost, np.array(start), method="Nelder-Mead",
                              options={"xatol": 1e-7, "fatol": 1e-7, "maxiter": 4000})
    if not found.success or not np.isfinite(found.fun):
        return f"the fit did not converge ({found.message})"
    return found.x, -float(found.fun)


def _family_fit(family: str, theta: np.ndarray, log_likelihood: float, covariance: np.ndarray | None, n: int,
                n_parameters: int | None = None) -> FamilyFit:
    law = _FAMILIES[family].law
    mean = float(law(theta).mean())
    spread = _delta_sd(lambda at: math.log(law(at).mean()), theta, covariance)
    return FamilyFit(family, _FAMILIES[family].spec(theta), log_likelihood, n_parameters or len(theta),
                     theta=tuple(float(value) for value in theta), mean=mean,
                     mean_ci=(mean * math.exp(-_Z95 * spread), mean * math.exp(_Z95 * spread)), n=n)


def _covariance(cost: Callable[[np.ndarray], float], theta: np.ndarray, step: float = 1e-3) -> np.ndarray | None:
    """The inverse of the observed information (the Hessian of ``cost`` at its minimum, by central differences).

    None when the Hessian is not positive definite, so no interval can be read from it.
    """
    hessian = np.empty((len(theta), len(theta)))
    steps = np.eye(len(theta)) * step
    for i in range(len(theta)):
        for j in range(i, len(theta)):
            corners = [cost(theta + a * steps[i] + b * steps[j]) for a, b in ((1, 1), (1, -1), (-1, 1), (-1, -1))]
            hessian[i, j] = hessian[j, i] = (corners[0] - corners[1] - corners[2] + corners[3]) / (4 * step**2)
    if not np.isfinite(hessian).all():
        return None
    try:
        np.linalg.cholesky(hessian)
    except np.linalg.LinAlgError:
        return None
    return np.linalg.inv(hessian)


def _delta_sd(function: Callable[[np.ndarray], float], theta: np.ndarray, covariance: np.ndarray | None,
              step: float = 1e-5) -> float:
    """The standard deviation of ``function(theta)`` by the delta method (its gradient by central differences)."""
    if covariance is None:
        return math.nan
    gradient = np.array([(function(theta + shift) - function(theta - shift)) / (2 * step)
                         for shift in np.eye(len(theta)) * step])
    return math.sqrt(max(float(gradient @ covariance @ gradient), 0.0))


def _fit_empirical(records: _Records) -> FamilyFit | str:
    """The recorded stays resampled, or a note why they cannot stand for the stays' distribution.

    Its log-likelihood is that of each recorded day count's share (the interval-censored
    non-parametric maximum), with one parameter per distinct count less one, so its AIC ranks with
    the families'. Under ``"floor"`` each value is the middle of its interval; under ``"dates"`` the
    recorded day count itself, whose mean is the true stays' mean.
    """
    if len(records.censored_count) or len(records.entered_count):
        return ("empirical: left out because some stays are censored or truncated, "
                "so the recorded stays are not a fair sample of whole stays")
    if records.resolution_days == 0:
        return "empirical: left out because with exact stays (resolution_days 0) it has no finite likelihood"
    counts, n = records.ended_count, records.n
    values = records.ended + (records.resolution_days / 2 if records.recorded == "floor" else 0)
    log_likelihood = float((counts * np.log(counts / n)).sum())
    mean = float(np.average(values, weights=counts))
    spread = math.sqrt(float(np.average((values - mean) ** 2, weights=counts)) / n)
    return FamilyFit("empirical", {"dist": "empirical", "values": np.repeat(values, counts.astype(int)).tolist()},
                     log_likelihood=log_likelihood, n_parameters=len(counts) - 1, mean=mean,
                     mean_ci=(mean - _Z95 * spread, mean + _Z95 * spread), n=n)


def survival_curve(stays, censored=None, entered=None) -> tuple[np.ndarray, np.ndarray]:
    """The Kaplan-Meier estimate of the chance a stay lasts beyond each time a stay ended, with left truncation.

    A stay is at risk at ``t`` when ``entered <= t <= stay``: with whole days, a stay that entered
    the extract on the day it ended was at risk that day (for continuous times ``<`` and ``<=``
    agree). Times are taken as given: adding half a day to stays recorded as dates is the caller's
    choice.

    Returns
    -------
    times, survival
        The distinct times at which stays ended, ascending, and the estimated ``S(t)`` just after each.
    """
    stays, censored, entered = _checked(stays, censored, entered)
    ends = np.sort(stays[~censored])
    times = np.unique(ends)
    ending = np.searchsorted(ends, times, side="right") - np.searchsorted(ends, times, side="left")
    at_risk = (np.searchsorted(np.sort(entered), times, side="right")
               - np.searchsorted(np.sort(stays), times, side="left"))
    return times, np.cumprod(1 - ending / at_risk)


@dataclass(frozen=True)
class StayDifference:
    """Whether stays differ between labels (destinations, say) clearly enough to fit each label apart.

    ``clearly`` needs both a small ``p_value`` (below :data:`CLEAR_P_VALUE`) and some label's mean
    at least :data:`CLEAR_RELATIVE_DIFFERENCE` away from the pooled mean: with thousands of stays
    a difference of a few hours is "significant" yet changes nothing in a plan, and with few stays
    a large difference can be chance.
    """

    family: str
    p_value: float
    """Likelihood-ratio test of one law for all labels against one per label (chi-squared)."""
    lr_statistic: float
    degrees_of_freedom: int
    means: dict
    """Each label's fitted mean stay, days."""
    pooled_mean: float
    clearly: bool
    fits: dict
    """Each label's own fit (a :class:`FamilyFit`, whose ``parameters`` is a scenario ``los``)."""
    pooled: FamilyFit


def stays_differ(stays, censored, entered, labels, family: str, recorded: str = "floor",
                 resolution_days: float = 1.0) -> StayDifference:
    """Test whether stays differ between ``labels`` by fitting ``family`` to all together and to each label.

    Censored stays have no destination yet: when labels are destinations, give censored stays the
    label of the destination they are expected to take, or leave them out knowing that leaving
    them out shortens the fitted stays.

    Raises
    ------
    ValueError
        Bad stays (as :func:`fit_stays`), labels of another length, fewer than two labels, a label
        with no stay seen to end or whose fit does not converge.
    """
    stays, censored, entered = _checked(stays, censored, entered)
    _check_options(resolution_days, recorded, [family], allowed=FAMILIES)
    labels = np.asarray(labels)
    if labels.shape != stays.shape:
        raise ValueError(f"labels has {labels.size} values but there are {len(stays)} stays")
    names = np.unique(labels).tolist()
    if len(names) < 2:
        raise ValueError(f"stays_differ needs stays of at least two labels (got {names})")
    pooled = _label_fit(family, stays, censored, entered, recorded, resolution_days, "all labels together")
    fits = {name: _label_fit(family, stays[labels == name], censored[labels == name], entered[labels == name],
                             recorded, resolution_days, f"label {name!r}") for name in names}
    statistic = max(2 * (sum(fit.log_likelihood for fit in fits.values()) - pooled.log_likelihood), 0.0)
    freedom = (len(fits) - 1) * pooled.n_parameters
    p_value = float(stats.chi2.sf(statistic, freedom))
    means = {name: fit.mean for name, fit in fits.items()}
    apart = max(abs(mean / pooled.mean - 1) for mean in means.values())
    clearly = p_value < CLEAR_P_VALUE and apart >= CLEAR_RELATIVE_DIFFERENCE
    return StayDifference(family, p_value, statistic, freedom, means, pooled.mean, bool(clearly), fits, pooled)


def _label_fit(family: str, stays, censored, entered, recorded: str, resolution_days: float, what: str) -> FamilyFit:
    if censored.all():
        raise ValueError(f"{what}: every one of its {len(stays)} stays is censored, so its stays cannot be fitted")
    records = _records(stays, censored, entered, np.ones(len(stays)), recorded, resolution_days)
    fit = _fit_family(family, records)
    if isinstance(fit, str):
        raise ValueError(f"{what}: {fit}")
    return fit


@dataclass(frozen=True)
class CureFit:
    """One delay family's cure-model fit: the share of exits who ever return, and the delay of those who do.

    ``delay.log_likelihood`` and ``delay.n_parameters`` are the whole model's (the family's
    parameters and the share), so ``delay.aic`` ranks the families' cure models.
    """

    probability: float
    probability_ci: tuple[float, float]
    delay: FamilyFit

    @property
    def aic(self) -> float:
        return self.delay.aic


@dataclass(frozen=True)
class ReturnFit:
    """Who comes back after leaving care, and when: the cure model AIC prefers among the families fitted.

    ``probability`` is the share of exits who ever start another episode, with a 95% interval
    (observed information on the logit scale, so it stays within 0 and 1); ``delay`` the days to
    that episode for those who do (its ``parameters`` is a scenario distribution spec).
    """

    probability: float
    probability_ci: tuple[float, float]
    delay: FamilyFit
    fits: dict[str, CureFit]
    n_exits: int
    n_returned: int
    notes: tuple[str, ...] = ()

    def table(self) -> list[dict]:
        """One row per family, best first: family, share returning and its interval, delay, AIC, mean delay."""
        best = min(fit.aic for fit in self.fits.values())
        return [{"family": family, "probability": fit.probability, "probability_ci_low": fit.probability_ci[0],
                 "probability_ci_high": fit.probability_ci[1], "parameters": fit.delay.parameters,
                 "log_likelihood": fit.delay.log_likelihood, "aic": fit.aic, "delta_aic": fit.aic - best,
                 "mean": fit.delay.mean, "mean_ci_low": fit.delay.mean_ci[0], "mean_ci_high": fit.delay.mean_ci[1]}
                for family, fit in sorted(self.fits.items(), key=lambda item: item[1].aic)]


def fit_returns(delays, returned, recorded: str = "dates", resolution_days: float = 1.0,
                families: Sequence[str] = FAMILIES) -> ReturnFit:
    """Fit a cure model to what followed each exit from care: a share ``p`` ever return, after a delay ``F``.

    A return seen after ``d`` days has likelihood ``p P(d | F)`` (``d`` treated as a stay is by
    :func:`fit_stays`); an exit not followed by a return ``c`` days before the as-of date has
    ``(1 - p) + p S(c)`` (``S`` as for a censored stay). The share of exits seen to return is
    biased low: some of the rest will return after the as-of date.

    Parameters
    ----------
    delays
        Days from each exit to the patient's next episode (``returned`` True), or to the as-of date.
    returned
        Whether the exit was followed by an episode by the as-of date.

    Raises
    ------
    ValueError
        Negative or non-finite delays, lengths that differ, no exit followed by a return, an unknown family.
    """
    returned = np.asarray(returned, dtype=bool)
    if returned.ndim == 1 and len(returned) and not returned.any():
        raise ValueError(f"none of the {len(returned)} exits was followed by a return: the delay cannot be fitted")
    delays, censored, _ = _checked(delays, ~returned, None, name="delays", flags="returned")
    _check_options(resolution_days, recorded, families, allowed=FAMILIES)
    records = _records(delays, censored, np.zeros(len(delays)), np.ones(len(delays)), recorded, resolution_days)
    fits: dict[str, CureFit] = {}
    notes: list[str] = []
    for family in families:
        fit = _fit_cure(family, records)
        if isinstance(fit, str):
            notes.append(fit)
        else:
            fits[family] = fit
    if not fits:
        raise ValueError("no family could be fitted to these returns: " + "; ".join(notes))
    best = min(fits.values(), key=lambda fit: fit.aic)
    return ReturnFit(best.probability, best.probability_ci, best.delay, fits, n_exits=len(delays),
                     n_returned=int((~censored).sum()), notes=tuple(notes))


def _fit_cure(family: str, records: _Records) -> CureFit | str:
    """The cure model with ``family`` delays: ``theta`` is the share's logit, then the family's parameters."""
    spec = _FAMILIES[family]

    def cost(theta: np.ndarray) -> float:
        law = theta[1:]
        return -_cure_log_likelihood(partial(spec.logsf, law), lambda days: spec.law(law).logpdf(days), records,
                                     theta[0])

    share = float(np.clip(records.ended_count.sum() / records.n, 0.02, 0.98))
    found = _minimise(cost, [special.logit(share), *spec.start(*records.moments())])
    if isinstance(found, str):
        return f"{family}: {found}"
    theta, log_likelihood = found
    covariance = _covariance(cost, theta)
    spread = math.nan if covariance is None else math.sqrt(covariance[0, 0])
    interval = (float(special.expit(theta[0] - _Z95 * spread)), float(special.expit(theta[0] + _Z95 * spread)))
    delay = _family_fit(family, theta[1:], log_likelihood, None if covariance is None else covariance[1:, 1:],
                        records.n, n_parameters=len(theta))
    return CureFit(float(special.expit(theta[0])), interval, delay)


def _cure_log_likelihood(logsf: Callable, logpdf: Callable, records: _Records, logit: float) -> float:
    log_p, log_q = -np.logaddexp(0, -logit), -np.logaddexp(0, logit)
    with np.errstate(all="ignore"):
        ended, later, _ = _log_terms(logsf, logpdf, records)
        total = records.ended_count @ (log_p + ended) + records.censored_count @ np.logaddexp(log_q, log_p + later)
    return float(total) if np.isfinite(total) else -math.inf


_MODELS = {"constant": (False, False), "growth": (True, False), "seasons": (False, True),
           "growth and seasons": (True, True)}
"""The four nested referral models: whether each has growth and seasons."""


@dataclass(frozen=True)
class _Poisson:
    coefficients: np.ndarray
    covariance: np.ndarray
    log_likelihood: float


@dataclass(frozen=True)
class ReferralFit:
    """A level's referral rate as a scenario wants it: per year at the window's end, growth and seasons.

    ``per_year`` is the rate at the end of the window, averaged over the seasons: what a scenario
    starting at that date says as ``referrals_per_year``. ``growth_per_year`` is 0 and
    ``seasonality`` None when the tests did not keep them; ``growth_ci`` is still the interval of
    the growth the data allow (from the model with growth, seasons as chosen), so a planner sees
    how much growth the data cannot rule out. Intervals are 95%, from the observed information
    (delta method on the log rate). ``tests`` lists each likelihood-ratio test (see
    :func:`fit_referrals`).
    """

    per_year: float
    per_year_ci: tuple[float, float]
    growth_per_year: float
    growth_ci: tuple[float, float]
    seasonality: list[float] | None
    tests: list[dict]
    n_referrals: int
    days: int
    model: str
    """The chosen model: one of constant, growth, seasons, growth and seasons."""
    notes: tuple[str, ...] = ()


def fit_referrals(days, first_day: int, last_day: int, months, background=None,
                  test_level: float = TEST_LEVEL) -> ReferralFit:
    """Fit daily referral counts with Poisson models, with growth and monthly seasons kept only when tested in.

    The daily mean is ``background[t] + exp(a + b t / 365) s[month(t)]``, ``s`` normalised to mean
    1 over the 12 months. Four nested models (constant, growth, seasons, both) are fitted by
    maximum likelihood (Newton steps with the exact gradient and Hessian). Seasons are tested
    first, with growth in (growth and seasons against growth, chi-squared with 11 df), so a trend
    cannot pass for seasons; growth is then tested in the seasons' choice (against the same model
    without growth, 1 df). Each is kept when its p-value is below ``test_level`` (a caller testing
    several levels divides :data:`TEST_LEVEL` among them, so that chance alone seldom invents a
    season or a trend anywhere in the extract). Counts more
    spread than Poisson (weeks of many referrals) make these tests keep terms too readily.

    Parameters
    ----------
    days
        The day number of each new referral (whole days from the extract's start).
    first_day, last_day
        The window, both days included.
    months
        The calendar month (0 for January) of each day of the window, ``last_day - first_day + 1`` of them.
        Seasons are tested only when every month has a referral in the window (a month with none
        would have a factor of 0, at the edge of the model).
    background
        Arrivals a day expected on top of referrals (say returns of people who left care before the
        extract began, which look like new referrals early in an extract), one per day of the window;
        None: none.
    """
    counts, months, background = _referral_inputs(days, first_day, last_day, months, background)
    years = (np.arange(len(counts)) - (len(counts) - 1)) / DAYS_PER_YEAR    # 0 on the last day: a is its rate
    testable = bool((np.bincount(months, weights=counts, minlength=12) > 0).all())
    fits = {name: _poisson_fit(counts, _design(years, months, *shape), background)
            for name, shape in _MODELS.items() if testable or not shape[1]}
    if not 0 < test_level < 1:
        raise ValueError(f"test_level must be between 0 and 1 (got {test_level})")
    model, tests = _chosen_model(fits, test_level)
    growth, seasons = _MODELS[model]
    per_year, per_year_ci, seasonality = _rate_at_end(fits[model], growth, seasons)
    with_growth = fits["growth and seasons" if seasons else "growth"]
    slope, spread = with_growth.coefficients[1], math.sqrt(with_growth.covariance[1, 1])
    notes = () if testable else ("seasons not tested: some month has no day in the window, or no referral",)
    return ReferralFit(per_year, per_year_ci, math.expm1(slope) if growth else 0.0,
                       (math.expm1(slope - _Z95 * spread), math.expm1(slope + _Z95 * spread)),
                       seasonality if seasons else None, tests, int(counts.sum()), len(counts), model, notes)


def _referral_inputs(days, first_day: int, last_day: int, months, background):
    """Daily counts over the window, months and background as arrays, or a ValueError naming what is wrong."""
    if int(last_day) < int(first_day) + 1:
        raise ValueError(f"the window must hold at least two days (first_day {first_day}, last_day {last_day})")
    length = int(last_day) - int(first_day) + 1
    days = np.asarray(days)
    if days.ndim != 1 or not np.isfinite(days).all() or (days != np.floor(days)).any():
        raise ValueError("days must be a list of whole day numbers")
    outside = (days < first_day) | (days > last_day)
    if outside.any():
        bad = int(np.flatnonzero(outside)[0])
        raise ValueError(f"referral {bad} is on day {days[bad]}, outside the window {first_day}..{last_day}")
    if len(days) == 0:
        raise ValueError(f"there is no referral in the window {first_day}..{last_day}")
    months = np.asarray(months)
    if months.shape != (length,) or not np.isin(months, np.arange(12)).all():
        raise ValueError(f"months must give the month (0 to 11) of each of the window's {length} days")
    background = np.zeros(length) if background is None else np.asarray(background, dtype=float)
    if background.shape != (length,) or not np.isfinite(background).all() or (background < 0).any():
        raise ValueError(f"background must give 0 or more arrivals for each of the window's {length} days")
    return np.bincount((days - first_day).astype(int), minlength=length), months.astype(int), background


def _design(years: np.ndarray, months: np.ndarray, growth: bool, seasons: bool) -> np.ndarray:
    """Columns: 1, then the years to the window's end (growth), then a column per month after January (seasons)."""
    columns = [np.ones(len(years))]
    if growth:
        columns.append(years)
    if seasons:
        columns.extend((months == month).astype(float) for month in range(1, 12))
    return np.column_stack(columns)


def _poisson_terms(beta: np.ndarray, design: np.ndarray, counts: np.ndarray, background: np.ndarray):
    """The negative log-likelihood (less its constant) of the daily counts, its gradient and its Hessian."""
    rate = np.exp(design @ beta)
    mean = background + rate
    cost = float(mean.sum() - counts @ np.log(mean))
    gradient = design.T @ ((1 - counts / mean) * rate)
    curvature = (1 - counts / mean) * rate + counts * (rate / mean) ** 2
    return cost, gradient, (design.T * curvature) @ design


def _poisson_fit(counts: np.ndarray, design: np.ndarray, background: np.ndarray) -> _Poisson:
    def terms(beta: np.ndarray):
        with np.errstate(all="ignore"):
            return _poisson_terms(beta, design, counts, background)

    start = np.zeros(design.shape[1])
    start[0] = math.log(max(float((counts - background).mean()), 0.1 * float(counts.mean())))
    found = optimize.minimize(lambda beta: terms(beta)[0], start, jac=lambda beta: terms(beta)[1],
                              hess=lambda beta: terms(beta)[2], method="trust-exact")
    cost, gradient, hessian = terms(found.x)
    if not _at_minimum(gradient, hessian):
        raise ValueError(f"the referral model with {design.shape[1]} parameters did not converge ({found.message})")
    constant = float(special.gammaln(counts + 1).sum())
    return _Poisson(found.x, np.linalg.inv(hessian), -cost - constant)


def _at_minimum(gradient: np.ndarray, hessian: np.ndarray) -> bool:
    """Whether a Newton step would gain next to nothing (its decrement, about twice the log-likelihood left).

    Judged here because trust-exact can stop short of its own gradient tolerance at the optimum.
    """
    if not (np.isfinite(gradient).all() and np.isfinite(hessian).all()):
        return False
    try:
        decrement = float(gradient @ np.linalg.solve(hessian, gradient))
    except np.linalg.LinAlgError:
        return False
    return 0 <= decrement < 1e-6


def _chosen_model(fits: dict[str, _Poisson], test_level: float) -> tuple[str, list[dict]]:
    """The model the tests choose, and every likelihood-ratio test with whether it decided and what it kept."""
    comparisons = [("growth and seasons", "growth", "seasons"), ("growth and seasons", "seasons", "growth"),
                   ("seasons", "constant", "seasons"), ("growth", "constant", "growth")]
    tests = {(model, against): _lr_test(fits, model, against, term)
             for model, against, term in comparisons if model in fits}
    seasons_test = tests.get(("growth and seasons", "growth"))
    seasons = seasons_test is not None and seasons_test["p_value"] < test_level
    growth_test = tests[("growth and seasons", "seasons") if seasons else ("growth", "constant")]
    for test in tests.values():
        test["decides"] = test is seasons_test or test is growth_test
        test["kept"] = test["decides"] and test["p_value"] < test_level
    growth = growth_test["kept"]
    return next(name for name, shape in _MODELS.items() if shape == (growth, seasons)), list(tests.values())


def _lr_test(fits: dict[str, _Poisson], model: str, against: str, term: str) -> dict:
    larger, smaller = fits[model], fits[against]
    statistic = max(2 * (larger.log_likelihood - smaller.log_likelihood), 0.0)
    freedom = len(larger.coefficients) - len(smaller.coefficients)
    return {"model": model, "against": against, "term": term, "log_likelihood": larger.log_likelihood,
            "parameters": len(larger.coefficients), "lr_statistic": statistic,
            "p_value": float(stats.chi2.sf(statistic, freedom))}


def _rate_at_end(fit: _Poisson, growth: bool, seasons: bool) -> tuple[float, tuple[float, float], list[float]]:
    """Referrals a year on the window's last day averaged over the months, its interval, and the month factors."""
    beta = fit.coefficients
    log_factors = np.concatenate([[0.0], beta[-11:]]) if seasons else np.zeros(12)
    shares = special.softmax(log_factors)
    gradient = np.zeros(len(beta))
    gradient[0] = 1.0
    if seasons:
        gradient[-11:] = shares[1:]
    log_rate = math.log(DAYS_PER_YEAR) + beta[0] + special.logsumexp(log_factors) - math.log(12)
    spread = math.sqrt(float(gradient @ fit.covariance @ gradient))
    interval = (math.exp(log_rate - _Z95 * spread), math.exp(log_rate + _Z95 * spread))
    return math.exp(log_rate), interval, (12 * shares).tolist()
