"""Hypothesis: random small continua keep every invariant a planner relies on."""

from __future__ import annotations

import numpy as np
from conftest import scenario
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim

STAYS = st.sampled_from([
    {"dist": "exponential", "mean": 3},
    {"dist": "lognormal", "median": 2, "p90": 9},
    {"dist": "fixed", "value": 2},
    {"dist": "uniform", "low": 1, "high": 6, "max": 4},
])


@st.composite
def continua(draw):
    names = ["a", "b", "c"][: draw(st.integers(1, 3))]
    levels = {}
    for index, name in enumerate(names):
        others = [n for n in names if n != name]
        destinations = others + ["discharged", "dropped_out"]
        weights = draw(st.lists(st.integers(0, 4), min_size=len(destinations), max_size=len(destinations)))
        weights[-2] += 1  # always some way out
        total = sum(weights)
        shares = {d: w / total for d, w in zip(destinations, weights, strict=True) if w}
        shares[next(iter(shares))] += 1 - sum(shares.values())
        level = {
            "capacity": draw(st.integers(0, 6)) if index else draw(st.integers(1, 6)),
            "los": draw(STAYS), "next": shares,
            "referrals_per_year": draw(st.sampled_from([0, 200, 800])),
            "when_next_full": draw(st.sampled_from(["hold", "release"])),
            "waitlist": draw(st.sampled_from(["fifo", "transfers_first"])),
        }
        if draw(st.booleans()):
            level["when_full"] = "turn_away"
        elif draw(st.booleans()):
            level["patience"] = {"dist": "exponential", "mean": 5}
            level["gave_up"] = {draw(st.sampled_from(destinations)): 1}
        levels[name] = level
    relapse = {"after_dropped_out": {"probability": draw(st.sampled_from([0.0, 0.5, 1.0])),
                                     "time": {"dist": "exponential", "mean": 20}},
               "return_to": {names[0]: 1}}
    return scenario(levels, relapse=relapse, days=120, warmup_days=30, seed=draw(st.integers(0, 10**6)))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(continua())
def test_random_continua_keep_the_invariants(continuum):
    results = sim.run(continuum, jobs=1, progress=False, keep_episodes=True)
    states = results.patients
    placed = states[["waiting", "in_treatment", "held", "at_risk", "gone"]].sum(axis=1)
    assert (placed == states["created"]).all()
    episodes = results.episodes
    assert (episodes["wait_days"].dropna() >= 0).all()
    assert (episodes["stay_days"].dropna() >= 0).all()
    assert (episodes["held_days"].dropna() >= 0).all()
    daily = results.daily   # no capacity cuts here, so never more patients than places
    assert (daily["census"] <= daily["capacity"] + 1e-9).all()
    assert np.isfinite(results.summary.query("metric == 'census_mean'")["mean"]).all()
