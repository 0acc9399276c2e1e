"""The planner's page: pick or upload a scenario, change it, run, compare, plan, download.

Streamlit runs this file top to bottom on every interaction. A run, comparison or plan is a job on the
shared worker pool (:mod:`sim.app.jobs`), started by a button's callback; the page never waits for it:
a fragment redraws the progress bar every half second and reruns the page once the job is done, which
then keeps the answer in the session's state. The form's fields are :mod:`sim.app.forms`, what is shown
of results and the downloads :mod:`sim.app.views`.

Bundled scenarios are found beside the package (``scenarios/`` of a checkout); an installed wheel has
no scenarios folder, and then only upload works.
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import CancelledError
from typing import Any

import pandas as pd
import streamlit as st

import sim
from sim.app import forms, views
from sim.app.jobs import Job
from sim.app.main import shared_pool
from sim.planning import parse_target
from sim.scenario import Scenario

DEFAULT_SCENARIO = "teaching_step_down.yaml"
FIELDS_PER_ROW = 4
DOING = {"run": "Running", "compare": "Comparing", "plan": "Planning"}
state = st.session_state


# ---------------------------------------------------------------------------- loading
def load() -> Scenario | None:
    """The scenario chosen or uploaded, loaded once per choice; ``None`` (and its message) when it cannot be."""
    names = forms.bundled_scenarios()
    left, right = st.columns(2)
    choice = left.selectbox("Scenario", names, index=names.index(DEFAULT_SCENARIO) if DEFAULT_SCENARIO in names
                            else 0, key="scenario_choice", help="The scenarios that come with continuum.")
    if not names:
        left.info("This installation has no scenarios folder (an installed package has none): upload a scenario.")
    upload = right.file_uploader("...or upload your own scenario (YAML)", key="upload",
                                 help="A scenario file as continuum run reads it; it replaces the choice on the left.")
    if upload is not None:
        left.caption(f"Using your file {upload.name}: remove it to use the scenario chosen here.")
    source = ("upload", upload.file_id) if upload is not None else ("bundled", choice)
    if state.get("source") != source:
        _start_over(source, upload)
    if state.get("load_error"):
        st.error(state["load_error"])
        return None
    return state.get("loaded")


def _start_over(source: tuple, upload: Any) -> None:
    """A new scenario: its own form, no results, the session's job cancelled."""
    old = state.get("loaded")
    for key in [*(field.key for field in forms.every_field(old)), "plan_levels"] if old else []:
        state.pop(key, None)
    _forget(state.get("job"))
    for key in ("loaded", "scenario", "load_error", "form_error", "job", "job_error", "results", "comparison",
                "planned", "plan_error"):
        state.pop(key, None)
    state["source"] = source
    try:
        loaded = forms.load_upload(upload.name, upload.getvalue()) if upload is not None else \
            forms.load_bundled(source[1]) if source[1] else None
    except sim.ScenarioError as error:
        state["load_error"] = str(error)
        return
    state["loaded"] = state["scenario"] = loaded


def _prefill(loaded: Scenario) -> None:
    """The form's values as loaded, set through the session state so that the browser shows them too (a
    widget keeps the value it had under the same key, from the scenario before, unless told otherwise)."""
    for field in forms.every_field(loaded):
        if field.key not in state:
            state[field.key] = float(field.value) if isinstance(field.step, float) else field.value
    if "plan_levels" not in state:
        state["plan_levels"] = loaded.level_names


# ---------------------------------------------------------------------------- the form
def form(loaded: Scenario) -> None:
    """The changes a planner makes, a box per level; Apply, Run and Compare all apply them first."""
    error = state.get("form_error")
    _prefill(loaded)
    with st.form("changes"):
        for title, section in forms.fields(loaded).items():
            with st.container(border=True):
                st.markdown(f"**{title}**")
                _inputs(section)
                prefix = "run." if title == "run" else "relapse." if title == "relapse" else f"levels.{title}."
                for problem in error.problems if error is not None else ():
                    if problem.startswith(prefix):
                        st.error(problem)
        if error is not None:
            st.error(str(error))
        apply, run, compare = st.columns(3)
        with apply:
            st.form_submit_button("Apply changes", key="apply", on_click=_apply)
        with run:
            st.form_submit_button("Run", key="run", type="primary", on_click=_apply, args=("run",))
        with compare:
            st.form_submit_button("Compare with the scenario as loaded", key="compare", on_click=_apply,
                                  args=("compare",))


def _inputs(section: list[forms.Field]) -> None:
    """The fields in rows; each value is the session state's (see :func:`_prefill`), a number's type its step's."""
    for start in range(0, len(section), FIELDS_PER_ROW):
        for column, field in zip(st.columns(FIELDS_PER_ROW), section[start:start + FIELDS_PER_ROW], strict=False):
            if field.is_text:
                column.text_input(field.label, key=field.key, help=field.help)
            else:
                column.number_input(field.label, step=field.step, format=field.format, key=field.key, help=field.help)


def _apply(then: str | None = None) -> None:
    """The form's values as the changed scenario; a problem is kept for the form to show, and nothing runs."""
    try:
        scenario = forms.changed(state["loaded"], state.to_dict())
        state["scenario"] = scenario
        state["form_error"] = None
        if then == "run":
            _start(shared_pool().run(_session(), scenario))
        elif then == "compare":
            base = state["loaded"].with_changes({"run": scenario.to_dict()["run"]})   # the same random numbers
            _start(shared_pool().compare(_session(), base, scenario))
    except sim.ScenarioError as error:   # TooBigForTheApp too: the app's limits
        state["form_error"] = error


