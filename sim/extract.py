"""A region's extract of episodes of care: read and cleaned for fitting, or written from a simulation run.

An extract is a CSV (or a DataFrame), one row per episode: a patient's wait and stay at one level.
Its columns are ``patient, level, referred, admitted, discharged, discharge_to`` and optionally
``group``; dates are calendar dates (``2024-03-01``) or date-times (``2024-03-01 14:30``). Rows that
cannot be used are set aside with their line number and the reason, so a planner can fix the source
system's query rather than guess what the fit ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from .messages import describe_value, did_you_mean
from .scenario import EXITS

REQUIRED = ("patient", "level", "referred", "admitted", "discharged", "discharge_to")
OPTIONAL = ("group",)
EXIT_NAMES = EXITS
"""What ``discharge_to`` may say besides a level: the patient left the continuum."""
DATES = ("referred", "admitted", "discharged")
ISO_DATE = r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
DATE_FORMS = "YYYY-MM-DD or YYYY-MM-DD HH:MM[:SS]"
MAX_BYTES = 2 * 1024**3
"""The largest file read: an extract of a few million episodes is well under it; a bigger file is a
mistake (a database dump, a wrong file) that would fill the memory before saying so."""
DAY = pd.Timedelta(days=1)
EPOCH = pd.Timestamp("1970-01-01")
AFTER_AS_OF = "after as-of"
EXAMPLE_ROWS = 10
HINTS = {
    "unparsable date": f"dates are {DATE_FORMS}",
    "unknown level": "map the extract's labels with --levels 'Their Label=level' or 'levels:' in the mapping YAML",
    "unknown discharge_to": f"discharge_to is a level or one of {', '.join(EXIT_NAMES)}; map labels with --levels",
}
"""What to do about a reason, added when most rows fail for it."""


class ExtractError(Exception):
    """An extract (or its mapping) that cannot be used: the message names the file, the column or rows,
    what was wrong and what is allowed."""


# ---------------------------------------------------------------------------- mapping
@dataclass(frozen=True)
class Mapping:
    """How a region's extract names things, for those names that differ from ours.

    ``columns`` maps our column name to the extract's (``{"admitted": "AdmitDate"}``); ``labels`` maps
    the extract's label to our name in ``level`` and ``discharge_to`` (``{"Acute Psych": "inpatient",
    "AMA": "dropped_out"}``).
    """

    columns: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        ours = [*REQUIRED, *OPTIONAL]
        for name in self.columns:
            if name not in ours:
                raise ExtractError(f"the column mapping (ours=theirs) names '{name}', which is not one of our columns "
                                   f"({', '.join(ours)}): {did_you_mean(name, ours)}our name goes before '='")


def parse_pairs(text: str, what: str) -> dict[str, str]:
    """``"admitted=AdmitDate,discharged=DischDate"`` as a dict; ``what`` names the option in messages.

    Pairs are joined by commas; names may hold spaces (``"Acute Psych=inpatient"``) but not commas
    or ``=`` (put such labels in the mapping YAML).
    """
    pairs: dict[str, str] = {}
    for piece in text.split(","):
        if not piece.strip():
            continue
        key, equals, value = (part.strip() for part in piece.partition("="))
        if not equals or not key or not value or "=" in value:
            raise ExtractError(f"{what}: '{piece.strip()}' is not a pair NAME=VALUE; give pairs joined by commas "
                               f"(admitted=AdmitDate,discharged=DischDate or 'Acute Psych=inpatient,PHP=php')")
        if key in pairs:
            raise ExtractError(f"{what}: '{key}' is given twice ({key}={pairs[key]} and {key}={value})")
        pairs[key] = value
    return pairs


def read_mapping(path: str | Path) -> Mapping:
    """The mapping YAML a user keeps beside the extract: ``columns:`` (ours: theirs) and ``levels:`` (theirs: ours)."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ExtractError(f"{path}: cannot read the mapping: {error}") from None
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise ExtractError(f"{path}: a mapping file holds 'columns:' and 'levels:' mappings, "
                           f"not {describe_value(data)}")
    for key in data:
        if key not in ("columns", "levels"):
            raise ExtractError(f"{path}: unknown key '{key}': a mapping file holds 'columns:' (ours: theirs) and "
                               f"'levels:' (theirs: ours); {did_you_mean(str(key), ['columns', 'levels'])}")
    try:
        return Mapping(_pairs_in(data.get("columns"), path, "columns"), _pairs_in(data.get("levels"), path, "levels"))
    except ExtractError as error:
        raise ExtractError(f"{path}: {error}") from None


