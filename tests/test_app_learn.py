"""The student's page (sim/app/learn.py) in Streamlit's app-testing API: each lesson renders with its
lesson line and chart, a slider move re-runs it, a value already seen comes from the cache, and the
simulated M/M/c wait agrees with Erlang C."""

from __future__ import annotations

import re

import pytest
from conftest import ROOT

import sim

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402  (after the skip: streamlit is the app extra)

pytestmark = pytest.mark.xdist_group("app")
"""The app's tests share one test process: one worker pool and one Streamlit import, not one per process."""

PAGE = ROOT / "sim" / "app" / "learn.py"
LESSONS = {   # tab: (lesson, slider key, another value, the start of the lesson line)
    "Little's law: beds busy": ("little", "learn_referrals", 550, "People in care = admissions a day × days in place"),
    "Why 85% full already means waiting": ("mmc", "learn_occupancy", 0.9, "Waits stay short until about 80% full"),
    "Bottlenecks and bed blocking": ("step_down", "learn_php_places", 24, "A bottleneck shows up upstream"),
    "Relapse and the revolving door": ("relapse", "learn_dropout_relapse", 0.3, "The relapse loop multiplies demand"),
}


def opened(tab: str) -> AppTest:
    """The page with ``tab`` open (a lesson's study takes about a second; the first run also imports)."""
    page = AppTest.from_file(str(PAGE), default_timeout=60)
    page.session_state["learn_lesson"] = tab
    page.run()
    assert not page.exception, [error.value for error in page.exception]
    return page


def shown(page: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in page.metric}


def days(text: str) -> list[float]:
    return [float(number) for number in re.findall(r"\d+\.\d+", text)]


@pytest.mark.parametrize("tab", LESSONS)
def test_each_lesson_shows_its_lesson_and_chart_and_follows_its_slider(tab, monkeypatch):
    page = opened(tab)
    lesson, key, value, line = LESSONS[tab]
    assert [info.value for info in page.info if info.value.startswith(line)], "the lesson line is beside the chart"
    assert len(page.metric) >= 3 and all(metric.value for metric in page.metric)
    assert page.get("image"), "its chart"
    assert not page.markdown, "nothing stray on the page (a module-level string is shown by Streamlit's magic)"
    start, before = page.slider(key=key).value, shown(page)

    page.slider(key=key).set_value(value).run()
    assert not page.exception, [error.value for error in page.exception]
    moved = shown(page)
    assert moved.keys() == before.keys() and moved != before, "the numbers follow the slider"
    assert sorted(page.session_state[f"learn_seen_{lesson}"]) == sorted([start, value]), "the chart shows both points"

    runs: list = []
    real = sim.run
    monkeypatch.setattr(sim, "run", lambda *args, **kwargs: runs.append(args) or real(*args, **kwargs))
    page.slider(key=key).set_value(start).run()
    assert not page.exception and runs == [], "going back to a value answers from the cache, without simulating"
    assert shown(page) == before


def test_the_simulated_ward_wait_agrees_with_erlang_c():
    """At 85% and 90% full, the page's Erlang C is the theory module's and lies inside the simulation's 95% interval.

    The interval is a t interval over the lesson's 10 independent replications: the simulation's own statement
    of its precision, so the exact value falling inside it is the check that the simulated queue is the M/M/c
    queue. With the fixed seed the outcome is the same on every run, not a 1-in-20 flake.
    """
    page = opened("Why 85% full already means waiting")
    for occupancy in (0.85, 0.9):
        page.slider(key="learn_occupancy").set_value(occupancy).run()
        figures = shown(page)
        exact = sim.theory.mmc(occupancy * 20 / 4, 4, 20).wait_mean_days
        assert days(figures["Erlang C mean wait (exact)"]) == [round(exact, 2)]
        (simulated,), (low, high) = days(figures["Simulated mean wait"]), days(figures["Simulation's 95% interval"])
        assert low <= exact <= high and low <= simulated <= high, (occupancy, exact, simulated, low, high)
        assert any("Erlang C lies inside the simulation's 95% interval" in caption.value for caption in page.caption)
