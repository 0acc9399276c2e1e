"""Fit a length-of-stay distribution to a level's recorded stays, respecting how they were recorded.

Stays taken from a region's records are not plain draws: a stay recorded as whole days is only known
to a day (interval-censored), a stay still running at the as-of date is only known to be longer than
what has been seen (right-censored), and a stay already running when the extract starts was seen only
because it lasted that long (left-truncated). Fitting as if they were plain draws makes stays look
shorter or longer than they are. :func:`fit_stays` fits each candidate family by maximum likelihood
with all three in the likelihood and ranks them by AIC; :meth:`StayFit.as_scenario_los` hands the
chosen one back as a scenario's ``los``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from pydantic import TypeAdapter
from scipy import optimize, stats

from .distributions import Distribution

FAMILIES = ("exponential", "gamma", "lognormal", "weibull")
"""The parametric families :func:`fit_stays` can fit (the empirical one is added when it can be)."""


@dataclass(frozen=True)
class _Family:
    """How to fit one family: its starting point from the moments, and its parameters as a scipy law and a spec.

    Parameters ``theta`` live on the log scale (``mu`` of the lognormal excepted), so any real
    ``theta`` is a valid law and the optimiser needs no bounds.
    """

    start: Callable[[float, float], list[float]]
    law: Callable[[np.ndarray], stats.rv_continuous]
    spec: Callable[[np.ndarray], dict]


def _weibull_start(mean: float, sd: float) -> list[float]:
    shape = (sd / mean) ** -1.086     # a close approximation of the shape with this coefficient of variation
    return [math.log(shape), math.log(mean / math.gamma(1 + 1 / shape))]


def _lognormal_start(mean: float, sd: float) -> list[float]:
    sigma2 = math.log1p((sd / mean) ** 2)
    return [math.log(mean) - sigma2 / 2, 0.5 * math.log(sigma2)]


def _gamma_spec(theta: np.ndarray) -> dict:
    shape, scale = np.exp(theta)
    return {"dist": "gamma", "mean": float(shape * scale), "sd": float(math.sqrt(shape) * scale)}


_FAMILIES = {
    "exponential": _Family(
        start=lambda mean, sd: [math.log(mean)],
        law=lambda theta: stats.expon(scale=np.exp(theta[0])),
        spec=lambda theta: {"dist": "exponential", "mean": float(np.exp(theta[0]))}),
    "gamma": _Family(
        start=lambda mean, sd: [2 * math.log(mean / sd), math.log(sd**2 / mean)],
        law=lambda theta: stats.gamma(a=np.exp(theta[0]), scale=np.exp(theta[1])),
        spec=_gamma_spec),
    "lognormal": _Family(
        start=_lognormal_start,
        law=lambda theta: stats.lognorm(s=np.exp(theta[1]), scale=np.exp(theta[0])),
        spec=lambda theta: {"dist": "lognormal", "mu": float(theta[0]), "sigma": float(np.exp(theta[1]))}),
    "weibull": _Family(
        start=_weibull_start,
        law=lambda theta: stats.weibull_min(c=np.exp(theta[0]), scale=np.exp(theta[1])),
        spec=lambda theta: {"dist": "weibull", "shape": float(np.exp(theta[0])), "scale": float(np.exp(theta[1]))}),
}


@dataclass(frozen=True)
class FamilyFit:
    """One family's maximum-likelihood fit: its scenario spec, log-likelihood and AIC (lower is better)."""

    family: str
    parameters: dict
    """The fitted law as a scenario ``los`` mapping (``dist`` and its parameters)."""
    log_likelihood: float
    n_parameters: int

    @property
    def aic(self) -> float:
        return 2 * self.n_parameters - 2 * self.log_likelihood


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

    @property
    def best(self) -> FamilyFit:
        """The fit with the lowest AIC."""
        return min(self.fits.values(), key=lambda fit: fit.aic)

    def table(self) -> list[dict]:
        """One row per family, best first: family, parameters, log-likelihood, AIC and AIC above the best."""
        best = self.best.aic
        return [{"family": fit.family, "parameters": fit.parameters, "log_likelihood": fit.log_likelihood,
                 "aic": fit.aic, "delta_aic": fit.aic - best}
                for fit in sorted(self.fits.values(), key=lambda fit: fit.aic)]

    def as_scenario_los(self, family: str | None = None) -> dict:
        """The chosen fit (``family``, else the best) as a scenario ``los`` mapping, checked by the scenario's model."""
        spec = dict(self.fits[family or self.best.family].parameters)
        TypeAdapter(Distribution).validate_python(spec)
        return spec


