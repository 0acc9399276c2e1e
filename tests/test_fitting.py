"""Fitting recovers known laws from records made the way an extract makes them.

Each test draws stays (or returns, or referrals) from a known law, records them as a records
extract would (whole days or dates, cut at an as-of date, some already running when the extract
began) and checks the fit against the truth, with tolerances of four standard errors of the
full-data maximum-likelihood estimate (the count of stays seen to end standing in for n: censoring
and rounding lose a little information, which four standard errors cover with room to spare).
Where a test uses one fixed seed for a claim that holds only most of the time (an interval covering
the truth, a test not keeping a term), it says so; the coverage and false-positive rates are tested
over many seeds.
"""

import math
import time

import numpy as np
import pytest
from conftest import exponential, level, scenario
from pydantic import TypeAdapter
from scipy import integrate, stats

from sim.distributions import Distribution
from sim.fitting import fit_referrals, fit_returns, fit_stays, log_likelihood, stays_differ, survival_curve

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


# --- speed: stays are tallied, and the tally changes nothing -------------------------------------------------------

def test_the_tallied_likelihood_is_the_sum_over_stays_and_weights_count_a_stay_that_many_times():
    stays, censored, entered = extract(LOGNORMAL, size=300)
    law = stats.lognorm(s=0.8, scale=7)
    seen = stays[~censored]
    by_stay = (law.logsf(seen) + np.log(-np.expm1(law.logsf(seen + 1) - law.logsf(seen)))).sum() \
        + law.logsf(stays[censored]).sum() - law.logsf(entered[entered > 0]).sum()
    assert log_likelihood(law, stays, censored, entered, 1.0) == pytest.approx(by_stay, rel=1e-12)
    twice = log_likelihood(law, np.tile(stays, 2), np.tile(censored, 2), np.tile(entered, 2), 1.0)
    assert log_likelihood(law, stays, censored, entered, 1.0, weights=np.full(300, 2.0)) == pytest.approx(twice)


def test_two_hundred_thousand_stays_fit_in_a_moment():
    # benchmarks/bench_fitting.py measures it (about 0.1 s); this only catches a return to fitting stay by stay
    stays, censored, entered = extract(LOGNORMAL, size=200_000, longest_cutoff=44, truncated_share=0.175)
    start = time.perf_counter()
    fit = fit_stays(stays, censored, entered)
    assert time.perf_counter() - start < 5
    assert fit.best.family == "lognormal" and fit.best.n == 200_000
    assert fit.best.mean_ci[0] < LOGNORMAL.mean() < fit.best.mean_ci[1]


# --- dates: a stay as the difference of two dates -------------------------------------------------------------------

def as_dates(law, size, seed):
    """Stays of ``law`` recorded as the days between the admission date and the discharge date.

    Admission falls at a uniform time of day ``a``; both dates are the true times rounded down to
    the day, so the recorded stay is ``floor(a + s) - floor(a)``.
    """
    rng = np.random.default_rng(seed)
    stays, admitted = law.rvs(size=size, random_state=rng), rng.random(size)
    return np.floor(admitted + stays) - np.floor(admitted)


@pytest.mark.parametrize(("law", "family"), [(LOGNORMAL, "lognormal"), (stats.gamma(a=2, scale=4.75), "gamma")])
def test_stays_recorded_as_dates_fit_their_mean_and_read_as_floor_gain_half_a_day(law, family):
    stays = as_dates(law, 20_000, seed=3)
    standard_error = law.std() / math.sqrt(len(stays))                       # 0.06 and 0.05 days
    dates = fit_stays(stays, recorded="dates", families=[family, "empirical"])
    floor = fit_stays(stays, recorded="floor", families=[family])
    assert dates.fits[family].mean == pytest.approx(law.mean(), abs=4 * standard_error)
    assert floor.fits[family].mean - law.mean() > 6 * standard_error       # +0.44 and +0.50 days
    assert floor.fits[family].mean - dates.fits[family].mean == pytest.approx(0.5, abs=0.1)
    assert dates.fits["empirical"].mean == pytest.approx(stays.mean())      # the recorded days: E[D] = E[S]
    assert dates.recorded == "dates" and dates.fits[family].log_likelihood > floor.fits[family].log_likelihood


