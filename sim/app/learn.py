"""The student's page: the teaching scenarios with sliders that re-run live, one lesson per tab.

Four lessons, as in notebooks 10-13: Little's law on one acute unit (``teaching_acute_unit.yaml``);
why 85% full already means waiting, one ward against Erlang C (``teaching_mmc.yaml``); bottlenecks
and bed blocking in the step-down pair (``teaching_step_down.yaml``); and the relapse loop of
notebook 13 on the same pair. Each tab has a slider, the figures it moves, the one-line lesson and a
chart with theory's curve and the points the student has visited so far.

How a slider move answers quickly
---------------------------------
Each lesson runs a short study (``RUNS``: fewer replications and days than the files ask),
serially in the page's own thread (``sim.run(..., jobs=1)``), cached by the slider's value with
``st.cache_data`` for every session of the server, so going back to a value answers at once. A
lesson is an ``st.fragment`` in a lazy tab (``on_change="rerun"``): a slider move re-runs that
lesson only, and opening the page runs only the open tab's study.

Why in-process and not the shared worker pool (:mod:`sim.app.jobs`): on an idle pool two cores
would halve the simulating part of a move, but the pool is shared, and a lesson's tasks would queue
behind the planners' runs, which can take minutes, exactly when a slider must still answer.
Streamlit runs each session's script in its own thread, so other sessions' pages keep loading while
a lesson computes; two students moving sliders at the same instant share one core (Python's GIL)
and wait about twice as long.

Measured on the 2-core test machine through Streamlit's ``AppTest`` (so including the page and its
charts; CPU seconds, which the machine's other load does not inflate; three runs): a slider move to
a new value, Little's law 0.73-0.79 s, Erlang C 0.85-0.93 s, bed blocking 0.81-0.90 s, relapse loop
0.66-0.76 s; a value already visited 0.19-0.40 s (drawing the charts). The first page load of a
server also pays about 0.6 s of Streamlit's first run. In a real browser against ``streamlit run``
with the machine 3x oversubscribed by other work, new values showed in 0.9-1.9 s and visited ones in
0.2-0.6 s; on an idle machine through ``continuum app`` (``benchmarks/bench_app.py``), 0.73-0.94 s and
0.22-0.37 s.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

import sim
from sim.figure_style import ALL_COLOR, CAPACITY_COLOR, NEUTRAL, OKABE_ITO, house_style

# Module-level strings would be shown on the page (Streamlit's "magic"), so constants are explained in comments.
SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
# simulation in blue, what it adds (held beds, returns) in vermilion; theory is black, as in the notebooks
SIMULATED, SECOND = OKABE_ITO[0], OKABE_ITO[3]
# the PHP places the bed-blocking slider offers: below 18 the PHP cannot keep up and the ward's waits run away
PHP_PLACES = (18, 30)

# each lesson's short study: about a second from cold on one core (see the module's docstring)
RUNS = {
    "little": {"run.replications": 10, "run.warmup_days": 90, "run.days": 730},
    "mmc": {"run.replications": 10, "run.warmup_days": 100, "run.days": 1000},
    "step_down": {"run.replications": 10, "run.warmup_days": 180, "run.days": 730},
    "relapse": {"run.replications": 6, "run.warmup_days": 365, "run.days": 730},
}

# notebook 13's relapse rules (teaching values): dropouts mostly return within weeks, completers after months
RELAPSE = {
    "after_discharged": {"probability": 0.2, "time": {"dist": "exponential", "mean": 120}},
    "after_dropped_out": {"probability": 0.6, "time": {"dist": "lognormal", "median": 14, "p90": 90}},
    "return_to": {"inpatient": 0.7, "php": 0.3},
}
# notebook 13's continuum: the step-down pair with a relapse loop, a releasing ward and fewer first referrals
REVOLVING_DOOR = {"relapse": RELAPSE, "levels.inpatient.when_next_full": "release",
                  "levels.inpatient.referrals_per_year": 400, "levels.php.referrals_per_year": 100}

LESSONS = {
    "little": "People in care = admissions a day × days in place (Little's law), whatever the distributions; "
              "it counts the beds busy on average, not the beds a level needs to keep waits short.",
    "mmc": "Waits stay short until about 80% full and then climb steeply: near full, each new patient finds "
           "everyone else still there, so 85% is already full for planning.",
    "step_down": "A bottleneck shows up upstream of where it is: with too few PHP places the ward becomes its "
                 "waiting room, and its waits rise though its beds never changed.",
    "relapse": "The relapse loop multiplies demand by 1/(1 − r): if a share r of the people leaving care come "
               "back, each first referral becomes 1/(1 − r) entries to care.",
}


@st.cache_resource
def teaching(name: str) -> sim.Scenario:
    """A bundled teaching scenario, loaded once per server (scenarios are frozen, so sharing is safe)."""
    return sim.load_scenario(SCENARIOS / f"{name}.yaml")


@st.cache_resource
def drawing_lock() -> threading.Lock:
    """Matplotlib's style settings are global: one session draws at a time."""
    return threading.Lock()


