"""Fit a whole scenario from a region's episode extract, and say where every number came from.

``sim.fit(extract, base=...)`` reads and cleans the extract (:mod:`sim.extract`), links each
patient's episodes (:mod:`sim.pathway`), fits every part of the pathway (:mod:`sim.fit_parts`:
stays, routes, patience, relapse, referrals, today's state) and puts them into a scenario that
starts the day after the extract ends. What the records cannot tell (places, staff, programs, run
settings) comes from ``base``; without one, each level's places are the highest census seen,
flagged in the fitted file as an assumption to check. With ``holdout_days`` the fit leaves the
extract's last days out and simulates them (:mod:`sim.backtest`), to show how well it predicts.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from .backtest import backtest
from .extract import Extract, Mapping, read_extract
from .fit_parts import (
    FEWEST_STAYS,
    FitError,
    Part,
    ReferralsUnknown,
    at_risk,
    level_patience,
    level_referrals,
    level_stays_and_routes,
    relapse,
    returns_from_before,
    shares,
    today,
)
from .messages import ScenarioError
from .pathway import TRANSFER_WITHIN_DAYS, Window, daily_census, link
from .scenario import Scenario, validate

FITTED_KEYS = ("los", "next", "referrals_per_year", "referral_growth_per_year", "referral_seasonality",
               "patience", "gave_up", "initial")
"""A base scenario's level keys that the fit replaces (everything else of the base is kept)."""


@dataclass
class Fit:
    """A scenario fitted from records, with its evidence.

    Attributes
    ----------
    scenario
        The fitted scenario: it starts the day after the extract's as-of date (``run.start_date``)
        from the state the extract shows then, and runs, compares and plans like any other.
    tables
        One DataFrame per fitted part: ``stays`` (every family tried per level and route, the
        chosen one flagged), ``stay_differences``, ``routes``, ``patience`` rows sit in ``stays``
        under route ``patience``, ``relapse``, ``referrals``, ``referral_tests``, ``today``,
        ``capacity``.
    backtest
        The hold-out comparison (:class:`sim.backtest.Backtest`) when ``holdout_days`` was given.
    problems
        Rows of the extract that could not be used: ``row, reason, detail``.
    notes
        Where each fitted number came from, by key path (the fitted file's comments).
    """

    scenario: Scenario
    tables: dict[str, pd.DataFrame]
    problems: pd.DataFrame
    notes: dict[tuple, str]
    extract: Extract
    backtest: Any = None
    stay_fits: dict[tuple[str, str], Any] = field(default_factory=dict)
    """Each fitted duration law (:class:`sim.fitting.StayFit`) and its data, by (level, ``all``, a route or
    ``patience``): what the probability plots draw."""

    def to_yaml(self) -> str:
        """The fitted scenario as YAML, each fitted number with a comment on where it came from."""
        return commented_yaml(self.scenario.to_dict(), self.notes, self.header())

    def header(self) -> list[str]:
        extract = self.extract
        lines = [f"Fitted by continuum from {extract.source}: {len(extract.episodes):,} usable episodes, "
                 f"{extract.start:%Y-%m-%d} to {extract.as_of:%Y-%m-%d}"]
        if len(self.problems):
            lines.append(f"{len(self.problems):,} rows left out: " + ", ".join(
                f"{row.reason} ({row.rows})" for row in extract.problem_counts().itertuples()))
        lines.append("Starts the day after the extract ends, from the state it shows then.")
        return lines


def fit(extract: Extract | pd.DataFrame | str | Path, base: Scenario | None = None, as_of: Any = None, *,
        holdout_days: int = 0, mapping: Mapping | None = None, start: Any = None,
        transfer_within_days: float = TRANSFER_WITHIN_DAYS, replications: int | None = None) -> Fit:
    """Fit a scenario from an episode extract (a CSV path, a DataFrame or a read :class:`~sim.extract.Extract`).

    Parameters
    ----------
    base
        A scenario supplying what records do not tell: places, staff, programs, run settings,
        policies (``when_next_full``, ``waitlist``). Its level names are the only ones allowed.
    as_of
        The extract's end (default: its last date); later dates are ignored.
    holdout_days
        Fit on the extract up to this many days before its end, then simulate those days from the
        state at that date and compare with what happened (``Fit.backtest``). The fitted scenario
        is then the one fitted up to that date, starting there; once it passes, fit again without
        a hold-out to use every record.
    transfer_within_days
        A next episode referred within this many days of a discharge is a transfer.
    replications
        Replications of the back-test (default: the fitted scenario's).
    """
    allowed = base.level_names if base is not None else None
    full = extract if isinstance(extract, Extract) else read_extract(extract, mapping, as_of=as_of, start=start,
                                                                      levels=allowed)
    if isinstance(extract, Extract) and as_of is not None:
        full = full.cut(as_of)
    fitted_on = full.cut(full.as_of - timedelta(days=holdout_days)) if holdout_days else full
    _check_long_enough(fitted_on, holdout_days)
    try:
        found = _fit(fitted_on, base, transfer_within_days)
    except FitError as error:
        text = str(error)
        raise FitError(text if text.startswith(fitted_on.source) else f"{fitted_on.source}: {text}") from None
    if holdout_days:
        found.backtest = backtest(found, full, holdout_days, replications)
    return found