@pytest.mark.parametrize(("stay", "censored", "entered", "chance"), [
    (0, False, 0, lambda law: integrate.quad(lambda u: law.cdf(1 - u), 0, 1)[0]),
    (6, False, 0, lambda law: integrate.quad(lambda u: law.cdf(7 - u) - law.cdf(6 - u), 0, 1)[0]),
    (6, True, 0, lambda law: integrate.quad(lambda u: law.sf(6 + u), 0, 1)[0]),
    (6, False, 4, lambda law: integrate.quad(lambda u: law.cdf(7 - u) - law.cdf(6 - u), 0, 1)[0]
     / integrate.quad(lambda u: law.sf(4 - u), 0, 1)[0]),
])
def test_a_stay_recorded_as_dates_has_the_chance_the_time_of_day_gives_it(stay, censored, entered, chance):
    # seen to end: floor(a + s) = d; still in care at the end of the as-of date c days after admission: s > c + 1 - a;
    # in care at the extract's first midnight, e dates after admission: s > e - a (a uniform over the day)
    for law in (LOGNORMAL, stats.gamma(a=0.6, scale=9)):
        found = log_likelihood(law, [stay], [censored], [entered], 1.0, recorded="dates")
        # 8 Gauss-Legendre times of day: exact to 1e-4 but for a stay of 0 days under a gamma of shape
        # below 1 (its chance grows as a power of the day, infinitely steep at 0): 2e-4 there
        assert found == pytest.approx(math.log(chance(law)), abs=5e-4)


# --- how sure: each fit's mean and its interval -------------------------------------------------------------------

def test_the_mean_interval_covers_the_true_mean_as_often_as_it_says():
    true_mean, covered = 8.0, 0
    for seed in range(100):
        rng = np.random.default_rng(seed)
        stays, cutoff = rng.exponential(true_mean, 500), rng.integers(1, 40, 500)
        censored = stays > cutoff
        fit = fit_stays(np.where(censored, cutoff, np.floor(stays)), censored, families=["exponential"])
        low, high = fit.fits["exponential"].mean_ci
        covered += low <= true_mean <= high
    assert covered >= 90                                                    # 98 of 100


def test_each_fit_says_its_mean_how_sure_and_from_how_many():
    stays, censored, entered = extract(LOGNORMAL)
    fit = fit_stays(stays, censored, entered, families=["lognormal", "gamma"])
    lognormal = fit.fits["lognormal"]
    assert lognormal.mean == pytest.approx(mean_of(fit.as_scenario_los("lognormal")))
    assert lognormal.mean_ci[0] < lognormal.mean < lognormal.mean_ci[1]
    assert lognormal.n == len(stays) and lognormal.law().mean() == pytest.approx(lognormal.mean)
    row = fit.table()[0]
    assert (row["mean"], row["mean_ci_low"], row["mean_ci_high"]) == (fit.best.mean, *fit.best.mean_ci)


# --- probability plots: Kaplan-Meier and the fitted survival ------------------------------------------------------

def test_kaplan_meier_on_a_small_example_worked_by_hand():
    stays, censored = [1, 2, 2, 3, 4, 5], [False, False, True, False, True, False]
    times, survival = survival_curve(stays, censored)
    assert times.tolist() == [1, 2, 3, 5]
    assert survival == pytest.approx([5 / 6, 5 / 6 * 4 / 5, 5 / 6 * 4 / 5 * 2 / 3, 0])
    # the stays of 3 and 4 days joined the extract on days 2 and 3: not at risk before
    times, survival = survival_curve(stays, censored, entered=[0, 0, 0, 2, 3, 0])
    assert survival == pytest.approx([3 / 4, 3 / 4 * 3 / 4, 3 / 4 * 3 / 4 * 2 / 3, 0])


def test_kaplan_meier_and_the_fitted_law_follow_the_true_survival_through_censoring_and_truncation():
    rng = np.random.default_rng(4)
    stays = LOGNORMAL.rvs(size=12_000, random_state=rng)
    entered = np.where(rng.random(len(stays)) < 0.3, rng.uniform(0, 10, len(stays)), 0)
    stays, entered = stays[stays > entered][:5000], entered[stays > entered][:5000]
    cutoff = entered + rng.uniform(0, 40, 5000)
    censored = stays > cutoff
    stays = np.where(censored, cutoff, stays)
    times, survival = survival_curve(stays, censored, entered)
    within = times < 30
    assert np.abs(survival[within] - LOGNORMAL.sf(times[within])).max() < 0.03
    fitted = fit_stays(stays, censored, entered, resolution_days=0, families=["lognormal"]).best
    assert np.abs(fitted.survival(times[within]) - survival[within]).max() < 0.03
    assert fitted.cdf(times[within]) == pytest.approx(1 - fitted.survival(times[within]))
    # each part of the risk set matters: censored stays read as ended shorten stays, and stays that joined late
    # counted from day 0 lengthen them (0.285 and 0.368 at 10 days, against 0.323)
    naive_times, naive = survival_curve(stays)
    assert naive[np.searchsorted(naive_times, 10)] < LOGNORMAL.sf(10) - 0.03
    untruncated_times, untruncated = survival_curve(stays, censored)
    assert untruncated[np.searchsorted(untruncated_times, 10)] > LOGNORMAL.sf(10) + 0.03


