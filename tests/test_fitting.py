"""Stay fitting recovers known laws from stays recorded the way an extract records them.

Each test draws stays from a known law, records them as a records extract would (whole days, cut
at an as-of date, some already running when the extract began) and checks the fit against the
truth, with tolerances of four standard errors of the full-data maximum-likelihood estimate (the
count of stays seen to end standing in for n: censoring and rounding lose a little information,
which four standard errors cover with room to spare).
"""

import math

import numpy as np
import pytest
from conftest import exponential, level, scenario
from pydantic import TypeAdapter
from scipy import stats

from sim.distributions import Distribution
from sim.fitting import fit_stays

SPECS = TypeAdapter(Distribution)
MU, SIGMA = math.log(7), math.log(19 / 7) / stats.norm.ppf(0.9)
LOGNORMAL = stats.lognorm(s=SIGMA, scale=math.exp(MU))
"""Stays with median 7 days and p90 19 days (mean 9.5)."""


def extract(law, size=2000, seed=16, longest_cutoff=47, truncated_share=0.2):
    """``size`` stays of ``law`` as an extract shows them: (recorded days, censored, entered).

    A stay ending is recorded as its whole days (rounded down). The as-of date falls 1 to
    ``longest_cutoff`` days after admission (or after the extract began), and a stay still running
    then is censored at the days seen. A share of stays began before the extract, ``entered`` days
    earlier, and is in it only if it lasted longer than that.
    """
    rng = np.random.default_rng(seed)
    drawn = 4 * size
    stays = law.rvs(size=drawn, random_state=rng)
    entered = np.where(rng.random(drawn) < truncated_share, rng.integers(1, 15, drawn), 0)
    cutoff = entered + rng.integers(1, longest_cutoff + 1, drawn)
    seen = stays > entered
    stays, entered, cutoff = stays[seen][:size], entered[seen][:size], cutoff[seen][:size]
    censored = stays > cutoff
    return np.where(censored, cutoff, np.floor(stays)), censored, entered


def mean_of(los: dict) -> float:
    return SPECS.validate_python(los).sampler().mean


def test_lognormal_parameters_are_recovered_through_rounding_censoring_and_truncation():
    stays, censored, entered = extract(LOGNORMAL)
    assert 0.15 < censored.mean() < 0.25 and 0.1 < (entered > 0).mean() < 0.3
    fit = fit_stays(stays, censored, entered, families=["lognormal", "gamma", "weibull", "empirical"])
    los = fit.as_scenario_los("lognormal")
    n = fit.n_observed
    assert (fit.n_observed, fit.n_censored, fit.n_truncated) == (n, censored.sum(), (entered > 0).sum())
    assert los["mu"] == pytest.approx(MU, abs=4 * SIGMA / math.sqrt(n))            # 1.931 against 1.946
    assert los["sigma"] == pytest.approx(SIGMA, abs=4 * SIGMA / math.sqrt(2 * n))  # 0.774 against 0.779
    assert fit.best.family == "lognormal"
    assert "empirical" not in fit.fits and "censored or truncated" in fit.notes[0]


@pytest.mark.parametrize(("law", "family"), [
    (stats.gamma(a=3, scale=4), "gamma"),
    (LOGNORMAL, "lognormal"),
    (stats.weibull_min(c=0.7, scale=10), "weibull"),
])
def test_aic_picks_the_family_the_stays_came_from(law, family):
    stays, censored, entered = extract(law, truncated_share=0.0, longest_cutoff=10_000)
    assert fit_stays(stays, censored, entered).best.family == family


def test_exponential_stays_fit_exponential_within_what_aic_can_tell():
    # gamma and Weibull hold the exponential (shape 1): their extra parameter buys a chance gain in
    # log-likelihood (chi-squared, 1 degree of freedom), so AIC can prefer them by a little, never by much
    stays, censored, entered = extract(stats.expon(scale=8), truncated_share=0.0, longest_cutoff=10_000)
    fit = fit_stays(stays, censored, entered)
    assert fit.fits["exponential"].aic - fit.best.aic < 2
    assert fit.fits["exponential"].parameters["mean"] == pytest.approx(8, abs=4 * 8 / math.sqrt(len(stays)))
    assert fit.fits["weibull"].parameters["shape"] == pytest.approx(1, abs=0.05)
    assert fit.fits["lognormal"].aic - fit.best.aic > 100


def test_ignoring_censoring_biases_the_mean_low_and_the_fit_does_not():
    stays, censored, entered = extract(LOGNORMAL, longest_cutoff=20, truncated_share=0.0)
    assert censored.mean() > 0.3
    true_mean = LOGNORMAL.mean()
    standard_error = LOGNORMAL.std() / math.sqrt((~censored).sum())
    naive = fit_stays(stays, families=["lognormal"]).as_scenario_los()
    fitted = fit_stays(stays, censored, families=["lognormal"]).as_scenario_los()
    assert mean_of(naive) < 0.75 * true_mean                                        # 6.3 days against 9.5
    assert mean_of(fitted) == pytest.approx(true_mean, abs=4 * standard_error)


def test_day_resolution_matters_for_short_stays():
    law = stats.expon(scale=1.5)
    stays, censored, entered = extract(law, truncated_share=0.0, longest_cutoff=10_000)
    assert set(np.unique(stays[:50])) <= {0, 1, 2, 3, 4, 5, 6, 7}
    standard_error = 1.5 / math.sqrt(len(stays))
    as_days = fit_stays(stays, families=["exponential"]).as_scenario_los()
    as_exact = fit_stays(stays, resolution_days=0, families=["exponential"]).as_scenario_los()
    assert as_days["mean"] == pytest.approx(1.5, abs=4 * standard_error)
    assert as_exact["mean"] < 1.5 - 10 * standard_error                             # 1.11 against 1.5


def test_each_fit_is_a_los_a_scenario_accepts():
    stays, censored, entered = extract(LOGNORMAL, size=300, truncated_share=0.0, longest_cutoff=10_000)
    fit = fit_stays(stays, families=["exponential", "gamma", "lognormal", "weibull", "empirical"])
    assert set(fit.fits) == {"exponential", "gamma", "lognormal", "weibull", "empirical"}
    for family in fit.fits:
        los = fit.as_scenario_los(family)
        assert SPECS.validate_python(los).dist == family
        scenario({"ward": level(5, los, {"discharged": 1.0})})
    assert fit.table()[0]["family"] == fit.best.family and fit.table()[0]["delta_aic"] == 0
    values = fit.as_scenario_los("empirical")["values"]
    assert np.mean(values) == pytest.approx(stays.mean() + 0.5)        # the middle of each recorded day
    assert scenario({"ward": level(5, exponential(3), {"discharged": 1.0})}) is not None


@pytest.mark.parametrize(("arguments", "message"), [
    (([3, -1, 4],), "stay 1 is -1"),
    (([3, float("nan")],), "finite"),
    (([],), "non-empty"),
    (([3, 4], [True]), "censored has 1 values but there are 2 stays"),
    (([3, 4], None, [0, 1, 2]), "entered has 3 values"),
    (([3, 4], None, [5, 0]), "no longer than the stay"),
    (([3, 4], [True, True]), "all 2 stays are censored"),
    (([3, 4], None, None, -1), "resolution_days"),
    (([3, 4], None, None, 1, ["poisson"]), "poisson"),
])
def test_bad_input_is_refused_with_what_is_wrong(arguments, message):
    with pytest.raises(ValueError, match=message):
        fit_stays(*arguments)
