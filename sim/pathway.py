"""A region's episodes linked into pathways: where each patient went next, and what that says.

An extract lists episodes one by one; the model needs what joins them. A patient's next episode
starting within a day of a discharge is a transfer (whatever ``discharge_to`` says); one starting
later, after the patient left care by ``discharged`` or ``dropped_out``, is a return (relapse); a
patient's first episode in the extract is a new arrival (a referral, or the return of someone who
left care before the extract began). A transfer whose next episode began before this one ended is
bed blocking: the stay ended when the next level was asked for, and the days after were held.

:func:`link` adds these columns to the cleaned episodes; the ``*_data`` functions hand each part
of the pathway to :mod:`sim.fitting` in the form it fits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .scenario import EXITS

TRANSFER_WITHIN_DAYS = 1.0
"""A next episode referred within this many days of a discharge is a transfer, not a return."""


@dataclass(frozen=True)
class Window:
    """What the fitting needs to know of the extract's dates: its days, and how finely they were recorded."""

    as_of_day: float
    """Days from the extract's start to the end of its as-of date."""
    dates: bool
    """True when times are calendar dates (each rounded down to its day), False for exact date-times."""

    @property
    def last_day(self) -> int:
        """The as-of date's day number (day 0 is the extract's first day)."""
        return int(np.ceil(self.as_of_day)) - 1

    def elapsed(self, since: np.ndarray | pd.Series) -> np.ndarray:
        """Days from each time to the as-of date as an extract records them (a date difference with dates)."""
        since = np.asarray(since, dtype=float)
        return self.last_day - since if self.dates else self.as_of_day - since

    def middle(self, recorded: np.ndarray) -> np.ndarray:
        """Recorded day counts as days: a date difference is half a day short of the time on average."""
        return recorded + 0.5 if self.dates else recorded


def link(episodes: pd.DataFrame, transfer_within_days: float = TRANSFER_WITHIN_DAYS) -> pd.DataFrame:
    """The episodes with where each went next and how each began.

    Added columns: ``route`` (where the episode's patient went: the next level on a transfer, else
    ``discharge_to``; empty while open), ``stay_end`` (the day the stay ended: the discharge, or the
    next level's referral when that came first; for a patient held at the as-of date, that referral),
    ``held_days`` (NaN while still held), ``arrived_as`` (``new``: the
    patient's first episode, referred in the extract; ``transfer``; ``return``; ``before``: already
    waiting or in care when the extract began; ``other``: after an episode still open), and
    ``next_referred`` (the patient's next episode's referral, NaN if none).
    """
    frame = episodes.sort_values(["patient", "referred", "row"], kind="stable").reset_index(drop=True)
    same_patient = frame["patient"].shift(-1).eq(frame["patient"])
    next_level = frame["level"].shift(-1).where(same_patient, "")
    next_referred = frame["referred"].shift(-1).where(same_patient)
    began = frame["admitted"].fillna(frame["referred"])
    ended = frame["discharged"].notna()
    # a next episode at the same level is a readmission (a return), never a transfer to itself
    transfer = (ended & next_referred.notna() & (next_referred <= frame["discharged"] + transfer_within_days)
                & (next_referred >= began) & next_level.ne(frame["level"]))
    # still in a place at the as-of date, but the next level already asked for: held there
    held_now = (~ended & frame["admitted"].notna() & next_referred.notna() & (next_referred >= frame["admitted"])
                & next_level.ne(frame["level"]))
    frame["route"] = np.where(transfer | held_now, next_level, frame["discharge_to"].where(ended, ""))
    held = (transfer & frame["admitted"].notna() & (next_referred < frame["discharged"])) | held_now
    frame["stay_end"] = frame["discharged"].where(~held, next_referred)
    frame["held_days"] = (frame["discharged"] - frame["stay_end"]).where(ended, np.nan)
    frame["next_referred"] = next_referred
    frame["arrived_as"] = _arrived_as(frame, transfer)
    frame["waited_in_a_place"] = (held | held_now).shift(1, fill_value=False) & frame["arrived_as"].eq("transfer")
    return frame


def _arrived_as(frame: pd.DataFrame, transfer: pd.Series) -> np.ndarray:
    """How each episode began: new, transfer, return, before (the extract's start) or other."""
    first = ~frame["patient"].shift(1).eq(frame["patient"])
    after_transfer = (frame["route"].shift(1) == frame["level"]) & ~frame["route"].shift(1).isin(EXITS) & ~first
    after_exit = frame["route"].shift(1).isin(EXITS) & ~first & ~after_transfer
    before = frame["referred"] < 0
    return np.select([before & first, first, after_transfer, after_exit], ["before", "new", "transfer", "return"],
                     "other")


# ---------------------------------------------------------------------------- what each part is fitted to
@dataclass(frozen=True)
class Durations:
    """Recorded durations as :func:`sim.fitting.fit_stays` takes them."""

    days: np.ndarray
    censored: np.ndarray
    entered: np.ndarray
    labels: np.ndarray
    """Where each went (the route), for per-destination fits."""

    def __len__(self) -> int:
        return len(self.days)

    def subset(self, keep: np.ndarray) -> Durations:
        return Durations(self.days[keep], self.censored[keep], self.entered[keep], self.labels[keep])