def _check_long_enough(extract: Extract, holdout_days: int) -> None:
    window = window_of(extract)
    if window.last_day < 60:
        held = f" after holding out the last {holdout_days} days" if holdout_days else ""
        raise FitError(f"{extract.source}: the extract covers {window.last_day + 1} days{held}; at least 60 are "
                       "needed to fit referrals and stays (give a longer extract, or fewer --holdout-days)")


def window_of(extract: Extract) -> Window:
    return Window(as_of_day=extract.as_of_day, dates=extract.resolution_days > 0)


# ---------------------------------------------------------------------------- putting the parts together
def _fit(extract: Extract, base: Scenario | None, transfer_within_days: float) -> Fit:
    frame = link(extract.episodes, transfer_within_days)
    window = window_of(extract)
    whole = Part()
    relapse_part, rules = relapse(frame, window)
    names = _level_order(extract, base)
    holds = {name: _holds(base, name, frame[frame["level"].eq(name)]) for name in names}
    levels = {}
    for name in names:
        part = _level(frame, window, name, extract, (rules, relapse_part.keys.get("return_to", {})),
                      (holds[name], base))
        levels[name] = part.keys
        whole.merge(part, ("levels", name))
    data = _on_base(levels, extract, base, frame, window, whole)
    groups = _group_names(extract, base)
    if groups is None:
        for name in names:
            data["levels"][name]["initial"] = today(frame[frame["level"].eq(name)], window, holds[name])
            whole.notes[("levels", name, "initial")] = _today_note(extract)
        _relapse(data, relapse_part, at_risk(frame, window, rules))
    else:
        _relapse(data, relapse_part, [])
        data["groups"] = {group: _group(frame, window, extract, group, (holds, rules), whole) for group in groups}
        _shares_of_referrals(data["groups"], frame, names, whole)
    whole.merge(relapse_part, ("relapse",))
    scenario = _validated(data, extract)
    tables = {name: pd.DataFrame(rows) for name, rows in whole.rows.items()}
    return Fit(scenario, tables, extract.problems, whole.notes, extract, stay_fits=whole.fits)


def _level_order(extract: Extract, base: Scenario | None) -> list[str]:
    """The base's levels in its order (those the extract has), else the order levels are first seen."""
    seen = list(dict.fromkeys(extract.episodes["level"]))
    return [name for name in base.level_names if name in seen] if base is not None else seen


def _holds(base: Scenario | None, name: str, rows: pd.DataFrame) -> bool:
    """Whether the level keeps a patient whose next level is full: the base's policy, else what the data show."""
    if base is not None and name in base.levels:
        return base.levels[name].when_next_full == "hold"
    held = rows["held_days"].fillna(0) >= 1
    return bool(held.mean() >= 0.01)


def _today_note(extract: Extract) -> str:
    return f"who was here at the end of {extract.as_of:%Y-%m-%d}, by days in care and days waiting"


def _level(frame: pd.DataFrame, window: Window, name: str, extract: Extract, relapse_fit: tuple[dict, dict],
           based: tuple[bool, Scenario | None]) -> Part:
    """A level's stays, routes, patience and referrals (today's patients are added per group or for all)."""
    holds, base = based
    rows = frame[frame["level"].eq(name)]
    rules, return_to = relapse_fit
    part = level_stays_and_routes(rows, window, name)
    background = returns_from_before(rules, return_to, name, np.arange(window.last_day + 1))
    try:
        referrals = level_referrals(frame, window, name, extract.start, background)
    except ReferralsUnknown as error:
        referrals = _base_referrals(base, name, error)
    for piece in (level_patience(rows, window, name), referrals):
        part.keys.update(piece.keys)
        part.merge(piece)
    part.keys["when_next_full"] = "hold" if holds else "release"
    return part