def simulate(scenario: sim.Scenario, changes: dict[str, Any], lesson: str) -> sim.Results:
    return sim.run(scenario.with_changes({**changes, **RUNS[lesson]}), jobs=1, progress=False)


def interval(summary: pd.DataFrame, level: str, metric: str) -> dict[str, float]:
    """A metric's mean and 95% interval from a summary indexed by level and metric."""
    row = summary.loc[(level, metric)]
    return {"mean": float(row["mean"]), "low": float(row["ci_low"]), "high": float(row["ci_high"])}


def remember(lesson: str, value: float, figures: dict[str, Any]) -> dict[float, dict[str, Any]]:
    """The points this session has visited in a lesson, with this one added: the chart shows them all."""
    seen = st.session_state.setdefault(f"learn_seen_{lesson}", {})
    seen[value] = figures
    return dict(sorted(seen.items()))


def show(chart: Callable[..., Figure], *inputs: Any) -> None:
    """Draw ``chart(*inputs)`` in the report's style and put it on the page."""
    with drawing_lock(), house_style():
        st.pyplot(chart(*inputs))


def new_chart() -> tuple[Figure, Axes]:
    """One chart; no layout engine, which would add a fifth to the drawing time (``st.pyplot`` trims the margins)."""
    figure = Figure(figsize=(5.5, 4))
    return figure, figure.subplots()


def error_bars(ax: Axes, xs: list[float], points: list[dict[str, float]], current: float, label: str) -> None:
    """Simulated means with their 95% intervals; the slider's value ringed."""
    means = np.array([point["mean"] for point in points])
    spread = [means - [point["low"] for point in points], [point["high"] for point in points] - means]
    ax.errorbar(xs, means, yerr=np.clip(spread, 0, None), fmt="o", color=SIMULATED, capsize=4, label=label, zorder=3)
    here = xs.index(current)
    ax.plot([current], [means[here]], "o", color=SIMULATED, markersize=11, markerfacecolor="none", zorder=3)


# --- 1. Little's law (notebook 10) -----------------------------------------------------------------------


@st.cache_data(max_entries=100, show_spinner="Simulating the acute unit...")
def acute_unit(referrals_per_100k: int) -> dict[str, Any]:
    results = simulate(teaching("teaching_acute_unit"),
                       {"levels.inpatient.referrals_per_100k_per_year": referrals_per_100k}, "little")
    summary = results.summary.set_index(["level", "metric"])
    return {"census": interval(summary, "inpatient", "census_mean"),
            "admissions_per_day": summary.loc[("inpatient", "admissions_per_year"), "mean"] / 365,
            "days_in_place": summary.loc[("inpatient", "time_in_place_mean_days"), "mean"],
            "occupancy": summary.loc[("inpatient", "occupancy"), "mean"],
            "wait_p90_days": summary.loc[("inpatient", "wait_p90_days"), "mean"]}


