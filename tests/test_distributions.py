"""Distribution samplers and random streams checked against theory, not against printed output."""

import functools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError
from scipy import integrate, special, stats

from sim import streams
from sim.distributions import DIST_NAMES, Distribution, return_chance
from sim.streams import generator

SPECS = TypeAdapter(Distribution)
LAST_UNIFORM = 1 - 2**-53
"""The largest value ``Generator.random`` can return."""


def spec(**fields):
    return SPECS.validate_python(fields)


def sampler(**fields):
    return spec(**fields).sampler()


def draws(dist_sampler, size=200_000, seed=20240611):
    return dist_sampler.sample(np.random.default_rng(seed), size)


# ---------------------------------------------------------------------------
# Closed-form mean and variance, and a large sample agreeing with them
# ---------------------------------------------------------------------------


def lognormal_moments(mu, sigma):
    mean = math.exp(mu + sigma**2 / 2)
    return mean, math.expm1(sigma**2) * mean**2


def weibull_moments(shape, scale):
    first, second = math.gamma(1 + 1 / shape), math.gamma(1 + 2 / shape)
    return scale * first, scale**2 * (second - first**2)


def triangular_moments(low, mode, high):
    mean = (low + mode + high) / 3
    return mean, (low**2 + mode**2 + high**2 - low * mode - low * high - mode * high) / 18


SIGMA_18_OVER_7 = math.log(18 / 7) / stats.norm.ppf(0.9)
VALUES = [1.0, 2.0, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0]

THEORY = {
    "exponential": ({"dist": "exponential", "mean": 6.5}, (6.5, 6.5**2)),
    "lognormal mean/sd": ({"dist": "lognormal", "mean": 9.0, "sd": 6.0}, (9.0, 36.0)),
    "lognormal median/p90": (
        {"dist": "lognormal", "median": 7.0, "p90": 18.0},
        lognormal_moments(math.log(7), SIGMA_18_OVER_7),
    ),
    "lognormal mu/sigma": (
        {"dist": "lognormal", "mu": 1.5, "sigma": 0.6},
        lognormal_moments(1.5, 0.6),
    ),
    "gamma": ({"dist": "gamma", "mean": 12.0, "sd": 5.0}, (12.0, 25.0)),
    "weibull": ({"dist": "weibull", "shape": 1.7, "scale": 20.0}, weibull_moments(1.7, 20.0)),
    "triangular": (
        {"dist": "triangular", "low": 1, "mode": 3, "high": 10},
        triangular_moments(1, 3, 10),
    ),
    "uniform": ({"dist": "uniform", "low": 2.0, "high": 9.0}, (5.5, 49 / 12)),
    "fixed": ({"dist": "fixed", "value": 4.0}, (4.0, 0.0)),
    "empirical": ({"dist": "empirical", "values": VALUES}, (np.mean(VALUES), np.var(VALUES))),
}


def test_theory_table_covers_every_kind():
    assert {fields["dist"] for fields, _ in THEORY.values()} == set(DIST_NAMES)