def _base_referrals(base: Scenario | None, name: str, error: ReferralsUnknown) -> Part:
    """The base scenario's referrals for a level whose new referrals the extract cannot tell from returns."""
    if base is None or name not in base.levels:
        raise FitError(f"{error} (or give --base with this level's referrals)")
    level = base.levels[name]
    part = Part()
    part.keys = {"referrals_per_year": level.referrals_per_year,
                 "referral_growth_per_year": level.referral_growth_per_year,
                 **({"referral_seasonality": level.referral_seasonality} if level.referral_seasonality else {})}
    part.notes[("referrals_per_year",)] = f"KEPT FROM THE BASE SCENARIO, not fitted: {error}"
    part.add_rows("referrals", [{"level": name, "per_year": level.referrals_per_year, "source": "base scenario",
                                 "note": str(error)}])
    return part


def _on_base(levels: dict[str, dict], extract: Extract, base: Scenario | None, frame: pd.DataFrame,
             window: Window, whole: Part) -> dict:
    """The fitted levels on the base (or on plain defaults), with places from the base or the census seen."""
    data: dict[str, Any] = (base.to_dict() if base is not None
                            else {"name": f"Fitted from {extract.source}", "levels": {}})
    data["description"] = (f"Fitted from {extract.source} ({extract.start:%Y-%m-%d} to {extract.as_of:%Y-%m-%d}); "
                           "starts the day after, from the state the extract shows then.")
    census = daily_census(frame, window)
    for name in data["levels"].keys() - levels.keys():
        whole.notes[("levels", name)] = "not in the extract: as the base scenario has it, today's patients included"
    for name, keys in levels.items():
        level = data["levels"].setdefault(name, {})
        kept = {key: level.pop(key) for key in FITTED_KEYS if key in level}
        if base is not None:
            keys.pop("when_next_full")
        level.update(keys)
        _waiting_rules_kept(level, kept, (name, whole))
        in_place = frame["level"].eq(name) & frame["admitted"].notna() & frame["discharged"].isna()
        _capacity(level, name, census, int(in_place.sum()), base, whole)
    data["run"] = {**data.get("run", {}), "start_date": (extract.as_of + timedelta(days=1)).strftime("%Y-%m-%d"),
                   "warmup_days": 0}
    data["run"].pop("start_month", None)
    data.pop("relapse", None)
    return data


def _waiting_rules_kept(level: dict, base_keys: dict, where: tuple[str, Part]) -> None:
    """The base's ``patience`` and ``gave_up`` where too few gave up waiting in the extract to fit them; without
    a base, the level keeps no patience and the file says why."""
    name, whole = where
    if "patience" in level:
        return
    note = whole.notes.pop(("levels", name, "patience"), "")
    if "patience" in base_keys:
        level.update({key: base_keys[key] for key in ("patience", "gave_up") if key in base_keys})
        whole.notes[("levels", name, "patience")] = f"the base scenario's: {note}"
    else:
        whole.notes[("levels", name)] = f"no patience (nobody gives up waiting): {note}"


def _relapse(data: dict, relapse_part: Part, people: list[dict]) -> None:
    if relapse_part.keys:
        data["relapse"] = {**relapse_part.keys, **({"at_risk": people} if people else {})}
    if people:
        relapse_part.notes[("at_risk",)] = AT_RISK_NOTE


AT_RISK_NOTE = ("people who left care and had not come back at the as-of date: those seen leaving, by days since; "
                "those who left before the extract, at its exit rate")


def _capacity(level: dict, name: str, census: pd.DataFrame, today_count: int, base: Scenario | None,
              whole: Part) -> None:
    seen = float(census[name].max()) if name in census else 0.0
    if base is None or name not in base.levels:
        level["capacity"] = max(1, math.ceil(seen), today_count)
        whole.notes[("levels", name, "capacity")] = (f"ASSUMPTION TO CHECK: not in the records; the highest census "
                                                     f"seen ({seen:,.0f}), as no base scenario gave the places")
        source = "highest census seen (assumption)"
    else:
        source = "base scenario"
        capacity = level["capacity"]
        first = capacity[0]["capacity"] if isinstance(capacity, list) else capacity
        if today_count > first:
            later = capacity if isinstance(capacity, list) else [{"from_day": 0, "capacity": capacity}]
            level["capacity"] = [{"from_day": 0, "capacity": today_count},
                                 *({**step, "from_day": max(1, step["from_day"])} for step in later)]
            whole.notes[("levels", name, "capacity")] = (f"the base's places, but {today_count} were in a place at "
                                                         "the as-of date: those on day 0, the base's from day 1")
    whole.add_rows("capacity", [{"level": name, "capacity": level["capacity"], "source": source,
                                 "highest_census_seen": seen, "in_a_place_at_as_of": today_count}])