def test_the_empirical_fit_has_a_cdf_but_no_scipy_law():
    fit = fit_stays([1, 2, 2, 5], families=["empirical"]).best
    assert fit.cdf([1, 2.5, 3, 6]).tolist() == [0, 0.75, 0.75, 1]
    with pytest.raises(ValueError, match="no scipy law"):
        fit.law()


# --- do destinations differ? ---------------------------------------------------------------------------------------

def lognormal_with_mean(mean, sigma=0.7):
    return stats.lognorm(s=sigma, scale=mean * math.exp(-sigma**2 / 2))


def two_destinations(first, second, size, seed):
    rng = np.random.default_rng(seed)
    stays = np.floor(np.concatenate([first.rvs(size, random_state=rng), second.rvs(size, random_state=rng)]))
    return stays, np.repeat(["step_down", "discharged"], size)


def test_destinations_with_means_of_7_and_20_days_differ_clearly():
    stays, labels = two_destinations(lognormal_with_mean(7), lognormal_with_mean(20), 500, seed=1)
    found = stays_differ(stays, None, None, labels, "lognormal")
    assert found.clearly and found.p_value < 1e-10 and found.degrees_of_freedom == 2
    assert found.means["step_down"] == pytest.approx(7, rel=0.14)
    assert found.means["discharged"] == pytest.approx(20, rel=0.14)
    assert found.fits["discharged"].parameters["dist"] == "lognormal"
    assert min(found.means.values()) < found.pooled_mean < max(found.means.values())


def test_destinations_with_one_law_do_not_differ():
    stays, labels = two_destinations(lognormal_with_mean(10), lognormal_with_mean(10), 500, seed=2)
    found = stays_differ(stays, None, None, labels, "lognormal")
    assert not found.clearly and found.p_value >= 0.001                   # 0.72 on this seed


def test_a_significant_difference_too_small_to_matter_is_not_clear():
    # 4% apart on 20,000 stays each: far beyond chance, yet no plan changes by it
    stays, labels = two_destinations(lognormal_with_mean(10), lognormal_with_mean(10.4), 20_000, seed=3)
    found = stays_differ(stays, None, None, labels, "lognormal")
    assert found.p_value < 0.001 and not found.clearly
    assert max(abs(mean / found.pooled_mean - 1) for mean in found.means.values()) < 0.10


# --- relapse: who comes back, and when (a cure model) -------------------------------------------------------------

def test_the_cure_model_finds_the_share_who_return_where_the_share_seen_returning_is_low():
    rng = np.random.default_rng(5)
    exits, share, delays = 5000, 0.3, stats.lognorm(s=1.0, scale=120)      # median delay 120 days
    will_return = rng.random(exits) < share
    delay, time_of_day = delays.rvs(size=exits, random_state=rng), rng.random(exits)
    follow_up_end = rng.integers(1, 1001, exits)       # the end of the as-of date, in days from the exit's date
    returned = will_return & (time_of_day + delay < follow_up_end)
    recorded = np.where(returned, np.floor(time_of_day + delay), follow_up_end - 1)
    fit = fit_returns(recorded, returned)
    assert fit.probability_ci[0] < share < fit.probability_ci[1]
    assert fit.probability == pytest.approx(share, abs=0.03)                # 0.309
    assert fit.delay.law().median() == pytest.approx(120, rel=0.10)         # 115 days
    assert (fit.n_exits, fit.n_returned) == (exits, returned.sum())
    naive = returned.mean()
    assert naive < fit.probability_ci[0] - 0.02                             # 0.254: later returns are not seen yet
    assert fit.table()[0]["family"] == fit.delay.family == "lognormal"
    SPECS.validate_python(fit.delay.parameters)
    assert fit.fits["lognormal"].delay.n_parameters == 3                    # mu, sigma and the share


# --- referrals: rate, growth and seasons ---------------------------------------------------------------------------

WINDOW = 4 * 365
MONTHS = (np.datetime64("2020-01-01") + np.arange(WINDOW)).astype("datetime64[M]").astype(int) % 12
YEARS = np.arange(WINDOW) / 365


def referral_days(daily_mean, seed):
    """The day of each referral when day ``t`` has Poisson(``daily_mean[t]``) of them."""
    return np.repeat(np.arange(WINDOW), np.random.default_rng(seed).poisson(daily_mean))


def test_steady_referrals_keep_neither_growth_nor_seasons():
    fit = fit_referrals(referral_days(np.full(WINDOW, 2000 / 365), seed=1), 0, WINDOW - 1, MONTHS)
    assert fit.model == "constant" and fit.growth_per_year == 0 and fit.seasonality is None
    assert fit.per_year_ci[0] < 2000 < fit.per_year_ci[1]
    assert fit.growth_ci[0] < 0 < fit.growth_ci[1]
    assert [test["term"] for test in fit.tests if test["decides"]] == ["seasons", "growth"]
    assert fit.n_referrals == sum(1 for _ in referral_days(np.full(WINDOW, 2000 / 365), seed=1))
    assert fit.days == WINDOW