@pytest.mark.parametrize("case", THEORY)
def test_sampler_moments_match_closed_form(case):
    fields, (mean, variance) = THEORY[case]
    dist = sampler(**fields)
    assert dist.mean == pytest.approx(mean, rel=1e-9)
    assert dist.variance == pytest.approx(variance, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("case", THEORY)
def test_sample_mean_within_standard_errors(case):
    fields, _ = THEORY[case]
    dist = sampler(**fields)
    values = draws(dist)
    assert values.min() >= 0
    assert abs(values.mean() - dist.mean) <= 4.5 * math.sqrt(dist.variance / len(values)) + 1e-12
    assert values.var() == pytest.approx(dist.variance, rel=0.05, abs=1e-12)


def test_lognormal_median_and_p90_are_exact():
    dist = sampler(dist="lognormal", median=7.0, p90=18.0)
    median, p90 = dist.from_uniforms(np.array([0.5, 0.9]))
    assert median == pytest.approx(7.0, rel=1e-12)
    assert p90 == pytest.approx(18.0, rel=1e-12)
    mu, sigma = spec(dist="lognormal", median=7.0, p90=18.0).log_scale()
    assert mu == math.log(7.0)
    assert math.exp(mu + sigma * stats.norm.ppf(0.9)) == pytest.approx(18.0, rel=1e-12)


def test_lognormal_mean_sd_reproduce_mean_and_sd():
    dist = sampler(dist="lognormal", mean=30.0, sd=45.0)
    assert dist.mean == pytest.approx(30.0, rel=1e-12)
    assert math.sqrt(dist.variance) == pytest.approx(45.0, rel=1e-12)


def test_empirical_draws_each_value_equally_often():
    dist = sampler(dist="empirical", values=[4.0, 1.0, 9.0, 1.0])
    values, counts = np.unique(draws(dist, 100_000), return_counts=True)
    times_drawn = dict(zip(values.tolist(), counts.tolist(), strict=True))
    assert set(times_drawn) == {1.0, 4.0, 9.0}
    # binomial(100k, p): 4.5 standard errors is about 700 draws
    assert times_drawn == pytest.approx({1.0: 50_000, 4.0: 25_000, 9.0: 25_000}, abs=700)


# ---------------------------------------------------------------------------
# Truncation with max
# ---------------------------------------------------------------------------

TRUNCATED = {
    "exponential": {"dist": "exponential", "mean": 10.0, "max": 25.0},
    "lognormal": {"dist": "lognormal", "median": 7.0, "p90": 18.0, "max": 20.0},
    "gamma": {"dist": "gamma", "mean": 10.0, "sd": 30.0, "max": 50.0},
    "weibull": {"dist": "weibull", "shape": 0.8, "scale": 15.0, "max": 40.0},
    "triangular": {"dist": "triangular", "low": 1.0, "mode": 3.0, "high": 10.0, "max": 6.0},
    "uniform": {"dist": "uniform", "low": 2.0, "high": 9.0, "max": 4.0},
}


@functools.cache
def truncated(case):
    """The sampler for a TRUNCATED case, built once: truncated moments take a quadrature."""
    return sampler(**TRUNCATED[case])


@pytest.mark.parametrize("case", TRUNCATED)
def test_truncated_draws_never_exceed_max(case):
    fields, dist = TRUNCATED[case], truncated(case)
    assert draws(dist, 50_000).max() <= fields["max"]
    assert dist.from_uniforms(np.array([LAST_UNIFORM]))[0] <= fields["max"]


@pytest.mark.parametrize(
    "fields",
    [
        {"dist": "gamma", "mean": 10.0, "sd": 4.0, "max": 16.362706185486065},
        {"dist": "lognormal", "median": 7.0, "p90": 18.0, "max": 11.270240417400313},
    ],
)
def test_top_uniform_does_not_round_past_max(fields):
    # regression: ppf(cdf(max)) came out a few ulps above max
    assert sampler(**fields).from_uniforms(np.array([LAST_UNIFORM]))[0] <= fields["max"]


@pytest.mark.parametrize("case", TRUNCATED)
def test_truncated_mean_is_conditional_expectation(case):
    fields, dist = TRUNCATED[case], truncated(case)
    frozen = spec(**fields).frozen()
    expected = frozen.expect(lambda x: x, ub=fields["max"], conditional=True)
    assert dist.mean == pytest.approx(expected, rel=1e-9)
    assert dist.mean < float(frozen.mean())
    values = draws(dist, 100_000)
    assert abs(values.mean() - dist.mean) <= 4.5 * math.sqrt(dist.variance / len(values))


def test_truncated_exponential_closed_form():
    mean, top = 10.0, 25.0
    dist = sampler(dist="exponential", mean=mean, max=top)
    tail = math.exp(-top / mean)
    assert dist.mean == pytest.approx(mean - top * tail / (1 - tail), rel=1e-12)
    assert dist.variance == pytest.approx(mean**2 - top**2 * tail / (1 - tail) ** 2, rel=1e-9)


def test_truncated_lognormal_and_gamma_closed_forms():
    mu, sigma, top = 2.0, 0.9, 15.0
    lognormal = sampler(dist="lognormal", mu=mu, sigma=sigma, max=top)
    z = (math.log(top) - mu) / sigma
    expected = math.exp(mu + sigma**2 / 2) * stats.norm.cdf(z - sigma) / stats.norm.cdf(z)
    assert lognormal.mean == pytest.approx(expected, rel=1e-9)

    shape, scale = (10.0 / 30.0) ** 2, 30.0**2 / 10.0
    gamma = sampler(dist="gamma", mean=10.0, sd=30.0, max=50.0)
    below = special.gammainc(shape + 1, 50 / scale) / special.gammainc(shape, 50 / scale)
    expected = shape * scale * below
    assert gamma.mean == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(
    ("fields", "mean", "variance"),
    [
        ({"dist": "uniform", "low": 1.0, "high": 10.0, "max": 365.0}, 5.5, 81 / 12),
        (
            {"dist": "triangular", "low": 1, "mode": 3, "high": 10, "max": 90},
            *triangular_moments(1, 3, 10),
        ),
        ({"dist": "exponential", "mean": 5.0, "max": 1e6}, 5.0, 25.0),
        ({"dist": "gamma", "mean": 10.0, "sd": 5.0, "max": 1e6}, 10.0, 25.0),
    ],
)
def test_max_beyond_all_mass_changes_nothing(fields, mean, variance):
    # regression: integrating up to a far-away max let the quadrature miss the mass
    dist = sampler(**fields)
    assert dist.mean == pytest.approx(mean, rel=1e-9)
    assert dist.variance == pytest.approx(variance, rel=1e-9)


def test_empirical_max_drops_values_above_it():
    dist = sampler(dist="empirical", values=VALUES, max=8.0)
    kept = [v for v in VALUES if v <= 8.0]
    assert dist.mean == pytest.approx(np.mean(kept))
    assert dist.variance == pytest.approx(np.var(kept))
    assert set(draws(dist, 20_000)) == set(kept)


def test_fixed_max_caps_the_value():
    assert sampler(dist="fixed", value=12.0, max=10.0).mean == 10.0
    assert sampler(dist="fixed", value=8.0, max=10.0).mean == 8.0


# ---------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"dist": "lognormal", "mean": 5.0}, "exactly one of"),
        (
            {"dist": "lognormal", "mean": 5.0, "sd": 2.0, "median": 4.0, "p90": 9.0},
            "exactly one of",
        ),
        ({"dist": "lognormal", "mu": 1.0}, "exactly one of"),
        ({"dist": "lognormal"}, "got none"),
        ({"dist": "lognormal", "median": 7.0, "p90": 7.0}, "must be above the median"),
        ({"dist": "lognormal", "median": 7.0, "p90": 5.0}, "must be above the median"),
        ({"dist": "triangular", "low": 2.0, "mode": 1.0, "high": 5.0}, "low <= mode <= high"),
        ({"dist": "triangular", "low": 2.0, "mode": 6.0, "high": 5.0}, "low <= mode <= high"),
        ({"dist": "triangular", "low": 3.0, "mode": 3.0, "high": 3.0}, "low < high"),
        ({"dist": "uniform", "low": 5.0, "high": 5.0}, "low < high"),
        ({"dist": "uniform", "low": 6.0, "high": 5.0}, "low < high"),
        ({"dist": "exponential", "mean": 0.0}, "greater than 0"),
        ({"dist": "exponential", "mean": -1.0}, "greater than 0"),
        ({"dist": "gamma", "mean": -2.0, "sd": 1.0}, "greater than 0"),
        ({"dist": "exponential", "meen": 5.0}, "meen"),
        ({"dist": "exponential", "mean": 5.0, "max": 0.0}, "greater than 0"),
        ({"dist": "empirical", "values": []}, "at least 1"),
        ({"dist": "empirical", "values": [3.0, 4.0], "max": 2.0}, "no value is at or below max"),
        ({"dist": "empirical", "values": [3.0, -1.0]}, "greater than or equal to 0"),
        ({"dist": "poisson", "mean": 5.0}, "poisson"),
    ],
)
def test_invalid_specs_are_rejected(fields, words):
    with pytest.raises(ValidationError, match=words):
        spec(**fields)


