"""Checks of sim.theory against hand values and standard queueing identities."""

import math

import numpy as np
import pytest

from sim import theory
from sim.theory import (
    QueueFigures,
    erlang_b,
    erlang_c,
    jackson_network,
    littles_law_census,
    mmc,
    priority_mmc,
    servers_needed,
    traffic_rates,
)


def poisson_blocking(servers, load):
    """Erlang B as P(N = c) / P(N <= c), N ~ Poisson(a), summed in log space."""
    log_terms = [k * math.log(load) - math.lgamma(k + 1) for k in range(servers + 1)]
    peak = max(log_terms)
    return math.exp(log_terms[-1] - peak) / sum(math.exp(t - peak) for t in log_terms)


# ---------------------------------------------------------------------------
# Erlang B / C
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("load", [0.1, 0.5, 1.0, 3.0])
def test_erlang_b_single_server(load):
    assert erlang_b(1, load) == pytest.approx(load / (1 + load))


@pytest.mark.parametrize(("servers", "load"), [(1, 0.5), (5, 3.2), (40, 35.0), (200, 180.0)])
def test_erlang_b_matches_poisson_truncation(servers, load):
    assert erlang_b(servers, load) == pytest.approx(poisson_blocking(servers, load), rel=1e-9)


def test_erlang_b_stable_for_thousands_of_servers():
    blocking = erlang_b(5000, 4900.0)
    expected = poisson_blocking(5000, 4900.0)
    assert 0.0 < blocking < 1.0
    assert blocking == pytest.approx(expected, rel=1e-7)


@pytest.mark.parametrize("rho", [0.05, 0.3, 0.5, 0.9, 0.99])
def test_erlang_c_single_server_equals_utilisation(rho):
    assert erlang_c(1, rho) == pytest.approx(rho)


def test_erlang_c_two_servers_one_erlang():
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)


def test_erlang_c_textbook_value():
    # c = 10 servers, a = 8 Erlangs: P(wait) ~= 0.409
    assert erlang_c(10, 8.0) == pytest.approx(0.409, abs=5e-4)


@pytest.mark.parametrize(("servers", "load"), [(1, 0.7), (3, 2.5), (10, 8.0), (50, 45.0)])
def test_erlang_c_from_erlang_b(servers, load):
    blocking = erlang_b(servers, load)
    rho = load / servers
    waiting = erlang_c(servers, load)
    assert waiting == pytest.approx(blocking / (1 - rho * (1 - blocking)))
    assert waiting >= blocking


def test_zero_load_gives_zero_probabilities():
    assert erlang_b(3, 0.0) == 0.0
    assert erlang_c(3, 0.0) == 0.0


@pytest.mark.parametrize(("servers", "load"), [(1, 1.0), (1, 1.5), (4, 4.0), (4, 10.0)])
def test_erlang_c_rejects_unstable_load(servers, load):
    with pytest.raises(ValueError, match="unstable"):
        erlang_c(servers, load)


@pytest.mark.parametrize(
    ("servers", "load"),
    [(0, 0.5), (-1, 0.5), (2.5, 0.5), (True, 0.5), (2, -0.1), (2, float("nan"))],
)
def test_erlang_rejects_invalid_inputs(servers, load):
    with pytest.raises(ValueError):
        erlang_c(servers, load)
    with pytest.raises(ValueError):
        erlang_b(servers, load)


# ---------------------------------------------------------------------------
# M/M/c figures
# ---------------------------------------------------------------------------


def test_mm1_figures():
    lam, stay = 0.6, 1.0  # mu = 1, rho = 0.6
    q = mmc(lam, stay, 1)
    rho = lam * stay
    assert q.occupancy == pytest.approx(rho)
    assert q.p_wait == pytest.approx(rho)
    assert q.waitlist_mean == pytest.approx(rho**2 / (1 - rho))
    assert q.in_system_mean == pytest.approx(rho / (1 - rho))
    assert q.time_in_system_days == pytest.approx(1 / (1 / stay - lam))


def test_mmc_littles_law_and_identities():
    q = mmc(arrival_rate=2.0, mean_stay=4.0, servers=10)
    assert isinstance(q, QueueFigures)
    assert q.census_mean == pytest.approx(8.0)
    assert q.p_wait == pytest.approx(erlang_c(10, 8.0))
    assert q.waitlist_mean == pytest.approx(littles_law_census(2.0, q.wait_mean_days))
    assert q.in_system_mean == pytest.approx(littles_law_census(2.0, q.time_in_system_days))
    assert q.in_system_mean == pytest.approx(q.waitlist_mean + q.census_mean)
    assert q.time_in_system_days == pytest.approx(q.wait_mean_days + 4.0)