def beds_for(scenario: sim.Scenario, referrals_per_100k: float) -> tuple[float, int]:
    """Little's law census and Erlang C's beds for the wait target, at ``referrals_per_100k`` (seasons average 1)."""
    ward = scenario.levels["inpatient"]
    per_day = referrals_per_100k * (scenario.population or 100_000) / 100_000 / 365
    needed = sim.theory.servers_needed(per_day, ward.mean_stay_days, max_wait_p90_days=scenario.run.wait_target_days)
    return per_day * ward.mean_stay_days, needed


@st.fragment
def little_lesson() -> None:
    scenario = teaching("teaching_acute_unit")
    beds = scenario.levels["inpatient"].capacity[0].capacity
    left, right = st.columns([2, 3])
    with left:
        referrals = st.slider("Referrals a year per 100,000 people", 400, 750, 700, 50, key="learn_referrals")
        st.info(LESSONS["little"], icon=":material/lightbulb:")
        figures = acute_unit(referrals)
        census, needed = figures["census"], beds_for(scenario, referrals)[1]
        product = figures["admissions_per_day"] * figures["days_in_place"]
        st.metric("Admissions a day × days in place",
                  f"{figures['admissions_per_day']:.2f} × {figures['days_in_place']:.1f} = {product:.1f}")
        st.metric("Simulated mean census (people)", f"{census['mean']:.1f}",
                  help=f"95% interval {census['low']:.1f} to {census['high']:.1f}")
        st.metric(f"Beds to admit 90% within {scenario.run.wait_target_days:g} days (Erlang C)", f"{needed}")
        st.caption(f"The unit has {beds} beds: {figures['occupancy']:.0%} full, 90% admitted within "
                   f"{figures['wait_p90_days']:.1f} days. {scenario.name}; each point "
                   f"{RUNS['little']['run.replications']} replications of {RUNS['little']['run.days']} days.")
    with right:
        show(little_chart, scenario, remember("little", referrals, figures), referrals, beds)


def little_chart(scenario: sim.Scenario, seen: dict[float, dict[str, Any]], current: float, beds: int) -> Figure:
    figure, ax = new_chart()
    referrals = np.arange(400, 751, 10)
    census, needed = zip(*(beds_for(scenario, float(value)) for value in referrals), strict=True)
    ax.plot(referrals, census, color=ALL_COLOR, label="Little's law: referrals a day × mean stay")
    ax.step(referrals, needed, where="mid", color=NEUTRAL,
            label=f"Erlang C: beds for 90% within {scenario.run.wait_target_days:g} days")
    ax.axhline(beds, color=CAPACITY_COLOR, linestyle="--", linewidth=1, label=f"{beds} beds")
    error_bars(ax, list(seen), [point["census"] for point in seen.values()], current,
               "Simulated mean census (95% interval)")
    ax.set_xlabel("Referrals a year per 100,000 people")
    ax.set_ylabel("Beds")
    ax.set_title("Beds busy on average, and beds needed")
    ax.legend(loc="lower right")
    return figure


# --- 2. Why 85% is full (notebook 11) --------------------------------------------------------------------


def ward_shape(scenario: sim.Scenario) -> tuple[int, float]:
    ward = scenario.levels["ward"]
    return ward.capacity[0].capacity, ward.mean_stay_days


def erlang_c_wait(scenario: sim.Scenario, occupancy: float) -> float:
    places, mean_stay = ward_shape(scenario)
    return sim.theory.mmc(occupancy * places / mean_stay, mean_stay, places).wait_mean_days


@st.cache_data(max_entries=100, show_spinner="Simulating the ward...")
def ward_wait(occupancy: float) -> dict[str, float]:
    scenario = teaching("teaching_mmc")
    places, mean_stay = ward_shape(scenario)
    results = simulate(scenario, {"levels.ward.referrals_per_year": occupancy * places / mean_stay * 365}, "mmc")
    return interval(results.summary.set_index(["level", "metric"]), "ward", "wait_mean_days")