def _pairs_in(value: Any, path: str | Path, key: str) -> dict[str, str]:
    """One of the mapping file's two mappings, with names and labels as text."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ExtractError(f"{path}: '{key}' must be a mapping (NAME: VALUE on each line), not {describe_value(value)}")
    pairs = {}
    for name, target in value.items():
        if not (_is_name(name) and _is_name(target)):
            raise ExtractError(f"{path}: {key}: '{name}: {describe_value(target)}' must map a name to a name "
                               f"(quote labels like 'yes', 'no' or 'null')")
        pairs[str(name).strip()] = str(target).strip()
    return pairs


def _is_name(value: Any) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool) and str(value).strip() != ""


# ---------------------------------------------------------------------------- the cleaned extract
@dataclass(frozen=True)
class Extract:
    """The usable episodes of an extract, their times in days from its start, and the rows set aside.

    Attributes
    ----------
    episodes
        One row per usable episode, sorted by patient then referred: ``row`` (the line of the CSV
        file, the header being line 1; for a DataFrame its position + 2 likewise), ``patient``,
        ``level`` (our name), ``referred``, ``admitted``, ``discharged`` (days since ``start``, NaN
        when empty: not admitted, or still in care or waiting at ``as_of``), ``discharge_to`` (``""``
        when empty) and, when the extract has one, ``group``.
    start, as_of
        Day 0 (midnight of the extract's first day) and the extract's last date: it holds everything
        that happened up to the end of that day.
    problems
        One row per row set aside: ``row, reason, detail`` (the value that was wrong).
    source
        The file as given, or ``"<DataFrame>"``.
    resolution_days
        1.0 when every time is a calendar date (or a date-time at midnight, as exports of date
        columns write them), 0.0 when any has a time of day.
    """

    episodes: pd.DataFrame
    start: pd.Timestamp
    as_of: pd.Timestamp
    problems: pd.DataFrame
    source: str
    resolution_days: float

    @property
    def as_of_day(self) -> float:
        """Days from ``start`` to the end of the as-of date."""
        return float((self.as_of - self.start) / DAY + 1)

    @property
    def levels(self) -> tuple[str, ...]:
        """The levels the episodes are at, sorted."""
        return tuple(sorted(self.episodes["level"].unique()))

    @property
    def groups(self) -> tuple[str, ...] | None:
        """The patient groups, sorted; ``None`` when the extract has no ``group`` column."""
        return tuple(sorted(self.episodes["group"].unique())) if "group" in self.episodes else None

    def cut(self, as_of: Any) -> Extract:
        """The extract as it stood at an earlier as-of date (for a back-test).

        Episodes referred after it are dropped; admissions and discharges after it are cleared (with
        ``discharge_to``), so those episodes are open, as they were that day. ``problems`` are kept.
        """
        day = _as_date(as_of, "as_of")
        if not self.start <= day <= self.as_of:
            raise ExtractError(f"{self.source}: cannot cut at {day.date()}: the extract runs from "
                               f"{self.start.date()} to {self.as_of.date()}")
        return replace(self, episodes=_open_at(self.episodes, (day - self.start) / DAY + 1), as_of=day)

    def problem_counts(self) -> pd.DataFrame:
        """``reason, rows, example_rows``: the rows set aside, counted by reason, most first."""
        return problem_counts(self.problems)


def problem_counts(problems: pd.DataFrame) -> pd.DataFrame:
    """The problem rows counted by reason (most first), with the first row numbers of each as examples."""
    by_reason = problems.groupby("reason", sort=False)["row"]
    counts = pd.DataFrame({
        "reason": list(by_reason.groups),
        "rows": by_reason.size().to_numpy(),
        "example_rows": [", ".join(map(str, rows.iloc[:EXAMPLE_ROWS])) for _, rows in by_reason],
    })
    return counts.sort_values("rows", ascending=False, kind="stable").reset_index(drop=True)


def _open_at(episodes: pd.DataFrame, end_day: float) -> pd.DataFrame:
    """Episodes as known at ``end_day``: later referrals dropped, later admissions and discharges cleared."""
    known = episodes[episodes["referred"] < end_day].copy()
    for column in ("admitted", "discharged"):
        known[column] = known[column].where(known[column] < end_day)
    known["discharge_to"] = known["discharge_to"].where(known["discharged"].notna(), "")
    return known.reset_index(drop=True)


# ---------------------------------------------------------------------------- reading
def read_extract(source: str | Path | pd.DataFrame, mapping: Mapping | None = None, *, as_of: Any = None,
                 start: Any = None, levels: Iterable[str] | None = None, most_bad_share: float = 0.5) -> Extract:
    """Read an extract and set aside the rows that cannot be used.

    Parameters
    ----------
    source
        A CSV file (UTF-8, else Latin-1; commas, semicolons or tabs) or a DataFrame. Every value is
        read as text; dates must be ``YYYY-MM-DD`` or ``YYYY-MM-DD HH:MM[:SS]``.
    mapping
        The extract's own column names and labels (:class:`Mapping`, :func:`read_mapping`).
    as_of
        The extract's end date; default its last date. Episodes referred after it are set aside
        (reason ``after as-of``, not counted as bad); admissions and discharges after it are cleared.
    start
        Day 0. By default the extract is taken to hold every episode open at some time between
        ``start`` and ``as_of``: when some episodes were admitted before the first discharge date,
        ``start`` is that date (a region discharges people most days, so it is within a day or so of
        the true start), else the first referral date. This decides which stays the fitting treats
        as already running at the start (left-truncated); taking the first discharge date is safe
        either way, since no episode of the extract ended before it.
    levels
        The allowed level names (from a base scenario); default any label but the exit names.
    most_bad_share
        Stop with :class:`ExtractError` when more than this share of the rows up to ``as_of``
        cannot be used; otherwise they are returned in ``Extract.problems``.

    Rows set aside, one reason each (the first found): missing patient, missing level, missing
    referred, unparsable date, unknown level, unknown discharge_to, missing group, admitted before
    referred, discharge before admission, discharged before referred (not admitted), discharge_to
    without discharge, discharge without discharge_to, after as-of, overlapping stays (the later
    of two stays of a patient at a level whose ``[admitted, discharged)`` overlap).
    """
    mapping = mapping or Mapping()
    raw, name = _load(source)
    table = _our_columns(raw, mapping, name)
    allowed = _allowed_levels(table, mapping, levels, name)
    days, resolution = _parse_dates(table)
    table["reason"], table["detail"] = "", ""
    _check_values(table, days, allowed)
    _check_order(table, days)
    end = _as_of_date(as_of, days, table)
    _flag(table, days["referred"] >= _epoch_day(end) + 1, AFTER_AS_OF, lambda rows: "referred " + rows["referred"])
    _check_overlaps(table, days)
    problems = _problems(table)
    _stop_if_mostly_bad(problems, len(table), name, most_bad_share)
    first = _start_date(start, days.where(days < _epoch_day(end) + 1), table["reason"] == "")
    if first > end:
        raise ExtractError(f"{name}: the start {first.date()} is after the as-of date {end.date()}")
    episodes = _episodes(table, days, _epoch_day(first), _epoch_day(end) + 1)
    return Extract(episodes, first, end, problems, name, resolution)


def _load(source: str | Path | pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Every column as stripped text, indexed by row number (a CSV's line, the header being line 1)."""
    if isinstance(source, pd.DataFrame):
        name = "<DataFrame>"
        raw = pd.DataFrame({str(column).strip(): source[column].astype(str).where(source[column].notna(), "")
                            for column in source.columns})
        raw.index = np.arange(len(source)) + 2
    else:
        name = str(source)
        raw = _read_csv(Path(source), name)
    raw = raw.apply(lambda column: column.str.strip())
    raw = raw[(raw != "").any(axis=1)]   # blank lines and rows of bare commas, as spreadsheets leave them
    if raw.empty:
        raise ExtractError(f"{name}: the extract has no episodes (no rows below the header)")
    return raw, name


def _read_csv(path: Path, name: str) -> pd.DataFrame:
    """The CSV as text, after checks that a wrong file fails with a plain message rather than a pandas error."""
    if not path.is_file():
        raise ExtractError(f"{name}: no such file" if not path.exists() else f"{name}: is a folder, not a CSV file")
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise ExtractError(f"{name}: is {size / 1024**3:.1f} GB, over the {MAX_BYTES // 1024**3} GB an extract may be; "
                           f"export only the columns {', '.join(REQUIRED)} (and group), or a shorter period")
    with path.open("rb") as file:
        head = file.read(65536)
    if not head.strip():
        raise ExtractError(f"{name}: the file is empty: the extract has no episodes")
    if b"\0" in head:
        raise ExtractError(f"{name}: is not a CSV file (it holds binary data); export the extract as CSV text")
    first_line = head.split(b"\n", 1)[0]
    separator = max((b",", b";", b"\t"), key=first_line.count).decode()
    for encoding in ("utf-8-sig", "latin-1"):
        try:
            raw = pd.read_csv(path, dtype=str, keep_default_na=False, sep=separator, encoding=encoding,
                              skip_blank_lines=False)
            break
        except UnicodeDecodeError:
            continue
        except (pd.errors.ParserError, ValueError) as error:
            raise ExtractError(f"{name}: is not a CSV file pandas can read: {str(error).strip()}") from None
    raw.columns = [str(column).strip() for column in raw.columns]
    raw.index = np.arange(len(raw)) + 2
    return raw


def _our_columns(raw: pd.DataFrame, mapping: Mapping, name: str) -> pd.DataFrame:
    """The extract's columns under our names, with the extract's labels turned into our level names."""
    theirs = {ours: mapping.columns.get(ours, ours) for ours in (*REQUIRED, *OPTIONAL)}
    asked = [*REQUIRED, *(ours for ours in OPTIONAL if ours in mapping.columns)]   # a group mapped must be there
    missing = [ours for ours in asked if theirs[ours] not in raw.columns]
    if missing:
        raise ExtractError(_missing_columns(missing, theirs, list(raw.columns), name))
    table = pd.DataFrame({ours: raw[theirs[ours]] for ours in theirs if theirs[ours] in raw.columns})
    for column in ("level", "discharge_to"):
        table[column] = _relabel(table[column], mapping.labels)
    return table


def _missing_columns(missing: list[str], theirs: dict[str, str], columns: list[str], name: str) -> str:
    """The message for required columns not found: which, what the file has, and how to map them."""
    wanted = []
    for ours in missing:
        mapped = f" (mapped to '{theirs[ours]}')" if theirs[ours] != ours else ""
        wanted.append(f"'{ours}'{mapped}{did_you_mean(theirs[ours], columns, in_brackets=True)}")
    shown = ", ".join(f"'{describe_value(column)[1:-1]}'" for column in columns[:20])
    more = f" and {len(columns) - 20} more" if len(columns) > 20 else ""
    found = set(theirs.values()) & set(columns)
    not_csv = "" if found else " (is it an extract CSV? its first line names no column we need)"
    return (f"{name}: the extract has no column {', '.join(wanted)}{not_csv}. Its columns are: {shown}{more}. "
            f"Name the extract's column for each with --columns {missing[0]}=YourColumn, or under 'columns:' "
            f"in the mapping YAML ({missing[0]}: YourColumn). Required: {', '.join(REQUIRED)}.")


def _relabel(values: pd.Series, labels: dict[str, str]) -> pd.Series:
    """``values`` with each label found in ``labels`` replaced (looked up once per distinct value)."""
    if not labels:
        return values
    codes, distinct = pd.factorize(values)
    renamed = np.array([labels.get(value, value) for value in distinct] or [""], dtype=object)
    return pd.Series(renamed[codes], index=values.index, dtype=str)


def _allowed_levels(table: pd.DataFrame, mapping: Mapping, levels: Iterable[str] | None, name: str) -> list[str]:
    """The level names rows may use: the base scenario's, else every label in the extract but the exits."""
    if levels is None:
        return sorted(set(table["level"].unique()) - {"", *EXIT_NAMES})
    allowed = list(levels)
    for label, ours in mapping.labels.items():
        if ours not in [*allowed, *EXIT_NAMES]:
            raise ExtractError(f"{name}: the label mapping sends '{label}' to '{ours}', which is not a level "
                               f"({', '.join(allowed)}) or an exit ({', '.join(EXIT_NAMES)}); "
                               f"{did_you_mean(ours, [*allowed, *EXIT_NAMES])}")
    return allowed


def _parse_dates(table: pd.DataFrame) -> tuple[pd.DataFrame, float]:
    """Each date column in days since 1970 (NaN when empty or unparsable), and the extract's resolution."""
    parsed = {column: pd.to_datetime(table[column].where(table[column].str.fullmatch(ISO_DATE)),
                                     format="ISO8601", errors="coerce") for column in DATES}
    times = pd.concat([parsed[column].dropna() for column in DATES])
    whole_days = bool((times == times.dt.normalize()).all())
    days = pd.DataFrame({column: (parsed[column] - EPOCH) / DAY for column in DATES}, index=table.index)
    return days, 1.0 if whole_days else 0.0


def _epoch_day(date: pd.Timestamp) -> float:
    return float((date - EPOCH) / DAY)


def _as_date(value: Any, what: str) -> pd.Timestamp:
    """A date given as text, ``date`` or ``Timestamp``, as midnight of that day."""
    try:
        date = pd.Timestamp(value)
    except (ValueError, TypeError):
        date = pd.NaT
    if pd.isna(date):
        raise ExtractError(f"{what} '{value}' is not a date ({DATE_FORMS})")
    return date.tz_localize(None).normalize() if date.tzinfo else date.normalize()


# ---------------------------------------------------------------------------- checks
Detail = Callable[[pd.DataFrame], Any]


def _flag(table: pd.DataFrame, where: pd.Series, reason: str, detail: Detail) -> None:
    """Set aside the rows ``where`` holds that have no reason yet: a row reports the first problem found."""
    fresh = where.reindex(table.index, fill_value=False).astype(bool) & (table["reason"] == "")
    if fresh.any():
        table.loc[fresh, "reason"] = reason
        table.loc[fresh, "detail"] = detail(table[fresh])


def _check_values(table: pd.DataFrame, days: pd.DataFrame, allowed: list[str]) -> None:
    """Values missing, unparsable or unknown."""
    for column in ("patient", "level", "referred"):
        _flag(table, table[column] == "", f"missing {column}", lambda rows: "(empty)")
    for column in DATES:
        _flag(table, (table[column] != "") & days[column].isna(), "unparsable date", _value_of(column))
    _flag(table, ~table["level"].isin(allowed), "unknown level", lambda rows: _unknown(rows["level"], allowed))
    destinations = [*allowed, *EXIT_NAMES]
    _flag(table, (table["discharge_to"] != "") & ~table["discharge_to"].isin(destinations), "unknown discharge_to",
          lambda rows: _unknown(rows["discharge_to"], destinations))
    if "group" in table:
        _flag(table, table["group"] == "", "missing group", lambda rows: "(empty)")


def _value_of(column: str) -> Detail:
    """The detail that shows a row's value in ``column``."""
    return lambda rows: f"{column} '" + rows[column] + "'"


def _unknown(values: pd.Series, allowed: list[str]) -> pd.Series:
    """Each unknown name with the closest allowed one (worked out once per distinct name)."""
    def described(value: str) -> str:
        if value in EXIT_NAMES:
            return f"'{value}' is an exit, not a level"
        return f"'{value}'{did_you_mean(value, allowed, in_brackets=True)}; allowed: {', '.join(allowed)}"
    codes, distinct = pd.factorize(values)
    return pd.Series(np.array([described(value) for value in distinct], dtype=object)[codes], index=values.index)


def _check_order(table: pd.DataFrame, days: pd.DataFrame) -> None:
    """Dates out of order, and a discharge without its destination or the other way round."""
    referred, admitted, discharged = (days[column] for column in DATES)
    _flag(table, admitted < referred, "admitted before referred",
          lambda rows: "admitted " + rows["admitted"] + ", referred " + rows["referred"])
    _flag(table, discharged < admitted, "discharge before admission",
          lambda rows: "discharged " + rows["discharged"] + ", admitted " + rows["admitted"])
    _flag(table, admitted.isna() & (discharged < referred), "discharged before referred",
          lambda rows: "discharged " + rows["discharged"] + ", referred " + rows["referred"])
    _flag(table, (table["discharge_to"] != "") & discharged.isna(), "discharge_to without discharge",
          lambda rows: "discharge_to '" + rows["discharge_to"] + "'")
    _flag(table, discharged.notna() & (table["discharge_to"] == ""), "discharge without discharge_to",
          lambda rows: "discharged " + rows["discharged"])


def _as_of_date(as_of: Any, days: pd.DataFrame, table: pd.DataFrame) -> pd.Timestamp:
    """The as-of date given, else the last date of the usable rows."""
    if as_of is not None:
        return _as_date(as_of, "as_of")
    last = days[table["reason"] == ""].max().max()
    return (EPOCH + last * DAY).normalize() if pd.notna(last) else EPOCH


def _check_overlaps(table: pd.DataFrame, days: pd.DataFrame) -> None:
    """The later of two stays of one patient at one level whose ``[admitted, discharged)`` overlap."""
    admitted = (table["reason"] == "") & days["admitted"].notna()
    stays = pd.DataFrame({"patient": table["patient"], "level": table["level"], "admitted": days["admitted"],
                          "ended": days["discharged"].fillna(np.inf)})[admitted]
    stays = stays.sort_values(["patient", "level", "admitted"], kind="stable")
    reach = stays.groupby(["patient", "level"], sort=False)["ended"].cummax()
    open_before = reach.groupby([stays["patient"], stays["level"]], sort=False).shift()
    _flag(table, stays["admitted"] < open_before, "overlapping stays",
          lambda rows: "admitted " + rows["admitted"] + " while an earlier stay at " + rows["level"] + " was open")


def _problems(table: pd.DataFrame) -> pd.DataFrame:
    bad = table[table["reason"] != ""]
    return pd.DataFrame({"row": bad.index.to_numpy(dtype=int), "reason": bad["reason"].to_numpy(dtype=object),
                         "detail": bad["detail"].astype(str).to_numpy(dtype=object)})


def _stop_if_mostly_bad(problems: pd.DataFrame, rows: int, name: str, most_bad_share: float) -> None:
    """Stop when more than ``most_bad_share`` of the rows up to the as-of date (or all) cannot be used."""
    known = rows - int((problems["reason"] == AFTER_AS_OF).sum())
    bad = problems[problems["reason"] != AFTER_AS_OF]
    if known == 0:
        raise ExtractError(f"{name}: every episode was referred after the as-of date: there is nothing to use")
    if len(bad) < known and len(bad) <= most_bad_share * known:
        return
    lines = []
    for reason, count, examples in problem_counts(bad).itertuples(index=False):
        more = ", ..." if count > EXAMPLE_ROWS else ""
        hint = f"; {HINTS[reason]}" if reason in HINTS else ""
        lines.append(f"  - {reason}: {count} row{'s' if count > 1 else ''} ({examples}{more}){hint}"
                     f"{_what_was_wrong(bad[bad['reason'] == reason])}")
    raise ExtractError(f"{name}: {len(bad)} of {known} rows cannot be used (more than {most_bad_share:.0%}), "
                       f"so the fit stops. By reason, with row numbers (the header is row 1):\n" + "\n".join(lines))


def _what_was_wrong(rows: pd.DataFrame, most: int = 3) -> str:
    """The first few different values a reason was given for (the column and value, or the label and the
    allowed levels), so a planner sees what to fix without opening the file."""
    shown = rows[rows["detail"] != "(empty)"].drop_duplicates("detail").head(most)
    if shown.empty:
        return ""
    return "; e.g. " + "; ".join(f"row {row}: {detail}" for row, detail in zip(shown["row"], shown["detail"],
                                                                                strict=True))


def _start_date(start: Any, days: pd.DataFrame, usable: pd.Series) -> pd.Timestamp:
    """Day 0: the date given, else the first discharge date when some episodes were admitted before it
    (the extract begins part-way through their stays), else the first referral date; ``days`` holds
    only what was known at the as-of date."""
    if start is not None:
        return _as_date(start, "start")
    kept = days[usable]
    first_discharge = np.floor(kept["discharged"].min())
    day = first_discharge if (kept["admitted"] < first_discharge).any() else np.floor(kept["referred"].min())
    return EPOCH + day * DAY


def _episodes(table: pd.DataFrame, days: pd.DataFrame, start_day: float, end_day: float) -> pd.DataFrame:
    """The usable rows with times in days from day 0, open where they were still open at the as-of date."""
    usable = table["reason"] == ""
    kept = table[usable]
    episodes = pd.DataFrame({
        "row": kept.index.to_numpy(dtype=int),
        "patient": kept["patient"].to_numpy(),
        "level": kept["level"].to_numpy(),
        **{column: (days.loc[usable, column] - start_day).to_numpy() for column in DATES},
        "discharge_to": kept["discharge_to"].to_numpy(),
        **({"group": kept["group"].to_numpy()} if "group" in kept else {}),
    })
    episodes = _open_at(episodes, end_day - start_day)
    return episodes.sort_values(["patient", "referred", "row"], kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------------------- writing
def episodes_as_extract(episodes: pd.DataFrame, start_date: Any, level_names: Iterable[str],
                        as_of_day: float | None = None) -> pd.DataFrame:
    """A simulation run's episodes written as a region's extract would hold them (a synthetic extract).

    ``episodes`` is ``Results.episodes`` (``sim.run(..., keep_episodes=True)``); only its first
    replication is used. A time ``t`` (days from day 0) becomes the calendar date ``start_date +
    floor(t)``: day resolution, like a real extract. ``referred`` is the arrival, ``admitted`` the
    admission, ``discharged`` the time the patient left the level (its place, or its waitlist
    unadmitted) and ``discharge_to`` where they went; turned-away episodes, which never joined a
    waitlist, are left out, as are episodes over before day 0 (a run's warm-up): an extract holds the
    episodes open at some time from its start. Patients seated on day 0 from today's state, and those
    of a warm-up still open at day 0, keep their dates before ``start_date``. With ``as_of_day`` (a
    whole day), episodes arriving from that day on are dropped and later admissions and departures
    cleared; by default the run's end is the extract's end.
    """
    first = episodes[episodes["replication"] == episodes["replication"].min()]
    kept = first[first["status"] != "turned_away"]
    _check_names(kept, list(level_names))
    end = np.inf if as_of_day is None else as_of_day
    kept = kept[(kept["arrived_day"] < end) & ~(kept["left_day"] < 0)]   # open at some time from day 0 on
    left = kept["left_day"].where(kept["left_day"] < end)
    day0 = _as_date(start_date, "start_date")
    extract = pd.DataFrame({
        "patient": "P" + kept["patient"].astype(str),
        "level": kept["level"],
        "referred": _dates(kept["arrived_day"], day0),
        "admitted": _dates(kept["admitted_day"].where(kept["admitted_day"] < end), day0),
        "discharged": _dates(left, day0),
        "discharge_to": kept["route"].where(left.notna(), ""),
        **({"group": kept["group"]} if "group" in kept else {}),
    })
    order = np.lexsort((kept["arrived_day"].to_numpy(), kept["patient"].to_numpy()))
    return extract.iloc[order].reset_index(drop=True)


def _check_names(episodes: pd.DataFrame, level_names: list[str]) -> None:
    """Refuse a table whose levels or routes the scenario does not name (a table from another scenario)."""
    left = episodes[episodes["left_day"].notna()]
    strange = (set(episodes["level"]) - set(level_names)) | (set(left["route"]) - {*level_names, *EXIT_NAMES})
    if strange:
        raise ValueError(f"the episodes name {', '.join(sorted(strange))}, which are not levels "
                         f"({', '.join(level_names)}) or exits: were they run from another scenario?")


def _dates(days: pd.Series, day0: pd.Timestamp) -> pd.Series:
    """Times in days from day 0 as the calendar dates they fall on, ``""`` where there is none."""
    dates = day0 + pd.to_timedelta(np.floor(days.to_numpy(dtype=float)), unit="D")
    return pd.Series(dates.strftime("%Y-%m-%d"), index=days.index).fillna("")