# ---------------------------------------------------------------------------
# Named streams and draws
# ---------------------------------------------------------------------------


def first_values(seed=7, replication=0, owner="inpatient", purpose="stays", dist=None, count=3000):
    take = streams.draws(generator(seed, replication, owner, purpose), dist.from_uniforms if dist else None)
    return [next(take) for _ in range(count)]


@pytest.mark.parametrize("dist", [None, sampler(dist="lognormal", median=7.0, p90=18.0)])
def test_draws_do_not_depend_on_batch_size(monkeypatch, dist):
    monkeypatch.setattr(streams, "BATCH", 7)
    small = first_values(dist=dist)
    monkeypatch.setattr(streams, "BATCH", 1024)
    assert first_values(dist=dist) == small


def test_same_names_give_same_values():
    assert first_values() == first_values()


@pytest.mark.parametrize(
    "change",
    [{"seed": 8}, {"replication": 1}, {"owner": "php"}, {"purpose": "patience"}],
)
def test_different_names_give_different_values(change):
    base, other = np.array(first_values(count=200)), np.array(first_values(count=200, **change))
    assert not np.any(base == other)


def test_owner_and_purpose_are_not_interchangeable():
    swapped = first_values(owner="b", purpose="a", count=50)
    assert first_values(owner="a", purpose="b", count=50) != swapped