@st.fragment
def mmc_lesson() -> None:
    scenario = teaching("teaching_mmc")
    places, mean_stay = ward_shape(scenario)
    left, right = st.columns([2, 3])
    with left:
        occupancy = round(st.slider("Occupancy (share of places in use)", 0.50, 0.95, 0.85, 0.01,
                                    format="percent", key="learn_occupancy"), 2)
        growth = erlang_c_wait(scenario, 0.95) / erlang_c_wait(scenario, 0.85)
        st.info(f"{LESSONS['mmc']} From 85% to 95% the mean wait grows {growth:.1f}-fold, for 12% more patients.",
                icon=":material/lightbulb:")
        simulated, exact = ward_wait(occupancy), erlang_c_wait(scenario, occupancy)
        st.metric("Erlang C mean wait (exact)", f"{exact:.2f} days")
        st.metric("Simulated mean wait", f"{simulated['mean']:.2f} days")
        st.metric("Simulation's 95% interval", f"{simulated['low']:.2f} to {simulated['high']:.2f} days")
        inside = simulated["low"] <= exact <= simulated["high"]
        st.caption(f"Erlang C lies {'inside' if inside else 'outside'} the simulation's 95% interval. {places} places, "
                   f"exponential stays of {mean_stay:g} days, Poisson referrals (an M/M/c queue); each point "
                   f"{RUNS['mmc']['run.replications']} replications of {RUNS['mmc']['run.days']} days.")
    with right:
        show(mmc_chart, scenario, remember("mmc", occupancy, simulated), occupancy)


def mmc_chart(scenario: sim.Scenario, seen: dict[float, dict[str, float]], current: float) -> Figure:
    figure, ax = new_chart()
    curve = np.linspace(0.50, 0.97, 48)
    ax.plot(curve, [erlang_c_wait(scenario, rho) for rho in curve], color=ALL_COLOR, label="Erlang C (exact)")
    error_bars(ax, list(seen), list(seen.values()), current, "Simulation (mean, 95% interval)")
    ax.axvline(0.85, color=NEUTRAL, linestyle="--", linewidth=1)
    ax.text(0.855, ax.get_ylim()[1] * 0.9, "85%", color=NEUTRAL)
    ax.xaxis.set_major_formatter(lambda value, _: f"{value:.0%}")
    ax.set_xlabel("Occupancy (share of places in use)")
    ax.set_ylabel("Mean wait for a place (days)")
    places, mean_stay = ward_shape(scenario)
    ax.set_title(f"{places} places, stays of {mean_stay:g} days on average")
    ax.legend(loc="upper left")
    return figure


# --- 3. Bottlenecks and bed blocking (notebook 12) ---------------------------------------------------------


@st.cache_data(max_entries=100, show_spinner="Simulating the ward and the PHP...")
def step_down(php_places: int) -> dict[str, Any]:
    results = simulate(teaching("teaching_step_down"), {"levels.php.capacity": php_places}, "step_down")
    summary = results.summary.set_index(["level", "metric"])
    held = summary.loc[("inpatient", "blocked_days_per_year"), "mean"] / 365
    day = results.daily.query("level == 'inpatient' and period == 'measured' and replication == 0")
    return {"wait": interval(summary, "inpatient", "wait_mean_days"), "held": held,
            "in_treatment": summary.loc[("inpatient", "census_mean"), "mean"] - held,
            "php_occupancy": summary.loc[("php", "occupancy"), "mean"],
            "day": day[["day", "census", "held"]].reset_index(drop=True)}


@st.fragment
def step_down_lesson() -> None:
    scenario = teaching("teaching_step_down")
    beds = scenario.levels["inpatient"].capacity[0].capacity
    left, right = st.columns([2, 3])
    with left:
        php_places = st.slider("PHP places", *PHP_PLACES, 20, 1, key="learn_php_places")
        st.info(f"{LESSONS['step_down']} Look downstream before adding beds.", icon=":material/lightbulb:")
        figures = step_down(php_places)
        wait = figures["wait"]
        st.metric("Mean wait for a ward bed", f"{wait['mean']:.2f} days",
                  help=f"95% interval {wait['low']:.2f} to {wait['high']:.2f} days")
        st.metric("Ward beds held for the PHP (mean)", f"{figures['held']:.2f}")
        st.metric("Ward beds in treatment (mean)", f"{figures['in_treatment']:.1f}")
        st.caption(f"The ward keeps its {beds} beds throughout; the PHP runs {figures['php_occupancy']:.0%} full. "
                   f"Patients ready to step down wait in their ward bed (bed blocking). Each point "
                   f"{RUNS['step_down']['run.replications']} replications of {RUNS['step_down']['run.days']} days.")
    with right:
        show(ward_wait_chart, remember("step_down", php_places, figures), php_places, beds)
        show(ward_days_chart, figures["day"], php_places, beds)


