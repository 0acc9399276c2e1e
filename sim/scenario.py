"""The scenario's schema, and validating plain data against it into a frozen :class:`Scenario`.

A scenario is validated once, here, and is frozen afterwards; variants are new scenarios made
by :meth:`Scenario.with_changes`. Every key is documented in ``scenarios/README.md``; reading a
file is :mod:`sim.scenario_file`, the wording of every problem :mod:`sim.messages`.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Annotated, Any, Literal

import numpy as np
import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PlainValidator,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_serializer,
    field_validator,
    model_serializer,
    model_validator,
)

from .distributions import Distribution
from .messages import (
    ProblemAt,
    ScenarioError,
    describe_value,
    did_you_mean,
    format_path,
    key_location,
    problem_text,
)

EXITS = ("discharged", "dropped_out")
"""Destinations that leave care for the community (where relapse may bring patients back)."""

RESERVED_NAMES = (*EXITS, "all")
SHARE_TOLERANCE = 1e-6

Share = Annotated[float, Field(ge=0, le=1)]
Positive = Annotated[float, Field(gt=0)]
Days = Annotated[float, Field(ge=0)]
PerYear = Annotated[float, Field(ge=0)]
"""A yearly rate, 0 or more (referrals a year, per 100,000 a year)."""


class _Model(BaseModel):
    # no .inf or .nan: every number in a scenario is finite (an infinite rate or stay never finishes)
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


def _check_shares(shares: dict[str, float], what: str) -> None:
    total = math.fsum(shares.values())
    if not shares or abs(total - 1) > SHARE_TOLERANCE:
        listed = ", ".join(f"{k}: {v:g}" for k, v in shares.items()) or "nothing"
        raise ValueError(f"{what} shares must sum to 1 (these sum to {total:.6g}: {listed})")


# ---------------------------------------------------------------------------- run settings
def _warmup_days(value: Any) -> int | str:
    if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        return value
    raise ValueError("warmup_days is a whole number of days, 0 or more, or auto (chosen by MSER-5)")


DATE_FORM = "a calendar date written YYYY-MM-DD, e.g. 2027-03-01"
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def calendar_date(value: Any) -> date:
    """A date from ``YYYY-MM-DD`` text (scenario files read dates as text) or a ``datetime.date``.

    Raises
    ------
    ValueError
        Any other form (a time of day, ``2027-3-1``, a number), or a day not on the calendar.
    """
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"is no day on the calendar; should be {DATE_FORM}") from None
    raise ValueError(f"should be {DATE_FORM}")


def _optional_date(value: Any) -> date | None:
    return None if value is None else calendar_date(value)


CALENDAR_SPAN = (date(1900, 1, 1), date(2999, 12, 31))
"""The days a run with a ``start_date`` may cover: every planning horizon fits, and the calendar and the
figures' date axes can name each of its months."""


class RunSettings(_Model):
    warmup_days: Annotated[int | Literal["auto"], PlainValidator(_warmup_days)] = 365
    days: Annotated[int, Field(gt=0)] = 1825
    replications: Annotated[int, Field(ge=1, le=100_000)] = 20
    seed: Annotated[int, Field(ge=0)] = 1
    wait_target_days: Days = 14
    start_month: Annotated[int, Field(ge=1, le=12)] = 1
    start_date: Annotated[date | None, BeforeValidator(_optional_date)] = None
    """The calendar date of day 0 of the measured period; it sets ``start_month`` (see :meth:`_month_of_start_date`)."""
    # no rule against a warm-up longer than the measured period: a relapse loop can take years
    # to fill, longer than the period a planner wants to measure

    @model_validator(mode="before")
    @classmethod
    def _month_from_start_date(cls, data: Any) -> Any:
        # a start date without a start month brings its own month; a bad date is left to its own check
        if isinstance(data, dict) and data.get("start_date") is not None and "start_month" not in data:
            try:
                return {**data, "start_month": calendar_date(data["start_date"]).month}
            except ValueError:
                return data
        return data

    @model_validator(mode="after")
    def _month_of_start_date(self) -> RunSettings:
        if self.start_date is not None and self.start_month != self.start_date.month:
            raise ProblemAt("start_month", (
                f"start_month {self.start_month} disagrees with start_date {self.start_date.isoformat()} (month "
                f"{self.start_date.month}): give start_date alone (it sets the month), or make them agree"))
        first, last = CALENDAR_SPAN
        if self.start_date is not None and not first <= self.start_date <= last - timedelta(days=self.days):
            raise ProblemAt("start_date", (
                f"start_date {self.start_date.isoformat()} to day {self.days} is not all between "
                f"{first.isoformat()} and {last.isoformat()}: give a date in that span (and few enough days)"))
        return self

    @property
    def resolved_warmup_days(self) -> int:
        """``warmup_days`` as a number: :func:`sim.run` replaces ``auto`` before anything is simulated."""
        if self.warmup_days == "auto":
            raise ValueError("warmup_days is still auto: sim.run chooses it before simulating")
        return self.warmup_days


# ---------------------------------------------------------------------------- levels
class CapacityStep(_Model):
    from_day: Days
    capacity: Annotated[int, Field(ge=0)]


def _capacity_as_schedule(value: Any) -> Any:
    if isinstance(value, list):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return [{"from_day": 0, "capacity": value}]
    raise ValueError(
        "capacity is a whole number of places, 0 or more, or a schedule such as "
        "[{from_day: 0, capacity: 20}, {from_day: 365, capacity: 24}]"
    )