def test_stream_unaffected_by_streams_made_or_used_before_it():
    alone = first_values(owner="iop", purpose="stays", count=500)
    others = [
        streams.draws(generator(7, 0, level, purpose))
        for level in ("inpatient", "php")
        for purpose in ("stays", "referrals")
    ]
    late = streams.draws(generator(7, 0, "iop", "stays"))
    interleaved = []
    for _ in range(500):
        for other in others:
            next(other)
        interleaved.append(next(late))
    assert interleaved == alone


def test_uniform_draws_are_uniform():
    values = np.array(first_values(count=20_000))
    assert values.min() >= 0 and values.max() < 1
    assert abs(values.mean() - 0.5) <= 4.5 * math.sqrt(1 / 12 / len(values))


# ---------------------------------------------------------------------------
# Hypothesis: invariants for random valid parameters
# ---------------------------------------------------------------------------

sizes = st.floats(0.1, 60.0)
cvs = st.floats(0.02, 4.0)
"""Coefficients of variation seen in stays; far beyond them the quadrature is not trusted."""


@st.composite
def untruncated_specs(draw):
    kind = draw(st.sampled_from(DIST_NAMES))
    if kind == "exponential":
        return {"dist": kind, "mean": draw(sizes)}
    if kind == "lognormal":
        median = draw(sizes)
        return draw(
            st.sampled_from(
                [
                    {"dist": kind, "median": median, "p90": median * draw(st.floats(1.01, 5.0))},
                    {"dist": kind, "mean": median, "sd": median * draw(cvs)},
                    {"dist": kind, "mu": math.log(median), "sigma": draw(st.floats(0.05, 1.5))},
                ]
            )
        )
    if kind == "gamma":
        mean = draw(sizes)
        return {"dist": kind, "mean": mean, "sd": mean * draw(cvs)}
    if kind == "weibull":
        return {"dist": kind, "shape": draw(st.floats(0.5, 5.0)), "scale": draw(sizes)}
    if kind in ("triangular", "uniform"):
        low, width = draw(st.floats(0.0, 30.0)), draw(sizes)
        if kind == "uniform":
            return {"dist": kind, "low": low, "high": low + width}
        mode = low + width * draw(st.floats(0, 1))
        return {"dist": kind, "low": low, "mode": mode, "high": low + width}
    if kind == "fixed":
        return {"dist": kind, "value": draw(st.floats(0.0, 60.0))}
    return {"dist": kind, "values": draw(st.lists(st.floats(0.0, 60.0), min_size=1, max_size=20))}


@st.composite
def valid_specs(draw):
    """A spec, sometimes truncated at a max between its 5th percentile and far past its top."""
    fields = draw(untruncated_specs())
    if not draw(st.booleans()):
        return fields
    quantile = draw(st.floats(0.05, 1.0))
    if fields["dist"] == "empirical":
        top = float(np.quantile(fields["values"], quantile))
    elif fields["dist"] == "fixed":
        top = fields["value"] * (quantile + 0.5)
    else:
        top = float(spec(**fields).frozen().ppf(min(quantile, 0.999999)))
        top *= 2 if quantile == 1 else 1
    return {**fields, "max": top} if top > 0 else fields


uniforms = st.lists(st.floats(0.0, 1.0, exclude_max=True), min_size=1, max_size=50)


@settings(max_examples=30, deadline=None)
@given(fields=valid_specs(), seed=st.integers(0, 2**32 - 1))
def test_samples_are_non_negative_and_within_max(fields, seed):
    dist = sampler(**fields)
    ends = dist.from_uniforms(np.array([0.0, LAST_UNIFORM]))
    values = np.concatenate([draws(dist, 500, seed), ends])
    assert np.all(values >= 0)
    if "max" in fields:
        assert np.all(values <= fields["max"])
        assert dist.mean <= fields["max"] * (1 + 1e-9)
    assert dist.variance >= -1e-9 * dist.mean**2


