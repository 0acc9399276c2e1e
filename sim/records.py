"""The record schema, in one place: what the engine writes down as it runs.

Two kinds of record:

* an **episode**: one patient's visit to one level, from arriving on its waitlist to leaving
  its place (or giving up, or being turned away). Stored column by column in compact arrays.
* a **day**: per level, the time-averaged census, waitlist and held count over one day, the
  day's largest waitlist and its capacity; plus where every patient was at the day's end.

The engine only records; the results layer turns records into tables and figures.
"""

from __future__ import annotations

from array import array

import numpy as np

# Where an episode's patient came from.
SOURCES = ("referral", "transfer", "relapse", "gave_up", "initial")
REFERRAL, TRANSFER, RELAPSE, GAVE_UP, INITIAL = range(len(SOURCES))

# Where an episode stands: the last four are final.
WAITING, IN_CARE, HELD, DONE, GAVE_UP_WAITING, TURNED_AWAY = range(6)

EPISODE_TIMES = ("arrived", "admitted", "stay_ended", "left")
DAY_FIELDS = ("census", "waitlist", "held", "waitlist_max", "capacity")
STATE_FIELDS = ("waiting", "in_treatment", "held", "at_risk", "gone", "created")


class Episode:
    """One patient's visit to one level. Times are simulation days (NaN: not reached)."""

    __slots__ = ("patient", "level", "source", "arrived", "admitted", "stay_ended", "left",
                 "route", "status", "held_from")

    def __init__(self, patient: int, level, source: int, arrived: float, held_from=None):
        self.patient = patient
        self.level = level
        self.source = source
        self.arrived = arrived
        self.admitted = self.stay_ended = self.left = float("nan")
        self.route = -1
        self.status = WAITING
        self.held_from = held_from


class Recorder:
    """Collects episodes (columnar) and daily rows for one replication."""

    def __init__(self, level_count: int):
        self.level_count = level_count
        self.patient = array("q")
        self.level = array("h")
        self.source = array("b")
        self.route = array("h")
        self.status = array("b")
        self.times = {name: array("d") for name in EPISODE_TIMES}
        self.open: dict[int, Episode] = {}
        self.days: list[list[float]] = []
        self.states: list[tuple[int, ...]] = []

    def opened(self, episode: Episode) -> None:
        self.open[id(episode)] = episode

    def closed(self, episode: Episode) -> None:
        del self.open[id(episode)]
        self._write(episode)

    def _write(self, episode: Episode) -> None:
        self.patient.append(episode.patient)
        self.level.append(episode.level.index)
        self.source.append(episode.source)
        self.route.append(episode.route)
        self.status.append(episode.status)
        times = self.times
        times["arrived"].append(episode.arrived)
        times["admitted"].append(episode.admitted)
        times["stay_ended"].append(episode.stay_ended)
        times["left"].append(episode.left)

    def finish(self) -> None:
        """Write the episodes still open when the run ends (waiting, in care or held)."""
        for episode in self.open.values():
            self._write(episode)
        self.open.clear()

    def day(self, rows: list[list[float]], states: tuple[int, ...]) -> None:
        """One row per level for the day just ended, and the patient states at its end."""
        self.days.extend(rows)
        self.states.append(states)

    def episode_columns(self) -> dict[str, np.ndarray]:
        """The episodes as numpy columns (times in simulation days)."""
        columns = {
            "patient": np.frombuffer(self.patient, dtype=np.int64).copy(),
            "level": np.frombuffer(self.level, dtype=np.int16).copy(),
            "source": np.frombuffer(self.source, dtype=np.int8).copy(),
            "route": np.frombuffer(self.route, dtype=np.int16).copy(),
            "status": np.frombuffer(self.status, dtype=np.int8).copy(),
        }
        columns.update({name: np.frombuffer(values, dtype=float).copy() for name, values in self.times.items()})
        return columns

    def day_table(self) -> np.ndarray:
        """Daily rows, shape (days, levels, len(DAY_FIELDS))."""
        return np.asarray(self.days, dtype=float).reshape(-1, self.level_count, len(DAY_FIELDS))

    def state_table(self) -> np.ndarray:
        """Patient states at each day's end, shape (days, len(STATE_FIELDS))."""
        return np.asarray(self.states, dtype=np.int64).reshape(-1, len(STATE_FIELDS))