def test_mmc_is_frozen():
    q = mmc(1.0, 1.0, 2)
    with pytest.raises(AttributeError):
        q.servers = 3


def test_mmc_rejects_unstable():
    with pytest.raises(ValueError, match="unstable"):
        mmc(arrival_rate=3.0, mean_stay=2.0, servers=6)


def test_wait_over_tail():
    q = mmc(arrival_rate=2.0, mean_stay=4.0, servers=10)
    drain = 10 / 4.0 - 2.0
    assert q.wait_over(0.0) == pytest.approx(q.p_wait)
    assert q.wait_over(3.0) == pytest.approx(q.p_wait * math.exp(-drain * 3.0))
    # the mean of the tail integral equals Wq
    assert q.p_wait / drain == pytest.approx(q.wait_mean_days)


@pytest.mark.parametrize("quantile", [0.7, 0.9, 0.95, 0.99])
def test_wait_percentile_inverts_wait_over(quantile):
    q = mmc(arrival_rate=2.0, mean_stay=4.0, servers=10)
    days = q.wait_percentile_days(quantile)
    assert days > 0
    assert q.wait_over(days) == pytest.approx(1 - quantile)


def test_wait_percentile_zero_below_no_wait_share():
    q = mmc(arrival_rate=2.0, mean_stay=4.0, servers=10)  # p_wait ~ 0.41
    assert q.wait_percentile_days(0.5) == 0.0
    assert q.wait_percentile_days(1 - q.p_wait) == 0.0


@pytest.mark.parametrize("quantile", [0.0, 1.0, -0.2, 1.5])
def test_wait_percentile_rejects_bad_quantile(quantile):
    with pytest.raises(ValueError):
        mmc(1.0, 1.0, 2).wait_percentile_days(quantile)


# ---------------------------------------------------------------------------
# priority M/M/c
# ---------------------------------------------------------------------------


def test_priority_mmc_hand_values():
    # c = 2, mu = 1, a = 1: C = 1/3, W0 = C / (c mu) = 1/6; occupancy 1/4 then 1/2
    waits = priority_mmc([0.5, 0.5], mean_stay=1.0, servers=2)
    assert waits == pytest.approx([(1 / 6) / 0.75, (1 / 6) / (0.75 * 0.5)])


@pytest.mark.parametrize(("rate", "stay", "servers"), [(0.6, 1.0, 1), (2.0, 4.0, 10), (0.0, 3.0, 2)])
def test_priority_mmc_one_rank_equals_mmc(rate, stay, servers):
    assert priority_mmc([rate], stay, servers) == pytest.approx([mmc(rate, stay, servers).wait_mean_days])


@pytest.mark.parametrize(
    ("rates", "stay", "servers"),
    [
        ([0.3, 0.4], 1.0, 1),
        ([0.5, 1.0, 0.3], 4.0, 8),
        ([0.0, 2.0, 0.0, 1.5], 2.5, 9),
        ([5.0, 20.0], 10.0, 260),
    ],
)
def test_priority_mmc_conserves_fifo_mean_wait(rates, stay, servers):
    waits = priority_mmc(rates, stay, servers)
    weighted = sum(rate * wait for rate, wait in zip(rates, waits, strict=True)) / sum(rates)
    assert weighted == pytest.approx(mmc(sum(rates), stay, servers).wait_mean_days)
    assert waits == sorted(waits)


@pytest.mark.parametrize(
    ("rates", "stay", "servers", "message"),
    [
        ([0.5, -0.1], 1.0, 2, r"arrival_rates\[1\] must be a finite number >= 0"),
        ([float("nan")], 1.0, 2, r"arrival_rates\[0\]"),
        ([], 1.0, 2, "at least one priority rank"),
        ([1.0, 1.0], 1.0, 2, "unstable"),
        ([0.5], 0.0, 2, "mean_stay must be > 0"),
        ([0.5], 1.0, 0, "servers must be at least 1"),
    ],
)
def test_priority_mmc_rejects_bad_inputs(rates, stay, servers, message):
    with pytest.raises(ValueError, match=message):
        priority_mmc(rates, stay, servers)


# ---------------------------------------------------------------------------
# Jackson networks
# ---------------------------------------------------------------------------


def test_traffic_rates_feedback_loop():
    # node 0 -> node 1 always; node 1 -> node 0 w.p. 0.3, else leaves
    gamma = 1.4
    rates = traffic_rates([gamma, 0.0], [[0.0, 1.0], [0.3, 0.0]])
    assert isinstance(rates, np.ndarray)
    np.testing.assert_allclose(rates, [gamma / 0.7, gamma / 0.7])