def test_growth_is_seldom_kept_when_there_is_none():
    kept = sum(fit_referrals(referral_days(np.full(WINDOW, 2000 / 365), seed), 0, WINDOW - 1, MONTHS)
               .growth_per_year != 0 for seed in range(100, 140))
    assert kept <= 6                                                        # 2 of 40 (5% expected)


def test_ten_percent_growth_a_year_is_kept_and_the_rate_is_the_one_at_the_end():
    fit = fit_referrals(referral_days(2000 / 365 * 1.1**YEARS, seed=2), 0, WINDOW - 1, MONTHS)
    assert fit.model == "growth"
    assert fit.growth_ci[0] < 0.10 < fit.growth_ci[1]                       # 0.093 (0.074 to 0.112)
    at_end = 2000 * 1.1 ** YEARS[-1]
    assert fit.per_year_ci[0] < at_end < fit.per_year_ci[1]                 # 2867 against 2927


def test_a_winter_peak_is_kept_as_seasons():
    winter = np.isin(np.arange(12), [11, 0, 1])
    factors = np.where(winter, 1.3, 1.0) / np.where(winter, 1.3, 1.0).mean()
    fit = fit_referrals(referral_days(2000 / 365 * factors[MONTHS], seed=4), 0, WINDOW - 1, MONTHS)
    assert fit.model == "seasons" and fit.seasonality is not None
    assert np.mean(fit.seasonality) == pytest.approx(1)
    assert np.abs(np.array(fit.seasonality) - factors).max() < 0.1          # 0.074
    assert fit.per_year_ci[0] < 2000 < fit.per_year_ci[1]


def test_returns_from_before_the_extract_are_taken_off_as_background():
    # people who left care before the extract began come back in its first months, looking like new referrals
    background = 8 * np.exp(-np.arange(WINDOW) / 120)
    with_background, without = [], []
    for seed in range(10, 15):
        days = referral_days(2000 / 365 + background, seed)
        with_background.append(fit_referrals(days, 0, WINDOW - 1, MONTHS, background=background))
        without.append(fit_referrals(days, 0, WINDOW - 1, MONTHS))
    assert all(fit.per_year_ci[0] < 2000 < fit.per_year_ci[1] for fit in with_background)
    assert all(fit.growth_per_year == 0 for fit in with_background)
    # without it, the returns fading away read as shrinking referrals (and a season): a decline of about 11% a
    # year kept, and the rate at the end about 1,700 a year against 2,000
    assert all(fit.growth_per_year < 0 and fit.per_year_ci[1] < 2000 for fit in without)


# --- bad input ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("call", "message"), [
    (lambda: fit_stays([3, 4], recorded="hours"), "recorded must be one of floor, dates"),
    (lambda: stays_differ([3, 4, 5], None, None, ["a", "b"], "lognormal"), "labels has 2 values"),
    (lambda: stays_differ([3, 4, 5], None, None, ["a", "a", "a"], "lognormal"), "at least two labels"),
    (lambda: stays_differ([3, 4, 5], [False, True, True], None, ["a", "b", "b"], "lognormal"), "label 'b'"),
    (lambda: stays_differ([3, 4], None, None, ["a", "b"], "empirical"), "empirical"),
    (lambda: fit_returns([3, 4], [False, False]), "none of the 2 exits"),
    (lambda: fit_returns([3, -4], [True, False]), "delay 1 is -4"),
    (lambda: fit_returns([3, 4], [True]), "returned has 1 values but there are 2 delays"),
    (lambda: fit_returns([3, 4], [True, False], families=["empirical"]), "empirical"),
    (lambda: fit_referrals([1, 12], 0, 9, np.zeros(10, int)), "referral 1 is on day 12, outside the window 0..9"),
    (lambda: fit_referrals([1, 2], 0, 9, np.zeros(9, int)), "each of the window's 10 days"),
    (lambda: fit_referrals([1, 2], 0, 9, np.full(10, 12)), "month \\(0 to 11\\)"),
    (lambda: fit_referrals([1, 2], 0, 9, np.zeros(10, int), -np.ones(10)), "background"),
    (lambda: fit_referrals([], 0, 9, np.zeros(10, int)), "no referral"),
    (lambda: fit_referrals([1.5], 0, 9, np.zeros(10, int)), "whole day numbers"),
    (lambda: fit_referrals([0], 0, 0, np.zeros(1, int)), "at least two days"),
])
def test_bad_input_to_the_other_fits_is_refused_with_what_is_wrong(call, message):
    with pytest.raises(ValueError, match=message):
        call()