@settings(max_examples=30, deadline=None)
@given(fields=valid_specs(), points=uniforms)
def test_from_uniforms_is_monotone(fields, points):
    ordered = np.sort(np.array([0.0, *points, LAST_UNIFORM]))
    values = sampler(**fields).from_uniforms(ordered)
    # scipy's inverse CDFs can step back by an ulp right at the top of a truncation
    assert np.all(np.diff(values) >= -1e-12 * np.maximum(1.0, np.abs(values[1:])))


# ---------------------------------------------------------------------------
# Time left of a stay already under way, and the return of people still away
# ---------------------------------------------------------------------------


def midpoint_uniforms(count=200_000):
    """Evenly spread uniforms: their mean over a transform is a quadrature, with no sampling noise."""
    return (np.arange(count) + 0.5) / count


def test_exponential_time_left_is_the_same_exponential():
    dist = sampler(dist="exponential", mean=6.5)
    left = dist.remaining_from_uniforms(np.full(20_000, 40.0), np.random.default_rng(11).random(20_000))
    assert stats.kstest(left, stats.expon(scale=6.5).cdf).pvalue > 0.01
    assert dist.survival(np.array([6.5]))[0] == pytest.approx(math.exp(-1))


def test_fixed_stay_of_10_seen_at_day_4_has_6_left():
    dist = sampler(dist="fixed", value=10)
    assert dist.remaining_from_uniforms(np.array([4.0, 10.0]), np.array([0.3, 0.9])).tolist() == [6.0, 0.0]
    assert dist.longest == 10
    assert dist.survival(np.array([4.0, 10.0, 10.5])).tolist() == [1.0, 1.0, 0.0]


RESIDUAL_CASES = {
    "lognormal": {"dist": "lognormal", "median": 7.0, "p90": 18.0},
    "gamma": {"dist": "gamma", "mean": 12.0, "sd": 5.0},
    "weibull": {"dist": "weibull", "shape": 0.8, "scale": 20.0},
    "uniform": {"dist": "uniform", "low": 2.0, "high": 9.0},
    "triangular": {"dist": "triangular", "low": 1, "mode": 3, "high": 10},
    "truncated lognormal": {"dist": "lognormal", "mu": 3.71, "sigma": 1.06, "max": 180},
    "truncated exponential": {"dist": "exponential", "mean": 10.0, "max": 25.0},
}


@pytest.mark.parametrize("elapsed", [0.0, 3.0, 8.5])
@pytest.mark.parametrize("case", RESIDUAL_CASES)
def test_mean_time_left_is_the_integral_of_survival(case, elapsed):
    # E[T - d | T > d] = integral from d of S(t) dt / S(d), S the (truncated) survival
    dist = sampler(**RESIDUAL_CASES[case])
    top = dist.longest
    tail, _ = integrate.quad(lambda t: dist.survival(np.array([t]))[0], elapsed, top if math.isfinite(top) else np.inf,
                             limit=200)
    expected = tail / dist.survival(np.array([elapsed]))[0]
    left = dist.remaining_from_uniforms(np.full(200_000, elapsed), midpoint_uniforms())
    assert left.mean() == pytest.approx(expected, rel=2e-3)
    assert left.min() >= 0 and left.max() <= top - elapsed + 1e-9


def test_empirical_time_left_resamples_the_values_still_possible():
    dist = sampler(dist="empirical", values=VALUES)
    left = dist.remaining_from_uniforms(np.full(200_000, 4.0), midpoint_uniforms())
    assert sorted(set(left + 4.0)) == [5.0, 8.0, 13.0, 21.0]
    assert left.mean() == pytest.approx(np.mean([5, 8, 13, 21]) - 4.0)
    assert dist.survival(np.array([4.0, 5.0, 21.0, 22.0])).tolist() == [0.5, 0.5, 0.125, 0.0]


