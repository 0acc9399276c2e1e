"""Distribution specs for stays, patience and time to relapse, and their samplers.

A spec is what a planner writes (``{dist: lognormal, median: 7, p90: 18}``); a
:class:`Sampler` is what the engine draws from. Every sampler knows its ``mean`` and
``variance`` (so tests against theory are one line) and draws by inverse transform from
uniforms, so one draw always consumes exactly one random number: a truncated stay
(``max``) costs no extra draws, and two scenarios see the same stream of stays.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Literal

import numpy as np
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from scipy import stats

_Z90 = stats.norm.ppf(0.9)

Positive = Annotated[float, Field(gt=0)]
NonNegative = Annotated[float, Field(ge=0)]


_SAMPLERS: dict[str, Sampler] = {}
"""Samplers made so far, by spec (see :meth:`_Spec.sampler`)."""


class _Spec(BaseModel):
    # no .inf or .nan anywhere: a stay, patience or relapse time is a finite number of days
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    max: Positive | None = None
    """Optional truncation: values above ``max`` are never drawn (days)."""

    if TYPE_CHECKING:
        dist: str   # every concrete spec declares its own ``dist`` tag (a Literal)

    def frozen(self):  # pragma: no cover - every continuous subclass overrides
        raise NotImplementedError

    @property
    def can_take_no_time(self) -> bool:
        """Whether a draw can be exactly 0 days with positive probability (continuous ones cannot)."""
        return False

    def sampler(self) -> Sampler:
        """The sampler this spec describes, made once per distinct spec (a truncated one integrates for its mean).

        Samplers hold no random state (draws come from the engine's streams), so equal specs share one: the
        same stay in several patient groups, levels or replications costs its set-up once per process.
        """
        key = f"{type(self).__name__}:{self.model_dump_json()}"
        made = _SAMPLERS.get(key)
        if made is None:
            made = _SAMPLERS[key] = self.make_sampler()
        return made

    def make_sampler(self) -> Sampler:
        return ScipySampler(self.frozen(), self.max)


class Exponential(_Spec):
    dist: Literal["exponential"]
    mean: Positive

    def frozen(self):
        return stats.expon(scale=self.mean)

    def make_sampler(self) -> Sampler:
        if self.max is None:
            return MemorylessSampler(self.frozen(), None)
        return ScipySampler(self.frozen(), self.max)


class Lognormal(_Spec):
    """Lognormal by (mean, sd), by (median, p90), or by the log-scale (mu, sigma)."""

    dist: Literal["lognormal"]
    mean: Positive | None = None
    sd: Positive | None = None
    median: Positive | None = None
    p90: Positive | None = None
    mu: float | None = None
    sigma: Positive | None = None

    @model_validator(mode="after")
    def _one_parameterisation(self) -> Lognormal:
        given = {k for k in ("mean", "sd", "median", "p90", "mu", "sigma") if getattr(self, k) is not None}
        if given not in ({"mean", "sd"}, {"median", "p90"}, {"mu", "sigma"}):
            raise ValueError(
                "lognormal needs exactly one of: mean and sd; median and p90; mu and sigma "
                f"(got {', '.join(sorted(given)) or 'none'})"
            )
        if self.median is not None and self.p90 is not None and self.p90 <= self.median:
            raise ValueError(f"lognormal p90 ({self.p90}) must be above the median ({self.median})")
        return self

    def log_scale(self) -> tuple[float, float]:
        """The (mu, sigma) of the underlying normal."""
        if self.mu is not None and self.sigma is not None:
            return self.mu, self.sigma
        if self.median is not None and self.p90 is not None:
            return math.log(self.median), math.log(self.p90 / self.median) / _Z90
        assert self.mean is not None and self.sd is not None, "validated: one pair is given"
        sigma2 = math.log1p((self.sd / self.mean) ** 2)
        return math.log(self.mean) - sigma2 / 2, math.sqrt(sigma2)

    def frozen(self):
        mu, sigma = self.log_scale()
        return stats.lognorm(s=sigma, scale=math.exp(mu))


class Gamma(_Spec):
    dist: Literal["gamma"]
    mean: Positive
    sd: Positive

    def frozen(self):
        shape = (self.mean / self.sd) ** 2
        return stats.gamma(a=shape, scale=self.mean / shape)


class Weibull(_Spec):
    dist: Literal["weibull"]
    shape: Positive
    scale: Positive

    def frozen(self):
        return stats.weibull_min(c=self.shape, scale=self.scale)


class Triangular(_Spec):
    dist: Literal["triangular"]
    low: NonNegative
    mode: NonNegative
    high: Positive

    @model_validator(mode="after")
    def _ordered(self) -> Triangular:
        if not self.low <= self.mode <= self.high or self.low == self.high:
            raise ValueError(
                f"triangular needs low <= mode <= high and low < high "
                f"(got low={self.low}, mode={self.mode}, high={self.high})"
            )
        return self

    def frozen(self):
        width = self.high - self.low
        return stats.triang(c=(self.mode - self.low) / width, loc=self.low, scale=width)


class Uniform(_Spec):
    dist: Literal["uniform"]
    low: NonNegative
    high: Positive

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.low >= self.high:
            raise ValueError(f"uniform needs low < high (got low={self.low}, high={self.high})")
        return self

    def frozen(self):
        return stats.uniform(loc=self.low, scale=self.high - self.low)


class Fixed(_Spec):
    dist: Literal["fixed"]
    value: NonNegative

    def make_sampler(self) -> Sampler:
        value = self.value if self.max is None else min(self.value, self.max)
        return FixedSampler(value)

    @property
    def can_take_no_time(self) -> bool:
        return self.value == 0


class Empirical(_Spec):
    """Resample observed values (e.g. stays from last year's discharges), each equally likely."""

    dist: Literal["empirical"]
    values: Annotated[list[NonNegative], Field(min_length=1)]

    @model_validator(mode="after")
    def _some_below_max(self) -> Empirical:
        if self.max is not None and min(self.values) > self.max:
            raise ValueError(f"empirical: no value is at or below max={self.max}")
        return self

    def make_sampler(self) -> Sampler:
        values = np.sort(np.asarray(self.values, dtype=float))
        if self.max is not None:
            values = values[values <= self.max]
        return EmpiricalSampler(values)

    @property
    def can_take_no_time(self) -> bool:
        return min(self.values) == 0


def _usable(spec: _Spec) -> _Spec:
    """Refuse a spec whose parameters are each valid but whose draws are not usable days.

    Run once the spec's own checks have passed, so the parameters are complete.
    """
    if spec.max is not None and not isinstance(spec, Fixed | Empirical) and spec.frozen().cdf(spec.max) <= 0:
        raise ValueError(f"max {spec.max:g} is below every value this {spec.dist} can draw")
    # parameters can each be finite and still overflow (lognormal mu: 1000, gamma sd: 1e200)
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sampler = spec.sampler()
            values = [sampler.mean, sampler.variance, *sampler.from_uniforms(np.array([0.0, 0.5, 0.999]))]
    except (ArithmeticError, ValueError):
        values = [math.nan]
    if not all(math.isfinite(value) for value in values):
        raise ValueError(f"this {spec.dist} has no finite mean and variance in days (its values overflow): "
                         "check the parameters and their units")
    return spec


Distribution = Annotated[
    Exponential | Lognormal | Gamma | Weibull | Triangular | Uniform | Fixed | Empirical,
    Field(discriminator="dist"),
    AfterValidator(_usable),
]
"""Any distribution spec, chosen by its ``dist`` key."""

DIST_NAMES = ("exponential", "lognormal", "gamma", "weibull", "triangular", "uniform", "fixed", "empirical")


class Sampler:
    """Draws values by inverse transform; knows its mean and variance."""

    if TYPE_CHECKING:
        # read-only here: a subclass may store them or compute them (FixedSampler)
        @property
        def mean(self) -> float: ...

        @property
        def variance(self) -> float: ...

    def from_uniforms(self, uniforms: np.ndarray) -> np.ndarray:
        """Map uniforms in [0, 1) to values of this distribution."""
        raise NotImplementedError

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` independent draws using ``rng``."""
        return self.from_uniforms(rng.random(size))

    @property
    def longest(self) -> float:
        """The longest value a draw can take (``inf`` when there is no limit)."""
        raise NotImplementedError

    def survival(self, elapsed: np.ndarray) -> np.ndarray:
        """The chance that a value is at least ``elapsed`` (a stay not over after that many days)."""
        raise NotImplementedError

    def remaining_from_uniforms(self, elapsed: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
        """Map uniforms in [0, 1) to the time left of values known to be at least ``elapsed``.

        The value is drawn given that it is at least ``elapsed`` (a stay already that long), and
        ``elapsed`` taken off: the patient's remaining stay. One uniform per value, as for fresh
        draws. ``elapsed`` at or past :attr:`longest` gives 0 (a scenario refuses it before).
        """
        raise NotImplementedError


@dataclass(frozen=True)
class FixedSampler(Sampler):
    value: float

    @property
    def mean(self) -> float:
        return self.value

    @property
    def variance(self) -> float:
        return 0.0

    def from_uniforms(self, uniforms: np.ndarray) -> np.ndarray:
        return np.full(len(uniforms), self.value)

    @property
    def longest(self) -> float:
        return self.value

    def survival(self, elapsed: np.ndarray) -> np.ndarray:
        return (np.asarray(elapsed, dtype=float) <= self.value).astype(float)

    def remaining_from_uniforms(self, elapsed: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
        return np.maximum(self.value - np.asarray(elapsed, dtype=float), 0.0)


class EmpiricalSampler(Sampler):
    mean: float
    variance: float

    def __init__(self, values: np.ndarray):
        self.values = values
        self.mean = float(values.mean())
        self.variance = float(values.var())

    def from_uniforms(self, uniforms: np.ndarray) -> np.ndarray:
        return self.values[(uniforms * len(self.values)).astype(np.intp)]

    @property
    def longest(self) -> float:
        return float(self.values[-1])

    def survival(self, elapsed: np.ndarray) -> np.ndarray:
        return 1 - np.searchsorted(self.values, elapsed, side="left") / len(self.values)

    def remaining_from_uniforms(self, elapsed: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
        # resample among the observed values at least ``elapsed``, each equally likely
        elapsed = np.asarray(elapsed, dtype=float)
        first = np.searchsorted(self.values, elapsed, side="left")
        index = first + (uniforms * (len(self.values) - first)).astype(np.intp)
        return np.maximum(self.values[np.minimum(index, len(self.values) - 1)] - elapsed, 0.0)


class ScipySampler(Sampler):
    """A continuous scipy distribution, optionally truncated above at ``max``."""

    mean: float
    variance: float

    def __init__(self, frozen, max_value: float | None):
        self.frozen = frozen
        self.quantile = _quantile_function(frozen)
        self.max = math.inf if max_value is None else float(max_value)
        self.top = float(frozen.cdf(self.max))
        if self.top <= 0:
            raise ValueError(f"max={max_value} leaves no probability mass")
        if self.top == 1.0:
            # A max past all the mass truncates nothing; integrating up to it would let the
            # quadrature miss the mass (uniform 1-10 with max 365 came out with mean 5.01).
            self.mean, self.variance = (float(v) for v in frozen.stats("mv"))
        else:
            first = frozen.expect(lambda x: x, ub=max_value, conditional=True)
            second = frozen.expect(lambda x: x * x, ub=max_value, conditional=True)
            self.mean, self.variance = float(first), float(second - first**2)

    def from_uniforms(self, uniforms: np.ndarray) -> np.ndarray:
        values = self.quantile(uniforms if self.top == 1.0 else uniforms * self.top)
        # ppf(cdf(max)) can round a hair above max
        return values if self.max == math.inf else np.minimum(values, self.max)

    @property
    def longest(self) -> float:
        return min(float(self.frozen.support()[1]), self.max)

    def survival(self, elapsed: np.ndarray) -> np.ndarray:
        # tail probabilities from sf, not 1 - cdf: a long stay's chance is not lost to rounding
        beyond_max = self.frozen.sf(self.max)
        return np.clip((self.frozen.sf(elapsed) - beyond_max) / (1 - beyond_max), 0.0, 1.0)

    def remaining_from_uniforms(self, elapsed: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
        # inverse transform on the tail: sf(value) runs from sf(elapsed) (u = 0) down to sf(max)
        elapsed = np.asarray(elapsed, dtype=float)
        beyond_max = self.frozen.sf(self.max)
        above_elapsed = np.maximum(self.frozen.sf(elapsed) - beyond_max, 0.0)
        values = self.frozen.isf(beyond_max + (1 - uniforms) * above_elapsed)
        return np.maximum(np.minimum(values, self.max) - elapsed, 0.0)


PROBE = np.array([0.0, 1e-300, 1e-12, 0.001, 0.1, 0.25, 0.5, 0.75, 0.9, 0.999, 1 - 2**-53])
"""Uniforms on which :func:`_quantile_function` checks its shortcut against ``ppf``."""


def _quantile_function(frozen) -> Callable[[np.ndarray], np.ndarray]:
    """``frozen.ppf`` for uniforms in [0, 1), without its checks of every argument on every call (on a batch of a
    thousand, 110 us of its 120-140): the distribution's own inverse CDF, scaled and shifted as ``ppf`` does
    (``rv_continuous.ppf`` computes ``_ppf(q) * scale + loc``), so every value is the same to the last bit.
    The shortcut is used only if it gives ``ppf``'s values on :data:`PROBE`; otherwise ``ppf`` itself."""
    try:
        shapes, loc, scale = frozen.dist._parse_args(*frozen.args, **frozen.kwds)
        inverse = frozen.dist._ppf

        def quantile(uniforms: np.ndarray) -> np.ndarray:
            return inverse(uniforms, *shapes) * scale + loc

        same = np.array_equal(quantile(PROBE), frozen.ppf(PROBE))
    except (AttributeError, TypeError, ValueError):   # a scipy whose private parts differ: the public way
        same = False
    return quantile if same else frozen.ppf


class MemorylessSampler(ScipySampler):
    """An untruncated exponential: the time left never depends on the time already spent."""

    def remaining_from_uniforms(self, elapsed: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
        return self.from_uniforms(uniforms)


def return_chance(probability: float, time: Sampler, days_since: np.ndarray) -> np.ndarray:
    """The chance that someone who left care ``days_since`` days ago, and has not come back, still will.

    A share ``probability`` ever returns, after a ``time`` with survival S: of those still away,
    ``probability S(d) / (1 - probability + probability S(d))`` are yet to return (0 where nobody
    can still be away: everyone returns, and sooner than ``days_since``).
    """
    yet_to_return = probability * time.survival(days_since)
    still_away = 1 - probability + yet_to_return
    return np.divide(yet_to_return, still_away, out=np.zeros_like(yet_to_return, dtype=float), where=still_away > 0)