def _share_as_step(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {"share": float(value)}
    if isinstance(value, dict):
        return value
    raise ValueError(
        "a route is a share between 0 and 1, or {share: 0.2, los: {dist: ...}} with its own stay"
    )


class NextStep(_Model):
    share: Share
    los: Distribution | None = None
    """A stay for patients leaving by this route, when it differs from the level's ``los``."""


Count = Annotated[int, Field(ge=0)]


class Band(_Model):
    """Patients counted by a band of days already spent: ``{from_days: 0, to_days: 7, count: 12}``."""

    from_days: Days
    to_days: Days
    count: Count

    @model_validator(mode="after")
    def _not_inverted(self) -> Band:
        if self.to_days <= self.from_days:
            raise ProblemAt("to_days", f"{self.to_days:g} is not after from_days {self.from_days:g}: "
                                       "a band runs from from_days up to a later to_days")
        return self


def _bands_apart(bands: list[Band] | None) -> list[Band] | None:
    ordered = sorted(enumerate(bands or ()), key=lambda indexed: indexed[1].from_days)
    for (_, earlier), (index, later) in pairwise(ordered):
        if later.from_days < earlier.to_days:
            raise ProblemAt((index,), f"{later.from_days:g}-{later.to_days:g} days overlaps the band "
                                   f"{earlier.from_days:g}-{earlier.to_days:g} days (each patient belongs to one band)")
    return bands


Bands = Annotated[list[Band], AfterValidator(_bands_apart)]


class HeldFor(_Model):
    """Patients whose stay is over, held in their place here until ``to`` admits them."""

    to: str
    count: Count | None = None
    held_days: list[Days] | None = None
    """Days each has been held so far, where known (instead of ``count``)."""

    @model_validator(mode="after")
    def _count_or_days(self) -> HeldFor:
        if (self.count is None) == (self.held_days is None):
            raise ProblemAt((), "give count (how many are held) or held_days (days each has been held so far), "
                                "not both")
        return self

    @property
    def patients(self) -> int:
        return self.count if self.count is not None else len(self.held_days or ())


def _held_as_list(value: Any) -> Any:
    return [value] if isinstance(value, dict) else value


class Initial(_Model):
    """Who is here today (day 0 of the run): in a place, waiting, or held for the next level."""

    census: Count = 0
    """Everyone in a place here, those listed below by their days in care and those held included."""
    waitlist: Count = 0
    """Everyone waiting at home for a place here, those listed by their days waiting included."""
    in_care_days: list[Days] | None = None
    in_care_bands: Bands | None = None
    waiting_days: list[Days] | None = None
    waiting_bands: Bands | None = None
    held: Annotated[list[HeldFor], BeforeValidator(_held_as_list)] | None = None

    @model_validator(mode="after")
    def _totals_cover_the_listed(self) -> Initial:
        # census and waitlist default to the patients listed; given, they must hold them all
        update = {}
        for total, listed, keys in (("census", self.listed_in_place, "in_care_days, in_care_bands and held"),
                                    ("waitlist", self.listed_waiting, "waiting_days and waiting_bands")):
            if total not in self.model_fields_set:
                update[total] = listed
            elif getattr(self, total) < listed:
                raise ProblemAt(total, f"{getattr(self, total)} is fewer than the {listed} patients listed in {keys}: "
                                       f"{total} counts them all (leave it out to take the number listed)")
        return self.model_copy(update=update) if any(update.values()) else self

    @model_serializer(mode="wrap")
    def _totals_as_default(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # a total that only counts the listed patients is left to its default, so a variant that
        # lists more (with_changes, --set) is not refused for a total it never gave
        data = handler(self)
        for total, listed in (("census", self.listed_in_place), ("waitlist", self.listed_waiting)):
            if listed and data.get(total) == listed:
                data.pop(total)
        return data

    @property
    def listed_in_care(self) -> int:
        """Patients in care whose days in care are given (one by one or by band)."""
        return len(self.in_care_days or ()) + sum(band.count for band in self.in_care_bands or ())

    @property
    def listed_in_place(self) -> int:
        """Patients in a place whose days are given: in care, or held for the next level."""
        return self.listed_in_care + sum(held.patients for held in self.held or ())

    @property
    def listed_waiting(self) -> int:
        """Patients waiting whose days waiting are given (one by one or by band)."""
        return len(self.waiting_days or ()) + sum(band.count for band in self.waiting_bands or ())


class GroupSize(_Model):
    min: Annotated[int, Field(ge=1)]
    max: Annotated[int, Field(ge=1)]

    @model_validator(mode="after")
    def _max_not_below_min(self) -> GroupSize:
        if self.max < self.min:
            raise ProblemAt("max", f"max {self.max} is below min {self.min}")
        return self


class CohortIntake(_Model):
    cohort_every_days: Annotated[int, Field(gt=0)]


INTAKE_FORMS = "rolling (patients join any day) or {cohort_every_days: N} (a new group every N days)"


def _intake(value: Any) -> Any:
    # checked by hand: pydantic would report the union's every member, twice as long and less clear
    if value == "rolling":
        return value
    every = value.get("cohort_every_days") if isinstance(value, dict) else None
    if isinstance(value, dict) and set(value) == {"cohort_every_days"} and isinstance(every, int) \
            and not isinstance(every, bool) and every > 0:
        return value
    raise ValueError(f"intake is {INTAKE_FORMS}, N a whole number of days > 0")


class Program(_Model):
    """A group program's timetable: when it meets, and how its groups are formed."""

    days_per_week: Annotated[float, Field(gt=0, le=7)]
    hours_per_day: Annotated[float, Field(gt=0, le=24)]
    group_size: GroupSize | None = None
    intake: Annotated[Literal["rolling"] | CohortIntake, BeforeValidator(_intake)] = "rolling"

    @property
    def cohort_every_days(self) -> int | None:
        """Days between cohort starts, or None when patients join any day."""
        return self.intake.cohort_every_days if isinstance(self.intake, CohortIntake) else None


STAFF_BASES = ("patients_per_staff", "per_group", "caseload")
"""The ways a role's staff follow the census: a ratio on duty, staff per running group, a caseload."""

SHIFT_KEYS = ("hours_per_day", "days_per_week")


class StaffRole(_Model):
    """One role at a level, on exactly one basis (see :data:`STAFF_BASES`)."""

    role: Annotated[str, Field(min_length=1)]
    patients_per_staff: Positive | None = None
    hours_per_day: Annotated[float, Field(gt=0, le=24)] | None = None
    days_per_week: Annotated[float, Field(gt=0, le=7)] | None = None
    per_group: Positive | None = None
    caseload: Positive | None = None

    @model_validator(mode="before")
    @classmethod
    def _shift_defaults(cls, data: Any) -> Any:
        # a ratio is on duty around the clock unless told otherwise; the other bases have no shift
        if isinstance(data, dict) and "patients_per_staff" in data:
            return {"hours_per_day": 24, "days_per_week": 7, **data}
        return data

    @model_validator(mode="after")
    def _one_basis(self) -> StaffRole:
        given = [basis for basis in STAFF_BASES if getattr(self, basis) is not None]
        if len(given) != 1:
            found = f"{len(given)} ({', '.join(given)})" if given else "none"
            raise ProblemAt((), f"a role needs exactly one basis, this one has {found}: patients_per_staff "
                                "(patients per person on duty), per_group (staff per running group) or "
                                "caseload (clients per full-time clinician)")
        for key in SHIFT_KEYS:
            if getattr(self, key) is not None and given[0] != "patients_per_staff":
                raise ProblemAt(key, f"applies to patients_per_staff only; a {given[0]} role's hours come from "
                                     + ("the level's program" if given[0] == "per_group" else "its caseload"))
        return self

    @property
    def basis(self) -> str:
        """Which of :data:`STAFF_BASES` this role uses."""
        return next(basis for basis in STAFF_BASES if getattr(self, basis) is not None)


class StaffStep(_Model):
    from_day: Days
    fte: Annotated[float, Field(ge=0)]


def _fte_as_schedule(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return [{"from_day": 0, "fte": value}]
    return value


StaffSchedule = Annotated[list[StaffStep], BeforeValidator(_fte_as_schedule), Field(min_length=1)]
"""FTE on hand: a number, or a hiring plan ``[{from_day: 0, fte: 100}, {from_day: 365, fte: 120}]``."""


REFERRAL_KEYS = ("referrals_per_year", "referrals_per_100k_per_year")
REFERRAL_WORDS = "referrals_per_year (people a year) or referrals_per_100k_per_year (per 100,000 population a year)"
PER_100K = 100_000


def _gave_referrals_per_year(level: BaseModel) -> bool:
    """Whether the scenario wrote ``referrals_per_year`` for this level, rather than leaving it to the default."""
    return "referrals_per_year" in level.model_fields_set


def _schedule_out_of_order(steps: Sequence[CapacityStep | StaffStep], schedule: str) -> str | None:
    """What is wrong with a schedule's days, or None: it starts at from_day 0 and its days increase."""
    days = [step.from_day for step in steps]
    if days[0] == 0 and all(later > earlier for earlier, later in pairwise(days)):
        return None
    return f"{schedule} starts at from_day 0 and its days increase (got {days})"


class Level(_Model):
    capacity: Annotated[list[CapacityStep], BeforeValidator(_capacity_as_schedule), Field(min_length=1)]
    los: Distribution
    next: dict[str, Annotated[NextStep, BeforeValidator(_share_as_step)]]
    referrals_per_year: PerYear = 0
    """First presentations from the community a year (per 100,000 converted by :class:`Scenario`)."""
    referrals_per_100k_per_year: PerYear | None = None
    referral_growth_per_year: Annotated[float, Field(gt=-1)] = 0
    referral_seasonality: Annotated[list[Positive], Field(min_length=12, max_length=12)] | None = None
    when_full: Literal["wait", "turn_away"] = "wait"
    # release by default: a full caseload downstream should not keep a bed upstream unless a
    # scenario says that its patients really stay put (a ward waiting for a step-down place)
    when_next_full: Literal["hold", "release"] = "release"
    waitlist: Literal["fifo", "transfers_first"] = "fifo"
    patience: Distribution | None = None
    gave_up: dict[str, Share] | None = None
    initial: Initial = Initial()
    program: Program | None = None
    staff: list[StaffRole] | None = None
    staff_available: dict[str, StaffSchedule] | None = None
    accepts: list[str] | None = None
    """The patient groups this level takes (``groups``); every group when not given."""
    priority: list[str] | None = None
    """Groups admitted from the waitlist before the others, highest first; first come first served within a rank."""

    @model_validator(mode="before")
    @classmethod
    def _null_referrals_mean_the_other(cls, data: Any) -> Any:
        # with --set or with_changes a key cannot be removed: null one of the pair to switch to the other
        if isinstance(data, dict):
            pair = [data.get(key) for key in REFERRAL_KEYS]
            if sum(value is None for value in pair) == 1:
                return {key: value for key, value in data.items() if not (key in REFERRAL_KEYS and value is None)}
        return data

    @field_validator("capacity")
    @classmethod
    def _schedule_in_order(cls, steps: list[CapacityStep]) -> list[CapacityStep]:
        problem = _schedule_out_of_order(steps, "a capacity schedule")
        if problem:
            raise ValueError(problem)
        return steps

    @field_validator("next")
    @classmethod
    def _next_sums_to_one(cls, steps: dict[str, NextStep]) -> dict[str, NextStep]:
        _check_shares({name: step.share for name, step in steps.items()}, "next")
        return steps

    @field_validator("gave_up")
    @classmethod
    def _gave_up_sums_to_one(cls, shares: dict[str, float] | None) -> dict[str, float] | None:
        if shares is not None:
            _check_shares(shares, "gave_up")
        return shares

    @model_validator(mode="after")
    def _consistent(self) -> Level:
        if _gave_referrals_per_year(self) and self.referrals_per_100k_per_year is not None:
            raise ProblemAt("referrals_per_100k_per_year", f"give {REFERRAL_WORDS}, not both; to switch "
                            "with --set or with_changes, set the other one to null")
        if self.gave_up is not None and self.patience is None:
            raise ProblemAt(
                "gave_up",
                "needs a patience too (how long people wait before giving up, "
                "e.g. patience: {dist: exponential, mean: 30})",
            )
        if self.patience is not None and self.when_full == "turn_away":
            raise ProblemAt("patience", "needs a waitlist, but when_full: turn_away has none")
        if self.initial.waitlist and self.when_full == "turn_away":
            raise ProblemAt("initial", "a waitlist needs when_full: wait, not turn_away")
        _check_today(self)
        if self.program is not None and self.program.cohort_every_days and self.when_full == "turn_away":
            raise ProblemAt(("program", "intake"), "cohorts need a waitlist to gather in: use when_full: wait")
        roles = sorted({role.role for role in self.staff or ()})
        for name, steps in (self.staff_available or {}).items():
            if name not in roles:
                hint = did_you_mean(name, roles)
                raise ProblemAt(("staff_available", name), f"'{name}' is not a role in this level's staff; "
                                f"{hint}roles: {', '.join(roles) or 'none (add staff first)'}")
            problem = _schedule_out_of_order(steps, "a hiring plan")
            if problem:
                raise ProblemAt(("staff_available", name), problem)
        for index, role in enumerate(self.staff or ()):
            if role.per_group is not None and (self.program is None or self.program.group_size is None):
                raise ProblemAt(("staff", index, "per_group"), (
                    "needs the level's program with a group_size, e.g. program: {days_per_week: 3, "
                    "hours_per_day: 3, group_size: {min: 6, max: 12}}"))
        return self

    @field_serializer("capacity")
    def _plain_capacity(self, steps: list[CapacityStep]) -> Any:
        if len(steps) == 1:
            return steps[0].capacity
        return [step.model_dump() for step in steps]

    @field_serializer("next")
    def _plain_shares(self, steps: dict[str, NextStep]) -> dict[str, Any]:
        return {
            name: step.share if step.los is None else step.model_dump(exclude_none=True)
            for name, step in steps.items()
        }

    @model_serializer(mode="wrap")
    def _referrals_as_given(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # a rate per 100,000 is written back as given: both keys would be refused when read again
        data = handler(self)
        if self.referrals_per_100k_per_year is not None:
            data.pop("referrals_per_year", None)
        return data

    @property
    def mean_stay_days(self) -> float:
        """The mean treatment stay, each route's own stay (``next.<name>.los``) weighted by its share."""
        return math.fsum(step.share * (step.los or self.los).sampler().mean for step in self.next.values())

    @property
    def gave_up_routes(self) -> dict[str, float]:
        """Where patients who give up go; back to the community when not given."""
        return self.gave_up if self.gave_up is not None else {"discharged": 1.0}


def _longest_stay(level: Level) -> float:
    """The longest stay any route out of the level allows (``inf`` when none is bounded)."""
    return max((step.los or level.los).sampler().longest for step in level.next.values() if step.share > 0)


def _check_elapsed(days: list[float] | None, bands: list[Band] | None, longest: float, keys: tuple[str, str],
                   what: str) -> None:
    """Days already spent that the distribution allows: none past ``longest`` (a band may run past it)."""
    for index, elapsed in enumerate(days or ()):
        if elapsed > longest:
            raise ProblemAt(("initial", keys[0], index), f"{elapsed:g} days is longer than {what} (at most "
                                                         f"{longest:g} days)")
    for index, band in enumerate(bands or ()):
        if band.from_days > longest:
            raise ProblemAt(("initial", keys[1], index, "from_days"), f"{band.from_days:g} days is longer than "
                                                                       f"{what} (at most {longest:g} days)")


def _check_today(level: Level) -> None:
    """Today's patients fit the level's rules: stays and waits not past their longest, held patients allowed."""
    initial = level.initial
    if initial.listed_in_care:
        _check_elapsed(initial.in_care_days, initial.in_care_bands, _longest_stay(level),
                       ("in_care_days", "in_care_bands"), "any stay los allows here")
    if initial.listed_waiting and level.patience is not None:
        _check_elapsed(initial.waiting_days, initial.waiting_bands, level.patience.sampler().longest,
                       ("waiting_days", "waiting_bands"), "anyone waits before giving up by patience")
    next_levels = [name for name, step in level.next.items() if name not in EXITS and step.share > 0]
    for index, held in enumerate(initial.held or ()):
        if level.when_next_full != "hold":
            raise ProblemAt(("initial", "held"), "patients are held in their place only with when_next_full: hold; "
                                                 "with release, put them on the next level's waitlist instead")
        if held.to not in next_levels:
            hint = did_you_mean(held.to, next_levels)
            raise ProblemAt(("initial", "held", index, "to"), f"'{held.to}' is not a level this one sends patients "
                            f"on to; {hint}next levels: {', '.join(next_levels) or 'none'}")


# ---------------------------------------------------------------------------- relapse
class RelapseRule(_Model):
    probability: Share
    time: Distribution


class AtRisk(_Model):
    """People in the community today who left care ``days_since`` days ago and have not come back."""

    after: Literal["discharged", "dropped_out"]
    days_since: Days
    count: Count


AT_RISK_FORMS = ("auto (filled from the scenario's own flows at the initial census) or a list of "
                 "{after: discharged or dropped_out, days_since: D, count: N}")


def _at_risk(value: Any) -> Any:
    # checked by hand: pydantic would report the union's every member
    if value == "auto" or isinstance(value, list):
        return value
    raise ValueError(f"at_risk is {AT_RISK_FORMS}")


class Relapse(_Model):
    after_discharged: RelapseRule | None = None
    after_dropped_out: RelapseRule | None = None
    return_to: dict[str, Share]
    at_risk: Annotated[Literal["auto"] | list[AtRisk], BeforeValidator(_at_risk)] | None = None
    """Who may still return at day 0: ``auto``, or counts by exit and days since leaving care."""

    @field_validator("return_to")
    @classmethod
    def _return_sums_to_one(cls, shares: dict[str, float]) -> dict[str, float]:
        _check_shares(shares, "return_to")
        return shares

    @model_validator(mode="after")
    def _at_risk_after_a_rule(self) -> Relapse:
        for index, group in enumerate(self.at_risk if isinstance(self.at_risk, list) else ()):
            if self.rule(group.after) is None:
                raise ProblemAt(("at_risk", index, "after"), f"nobody returns after {group.after}: relapse has no "
                                f"after_{group.after} rule (give one, or leave these people out)")
        return self

    def rule(self, exit_name: str) -> RelapseRule | None:
        """The relapse rule for patients who left care by ``exit_name``."""
        return getattr(self, f"after_{exit_name}")


# ---------------------------------------------------------------------------- patient groups
def _shares_sum_to_one(what: str) -> Any:
    def check(shares: dict[str, Any] | None) -> dict[str, Any] | None:
        if shares is not None:
            _check_shares({name: getattr(share, "share", share) for name, share in shares.items()}, what)
        return shares

    return AfterValidator(check)


class GroupLevel(_Model):
    """What is different for one patient group at one level; anything not given is the level's."""

    los: Distribution | None = None
    next: Annotated[dict[str, Annotated[NextStep, BeforeValidator(_share_as_step)]],
                    _shares_sum_to_one("next")] | None = None
    patience: Distribution | None = None
    gave_up: Annotated[dict[str, Share], _shares_sum_to_one("gave_up")] | None = None
    initial: Initial | None = None
    """This group's patients here today (with several groups, today's patients are given per group)."""

    @field_serializer("next")
    def _plain_shares(self, steps: dict[str, NextStep] | None) -> dict[str, Any] | None:
        if steps is None:
            return None
        return {name: step.share if step.los is None else step.model_dump(exclude_none=True)
                for name, step in steps.items()}


class GroupRelapse(_Model):
    """A group's own relapse rules and returns; anything not given is the scenario's ``relapse``."""

    after_discharged: RelapseRule | None = None
    after_dropped_out: RelapseRule | None = None
    return_to: Annotated[dict[str, Share], _shares_sum_to_one("return_to")] | None = None
    at_risk: Annotated[Literal["auto"] | list[AtRisk], BeforeValidator(_at_risk)] | None = None


class Group(_Model):
    """One patient group: where its referrals come from and how it differs from the levels' rules."""

    share_of_referrals: dict[str, Share] = Field(default_factory=dict)
    """Per level, this group's share of the level's referrals (the shares of all groups sum to 1)."""
    referrals_per_year: dict[str, PerYear] = Field(default_factory=dict)
    """Per level, referrals of this group a year on top of its share (the level's growth and seasons apply)."""
    levels: dict[str, GroupLevel] = Field(default_factory=dict)
    relapse: GroupRelapse | None = None


# ---------------------------------------------------------------------------- staffing
class Staffing(_Model):
    """How staffed hours become full-time equivalents, and what a full-time post costs."""

    fte_hours_per_week: Annotated[float, Field(gt=0, le=168)] = 40
    productive_share: Annotated[float, Field(gt=0, le=1)] = 0.85
    cost_per_fte_per_year: dict[str, Annotated[float, Field(ge=0)]] = Field(default_factory=dict)


# ---------------------------------------------------------------------------- schedules by date
def _schedule_entries(data: dict) -> Iterator[tuple[tuple, dict]]:
    """Every entry of a capacity schedule or hiring plan that gives ``from_date``, with its key path."""
    levels = data.get("levels")
    for name, level in levels.items() if isinstance(levels, dict) else ():
        plans = level.get("staff_available") if isinstance(level, dict) else None
        schedules: list[tuple[tuple, Any]] = [(("capacity",), level.get("capacity"))] if isinstance(level, dict) else []
        schedules += [(("staff_available", role), steps) for role, steps in plans.items()] \
            if isinstance(plans, dict) else []
        for path, steps in schedules:
            for index, step in enumerate(steps) if isinstance(steps, list) else ():
                if isinstance(step, dict) and "from_date" in step:
                    yield ("levels", name, *path, index), step


def schedule_dates_as_days(data: Any) -> Any:
    """Raw scenario data with every schedule entry's ``from_date`` made the ``from_day`` it is (days after
    ``run.start_date``); the data is copied first, and returned unchanged when no entry gives a date."""
    if not isinstance(data, dict) or next(_schedule_entries(data), None) is None:
        return data
    data = copy.deepcopy(data)
    start = _start_date_of(data)
    for path, step in _schedule_entries(data):
        if "from_day" in step:
            raise ProblemAt(path, "give from_day or from_date, not both")
        try:
            when = calendar_date(step["from_date"])
        except ValueError as error:
            raise ProblemAt((*path, "from_date"), f"{describe_value(step['from_date'])} {error}") from None
        if when < start:
            raise ProblemAt((*path, "from_date"), f"{when.isoformat()} is before run.start_date {start.isoformat()} "
                                                  "(day 0, where a schedule starts)")
        step["from_day"] = (when - start).days
        del step["from_date"]
    return data


def _start_date_of(data: dict) -> date:
    """``run.start_date`` of raw data, which a schedule given by dates needs."""
    run = data.get("run")
    given = run.get("start_date") if isinstance(run, dict) else None
    if given is None:
        raise ProblemAt(next(_schedule_entries(data))[0] + ("from_date",), (
            "needs run.start_date (the calendar date of day 0) to count days from; or give from_day instead"))
    try:
        return calendar_date(given)
    except ValueError as error:
        raise ProblemAt(("run", "start_date"), f"{describe_value(given)} {error}") from None


# ---------------------------------------------------------------------------- scenario
def _check_referral_keys(name: str, level: Level, population: int | None) -> None:
    """A level's referrals in one unit: per 100,000 needs a population; with one, every level says which."""
    per_100k = level.referrals_per_100k_per_year
    if per_100k is not None and population is None:
        raise ProblemAt(("levels", name, "referrals_per_100k_per_year"), (
            f"{per_100k:g} per 100,000 needs the scenario's population (people served, a top-level key, e.g. "
            "population: 250000) to become referrals a year; or give referrals_per_year instead"))
    if population is not None and per_100k is None and not _gave_referrals_per_year(level):
        raise ProblemAt(("levels", name), (
            f"with population given, each level gives its referrals from the community as {REFERRAL_WORDS}; "
            "0 for a level that takes none"))


class Scenario(_Model):
    """A validated, frozen scenario. Make variants with :meth:`with_changes`."""

    name: str = "Unnamed scenario"
    description: str = ""
    population: Annotated[int, Field(gt=0)] | None = None
    """People served, for referrals given per 100,000 population (``referrals_per_100k_per_year``)."""
    run: RunSettings = RunSettings()
    levels: Annotated[dict[str, Level], Field(min_length=1)]
    relapse: Relapse | None = None
    staffing: Staffing = Staffing()
    groups: Annotated[dict[str, Group], Field(min_length=1)] | None = None
    """Patient groups, each with its own referrals and rules; without it every patient is alike."""

    _source: str = PrivateAttr(default="<dict>")
    _group_views: dict[str, Scenario] | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _schedule_dates_as_days(cls, data: Any) -> Any:
        return schedule_dates_as_days(data)

    @model_validator(mode="wrap")
    @classmethod
    def _referrals_from_population(cls, data: Any, handler: ModelWrapValidatorHandler[Scenario]) -> Scenario:
        # converted once, here: the engine and every table only ever see referrals a year
        scenario = handler(data)
        for name, level in scenario.levels.items():
            _check_referral_keys(name, level, scenario.population)
        if scenario.population is None:
            return scenario
        levels = {name: level.model_copy(update={"referrals_per_year": level.referrals_per_100k_per_year
                                                 * scenario.population / PER_100K})
                  if level.referrals_per_100k_per_year is not None else level
                  for name, level in scenario.levels.items()}
        return scenario.model_copy(update={"levels": levels})

    @property
    def source(self) -> str:
        """Where the scenario came from (a file path, or ``<dict>``)."""
        return self._source

    @property
    def level_names(self) -> list[str]:
        return list(self.levels)

    @property
    def group_names(self) -> list[str]:
        """The patient groups, in the order given; empty when the scenario has none."""
        return list(self.groups or ())

    def group_views(self) -> dict[str, Scenario]:
        """Each patient group's own scenario: the levels' rules with the group's differences, its referrals.

        Without ``groups`` this is the scenario itself under the name ``""``. A view has no groups; its
        levels keep their places (the engine shares places between groups, so a view's capacity is not used
        on its own).
        """
        if self._group_views is None:
            views = {name: _group_view(self, name) for name in self.group_names} if self.groups else {"": self}
            object.__setattr__(self, "_group_views", views)   # a cache: the scenario itself stays frozen
        assert self._group_views is not None
        return self._group_views

    def to_dict(self) -> dict[str, Any]:
        """The resolved scenario as plain data (every default filled in)."""
        return self.model_dump(mode="json", exclude_none=True)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)

    def with_changes(self, changes: dict[str, Any] | None = None, *, changed_by: str = "by with_changes",
                     **keywords: Any) -> Scenario:
        """A new scenario with some keys changed, validated like a file.

        ``changes`` maps dotted key paths to values (``{"levels.php.capacity": 30}``);
        keywords use ``__`` for the dots (``levels__php__capacity=30``). A problem at a changed key
        says where the change came from: ``(changed by with_changes)``, or ``changed_by`` instead.
        """
        everything = dict(changes or {})
        everything.update({key.replace("__", "."): value for key, value in keywords.items()})
        data = self.to_dict()
        month_follows_start_date(data, everything)
        for key, value in everything.items():
            set_path(data, key, value, origin="with_changes")
        return validate(data, source=self._source, overridden=set(everything), changed_by=changed_by)


# ---------------------------------------------------------------------------- patient groups
GROUP_SPECIFIC = ("los", "next", "patience", "gave_up")
"""A level's keys a group may give its own value of (``groups.<name>.levels.<level>``)."""


def _referral_share(scenario: Scenario, group: str, level: str) -> float:
    """The group's share of a level's referrals: as given, or all of them when there is one group only."""
    assert scenario.groups is not None
    shares = scenario.groups[group].share_of_referrals
    if level in shares:
        return shares[level]
    given = any(level in other.share_of_referrals for other in scenario.groups.values())
    return 0.0 if given or len(scenario.groups) > 1 else 1.0


def _group_view_data(scenario: Scenario, group: str) -> dict[str, Any]:
    """The plain data of one group's own scenario (see :meth:`Scenario.group_views`)."""
    assert scenario.groups is not None
    spec = scenario.groups[group]
    several = len(scenario.groups) > 1
    data = scenario.to_dict()
    data.pop("groups")
    data.pop("population", None)   # referrals are a year here, already converted
    for name, level in data["levels"].items():
        rate = scenario.levels[name].referrals_per_year
        level.pop("referrals_per_100k_per_year", None)
        level.pop("accepts", None)
        level.pop("priority", None)
        level["referrals_per_year"] = _referral_share(scenario, group, name) * rate \
            + spec.referrals_per_year.get(name, 0.0)
        own = spec.levels.get(name)
        if several:
            level.pop("initial", None)
        if own is not None:
            level.update(own.model_dump(mode="json", exclude_none=True))
    relapse = data.get("relapse")
    if several and relapse is not None and isinstance(relapse.get("at_risk"), list):
        relapse.pop("at_risk")
    if spec.relapse is not None:
        data["relapse"] = {**(relapse or {}), **spec.relapse.model_dump(mode="json", exclude_none=True)}
    return data


def _group_view(scenario: Scenario, group: str) -> Scenario:
    try:
        return Scenario.model_validate(_group_view_data(scenario, group))
    except ValidationError as error:
        data = _group_view_data(scenario, group)
        found = [problem_text(e, data, Scenario) for e in error.errors()]
        problems = [(("groups", group), f"with this group's differences, {format_path(path)}{message}")
                    for path, message in found]
        raise GroupProblems(problems) from None


class GroupProblems(Exception):
    """Problems found in a group's own view of the scenario, as (key path, what is wrong)."""

    def __init__(self, problems: list[tuple[tuple, str]]):
        super().__init__(problems)
        self.problems = problems


Problems = list[tuple[tuple, str]]
"""What is wrong, as (key path, what is wrong in words)."""


def _check_groups(scenario: Scenario) -> Problems:
    """Groups named where they exist, referrals shared out, every route open to the group that takes it.

    Stage by stage: a later stage's checks only make sense once the earlier ones pass.
    """
    problems = _group_names_at_levels(scenario)
    if not scenario.groups or problems:
        return problems
    problems = _group_keys(scenario) or _group_totals(scenario)
    if problems:
        return problems
    try:
        views = scenario.group_views()
    except GroupProblems as error:
        return error.problems
    return _group_views_fit(scenario, views) or [problem for group in scenario.group_names
                                                 for problem in _group_routes(scenario, group, views[group])]


def _group_names_at_levels(scenario: Scenario) -> Problems:
    """Levels' ``accepts`` and ``priority`` name groups that exist, once each; priority only for groups accepted."""
    groups, problems = scenario.group_names, Problems()
    for name, level in scenario.levels.items():
        for key in ("accepts", "priority"):
            named = getattr(level, key) or []
            for index, group in enumerate(named):
                if group not in groups:
                    allowed = ", ".join(groups) if groups else "none: add a top-level groups mapping first"
                    problems.append((("levels", name, key, index), f"'{group}' is not a patient group; "
                                     f"{did_you_mean(group, groups)}groups: {allowed}"))
                elif group in named[:index]:
                    problems.append((("levels", name, key, index), f"'{group}' is listed twice"))
        for index, group in enumerate(level.priority or ()):
            if level.accepts is not None and group in groups and group not in level.accepts:
                problems.append((("levels", name, "priority", index), f"'{group}' is not a group {name} accepts "
                                 f"(accepts: {', '.join(level.accepts)}), so it never waits here"))
    return problems


def _group_keys(scenario: Scenario) -> Problems:
    """A group's keys name levels, and its own rules are for levels that take it."""
    assert scenario.groups is not None
    levels, problems = scenario.level_names, Problems()
    for group, spec in scenario.groups.items():
        for key in ("share_of_referrals", "referrals_per_year", "levels"):
            for name in getattr(spec, key):
                taken = scenario.levels[name].accepts if name in levels else None
                if name not in levels:
                    problems.append((("groups", group, key, name), f"'{name}' is not a level; "
                                     f"{did_you_mean(name, levels)}levels: {', '.join(levels)}"))
                elif key == "levels" and taken is not None and group not in taken:
                    problems.append((("groups", group, key, name), (
                        f"{name} does not take {group} (levels.{name}.accepts: {', '.join(taken)}), so these "
                        "rules would never be used")))
    return problems


def _group_totals(scenario: Scenario) -> Problems:
    """Each level's referrals shared out among the groups; today's patients and people at risk given per group."""
    assert scenario.groups is not None
    several, problems = len(scenario.groups) > 1, Problems()
    for name, level in scenario.levels.items():
        shares = {group: spec.share_of_referrals[name] for group, spec in scenario.groups.items()
                  if name in spec.share_of_referrals}
        total = math.fsum(shares.values())
        if shares and abs(total - 1) > SHARE_TOLERANCE:
            listed = ", ".join(f"{group}: {share:g}" for group, share in shares.items())
            problems.append((("levels", name, "referrals_per_year"), f"the groups' share_of_referrals at {name} "
                             f"must sum to 1 (these sum to {total:.6g}: {listed})"))
        elif not shares and several and level.referrals_per_year > 0:
            problems.append((("levels", name, "referrals_per_year"), (
                f"{level.referrals_per_year:g} referrals a year, but no group has a share of them: give each group's "
                f"groups.<group>.share_of_referrals.{name} (summing to 1), or 0 referrals here")))
        if several and (level.initial.census or level.initial.waitlist):
            problems.append((("levels", name, "initial"), (
                "with several groups, today's patients are given per group: "
                f"groups.<group>.levels.{name}.initial")))
    relapse = scenario.relapse
    if several and relapse is not None and isinstance(relapse.at_risk, list):
        problems.append((("relapse", "at_risk"), "with several groups, the people at risk are given per group: "
                         "groups.<group>.relapse.at_risk (or at_risk: auto here, for every group)"))
    return problems


def _group_views_fit(scenario: Scenario, views: dict[str, Scenario]) -> Problems:
    """Each group's own scenario refers to what exists, has no loop that takes no time, and today's patients
    of all groups fit the places."""
    problems = [(("groups", group, *path), message) for group, view in views.items()
                for path, message in _check_references(view) or _instant_cycles(view)]
    for name, level in scenario.levels.items():
        today = sum(view.levels[name].initial.census for view in views.values())
        if len(views) > 1 and today > level.capacity[0].capacity:
            problems.append((("levels", name, "capacity"), f"{level.capacity[0].capacity} places at day 0, but the "
                             f"groups have {today} people in care here today (groups.<group>.levels.{name}.initial)"))
    return problems


def _group_routes(scenario: Scenario, group: str, view: Scenario) -> list[tuple[tuple, str]]:
    """Every way the group arrives at a level leads to a level that accepts it; and it has a way to arrive."""
    assert scenario.groups is not None
    spec = scenario.groups[group]
    problems: list[tuple[tuple, str]] = []
    arrives = any(level.referrals_per_year > 0 or level.initial.census or level.initial.waitlist
                  for level in view.levels.values())
    at_risk = view.relapse.at_risk if view.relapse is not None else None
    if not arrives and not (isinstance(at_risk, list) and any(entry.count for entry in at_risk)):
        return [(("groups", group), "has no way to arrive: give it referrals (share_of_referrals or "
                                    "referrals_per_year at a level) or patients today")]

    def accepts(name: str) -> bool:
        taken = scenario.levels[name].accepts
        return taken is None or group in taken

    def refuse(path: tuple, how: str, name: str) -> None:
        taken = ", ".join(scenario.levels[name].accepts or ()) or "no group"
        problems.append((path, f"group '{group}' {how} {name}, but {name} accepts only {taken} "
                               f"(levels.{name}.accepts)"))

    for name, level in view.levels.items():
        if level.referrals_per_year > 0 and not accepts(name):
            key = "share_of_referrals" if name in spec.share_of_referrals else "referrals_per_year"
            refuse(("groups", group, key, name), "is referred to", name)
        if (level.initial.census or level.initial.waitlist) and not accepts(name):
            refuse(("groups", group, "levels", name, "initial"), "has patients today at", name)
        if not accepts(name):
            continue
        own = spec.levels.get(name)
        for dest, step in level.next.items():
            if dest in view.levels and step.share > 0 and not accepts(dest):
                where = "groups", group, "levels", name, "next", dest
                refuse(where if own and own.next else ("levels", name, "next", dest), f"goes from {name} to", dest)
        for dest, share in (level.gave_up or {}).items():
            if dest in view.levels and share > 0 and not accepts(dest):
                where = "groups", group, "levels", name, "gave_up", dest
                refuse(where if own and own.gave_up else ("levels", name, "gave_up", dest),
                       f"gives up waiting at {name} for", dest)
    if view.relapse is not None:
        for dest, share in view.relapse.return_to.items():
            if share > 0 and not accepts(dest):
                own_return = spec.relapse is not None and spec.relapse.return_to is not None
                path: tuple = ("groups", group, "relapse") if own_return else ("relapse",)
                refuse((*path, "return_to", dest), "returns after a relapse to", dest)
    return problems


# ---------------------------------------------------------------------------- checks beyond the schema
def _check_references(scenario: Scenario) -> list[tuple[tuple, str]]:
    """Problems pydantic cannot see: names that must refer to levels or exits."""
    levels = scenario.level_names
    problems = []

    def check(path: tuple, name: str, allowed: list[str]) -> None:
        if name not in allowed:
            hint = did_you_mean(name, allowed, in_brackets=True)
            problems.append((path, f"'{name}' is not a level or exit here{hint}; allowed: {', '.join(allowed)}"))

    for name in levels:
        if name in RESERVED_NAMES:
            problems.append((("levels", name), f"'{name}' is reserved; choose another level name"))
    for name, level in scenario.levels.items():
        destinations = [n for n in levels if n != name] + list(EXITS)
        for dest in level.next:
            check(("levels", name, "next", dest), dest, destinations)
        for dest in level.gave_up or {}:
            check(("levels", name, "gave_up", dest), dest, levels + list(EXITS))
    if scenario.relapse is not None:
        for dest in scenario.relapse.return_to:
            check(("relapse", "return_to", dest), dest, levels)
    roles = list(dict.fromkeys(role.role for level in scenario.levels.values() for role in level.staff or ()))
    for role in scenario.staffing.cost_per_fte_per_year:
        if role not in roles:
            hint = did_you_mean(role, roles)
            listed = ", ".join(roles) or "none (no level has staff)"
            problems.append((("staffing", "cost_per_fte_per_year", role),
                             f"'{role}' is not a role in any level's staff; {hint}roles: {listed}"))
    return problems


def _census_over_places(scenario: Scenario, overridden: set[str]) -> tuple[list[tuple[tuple, str]], dict[str, list]]:
    """Today's census above the places at day 0: a typo in a file, but a cut from today in a variant.

    Returns the problems, and the capacity schedules of the cuts: when only a level's capacity was changed
    (``--set``, ``with_changes``, the planner, a sweep) below a census given in the file, today's places stay
    for day 0 and the cut comes at day 1, written out so that the scenario says what is simulated. Nobody is
    sent home: as with any capacity cut, the level admits no one until its census falls below its places.
    """
    problems, cuts = [], {}
    for name, level in scenario.levels.items():
        census, steps = level.initial.census, level.capacity
        if census <= steps[0].capacity:
            continue
        capacity, initial = f"levels.{name}.capacity", f"levels.{name}.initial"
        cut = any(key == capacity or key.startswith(capacity + ".") for key in overridden)
        cut = cut and not any(key.startswith(initial) for key in overridden)
        if cut and all(step.from_day > 1 for step in steps[1:]):
            cuts[name] = [{"from_day": 0, "capacity": census}, {"from_day": 1, "capacity": steps[0].capacity},
                          *({"from_day": step.from_day, "capacity": step.capacity} for step in steps[1:])]
            continue
        problems.append((("levels", name, "initial", "census"),
                         f"{census} people in care today but only {steps[0].capacity} places at day 0; "
                         f"to close places from today, keep today's places on day 0 and cut them after: "
                         f"capacity: [{{from_day: 0, capacity: {census}}}, "
                         f"{{from_day: 1, capacity: {steps[0].capacity}}}]"))
    return problems, cuts


InstantStep = tuple[str, tuple, str]
"""A move that can take no time at all: (where to, the key that allows it, the move in words)."""


def _instant_steps(scenario: Scenario) -> dict[str, list[InstantStep]]:
    """From each level or exit, the moves that can happen at once: a stay, patience or relapse time of 0."""
    steps: dict[str, list[InstantStep]] = {name: [] for name in (*scenario.levels, *EXITS)}
    for name, level in scenario.levels.items():
        for dest, step in level.next.items():
            if step.share > 0 and (step.los or level.los).can_take_no_time:
                key = ("levels", name, "next", dest, "los") if step.los else ("levels", name, "los")
                steps[name].append((dest, key, f"a stay of 0 days at {name}"))
        if level.patience is not None and level.patience.can_take_no_time:
            steps[name] += [(dest, ("levels", name, "patience"), f"giving up at {name} after 0 days")
                            for dest, share in level.gave_up_routes.items() if share > 0]
    relapse = scenario.relapse
    for exit_name in EXITS if relapse else ():
        rule = relapse.rule(exit_name) if relapse else None
        if relapse and rule is not None and rule.probability > 0 and rule.time.can_take_no_time:
            steps[exit_name] += [(dest, ("relapse", f"after_{exit_name}", "time"), f"relapse 0 days after {exit_name}")
                                 for dest, share in relapse.return_to.items() if share > 0]
    return steps


def _instant_cycles(scenario: Scenario) -> list[tuple[tuple, str]]:
    """Loops a patient could go round forever at one instant: the run would never finish."""
    steps = _instant_steps(scenario)
    problems, seen = [], set()
    for start in steps:
        cycle = _cycle_from(start, steps)
        if cycle is None or frozenset(key for _, key, _ in cycle) in seen:
            continue
        seen.add(frozenset(key for _, key, _ in cycle))
        route = " -> ".join([start, *(dest for dest, _, _ in cycle)])
        moves = "; ".join(words for _, _, words in cycle)
        problems.append((cycle[0][1], f"patients could go round {route} forever without time passing ({moves}), "
                                      "so the run would never finish: give one of these steps a duration above 0"))
    return problems


def _cycle_from(start: str, steps: dict[str, list[InstantStep]]) -> list[InstantStep] | None:
    """The shortest instant loop back to ``start``, if any (breadth first: linear in the moves)."""
    came_by: dict[str, list[InstantStep]] = {start: []}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for step in steps[node]:
                if step[0] == start:
                    return [*came_by[node], step]
                if step[0] not in came_by:
                    came_by[step[0]] = [*came_by[node], step]
                    following.append(step[0])
        frontier = following
    return None


# ---------------------------------------------------------------------------- validating
def _plain_data(data: Any) -> Any:
    """numpy numbers and arrays (an analyst's grid, ``np.arange``) as the plain Python values they are."""
    if isinstance(data, dict):
        return {_plain_data(key): _plain_data(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        plain = [_plain_data(value) for value in data]
        return plain if isinstance(data, list) else tuple(plain)
    if isinstance(data, np.ndarray | np.generic):
        return data.tolist()   # np.bool_ becomes bool, refused where bool is
    return data


def validate(data: Any, source: str = "<dict>", lines: dict[tuple, int] | None = None,
             overridden: set[str] | None = None, changed_by: str = "by with_changes") -> Scenario:
    """Validate plain data as a scenario, or raise :class:`ScenarioError` listing every problem.

    numpy numbers count as the Python numbers they are. Problems at the ``overridden`` key paths
    say they were changed ``changed_by`` rather than giving a line of the file.
    """
    data = _plain_data(data)
    lines, overridden = lines or {}, overridden or set()
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else "a single value"
        held = "is empty" if data is None else f"holds {kind}, {describe_value(data)}"
        problem = f"the file must hold keys (name, run, levels, ...), but it {held}"
        raise ScenarioError(source, [problem])

    def where(path: tuple) -> str:
        return key_location(path, lines, overridden, changed_by)

    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as error:
        found = [problem_text(e, data, Scenario) for e in error.errors()]
        raise ScenarioError(source, [f"{where(p)}{m}" for p, m in found]) from None
    problems = _check_references(scenario) or _check_groups(scenario) or _instant_cycles(scenario)
    if not problems:
        problems, cuts = _census_over_places(scenario, overridden)
        if cuts and not problems:
            data = scenario.to_dict()
            for name, schedule in cuts.items():
                data["levels"][name]["capacity"] = schedule
            return validate(data, source, lines, overridden, changed_by)
    if problems:
        raise ScenarioError(source, [f"{where(p)}: {m}" for p, m in problems])
    scenario._source = source
    return scenario


# ---------------------------------------------------------------------------- variants
def month_follows_start_date(data: Any, changes: dict[str, Any]) -> None:
    """A start date changed without its month brings its own month: the month in ``data`` was the old date's
    (or the default), so it is dropped rather than refused as a disagreement. Removing the date keeps the month."""
    run = data.get("run") if isinstance(data, dict) else None
    if changes.get("run.start_date") is not None and "run.start_month" not in changes and isinstance(run, dict):
        run.pop("start_month", None)


def set_path(data: dict, dotted: str, value: Any, origin: str = "--set") -> None:
    """Set ``data[a][b][c] = value`` for ``dotted = "a.b.c"``, creating mappings on the way."""
    node: Any = data
    parts = dotted.split(".")
    for depth, part in enumerate(parts[:-1]):
        key = _key_in(node, part, dotted, parts[:depth], origin)
        if isinstance(node, dict) and node.get(key) is None:
            if parts[:depth] == ["levels"]:
                # a level made of one key is never meant: it is a misspelt level name
                hint = did_you_mean(part, list(node))
                raise ScenarioError(origin, [f"{dotted}: there is no level '{part}'; {hint}levels: {', '.join(node)}"])
            node[key] = {}
        node = node[key]
    node[_key_in(node, parts[-1], dotted, parts[:-1], origin)] = copy.deepcopy(value)


def _key_in(node: Any, part: str, dotted: str, above: list[str], origin: str) -> str | int:
    """``part`` of a dotted path as a key of ``node``: an index when it is a list, a key when a mapping."""
    if isinstance(node, list):
        if not part.isdigit() or int(part) >= len(node):
            raise ScenarioError(origin, [f"{dotted}: '{part}' is not an index of a list of {len(node)}"])
        return int(part)
    if not isinstance(node, dict):
        raise ScenarioError(origin, [f"{dotted}: {'.'.join(above)} holds {describe_value(node)}, not keys"])
    return part


def changed_keys(before: Any, after: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """``(dotted key, value before, value after)`` for every key whose value differs between two
    scenario dicts (nested mappings are walked; anything else compares whole)."""
    if isinstance(before, dict) and isinstance(after, dict):
        return [found for key in dict.fromkeys([*before, *after])
                for found in changed_keys(before.get(key), after.get(key), f"{path}.{key}" if path else str(key))]
    return [] if before == after else [(path, before, after)]