def ward_wait_chart(seen: dict[float, dict[str, Any]], current: int, beds: int) -> Figure:
    figure, ax = new_chart()
    error_bars(ax, list(seen), [point["wait"] for point in seen.values()], current, "mean, 95% interval")
    ax.set_xlim(PHP_PLACES[0] - 0.5, PHP_PLACES[1] + 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(bottom=0)
    ax.set_xlabel("PHP places")
    ax.set_ylabel("Mean wait for a ward bed (days)")
    ax.set_title(f"Ward waits (mean, 95% interval); the ward always has {beds} beds")
    return figure


def ward_days_chart(day: pd.DataFrame, current: int, beds: int) -> Figure:
    figure, ax = new_chart()
    ax.stackplot(day["day"], day["census"] - day["held"], day["held"], colors=[SIMULATED, SECOND],
                 labels=["in treatment", "held, waiting for the PHP"])
    ax.axhline(beds, color=CAPACITY_COLOR, linestyle="--", linewidth=1, label=f"{beds} beds")
    ax.set_ylim(0, beds * 1.35)
    ax.set_xlabel("Day (one replication)")
    ax.set_ylabel("Ward beds occupied (patients)")
    ax.set_title(f"What the ward's beds are used for, with {current} PHP places")
    ax.legend(loc="upper left", ncol=2)
    return figure


# --- 4. Relapse and the revolving door (notebook 13) -------------------------------------------------------


def exits_per_year(flows: pd.DataFrame, scenario: sim.Scenario) -> dict[str, float]:
    """Yearly exits to the community by route; those who gave up go where their level's ``gave_up`` sends them."""
    exits = {route: flows.loc[flows["target"] == route, "per_year"].sum() for route in ["discharged", "dropped_out"]}
    for row in flows[flows["target"] == "gave_up"].itertuples():
        for route, share in (scenario.levels[str(row.source)].gave_up or {}).items():
            exits[route] = exits.get(route, 0.0) + float(row.per_year) * share
    return exits


def return_share(flows: pd.DataFrame, scenario: sim.Scenario) -> float:
    """The share r of the people leaving care who come back: each exit's relapse probability, weighted by its volume."""
    rule, exits = scenario.relapse, exits_per_year(flows, scenario)
    assert rule is not None, "the revolving door has a relapse loop"
    chances = {"discharged": rule.after_discharged, "dropped_out": rule.after_dropped_out}
    returning = sum(exits.get(route, 0.0) * chance.probability for route, chance in chances.items() if chance)
    return returning / sum(exits.values())


def arrivals_by_source(flows: pd.DataFrame, level: str) -> dict[str, float]:
    into = flows[flows["target"] == level].set_index("source")["per_year"]
    return {"first referrals": into.get("community", 0.0), "returns by relapse": into.get("relapse", 0.0),
            "transfers (step-down)": into.drop(["community", "relapse"], errors="ignore").sum()}


@st.cache_data(max_entries=100, show_spinner="Simulating the relapse loop...")
def revolving_door(dropout_relapse: float) -> dict[str, Any]:
    """Notebook 13's loop check: the return share r, and entries to care against first referrals / (1 - r)."""
    scenario = teaching("teaching_step_down").with_changes(
        {**REVOLVING_DOOR, "relapse.after_dropped_out.probability": dropout_relapse})
    flows = simulate(scenario, {}, "relapse").flows
    assert flows is not None, "a run always has its flows"
    first = flows.loc[flows["source"] == "community", "per_year"].sum()
    returns = flows.loc[flows["source"] == "relapse", "per_year"].sum()
    return {"r": return_share(flows, scenario), "first_referrals": first, "entries": first + returns,
            "arrivals": pd.DataFrame({level: arrivals_by_source(flows, level) for level in scenario.level_names}).T}


@st.fragment
def relapse_lesson() -> None:
    left, right = st.columns([2, 3])
    with left:
        dropout_relapse = round(st.slider("Share of dropouts who come back", 0.0, 0.9, 0.6, 0.1,
                                          format="percent", key="learn_dropout_relapse"), 1)
        st.info(LESSONS["relapse"], icon=":material/lightbulb:")
        loop = revolving_door(dropout_relapse)
        multiplier = loop["entries"] / loop["first_referrals"]
        st.metric("Share of people leaving care who come back, r", f"{loop['r']:.2f}")
        st.metric("Entries to care ÷ first referrals (simulated)", f"{multiplier:.2f}")
        st.metric("1/(1 − r) (theory)", f"{1 / (1 - loop['r']):.2f}")
        ward = loop["arrivals"].loc["inpatient"]
        st.caption(f"{ward['returns by relapse'] / ward.sum():.0%} of the ward's arrivals are returns. The simulation "
                   f"is within {abs(multiplier * (1 - loop['r']) - 1):.1%} of the theory, a little short where the "
                   "loop is still filling. 20% of those who complete care come back; the ward sends patients home to "
                   f"wait when the PHP is full. Each point {RUNS['relapse']['run.replications']} replications of "
                   f"{RUNS['relapse']['run.days']} days after a year's warm-up.")
    with right:
        show(loop_chart, remember("relapse", dropout_relapse, loop), dropout_relapse)
        show(arrivals_chart, loop["arrivals"], dropout_relapse)


def loop_chart(seen: dict[float, dict[str, Any]], current: float) -> Figure:
    figure, ax = new_chart()
    shares = np.linspace(0, 0.6, 61)
    ax.plot(shares, 1 / (1 - shares), color=ALL_COLOR, label="theory: 1/(1 − r)")
    points = list(seen.values())
    ax.scatter([point["r"] for point in points], [point["entries"] / point["first_referrals"] for point in points],
               color=SIMULATED, zorder=3, label="simulation")
    here = seen[current]
    ax.plot([here["r"]], [here["entries"] / here["first_referrals"]], "o", color=SIMULATED, markersize=11,
            markerfacecolor="none")
    ax.set_xlabel("Share of people leaving care who come back, r")
    ax.set_ylabel("Entries to care ÷ first referrals")
    ax.set_title("The loop multiplies demand")
    ax.legend(loc="upper left")
    return figure


def arrivals_chart(arrivals: pd.DataFrame, current: float) -> Figure:
    figure, ax = new_chart()
    start = np.zeros(len(arrivals))
    for source, color in zip(arrivals.columns, [SIMULATED, SECOND, NEUTRAL], strict=True):
        ax.barh(arrivals.index, arrivals[source], left=start, color=color, label=source)
        start += arrivals[source].to_numpy()
    ax.set_xlim(0, start.max() * 1.9)
    ax.set_xlabel("Arrivals per year")
    ax.set_title(f"Who arrives at each level, with {current:.0%} of dropouts coming back")
    ax.legend(loc="center right")
    return figure


# --- the page -----------------------------------------------------------------------------------------------

st.title("Learn how care levels behave")
st.caption("Move a slider: the simulation re-runs (about a second) and the point joins the chart. "
           "The same lessons, with the code, are in notebooks 10-13.")
TABS = {"Little's law: beds busy": little_lesson, "Why 85% full already means waiting": mmc_lesson,
        "Bottlenecks and bed blocking": step_down_lesson, "Relapse and the revolving door": relapse_lesson}
for tab, lesson in zip(st.tabs(list(TABS), key="learn_lesson", on_change="rerun"), TABS.values(), strict=True):
    if tab.open:
        with tab:
            lesson()