def _session() -> str:
    """This browser session's id for the pool (its new job cancels its previous one)."""
    if "session" not in state:
        state["session"] = uuid.uuid4().hex
    return state["session"]


def _start(job: Job) -> None:
    state["job"] = job
    state["job_error"] = None


# ---------------------------------------------------------------------------- jobs
def collect() -> None:
    """Keep the answer of the session's job once it is done (its figures drawn on the pool, once)."""
    job: Job | None = state.get("job")
    if job is None or not job.done():
        return
    _forget(job)
    try:
        answer = job.result()
    except CancelledError:
        return
    except sim.ScenarioError as error:
        state["job_error"] = str(error)
        return
    except Exception as error:  # noqa: BLE001 - a failed job is shown, and the page goes on serving
        state["job_error"] = f"The {job.kind} failed: {error!r}"
        return
    if job.kind == "plan":
        state["planned"] = {"capacities": answer.capacities, "staffing": answer.results.staffing_headline(),
                            "targets": ", ".join(map(str, answer.targets))}
        return
    if job.kind == "compare":
        state["comparison"] = (answer.table, answer.chart)
        answer = answer.changed
    state["results"] = {"answer": answer, "scenario": job.scenarios[-1].to_dict()}


@st.fragment(run_every=0.5)
def progress() -> None:
    """The session's job as a progress bar, redrawn on its own; the whole page reruns once the job is done (or
    stopped), and without a job the page does not call this, so nothing is redrawn every half second."""
    job = state.get("job")
    if job is None or job.done():
        st.rerun()
    done = ("the search runs as one task" if job.kind == "plan" else "drawing the figures" if job.progress == 1
            else f"{job.progress:.0%} of the replications")
    st.progress(job.progress, text=f"{DOING[job.kind]}: {done} ({time.perf_counter() - job.started:.0f} s)")
    st.button("Stop", key="stop", on_click=_stop)


def _stop() -> None:
    _forget(state.get("job"))


def _forget(job: Job | None) -> None:
    """Cancel what is left of the session's job and let go of it: the pool keeps no finished or dropped job."""
    state["job"] = None
    if job is None:
        return
    job.cancel()
    pool = shared_pool()
    if pool.jobs.get(_session()) is job:
        del pool.jobs[_session()]


# ---------------------------------------------------------------------------- plan
def plan_form(scenario: Scenario) -> None:
    """A target and the levels to plan; the plan runs on the pool as one task."""
    with st.form("plan_form"):
        left, right = st.columns(2)
        left.text_input("Target ([level:]metric<=value)", value="wait_p90_days<=14", key="target",
                        help="E.g. wait_p90_days<=14 (every planned level), php: occupancy<=0.9, "
                             "wait_over_target_share<=0.1.")
        right.multiselect("Levels to plan", scenario.level_names, key="plan_levels")
        st.form_submit_button("Plan capacity", key="plan", on_click=_start_plan)
    if state.get("plan_error"):
        st.error(state["plan_error"])
    found = state.get("planned")
    if found is not None:
        views.show_plan(found["capacities"], found["staffing"], found["targets"])
        st.button("Use the planned places in the form", key="use_plan", on_click=_use_plan)


def _start_plan() -> None:
    scenario = state["scenario"]
    try:
        target = parse_target(state["target"], source="target")
        state["plan_error"] = None
        _start(shared_pool().plan(_session(), scenario, [target], state["plan_levels"] or None))
    except sim.ScenarioError as error:   # a bad target, or the app's limits
        state["plan_error"] = str(error)


def _use_plan() -> None:
    capacities = state["planned"]["capacities"]
    for level, places in zip(capacities["level"], capacities["planned_capacity"], strict=True):
        if pd.notna(places):    # a level the search could not size keeps its places
            state[f"capacity:{level}"] = int(places)
    _apply()


# ---------------------------------------------------------------------------- the page
def page() -> None:
    st.title("continuum: plan a care continuum")
    loaded = load()
    if loaded is None:
        return
    collect()
    scenario: Scenario = state["scenario"]
    shown = state.get("results")
    st.subheader(scenario.name)
    if scenario.description:
        st.caption(scenario.description)
    st.dataframe(views.levels_table(scenario))
    flow = [figure for figure in shown["answer"].figures if figure[0] == "flow_diagram"] if shown else []
    views.show_figures(flow)
    st.subheader("Change it")
    form(loaded)
    if state.get("job") is not None:
        progress()
    if state.get("job_error"):
        st.error(state["job_error"])
    if shown is not None:
        st.subheader("Results")
        if shown["scenario"] != scenario.to_dict():
            st.info("These results are from before your latest changes: press Run to bring them up to date.")
        views.show_results(shown["answer"])
    if state.get("comparison") is not None:
        st.subheader("Compared with the scenario as loaded")
        views.show_comparison(*state["comparison"])
    st.subheader("Plan capacity")
    plan_form(scenario)
    st.subheader("Download")
    views.downloads(scenario, shown["answer"].results if shown else None)


page()