@pytest.mark.parametrize("fields, longest", [
    ({"dist": "uniform", "low": 2.0, "high": 9.0}, 9.0),
    ({"dist": "uniform", "low": 2.0, "high": 9.0, "max": 7.0}, 7.0),
    ({"dist": "lognormal", "median": 7.0, "p90": 18.0}, math.inf),
    ({"dist": "lognormal", "median": 7.0, "p90": 18.0, "max": 60.0}, 60.0),
    ({"dist": "empirical", "values": VALUES, "max": 10.0}, 8.0),
    ({"dist": "fixed", "value": 12.0, "max": 10.0}, 10.0),
])
def test_longest_value_is_the_top_of_the_support(fields, longest):
    dist = sampler(**fields)
    assert dist.longest == longest
    # past it nothing is left, and nothing breaks: a scenario refuses such an elapsed time earlier
    if math.isfinite(longest):
        assert dist.remaining_from_uniforms(np.array([longest + 5]), np.array([0.5])).tolist() == [0.0]
        assert dist.survival(np.array([longest + 5])).tolist() == [0.0]


def test_time_left_in_a_far_tail_is_finite():
    dist = sampler(dist="lognormal", median=7.0, p90=18.0)
    left = dist.remaining_from_uniforms(np.full(3, 5000.0), np.array([0.0, 0.5, LAST_UNIFORM]))
    assert np.all(np.isfinite(left)) and np.all(left >= 0)


@pytest.mark.parametrize("probability, time, days_since", [
    (0.25, {"dist": "exponential", "mean": 180}, 90.0),
    (0.75, {"dist": "lognormal", "median": 10, "p90": 150}, 30.0),
    (0.5, {"dist": "uniform", "low": 0, "high": 60}, 45.0),
])
def test_return_chance_of_someone_still_away_matches_a_simulation(probability, time, days_since):
    dist = sampler(**time)
    chance = return_chance(probability, dist, np.array([days_since]))[0]
    survival = dist.survival(np.array([days_since]))[0]
    assert chance == pytest.approx(probability * survival / (1 - probability + probability * survival))
    # from scratch: who returns, and when; keep those not back by days_since
    rng = np.random.default_rng(5)
    returns = rng.random(400_000) < probability
    when = dist.sample(rng, 400_000)
    still_away = ~returns | (when > days_since)
    simulated = (returns & still_away).sum() / still_away.sum()
    assert simulated == pytest.approx(chance, abs=4 * math.sqrt(chance * (1 - chance) / still_away.sum()))


def test_nobody_returns_from_past_the_longest_relapse_time():
    dist = sampler(dist="fixed", value=10)
    assert return_chance(1.0, dist, np.array([4.0, 10.0, 11.0])).tolist() == [1.0, 1.0, 0.0]
    assert return_chance(0.4, dist, np.array([11.0])).tolist() == [0.0]


# ---------------------------------------------------------------------------- the quantile shortcut
SCIPY_SPECS = [{"dist": "exponential", "mean": 4.0}, {"dist": "lognormal", "median": 7, "p90": 19},
               {"dist": "gamma", "mean": 9.0, "sd": 6.0}, {"dist": "weibull", "shape": 1.4, "scale": 5.0},
               {"dist": "triangular", "low": 1, "mode": 3, "high": 12}, {"dist": "uniform", "low": 2, "high": 5},
               {"dist": "lognormal", "median": 7, "p90": 19, "max": 30}]


@pytest.mark.parametrize("raw", SCIPY_SPECS, ids=lambda raw: raw["dist"] + (" max" if "max" in raw else ""))
def test_scipy_samplers_draw_ppf_values_to_the_last_bit_without_calling_ppf(raw, monkeypatch):
    sampler = TypeAdapter(Distribution).validate_python(raw).make_sampler()
    uniforms = np.random.default_rng(7).random(5000)
    uniforms[:3] = [0.0, 1e-300, 1 - 2**-53]
    expected = np.minimum(sampler.frozen.ppf(uniforms * sampler.top), sampler.max)
    monkeypatch.setattr(type(sampler.frozen), "ppf", lambda *args: pytest.fail("ppf called"))
    np.testing.assert_array_equal(sampler.from_uniforms(uniforms), expected)


def test_the_quantile_shortcut_gives_way_to_ppf_where_scipy_computes_otherwise(monkeypatch):
    from sim.distributions import _quantile_function
    frozen = stats.expon(scale=2.0)
    with monkeypatch.context() as patched:   # a scipy whose ppf no longer computes ``_ppf(q) * scale + loc``
        patched.setattr(type(frozen), "ppf", lambda self, q: np.asarray(q) + 1.0)
        assert _quantile_function(frozen) == frozen.ppf
    monkeypatch.delattr(frozen.dist, "_parse_args")   # one without the private parts it reads
    assert _quantile_function(frozen) == frozen.ppf