def stay_data(frame: pd.DataFrame, window: Window) -> Durations:
    """Stays of the admitted episodes: ended ones to their stay's end, open ones censored at the as-of date.

    A stay already running when the extract began (admitted before day 0) is in the extract only
    because it lasted past day 0: it is left-truncated there, at ``-admitted`` days (under dates, the
    date difference; :func:`sim.fitting.fit_stays` accounts for the time of day).
    """
    admitted = frame[frame["admitted"].notna()]
    censored = admitted["stay_end"].isna().to_numpy()
    start = admitted["admitted"].to_numpy(float)
    days = np.where(censored, window.elapsed(start), admitted["stay_end"].to_numpy(float) - start)
    entered = np.clip(-start, 0, None)
    days = np.maximum(days, entered)
    return Durations(days, censored, entered, admitted["route"].to_numpy(str))


def patience_data(frame: pd.DataFrame, window: Window) -> Durations:
    """Waits on the waitlist as a time to giving up: seen for those who gave up, censored for the rest.

    A patient admitted after ``w`` days would have given up only later than that (censored at the
    wait); one still waiting at the as-of date is censored there; one already waiting when the
    extract began is left-truncated, as stays are. Patients held in a place elsewhere while they
    waited are left out (they were never at risk of giving up), as are those admitted the day they
    were referred (a wait of no recorded length says nothing of patience).
    """
    admitted = frame["admitted"].to_numpy(float)
    frame = frame[~frame["waited_in_a_place"] & ~(admitted == frame["referred"].to_numpy(float))]
    gave_up = (frame["admitted"].isna() & frame["discharged"].notna()).to_numpy()
    referred, admitted = frame["referred"].to_numpy(float), frame["admitted"].to_numpy(float)
    waits = admitted - referred
    # the fitting reads a censored date difference c as "lasted past c and a half days", true at the
    # as-of date (the day's end) but half a day too long for a wait ended by admission, which is c on average
    days = np.where(gave_up, frame["discharged"].to_numpy(float) - referred,
                    np.where(np.isnan(admitted), window.elapsed(referred), waits - (0.5 if window.dates else 0)))
    entered = np.clip(-referred, 0, None)
    return Durations(np.maximum(days, entered), ~gave_up, entered, frame["route"].to_numpy(str))


def exit_data(frame: pd.DataFrame, window: Window, exit_name: str) -> Durations:
    """Patients leaving care by ``exit_name``: days until their next episode, censored at the as-of date if none."""
    left = frame[frame["route"].eq(exit_name)]
    returned = left["next_referred"].notna().to_numpy()
    discharged = left["discharged"].to_numpy(float)
    days = np.where(returned, left["next_referred"].to_numpy(float) - discharged, window.elapsed(discharged))
    return Durations(np.maximum(days, 0), ~returned, np.zeros(len(left)), left["level"].to_numpy(str))


def return_levels(frame: pd.DataFrame) -> pd.Series:
    """Returns (relapses) counted by the level they came back to."""
    return frame.loc[frame["arrived_as"].eq("return"), "level"].value_counts()


def new_arrival_days(frame: pd.DataFrame, level: str) -> np.ndarray:
    """The referral day of each patient's first episode at ``level`` in the extract (from day 0 on)."""
    new = frame["arrived_as"].eq("new") & frame["level"].eq(level)
    return np.floor(frame.loc[new, "referred"].to_numpy(float)).astype(np.int64)


def route_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """Ended stays per level and route: ``level, route, stays`` (group too when the extract has one)."""
    keys = ["group", "level"] if "group" in frame else ["level"]
    ended = frame[frame["admitted"].notna() & frame["route"].ne("")]
    return ended.groupby([*keys, "route"]).size().rename("stays").reset_index()


def daily_census(frame: pd.DataFrame, window: Window, first_day: int = 0) -> pd.DataFrame:
    """Patients in a place on each day from ``first_day`` to the as-of date, per level: the mean of the day's
    start and end (held patients included, as in a simulation's census).

    A patient admitted on a day counts half on it, as does one discharged on it (with dates, each
    is taken to happen at midday), so the figure compares with a simulation's time-averaged census.
    """
    days = np.arange(first_day, window.last_day + 1)
    shift = 0.5 if window.dates else 0.0
    columns = {}
    for level, rows in frame[frame["admitted"].notna()].groupby("level"):
        start = rows["admitted"].to_numpy(float) + shift
        end = rows["discharged"].fillna(np.inf).to_numpy(float) + shift
        at_start = _present(start, end, days)
        at_end = _present(start, end, days + 1)
        columns[level] = (at_start + at_end) / 2
    return pd.DataFrame(columns, index=pd.Index(days, name="day"))


def _present(start: np.ndarray, end: np.ndarray, moments: np.ndarray) -> np.ndarray:
    """How many intervals [start, end) hold each moment (sorted searches, not a loop over patients)."""
    started = np.searchsorted(np.sort(start), moments, side="right")
    ended = np.searchsorted(np.sort(end), moments, side="right")
    return (started - ended).astype(float)
