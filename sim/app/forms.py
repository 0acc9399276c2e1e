"""The planner's form: the fields a planner changes, with units and allowed ranges, and the changes they make.

Each :class:`Field` knows its widget key, its value in the scenario as loaded and the dotted keys a new
value changes (:meth:`sim.Scenario.with_changes` takes them, validates them like a file and words any
problem as the command line does). The fields state their ranges in their labels but do not clamp:
a value out of range reaches the scenario's own checks, whose message names the key and what is
allowed, so the app has one set of rules, the scenario's. Nothing here imports Streamlit.

Loading a scenario for the app is here too: a bundled one, or an uploaded file checked against the
app's limits (:data:`sim.app.jobs.LIMITS`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import yaml

import sim
from sim.app.jobs import LIMITS, check_for_app
from sim.scenario import EXITS, Level, Scenario
from sim.scenario_file import read_yaml

SCENARIO_FOLDER = Path(sim.__file__).parents[1] / "scenarios"
"""The bundled scenarios, beside the package in a checkout. An installed wheel has no scenarios folder:
there the app offers upload only."""

YAML_SUFFIXES = (".yaml", ".yml")
BASIS_WORDS = {"patients_per_staff": "patients per staff on duty", "caseload": "clients per clinician (caseload)",
               "per_group": "staff per running group"}

Values = Mapping[str, Any]
"""The form's widget values by key (Streamlit's session state, or a plain dict in tests)."""


@dataclass(frozen=True)
class Field:
    """One input of the form: its widget key, label (with unit and range), value as loaded, and changes."""

    key: str
    label: str
    value: Any
    changes: Callable[[Values], dict[str, Any]]
    """The dotted keys this field changes, given every value of the form (a field may need another's)."""
    step: int | float | None = None
    format: str | None = None
    help: str | None = None

    @property
    def is_text(self) -> bool:
        return isinstance(self.value, str)

    def changed(self, values: Values) -> bool:
        """Whether the form holds a value other than the scenario's for this field."""
        if self.key not in values:
            return False
        new = values[self.key]
        if isinstance(new, int | float) and isinstance(self.value, int | float) and not isinstance(new, bool):
            return not math.isclose(new, self.value, rel_tol=1e-9, abs_tol=1e-12)
        return new != self.value


# ---------------------------------------------------------------------------- loading
def bundled_scenarios() -> list[str]:
    """The bundled scenario files' names, ``[]`` where there is no scenarios folder (an installed wheel)."""
    return sorted(path.name for path in SCENARIO_FOLDER.glob("*.yaml")) if SCENARIO_FOLDER.is_dir() else []


def load_bundled(name: str) -> Scenario:
    """A bundled scenario, checked against the app's limits."""
    scenario = sim.load_scenario(SCENARIO_FOLDER / name)
    check_for_app(scenario)
    return scenario


def load_upload(name: str, data: bytes) -> Scenario:
    """An uploaded scenario file, read as ``continuum run`` reads a file, named by the upload's name.

    Raises
    ------
    sim.ScenarioError
        A file too big, not YAML, unreadable, with problems (the command line's message, lines and
        all), or past the app's limits (:class:`sim.app.jobs.TooBigForTheApp`).
    """
    name = Path(name).name or "upload.yaml"
    if len(data) > LIMITS["upload_bytes"]:
        raise sim.ScenarioError(name, [f"the file is {len(data) / 1e6:,.1f} MB; the app takes scenario files up "
                                       f"to {LIMITS['upload_bytes'] / 1e6:g} MB (a scenario is a few kB)"])
    if Path(name).suffix.lower() not in YAML_SUFFIXES:
        raise sim.ScenarioError(name, ["is not a scenario file: the app takes YAML files (.yaml or .yml)"])
    with TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        try:
            loaded = sim.load_scenario(path)
        except sim.ScenarioError as error:
            raise sim.ScenarioError(name, error.problems) from None
    scenario = sim.validate(loaded.to_dict(), source=name)   # named as uploaded, not by its temporary path
    check_for_app(scenario)
    return scenario


# ---------------------------------------------------------------------------- the fields
def fields(scenario: Scenario) -> dict[str, list[Field]]:
    """The form's fields in sections: one per level, then relapse (when the scenario has it), then the run."""
    sections = {name: level_fields(scenario, name) for name in scenario.level_names}
    if scenario.relapse is not None:
        sections["relapse"] = relapse_fields(scenario)
    sections["run"] = run_fields(scenario)
    return sections


def every_field(scenario: Scenario) -> list[Field]:
    return [field for section in fields(scenario).values() for field in section]


def changes(scenario: Scenario, values: Values) -> dict[str, Any]:
    """The dotted keys and values the form changes from ``scenario`` (empty when nothing changed)."""
    found: dict[str, Any] = {}
    for field in every_field(scenario):
        if field.changed(values):
            found.update(field.changes(values))
    return found


def changed(scenario: Scenario, values: Values) -> Scenario:
    """``scenario`` with the form's changes: validated, or :class:`sim.ScenarioError` naming each key."""
    found = changes(scenario, values)
    return scenario.with_changes(found, changed_by="in the form") if found else scenario


def level_fields(scenario: Scenario, name: str) -> list[Field]:
    """Places and their schedule, referrals and growth, mean stay, step-down shares and staff ratios."""
    level = scenario.levels[name]
    capacity = _capacity_change(scenario, name)
    found = [
        Field(f"capacity:{name}", f"{name}: places (whole, ≥ 0)", level.capacity[0].capacity, capacity, step=1,
              help="Places from day 0 (a whole number, 0 or more)."),
        Field(f"schedule:{name}", f"{name}: later places (day: places, ...)", _later_places(level), capacity,
              help="Changes of places after day 0 as 'from day: places' pairs, e.g. 365: 24, 730: 26; empty for none."),
        Field(f"referrals:{name}", f"{name}: referrals a year (≥ 0)", level.referrals_per_year,
              _referrals_change(name, level), step=10.0, format="%.1f",
              help="New referrals from the community a year."),
        Field(f"growth:{name}", f"{name}: referral growth (% a year, > -100)", 100 * level.referral_growth_per_year,
              lambda values: {f"levels.{name}.referral_growth_per_year": values[f"growth:{name}"] / 100},
              step=0.5, format="%.1f", help="How much referrals grow each year, in percent."),
    ]
    if level.mean_stay_days > 0:
        found.append(Field(f"stay:{name}", f"{name}: mean stay (days, > 0)", level.mean_stay_days,
                           _stay_change(scenario, name), step=0.5, format="%.1f",
                           help=f"Scales every stay here ({level.los.dist}) so the mean is this: its shape, "
                                "the spread relative to the mean, stays as it is."))
    if len(level.next) > 1:
        found += [Field(f"next:{name}:{dest}", f"{name} → {dest}: share (0-1, the shares sum to 1)", step.share,
                        _share_change(name, dest, step.los is not None), step=0.01, format="%.3f",
                        help="The share of patients leaving by this route; a level's shares sum to 1.")
                  for dest, step in level.next.items()]
    for index, role in enumerate(level.staff or ()):
        found.append(Field(f"staff:{name}:{index}", f"{name}: {role.role}, {BASIS_WORDS[role.basis]} (> 0)",
                           getattr(role, role.basis), _key_change(f"levels.{name}.staff.{index}.{role.basis}",
                                                                  f"staff:{name}:{index}"),
                           step=0.5, format="%.2f", help="The staffing ratio for this role."))
    return found


def relapse_fields(scenario: Scenario) -> list[Field]:
    """The chance of coming back after each way of leaving care, and where those who relapse return."""
    relapse = scenario.relapse
    assert relapse is not None
    found = [Field(f"relapse:{exit_name}", f"relapse after {exit_name.replace('_', ' ')}: probability (0-1)",
                   rule.probability, _key_change(f"relapse.after_{exit_name}.probability", f"relapse:{exit_name}"),
                   step=0.01, format="%.3f", help="The share of people leaving care this way who come back.")
             for exit_name in EXITS if (rule := relapse.rule(exit_name)) is not None]
    if len(relapse.return_to) > 1:
        found += [Field(f"return_to:{name}", f"returning to {name}: share (0-1, the shares sum to 1)", share,
                        _key_change(f"relapse.return_to.{name}", f"return_to:{name}"), step=0.01, format="%.3f",
                        help="The share of returning patients who come back to this level.")
                  for name, share in relapse.return_to.items()]
    return found


def run_fields(scenario: Scenario) -> list[Field]:
    """Replications (up to the app's limit), measured days, seed and the wait target."""
    run = scenario.run
    return [
        Field("replications", f"replications (1-{LIMITS['replications']})", run.replications,
              _key_change("run.replications", "replications"), step=1,
              help="Independent runs; more give narrower intervals. Bigger studies run with the continuum command."),
        Field("days", f"days measured (1-{LIMITS['days']})", run.days, _key_change("run.days", "days"), step=30,
              help=f"Days measured in each replication, after a warm-up of {run.warmup_days} days."),
        Field("seed", "seed (whole, ≥ 0)", run.seed, _key_change("run.seed", "seed"), step=1,
              help="The same seed gives the same numbers, here and with continuum run."),
        Field("wait_target_days", "wait target (days, ≥ 0)", run.wait_target_days,
              _key_change("run.wait_target_days", "wait_target_days"), step=1.0, format="%.1f",
              help="Waits longer than this count as over target."),
    ]


# ---------------------------------------------------------------------------- what each field changes
def _key_change(dotted: str, key: str) -> Callable[[Values], dict[str, Any]]:
    return lambda values: {dotted: values[key]}


def _later_places(level: Level) -> str:
    return ", ".join(f"{step.from_day:g}: {step.capacity}" for step in level.capacity[1:])


def _capacity_change(scenario: Scenario, name: str) -> Callable[[Values], dict[str, Any]]:
    """Places and later places together make ``levels.<name>.capacity``: a number, or a schedule."""
    level = scenario.levels[name]

    def change(values: Values) -> dict[str, Any]:
        places = values.get(f"capacity:{name}", level.capacity[0].capacity)
        later = _schedule(scenario, name, values.get(f"schedule:{name}", _later_places(level)))
        if not later:
            return {f"levels.{name}.capacity": places}
        return {f"levels.{name}.capacity": [{"from_day": 0, "capacity": places}, *later]}

    return change


def _schedule(scenario: Scenario, name: str, text: str) -> list[dict[str, Any]]:
    """``"365: 24, 730: 26"`` as schedule steps; the scenario's checks judge the numbers."""
    try:
        pairs = read_yaml("{" + text + "}") if text.strip() else {}
    except yaml.YAMLError:
        pairs = None
    if not isinstance(pairs, dict):
        raise sim.ScenarioError(scenario.source, [f"levels.{name}.capacity: later places '{text}' should be "
                                                  "'from day: places' pairs, e.g. 365: 24, 730: 26"])
    return [{"from_day": day, "capacity": places} for day, places in pairs.items()]


def _referrals_change(name: str, level: Level) -> Callable[[Values], dict[str, Any]]:
    """Referrals a year; a level given per 100,000 population switches to a number a year."""
    given_per_100k = level.referrals_per_100k_per_year is not None
    switch = {f"levels.{name}.referrals_per_100k_per_year": None} if given_per_100k else {}
    return lambda values: {f"levels.{name}.referrals_per_year": values[f"referrals:{name}"], **switch}


def _share_change(name: str, dest: str, own_stay: bool) -> Callable[[Values], dict[str, Any]]:
    dotted = f"levels.{name}.next.{dest}" + (".share" if own_stay else "")
    return _key_change(dotted, f"next:{name}:{dest}")


def _stay_change(scenario: Scenario, name: str) -> Callable[[Values], dict[str, Any]]:
    """Every stay at the level (its ``los`` and each route's own) scaled so the mean stay is the one entered."""
    level = scenario.levels[name]

    def change(values: Values) -> dict[str, Any]:
        wanted = values[f"stay:{name}"]
        if not (isinstance(wanted, int | float) and math.isfinite(wanted) and wanted > 0):
            raise sim.ScenarioError(scenario.source, [f"levels.{name}.los: a mean stay of {wanted} days: should "
                                                      "be greater than 0"])
        factor = wanted / level.mean_stay_days
        found = {f"levels.{name}.los": scaled(_plain(level.los), factor)}
        found.update({f"levels.{name}.next.{dest}.los": scaled(_plain(step.los), factor)
                      for dest, step in level.next.items() if step.los is not None})
        return found

    return change


def _plain(spec: Any) -> dict[str, Any]:
    return spec.model_dump(mode="json", exclude_none=True)


TIME_KEYS = ("mean", "sd", "median", "p90", "scale", "low", "mode", "high", "value", "max")
"""The parameters of a distribution spec that are days (:mod:`sim.distributions`)."""


def scaled(spec: dict[str, Any], factor: float) -> dict[str, Any]:
    """A distribution spec whose every draw is ``factor`` times the original's.

    Every family in :mod:`sim.distributions` is a scale family: multiplying its parameters in days
    (and the truncation ``max``) by ``factor``, and adding ``log(factor)`` to a lognormal's ``mu``,
    multiplies each stay by ``factor``. The mean becomes exactly ``factor`` times the old one and the
    shape (the spread relative to the mean, a gamma's or Weibull's shape, a lognormal's sigma) is kept.
    """
    result = {key: value * factor if key in TIME_KEYS else value for key, value in spec.items()}
    if "values" in spec:
        result["values"] = [value * factor for value in spec["values"]]
    if "mu" in spec:
        result["mu"] = spec["mu"] + math.log(factor)
    return result