# ---------------------------------------------------------------------------- patient groups
def _group_names(extract: Extract, base: Scenario | None) -> list[str] | None:
    """The extract's patient groups in the base's order (then as first seen), or None without a group column."""
    based = base.group_names if base is not None else []
    if extract.groups is None:
        if based:
            raise FitError(f"{extract.source}: the base scenario has patient groups ({', '.join(based)}) but the "
                           "extract has no group column: map one with --columns group=YourColumn, or give a base "
                           "without groups")
        return None
    seen = list(dict.fromkeys(extract.episodes["group"]))
    strange = [group for group in seen if based and group not in based]
    if strange:
        raise FitError(f"{extract.source}: groups {', '.join(strange)} are not groups of the base scenario "
                       f"({', '.join(based)})")
    return [group for group in based if group in seen] + [group for group in seen if group not in based]


def _group(frame: pd.DataFrame, window: Window, extract: Extract, group: str,
           pooled: tuple[dict[str, bool], dict], whole: Part) -> dict:
    """A group's own stays, routes and patience where it has enough records, its patients today and its relapse
    (the base's group keys are all fitted ones, so none is kept)."""
    holds, pooled_rules = pooled
    mine = frame[frame["group"].eq(group)]
    keys: dict[str, Any] = {"levels": {}}
    for name, rows in mine.groupby("level", sort=False):
        level: dict[str, Any] = {}
        if rows["stay_end"].notna().sum() >= FEWEST_STAYS:
            part = level_stays_and_routes(rows, window, str(name))
            for piece in (part, level_patience(rows, window, str(name))):
                level.update(piece.keys)
                whole.merge(piece, ("groups", group, "levels", name), group=group)
        level["initial"] = today(rows, window, holds[str(name)])
        whole.notes[("groups", group, "levels", name, "initial")] = _today_note(extract)
        keys["levels"][name] = level
    relapse_part, rules = relapse(mine, window)
    people = at_risk(mine, window, rules or pooled_rules)
    if relapse_part.keys or people:
        keys["relapse"] = {**relapse_part.keys, **({"at_risk": people} if people else {})}
        whole.merge(relapse_part, ("groups", group, "relapse"), group=group)
        whole.notes[("groups", group, "relapse", "at_risk")] = AT_RISK_NOTE
    return keys


def _shares_of_referrals(groups: dict[str, dict], frame: pd.DataFrame, names: list[str], whole: Part) -> None:
    """Each group's share of every level's new patients (the level's referrals, growth and seasons fit them all)."""
    new = frame[frame["arrived_as"].eq("new")]
    for name in names:
        counts = new.loc[new["level"].eq(name), "group"].value_counts()
        if counts.empty:
            continue
        for group, share in shares(counts).items():
            groups[group].setdefault("share_of_referrals", {})[name] = share
            whole.notes[("groups", group, "share_of_referrals", name)] = (
                f"{counts[group]:,} of the {counts.sum():,} patients first seen at {name}")
        for group in groups:
            if group not in counts:
                groups[group].setdefault("share_of_referrals", {})[name] = 0.0


def _validated(data: dict, extract: Extract) -> Scenario:
    try:
        return validate(data, source=f"the scenario fitted from {extract.source}")
    except ScenarioError as error:
        raise FitError(f"{error}\n(the fit made a scenario that does not validate: please report this with the "
                       "extract's problem counts)") from None



# ---------------------------------------------------------------------------- the fitted file
def commented_yaml(data: dict, notes: dict[tuple, str], header: list[str]) -> str:
    """``data`` as YAML with each note as a comment above the key it belongs to (ruamel.yaml keeps comments)."""
    document = _commented(data, notes, ())
    document.yaml_set_start_comment("\n".join(header))
    yaml = YAML()
    yaml.width = 110
    stream = io.StringIO()
    yaml.dump(document, stream)
    return stream.getvalue()


def _commented(value: Any, notes: dict[tuple, str], path: tuple) -> Any:
    if isinstance(value, dict):
        mapping = CommentedMap((key, _commented(item, notes, (*path, key))) for key, item in value.items())
        if all(not isinstance(item, dict | list) for item in value.values()) and len(value) <= 6:
            mapping.fa.set_flow_style()      # a law or a band on one line: {dist: lognormal, mu: 1.95, sigma: 0.78}
        indent = 2 * len(path)
        for key in value:
            if (*path, key) in notes:
                mapping.yaml_set_comment_before_after_key(key, before=notes[(*path, key)], indent=indent)
        return mapping
    if isinstance(value, list):
        return [_commented(item, notes, path) for item in value]
    return value
