"""Every metric a run reports, and what it means: the one place a metric's label, unit and rules are written.

Each :class:`Metric` says what the number is (its label and unit in a planner's words, its kind, its
definition as ``scenarios/README.md`` gives it), how the ``all`` row is made from it, the values it
can take, and whether the capacity planner can aim at it (and with which M/M/c figure theory
starts). The results, the intervals, the figures, the report, the planner, the warnings and the
README's metric tables all read it from here; this module imports nothing from ``sim``.

Adding a metric means: count it in the run (``sim.engine`` and ``sim.records``) and compute it in
``sim.results`` (``level_metrics``, or ``system_metrics`` for a system-wide one), add one
``Metric`` to :data:`REGISTRY`, and paste the tables ``python -m sim.metrics`` prints into
``scenarios/README.md``. Nothing else: ``tests/test_metrics.py`` fails until all of these agree.

``monthly.csv`` has metrics of its own (:data:`MONTHLY_METRICS`, computed in ``sim.monthly``): four
of the summary's, taken over a month instead of the measured period, and two counts of a month
(:data:`MONTHLY_REGISTRY`), described here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

DAYS_PER_YEAR = 365.0
"""A year, for every per-year rate: the metrics' and the scenario's referrals."""

Kind = Literal["rate", "count", "time", "share"]
"""``rate``: events a year; ``count``: people or places at a moment (a time-average or the largest), or
events in a month (``monthly.csv``);
``time``: days; ``share``: a fraction (precision is judged relative to it, figures show percent)."""
TotalRule = Literal["none", "sum", "system"]
"""How the ``all`` row is made: ``none`` (per level only), ``sum`` (per level, and ``all`` sums the
levels), ``system`` (only ``all``, the system's own figure)."""


@dataclass(frozen=True)
class Metric:
    """One metric of ``summary.csv``: what it means and the rules for it.

    Attributes
    ----------
    name
        The column value in ``summary.csv`` (``metric``); a public name, never renamed.
    label
        In a planner's words, for figures and report tables: ``90th-percentile wait (days)``.
    unit
        What one of it is, as axes of differences say it (``Change (days)``); it appears in the label.
    kind
        :data:`Kind`.
    description
        The definition, as the README's metric tables give it.
    total
        :data:`TotalRule`: how the ``all`` row is made.
    lower_bound
        No value is below it: the interval's lower end is clipped at it, and targets start there.
    upper_bound
        The most a target can ask for (1 for a share); ``None`` for no limit. Intervals are not
        clipped at it: occupancy, for one, can briefly exceed 1 after a capacity cut.
    target_above_lower_bound
        A target must be above ``lower_bound``, not at it (no occupancy target can be 0).
    plannable
        The capacity planner takes targets for it (per-level metrics only).
    theory
        The figure of :class:`sim.theory.QueueFigures` that gives it for an M/M/c queue, from which
        the planner's search starts; ``None`` when there is no formula (simulation alone decides).
        ``wait_percentile_days`` is taken at :attr:`quantile`, ``wait_over`` at the run's wait target.
    quantile
        For a percentile of waits, which one (0.9 for ``wait_p90_days``).
    headline
        Its column in the headline table of its rows (per level, or ``all``), from 1; ``None`` if not shown.
    """

    name: str
    label: str
    unit: str
    kind: Kind
    description: str
    total: TotalRule = "none"
    lower_bound: float = 0.0
    upper_bound: float | None = None
    target_above_lower_bound: bool = False
    plannable: bool = True
    theory: str | None = None
    quantile: float | None = None
    headline: int | None = None

    def __post_init__(self) -> None:
        problems = []
        if self.kind not in get_args(Kind):
            problems.append(f"kind {self.kind!r} is not one of {get_args(Kind)}")
        if self.total not in get_args(TotalRule):
            problems.append(f"total {self.total!r} is not one of {get_args(TotalRule)}")
        if self.plannable and not self.per_level:
            problems.append("the planner plans per level: a system metric is not plannable")
        if (self.theory == "wait_percentile_days") != (self.quantile is not None):
            problems.append("a quantile goes with theory 'wait_percentile_days', and only with it")
        if problems:
            raise ValueError(f"metric {self.name}: {'; '.join(problems)}")

    @property
    def per_level(self) -> bool:
        """Reported for every level (else only for ``all``)."""
        return self.total != "system"

    @property
    def in_all(self) -> bool:
        """Reported for level ``all``."""
        return self.total != "none"

    @property
    def is_share(self) -> bool:
        """A fraction: its precision is purely relative, its figures show percent."""
        return self.kind == "share"


_WAITS = ("of everyone who left the waitlist in the period: patients admitted, with zero waits included, **and "
          "people who gave up, counted at the time they gave up** (they waited at least that long; a censored "
          "wait). A level cannot meet a wait target by making people give up. People still waiting when the run "
          "ends are not counted (a waitlist that keeps growing is flagged instead).")
_PERCENTILE = (" Read from a histogram of the waits in buckets 0.2% wide, so that a run needs the same memory however "
               "long: within 0.1% of the exact percentile (waits under 9 seconds count as none).")

REGISTRY: tuple[Metric, ...] = (
    # per level, in the order of summary.csv's rows
    Metric("referrals_per_year", "Referrals per year", "referrals per year", "rate",
           "New referrals from the community that arrived in the period (before any are turned away).", "sum"),
    Metric("arrivals_per_year", "Arrivals per year", "arrivals per year", "rate",
           "Everyone who sought a place here in the period: referrals, transfers from other levels, relapses, "
           "people who gave up waiting elsewhere, and (at the start) the initial waitlist."),
    Metric("admissions_per_year", "Admissions per year", "admissions per year", "rate",
           "Admissions in the period.", "sum", headline=1),
    Metric("census_mean", "Average patients in care", "patients", "count",
           "Time-average number of occupied places, held patients included.", theory="census_mean"),
    Metric("occupancy", "Occupancy", "share of places", "share",
           "`census_mean` / time-average capacity. Can exceed 1 briefly after a capacity cut.",
           upper_bound=1.0, target_above_lower_bound=True, theory="occupancy", headline=2),
    Metric("waitlist_mean", "Average waitlist (people)", "people", "count",
           "Time-average number of patients waiting for a place here, wherever they wait (at home, or held in a "
           "place at another level).", "sum", theory="waitlist_mean", headline=3),
    Metric("waitlist_max", "Longest waitlist (people)", "people", "count",
           "Largest waitlist at any moment in the period."),
    Metric("wait_mean_days", "Average wait (days)", "days", "time",
           f"Mean wait (arrival on the waitlist to admission) {_WAITS}", theory="wait_mean_days", headline=4),
    Metric("wait_p50_days", "Median wait (days)", "days", "time",
           "Median of the waits of `wait_mean_days`." + _PERCENTILE, theory="wait_percentile_days", quantile=0.5),
    Metric("wait_p90_days", "90th-percentile wait (days)", "days", "time",
           "90th percentile of the waits of `wait_mean_days`." + _PERCENTILE, theory="wait_percentile_days",
           quantile=0.9, headline=5),
    Metric("wait_over_target_share", "Share waiting longer than the target", "share of waits", "share",
           "Share of the waits of `wait_mean_days` (admissions and give-ups in the period) longer than "
           "`run.wait_target_days`.", upper_bound=1.0, theory="wait_over"),
    Metric("blocked_days_per_year", "Patient-days held per year", "patient-days held per year", "rate",
           "Patient-days in the period spent held here after the stay ended, waiting for the next level (bed "
           "blocking).", "sum", headline=6),
    Metric("los_mean_days", "Average stay (days)", "days", "time",
           "Mean treatment stay of stays that ended in the period (admission to end of treatment, held time "
           "excluded)."),
    Metric("gave_up_per_year", "Gave up waiting per year", "gave up waiting per year", "rate",
           "Patients who left this waitlist in the period because their patience ran out.", "sum"),
    Metric("turned_away_per_year", "Turned away per year", "turned away per year", "rate",
           "Arrivals in the period who found a `turn_away` level full.", "sum"),
    Metric("capacity_mean", "Average staffed places", "places", "count",
           "Time-average staffed places: the places in use, which the staff on hand can run. The scenario's "
           "`capacity` key gives the built places; the two differ when `staff_available` cannot run every "
           "place (`closed_places_mean`), and the mean follows a capacity schedule."),
    Metric("time_in_place_mean_days", "Average time in place (days)", "days", "time",
           "Mean time in the place (stay plus held time) of patients who left the place in the period. By "
           "Little's law `census_mean` = admissions per day x this."),
    Metric("closed_places_mean", "Average closed places", "places", "count",
           "Time-average places closed for want of staff (`staff_available`); 0 without it."),
    Metric("wait_p95_days", "95th-percentile wait (days)", "days", "time",
           "95th percentile of the waits of `wait_mean_days`." + _PERCENTILE, theory="wait_percentile_days",
           quantile=0.95),
    Metric("gave_up_or_turned_away_share", "Share of arrivals who gave up or were turned away", "share of arrivals",
           "share", "Share of the level's arrivals in the period who gave up waiting or were turned away "
           "(`(gave_up + turned_away) / arrivals`).", upper_bound=1.0),
    # the system as a whole (level all), before the sums of level metrics in summary.csv
    Metric("relapses_per_year", "Relapses per year", "relapses per year", "rate",
           "Returns to care from the community (arrivals by relapse) in the period.", "system", plannable=False,
           headline=2),
    Metric("readmit_30d_share", "Readmitted within 30 days", "share of discharges", "share",
           "Of the patients leaving the **first** level (most intensive, usually inpatient) in the period, early "
           "enough to follow for 30 days (`left` before `days - 30`), the share admitted to that level again "
           "within 30 days, by any route.", "system", upper_bound=1.0, plannable=False, headline=3),
    Metric("patients_in_care_mean", "Average patients in care", "patients", "count",
           "Time-average number of patients in a place at any level (held included).", "system", plannable=False,
           headline=1),
)
"""Every metric: the per-level ones in ``summary.csv``'s order, then the system's own."""

METRICS: dict[str, Metric] = {metric.name: metric for metric in REGISTRY}
"""Each metric by name."""
LABELS: dict[str, str] = {metric.name: metric.label for metric in REGISTRY}
"""Each metric's label by name (for renaming table columns)."""

LEVEL_METRICS = tuple(metric.name for metric in REGISTRY if metric.per_level)
"""The rows of every level in ``summary.csv``, in order."""
SYSTEM_TOTALS = tuple(metric.name for metric in REGISTRY if metric.total == "system")
"""The ``all`` rows that are the system's own figures."""
SUMMED_METRICS = tuple(metric.name for metric in REGISTRY if metric.total == "sum")
"""The ``all`` rows that sum the levels."""
ALL_METRICS = SYSTEM_TOTALS + SUMMED_METRICS
"""The rows of level ``all`` in ``summary.csv``, in order: the system's own figures, then the sums."""
HEADLINE_METRICS = tuple(metric.name for metric in sorted((m for m in REGISTRY if m.headline and m.per_level),
                                                          key=lambda m: m.headline or 0))
"""The per-level columns of the headline table (terminal, notebook, report), in order."""
SYSTEM_METRICS = tuple(metric.name for metric in sorted((m for m in REGISTRY if m.headline and not m.per_level),
                                                        key=lambda m: m.headline or 0))
"""The columns of the headline table of level ``all``, in order."""
PLANNABLE_METRICS = tuple(metric.name for metric in REGISTRY if metric.plannable)
"""The metrics the capacity planner takes targets for."""

MONTHLY_REGISTRY: tuple[Metric, ...] = (
    Metric("arrivals", "Arrivals in the month", "arrivals", "count",
           "Everyone who sought a place here in the month (as `arrivals_per_year` counts them), a count, not a "
           "yearly rate.", plannable=False),
    Metric("admissions", "Admissions in the month", "admissions", "count",
           "Admissions in the month, a count, not a yearly rate.", plannable=False),
)
"""The counts of a month that ``monthly.csv`` adds to the summary's metrics (never in ``summary.csv``)."""
MONTHLY_METRICS = ("arrivals", "admissions", "census_mean", "waitlist_mean", "wait_mean_days", "wait_p90_days")
"""The metrics of ``monthly.csv``, in its order: the summary's, with the month as the period, and the
month's counts of :data:`MONTHLY_REGISTRY`."""
MONTHLY: dict[str, Metric] = {name: METRICS.get(name) or next(m for m in MONTHLY_REGISTRY if m.name == name)
                              for name in MONTHLY_METRICS}
"""Each metric of ``monthly.csv`` by name."""


# ---------------------------------------------------------------------------- the README's tables
TABLE_HEADER = "| metric | unit | definition |\n|---|---|---|"


def readme_tables() -> tuple[str, str]:
    """The README's metric tables as Markdown: per level, then for level ``all``."""
    level_rows = [_row(metric.name, metric.unit, metric.description) for metric in REGISTRY if metric.per_level]
    all_rows = [_row(name, METRICS[name].unit, _all_text(METRICS[name])) for name in ALL_METRICS]
    return "\n".join([TABLE_HEADER, *level_rows]), "\n".join([TABLE_HEADER, *all_rows])


def monthly_readme_table() -> str:
    """The README's table of ``monthly.csv``'s metrics as Markdown."""
    rows = [_row(name, MONTHLY[name].unit, _monthly_text(MONTHLY[name])) for name in MONTHLY_METRICS]
    return "\n".join([TABLE_HEADER, *rows])


def _monthly_text(metric: Metric) -> str:
    if metric in MONTHLY_REGISTRY:
        return metric.description
    return f"`{metric.name}` as defined above, with the month for the period (\"in the period\" means in the month)."


def _row(name: str, unit: str, text: str) -> str:
    return f"| `{name}` | {unit} | {text} |"


def _all_text(metric: Metric) -> str:
    return f"Sum over the levels of `{metric.name}`." if metric.total == "sum" else metric.description


if __name__ == "__main__":   # python -m sim.metrics: the tables to paste into scenarios/README.md
    print("\n\n".join([*readme_tables(), monthly_readme_table()]))