def test_traffic_rates_no_routing_is_external():
    np.testing.assert_allclose(traffic_rates([1.0, 2.0], np.zeros((2, 2))), [1.0, 2.0])


def test_traffic_rates_rejects_closed_network():
    with pytest.raises(ValueError, match="not open"):
        traffic_rates([1.0, 0.0], [[0.0, 1.0], [1.0, 0.0]])


@pytest.mark.parametrize(
    ("external", "routing"),
    [
        ([1.0, 0.0], [[0.0, 1.0]]),  # not square
        ([1.0], [[0.0, 1.0], [0.0, 0.0]]),  # size mismatch
        ([1.0, 0.0], [[0.0, 1.2], [0.0, 0.0]]),  # row sums > 1
        ([1.0, 0.0], [[0.0, -0.1], [0.0, 0.0]]),  # negative probability
        ([-1.0, 0.0], [[0.0, 0.5], [0.0, 0.0]]),  # negative external rate
    ],
)
def test_traffic_rates_rejects_bad_inputs(external, routing):
    with pytest.raises(ValueError):
        traffic_rates(external, routing)


def test_tandem_network_equals_independent_queues():
    nodes = jackson_network([1.5, 0.0], [[0.0, 1.0], [0.0, 0.0]], [2.0, 5.0], [4, 9])
    assert nodes == [mmc(1.5, 2.0, 4), mmc(1.5, 5.0, 9)]


def test_feedback_network_nodes_use_traffic_rates():
    nodes = jackson_network([0.7, 0.0], [[0.0, 1.0], [0.3, 0.0]], [1.0, 2.0], [2, 3])
    assert [n.arrival_rate for n in nodes] == pytest.approx([1.0, 1.0])
    assert nodes[1] == mmc(nodes[1].arrival_rate, 2.0, 3)


def test_jackson_network_reports_unstable_node():
    with pytest.raises(ValueError, match="node 1"):
        jackson_network([1.0, 0.0], [[0.0, 1.0], [0.0, 0.0]], [1.0, 3.0], [2, 3])


def test_jackson_network_rejects_length_mismatch():
    with pytest.raises(ValueError):
        jackson_network([1.0, 0.0], np.zeros((2, 2)), [1.0], [2, 2])


# ---------------------------------------------------------------------------
# planning helpers
# ---------------------------------------------------------------------------


def test_littles_law_census():
    assert littles_law_census(3.0, 7.0) == pytest.approx(21.0)
    with pytest.raises(ValueError):
        littles_law_census(-1.0, 2.0)


def test_servers_needed_without_targets_is_minimum_stable():
    assert servers_needed(2.0, 4.0) == 9  # a = 8 -> floor(a) + 1
    assert servers_needed(2.1, 4.0) == 9  # a = 8.4


@pytest.mark.parametrize(
    ("lam", "stay", "target"), [(2.0, 4.0, 0.5), (0.8, 14.0, 2.0), (30.0, 10.0, 0.25)]
)
def test_servers_needed_meets_wait_target_minimally(lam, stay, target):
    count = servers_needed(lam, stay, max_wait_p90_days=target)
    assert mmc(lam, stay, count).wait_percentile_days(0.9) <= target
    fewer = count - 1
    if fewer > lam * stay:  # one fewer is stable, so it must miss the target
        assert mmc(lam, stay, fewer).wait_percentile_days(0.9) > target


@pytest.mark.parametrize(
    ("lam", "stay", "target"), [(2.0, 4.0, 0.85), (1.0, 9.0, 0.9), (3.0, 2.0, 0.75)]
)
def test_servers_needed_meets_occupancy_target_minimally(lam, stay, target):
    count = servers_needed(lam, stay, max_occupancy=target)
    assert lam * stay / count <= target
    assert lam * stay / (count - 1) > target or count - 1 <= lam * stay


def test_servers_needed_takes_strictest_target():
    both = servers_needed(2.0, 4.0, max_wait_p90_days=0.5, max_occupancy=0.6)
    assert both == max(
        servers_needed(2.0, 4.0, max_wait_p90_days=0.5),
        servers_needed(2.0, 4.0, max_occupancy=0.6),
    )


def test_servers_needed_rejects_bad_targets():
    with pytest.raises(ValueError):
        servers_needed(1.0, 1.0, max_occupancy=0.0)
    with pytest.raises(ValueError):
        servers_needed(1.0, 1.0, max_wait_p90_days=-1.0)


def test_public_api():
    assert set(theory.__all__) == {
        "QueueFigures",
        "erlang_b",
        "erlang_c",
        "jackson_network",
        "littles_law_census",
        "mmc",
        "priority_mmc",
        "servers_needed",
        "traffic_rates",
    }
