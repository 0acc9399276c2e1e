"""Closed-form queueing results for checking the simulator and planning capacity.

These are the textbook formulas for M/M/c queues (Erlang B and Erlang C), the
non-preemptive priority M/M/c queue and open Jackson networks. They are used
by the test-suite as ground truth for the discrete-event simulator, by the
capacity planner, and in teaching notebooks.

Units throughout: time in days, rates per day. A level of care is modelled as
``servers`` beds/slots, patients arrive at ``arrival_rate`` per day and stay
``mean_stay`` days on average, so the offered load is
``a = arrival_rate * mean_stay`` Erlangs (the mean number of occupied beds).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "QueueFigures",
    "erlang_b",
    "erlang_c",
    "jackson_network",
    "littles_law_census",
    "mmc",
    "priority_mmc",
    "servers_needed",
    "traffic_rates",
]


# ---------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------


def _check_servers(servers: int) -> int:
    """Return ``servers`` as a positive int or raise ValueError."""
    if isinstance(servers, bool):
        raise ValueError(f"servers must be a positive integer, got {servers!r}")
    try:
        count = operator.index(servers)
    except TypeError:
        raise ValueError(f"servers must be a positive integer, got {servers!r}") from None
    if count < 1:
        raise ValueError(f"servers must be at least 1, got {count}")
    return count


def _check_nonnegative(name: str, value: float) -> float:
    """Return ``value`` as a finite float >= 0 or raise ValueError."""
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return number


def _check_positive(name: str, value: float) -> float:
    """Return ``value`` as a finite float > 0 or raise ValueError."""
    number = _check_nonnegative(name, value)
    if number == 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return number


def _check_stable(servers: int, offered_load: float) -> None:
    """Raise ValueError unless the load can be carried by ``servers``."""
    if offered_load >= servers:
        raise ValueError(
            f"unstable queue: offered load {offered_load:g} Erlangs needs more than "
            f"{servers} servers (occupancy {offered_load / servers:.3g} >= 1); "
            "the waitlist would grow without bound"
        )


# ---------------------------------------------------------------------------
# Erlang formulas
# ---------------------------------------------------------------------------


def erlang_b(servers: int, offered_load: float) -> float:
    """Blocking probability of an M/M/c/c loss system (Erlang B).

    Uses the recursion ``B(k) = a B(k-1) / (k + a B(k-1))`` with ``B(0) = 1``,
    which stays in [0, 1] and is stable for thousands of servers.

    Parameters
    ----------
    servers : int
        Number of beds/slots ``c`` (at least 1).
    offered_load : float
        Offered load ``a = arrival_rate * mean_stay`` in Erlangs (>= 0).

    Returns
    -------
    float
        Probability that an arriving patient finds every server busy.
    """
    count = _check_servers(servers)
    load = _check_nonnegative("offered_load", offered_load)
    blocking = 1.0
    for k in range(1, count + 1):
        blocking = load * blocking / (k + load * blocking)
    return blocking


def erlang_c(servers: int, offered_load: float) -> float:
    """Probability that an arrival must wait in an M/M/c queue (Erlang C).

    Computed from Erlang B as ``C = B / (1 - rho (1 - B))`` with
    ``rho = a / c``.

    Parameters
    ----------
    servers : int
        Number of beds/slots ``c`` (at least 1).
    offered_load : float
        Offered load ``a = arrival_rate * mean_stay`` in Erlangs; must be
        below ``servers``.

    Returns
    -------
    float
        Probability that an arriving patient joins the waitlist.

    Raises
    ------
    ValueError
        If inputs are invalid or ``offered_load >= servers`` (unstable).
    """
    count = _check_servers(servers)
    load = _check_nonnegative("offered_load", offered_load)
    _check_stable(count, load)
    blocking = erlang_b(count, load)
    occupancy = load / count
    return blocking / (1.0 - occupancy * (1.0 - blocking))


# ---------------------------------------------------------------------------
# M/M/c summary
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueFigures:
    """Steady-state figures for one M/M/c level of care.

    Attributes
    ----------
    servers : int
        Number of beds/slots ``c``.
    arrival_rate : float
        Patients arriving per day (``lambda``).
    mean_stay : float
        Mean length of stay in days (``1 / mu``).
    occupancy : float
        Fraction of servers busy, ``a / c``.
    p_wait : float
        Probability an arrival must wait (Erlang C).
    waitlist_mean : float
        Mean number waiting, ``Lq``.
    wait_mean_days : float
        Mean wait before admission in days, ``Wq``.
    census_mean : float
        Mean number of busy servers (patients in care), ``a``.
    in_system_mean : float
        Mean number waiting or in care, ``L = Lq + a``.
    time_in_system_days : float
        Mean wait plus stay in days, ``W = Wq + mean_stay``.
    """

    servers: int
    arrival_rate: float
    mean_stay: float
    occupancy: float
    p_wait: float
    waitlist_mean: float
    wait_mean_days: float
    census_mean: float
    in_system_mean: float
    time_in_system_days: float

    def _drain_rate(self) -> float:
        """Rate ``c mu - lambda`` at which a full unit clears its waitlist."""
        return self.servers / self.mean_stay - self.arrival_rate

    def wait_over(self, days: float) -> float:
        """Probability the wait before admission exceeds ``days``.

        Parameters
        ----------
        days : float
            Waiting-time threshold in days (>= 0).

        Returns
        -------
        float
            ``P(Wq > days) = p_wait * exp(-(c mu - lambda) days)``.
        """
        threshold = _check_nonnegative("days", days)
        return self.p_wait * math.exp(-self._drain_rate() * threshold)

    def wait_percentile_days(self, q: float) -> float:
        """Waiting time (days) that a fraction ``q`` of arrivals do not exceed.

        Parameters
        ----------
        q : float
            Quantile in (0, 1); e.g. 0.9 gives the 90th percentile wait.

        Returns
        -------
        float
            Smallest ``t`` with ``P(Wq <= t) >= q``; 0 when
            ``q <= 1 - p_wait`` (that share is admitted at once).
        """
        if not 0.0 < q < 1.0:
            raise ValueError(f"q must be strictly between 0 and 1, got {q!r}")
        if q <= 1.0 - self.p_wait:
            return 0.0
        return math.log(self.p_wait / (1.0 - q)) / self._drain_rate()


def mmc(arrival_rate: float, mean_stay: float, servers: int) -> QueueFigures:
    """Steady-state figures of an M/M/c queue.

    Parameters
    ----------
    arrival_rate : float
        Patients arriving per day (>= 0).
    mean_stay : float
        Mean length of stay in days (> 0).
    servers : int
        Number of beds/slots (at least 1).

    Returns
    -------
    QueueFigures
        Occupancy, wait probability, waitlist and time-in-system figures.

    Raises
    ------
    ValueError
        If inputs are invalid or ``arrival_rate * mean_stay >= servers``.
    """
    rate = _check_nonnegative("arrival_rate", arrival_rate)
    stay = _check_positive("mean_stay", mean_stay)
    count = _check_servers(servers)
    load = rate * stay
    p_wait = erlang_c(count, load)
    wait_mean = p_wait / (count / stay - rate)
    waitlist = rate * wait_mean
    return QueueFigures(
        servers=count,
        arrival_rate=rate,
        mean_stay=stay,
        occupancy=load / count,
        p_wait=p_wait,
        waitlist_mean=waitlist,
        wait_mean_days=wait_mean,
        census_mean=load,
        in_system_mean=waitlist + load,
        time_in_system_days=wait_mean + stay,
    )


# ---------------------------------------------------------------------------
# priority M/M/c
# ---------------------------------------------------------------------------


def priority_mmc(arrival_rates: Sequence[float], mean_stay: float, servers: int) -> list[float]:
    """Mean wait of each rank in a non-preemptive priority M/M/c queue (Cobham).

    A freed server takes the longest-waiting patient of the highest rank
    present; nobody in care is sent back. All ranks share one exponential
    stay, so the waitlist as a whole behaves as a FIFO M/M/c queue and the
    arrival-weighted mean of the waits equals ``mmc(...).wait_mean_days``.
    Rank ``k`` waits ``W0 / ((1 - s[k-1]) (1 - s[k]))`` days, where
    ``W0 = C(c, a) / (c mu)`` is the mean time until some server frees up,
    ``s[k]`` the occupancy from ranks ``0..k`` and ``s[-1] = 0``.

    Parameters
    ----------
    arrival_rates : sequence of float
        Patients arriving per day in each rank (>= 0), highest priority first.
    mean_stay : float
        Mean length of stay in days (> 0), the same for every rank.
    servers : int
        Number of beds/slots (at least 1).

    Returns
    -------
    list of float
        Mean wait before admission in days for each rank, in the order given.
        Multiply by the rank's arrival rate for its mean waitlist (Little's law).

    Raises
    ------
    ValueError
        If there are no ranks, an input is invalid, or the total load
        ``sum(arrival_rates) * mean_stay`` is at least ``servers``.
    """
    rates = [
        _check_nonnegative(f"arrival_rates[{rank}]", rate) for rank, rate in enumerate(arrival_rates)
    ]
    if not rates:
        raise ValueError("arrival_rates must list at least one priority rank, got none")
    stay = _check_positive("mean_stay", mean_stay)
    count = _check_servers(servers)
    capacity_per_day = count / stay
    first_free_days = erlang_c(count, sum(rates) * stay) / capacity_per_day
    waits = []
    occupancy_above = 0.0
    for rate in rates:
        occupancy_through = occupancy_above + rate / capacity_per_day
        waits.append(first_free_days / ((1.0 - occupancy_above) * (1.0 - occupancy_through)))
        occupancy_above = occupancy_through
    return waits


# ---------------------------------------------------------------------------
# Jackson networks
# ---------------------------------------------------------------------------


def traffic_rates(
    external_rates: Sequence[float], routing: Sequence[Sequence[float]]
) -> np.ndarray:
    """Total arrival rate at each node of an open Jackson network.

    Solves the traffic equations ``lambda = gamma + routing^T lambda``.

    Parameters
    ----------
    external_rates : sequence of float
        Arrivals per day from outside the network at each node (``gamma``).
    routing : 2-D sequence of float
        ``routing[i][j]`` is the probability a patient leaving node ``i`` goes
        next to node ``j``; rows may sum to less than 1 (the rest leave care).

    Returns
    -------
    numpy.ndarray
        Total arrivals per day at each node.

    Raises
    ------
    ValueError
        If shapes or probabilities are invalid, or the network is not open
        (some patients can never leave, so ``I - routing^T`` is singular).
    """
    gamma = np.asarray(external_rates, dtype=float)
    moves = np.asarray(routing, dtype=float)
    nodes = gamma.shape[0] if gamma.ndim == 1 else -1
    if nodes < 1 or moves.shape != (nodes, nodes):
        raise ValueError(
            f"need 1-D external_rates (n,) and square routing (n, n); "
            f"got {gamma.shape} and {moves.shape}"
        )
    if not (np.all(np.isfinite(gamma)) and np.all(gamma >= 0)):
        raise ValueError("external_rates must be finite and >= 0")
    if not (np.all(np.isfinite(moves)) and np.all(moves >= 0)):
        raise ValueError("routing probabilities must be finite and >= 0")
    if np.any(moves.sum(axis=1) > 1.0 + 1e-9):
        raise ValueError("each routing row must sum to at most 1")
    if np.max(np.abs(np.linalg.eigvals(moves))) >= 1.0 - 1e-9:
        raise ValueError("network is not open: some patients can never leave (I - P^T singular)")
    return np.linalg.solve(np.eye(nodes) - moves.T, gamma)


def jackson_network(
    external_rates: Sequence[float],
    routing: Sequence[Sequence[float]],
    mean_stays: Sequence[float],
    servers: Sequence[int],
) -> list[QueueFigures]:
    """Steady-state figures for every node of an open Jackson network.

    By the product-form theorem each node behaves as an independent M/M/c
    queue fed at its total traffic rate (see :func:`traffic_rates`).

    Parameters
    ----------
    external_rates : sequence of float
        Arrivals per day from outside at each node.
    routing : 2-D sequence of float
        Routing probabilities between nodes (rows may sum to < 1).
    mean_stays : sequence of float
        Mean length of stay in days at each node.
    servers : sequence of int
        Beds/slots at each node.

    Returns
    -------
    list of QueueFigures
        One entry per node, in node order.

    Raises
    ------
    ValueError
        If the network is not open, lengths disagree, or a node is unstable.
    """
    rates = traffic_rates(external_rates, routing)
    if not len(mean_stays) == len(servers) == len(rates):
        raise ValueError(
            f"mean_stays ({len(mean_stays)}) and servers ({len(servers)}) "
            f"must have one entry per node ({len(rates)})"
        )
    figures = []
    for node, (rate, stay, count) in enumerate(zip(rates, mean_stays, servers, strict=True)):
        try:
            figures.append(mmc(rate, stay, count))
        except ValueError as err:
            raise ValueError(f"node {node}: {err}") from err
    return figures


# ---------------------------------------------------------------------------
# planning helpers
# ---------------------------------------------------------------------------


def littles_law_census(arrival_rate: float, time_in_system: float) -> float:
    """Mean number of patients present by Little's law, ``L = lambda W``.

    Parameters
    ----------
    arrival_rate : float
        Patients arriving per day (>= 0).
    time_in_system : float
        Mean days each patient spends in the system (>= 0).

    Returns
    -------
    float
        Mean census (patients present at a random moment).
    """
    rate = _check_nonnegative("arrival_rate", arrival_rate)
    days = _check_nonnegative("time_in_system", time_in_system)
    return rate * days


def servers_needed(
    arrival_rate: float,
    mean_stay: float,
    max_wait_p90_days: float | None = None,
    max_occupancy: float | None = None,
) -> int:
    """Fewest beds/slots that meet every given service target.

    Parameters
    ----------
    arrival_rate : float
        Patients arriving per day (>= 0).
    mean_stay : float
        Mean length of stay in days (> 0).
    max_wait_p90_days : float, optional
        Target for the 90th percentile wait before admission, in days.
    max_occupancy : float, optional
        Target for average occupancy, in (0, 1].

    Returns
    -------
    int
        Smallest ``c`` meeting all targets; always at least
        ``floor(a) + 1`` so the queue is stable.
    """
    rate = _check_nonnegative("arrival_rate", arrival_rate)
    stay = _check_positive("mean_stay", mean_stay)
    if max_wait_p90_days is not None:
        _check_nonnegative("max_wait_p90_days", max_wait_p90_days)
    if max_occupancy is not None and not 0.0 < max_occupancy <= 1.0:
        raise ValueError(f"max_occupancy must be in (0, 1], got {max_occupancy!r}")
    load = rate * stay
    count = math.floor(load) + 1
    if max_occupancy is not None:
        count = max(count, math.floor(load / max_occupancy))
        while load / count > max_occupancy:
            count += 1
    if max_wait_p90_days is not None:
        while mmc(rate, stay, count).wait_percentile_days(0.9) > max_wait_p90_days:
            count += 1
    return count