def fit_stays(stays, censored=None, entered=None, resolution_days: float = 1.0,
              families: Sequence[str] = FAMILIES) -> StayFit:
    """Fit each of ``families`` to ``stays`` by maximum likelihood and rank them by AIC.

    Parameters
    ----------
    stays
        Lengths of stay in days. A stay seen to end is recorded as ``d`` days (whole days from the
        difference of two dates, when ``resolution_days`` is 1); a censored one as the days in care
        so far, ``c``.
    censored
        True where the stay had not ended at the as-of date: it is only known to be longer than
        ``c`` (the likelihood uses ``S(c)``). None: no stay is censored.
    entered
        Days each stay had already run when the extract started (0: admitted within the extract).
        Such a stay was seen only because it lasted past ``entered``, so its likelihood is divided
        by ``S(entered)``. None: no stay is truncated. Must not exceed the stay.
    resolution_days
        How finely stays were recorded. A stay recorded as ``d`` days lies in
        ``[d, d + resolution_days)`` (its likelihood is ``F(d + resolution) - F(d)``). 0: stays are
        exact (the density ``f(d)``; then a stay of 0 days is impossible for most families).
    families
        Any of :data:`FAMILIES`, and ``"empirical"``: the observed stays resampled (at the middle of
        their interval), offered only when nothing is censored or truncated and stays are recorded
        to a resolution, where its log-likelihood is that of the day counts' shares.

    Raises
    ------
    ValueError
        Negative or non-finite stays, lengths that differ, every stay censored, an unknown family.
    """
    stays, censored, entered = _checked(stays, censored, entered, resolution_days, families)
    fits: dict[str, FamilyFit] = {}
    notes: list[str] = []
    for family in families:
        fit = (_fit_empirical(stays, censored, entered, resolution_days) if family == "empirical"
               else _fit_family(family, stays, censored, entered, resolution_days))
        if isinstance(fit, str):
            notes.append(fit)
        else:
            fits[family] = fit
    if not fits:
        raise ValueError("no family could be fitted to these stays: " + "; ".join(notes))
    return StayFit(fits, n_observed=int((~censored).sum()), n_censored=int(censored.sum()),
                   n_truncated=int((entered > 0).sum()), notes=tuple(notes))


def _checked(stays, censored, entered, resolution_days: float, families: Sequence[str]):
    """The inputs as float and bool arrays of one length, or a ValueError naming what is wrong."""
    stays = np.asarray(stays, dtype=float)
    if stays.ndim != 1 or len(stays) == 0:
        raise ValueError("stays must be a non-empty list of lengths in days")
    if not np.isfinite(stays).all() or (stays < 0).any():
        bad = int(np.flatnonzero(~np.isfinite(stays) | (stays < 0))[0])
        raise ValueError(f"stays must be finite and 0 or more days (stay {bad} is {stays[bad]})")
    censored = np.zeros(len(stays), bool) if censored is None else np.asarray(censored, dtype=bool)
    entered = np.zeros(len(stays)) if entered is None else np.asarray(entered, dtype=float)
    for name, values in (("censored", censored), ("entered", entered)):
        if values.shape != stays.shape:
            raise ValueError(f"{name} has {values.size} values but there are {len(stays)} stays")
    if not np.isfinite(entered).all() or (entered < 0).any() or (entered > stays).any():
        raise ValueError("entered must be finite, 0 or more, and no longer than the stay it belongs to")
    if censored.all():
        raise ValueError(f"all {len(stays)} stays are censored: at least one stay seen to end is needed")
    if not math.isfinite(resolution_days) or resolution_days < 0:
        raise ValueError(f"resolution_days must be 0 or more (got {resolution_days})")
    unknown = sorted(set(families) - {*FAMILIES, "empirical"})
    if unknown or not families:
        raise ValueError(f"families must be some of {', '.join(FAMILIES)}, empirical (got {unknown or 'none'})")
    return stays, censored, entered


def log_likelihood(law, stays: np.ndarray, censored: np.ndarray, entered: np.ndarray,
                   resolution_days: float) -> float:
    """The log-likelihood of the stays under a frozen scipy ``law``: interval, right-censored, left-truncated."""
    seen = stays[~censored]
    if resolution_days > 0:
        # log(S(d) - S(d + r)) from the survival's logs, so a long stay's chance is not lost to rounding
        below, above = law.logsf(seen), law.logsf(seen + resolution_days)
        ended = below + np.log(-np.expm1(above - below))
    else:
        ended = law.logpdf(seen)
    total = ended.sum() + law.logsf(stays[censored]).sum() - law.logsf(entered[entered > 0]).sum()
    return float(total) if np.isfinite(total) else -math.inf


def _fit_family(family: str, stays, censored, entered, resolution_days: float) -> FamilyFit | str:
    """Maximise the family's log-likelihood from a method-of-moments start; a note if it does not converge."""
    spec = _FAMILIES[family]
    mean, sd = _moments(stays[~censored] + resolution_days / 2)

    def cost(theta: np.ndarray) -> float:
        return -log_likelihood(spec.law(theta), stays, censored, entered, resolution_days)

    start = np.array(spec.start(mean, sd))
    found = optimize.minimize(cost, start, method="Nelder-Mead",
                              options={"xatol": 1e-7, "fatol": 1e-7, "maxiter": 4000})
    if not found.success or not np.isfinite(found.fun):
        return f"{family}: the fit did not converge ({found.message})"
    return FamilyFit(family, spec.spec(found.x), log_likelihood=-float(found.fun), n_parameters=len(start))


def _moments(values: np.ndarray) -> tuple[float, float]:
    """Mean and sd to start from, kept positive when every value is the same."""
    mean = max(float(values.mean()), 1e-3)
    return mean, max(float(values.std()), 0.1 * mean)


def _fit_empirical(stays, censored, entered, resolution_days: float) -> FamilyFit | str:
    """The recorded stays resampled, or a note why they cannot stand for the stays' distribution.

    Its log-likelihood is that of each recorded day count's share (the interval-censored
    non-parametric maximum), with one parameter per distinct count less one, so its AIC ranks with
    the families'.
    """
    if censored.any() or (entered > 0).any():
        return ("empirical: left out because some stays are censored or truncated, "
                "so the recorded stays are not a fair sample of whole stays")
    if resolution_days == 0:
        return "empirical: left out because with exact stays (resolution_days 0) it has no finite likelihood"
    _, counts = np.unique(stays, return_counts=True)
    log_likelihood = float((counts * np.log(counts / len(stays))).sum())
    values = [float(value) for value in np.sort(stays) + resolution_days / 2]
    return FamilyFit("empirical", {"dist": "empirical", "values": values}, log_likelihood=log_likelihood,
                     n_parameters=len(counts) - 1)

