"""Scenario comparison: each metric's difference from a base, with paired intervals (CRN)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .analysis import paired_difference, t_interval, welch_difference
from .metrics import METRICS
from .results import Results
from .run import run
from .scenario import Scenario, changed_keys
from .scenario_file import load_scenario
from .settings import SettingsError, check_run_options, check_settings

COMPARISON_COLUMNS = ["scenario", "level", "metric", "base", "alternative", "difference", "ci_low", "ci_high",
                      "relative_change", "clear", "replications", "method",
                      "base_ci_low", "base_ci_high", "alternative_ci_low", "alternative_ci_high"]
"""The columns of :func:`compare`'s table and ``comparison.csv``; new ones are added at the end."""


def _as_scenarios(items: tuple[Any, ...]) -> list[Scenario]:
    """Scenarios as given, or loaded from their files; anything else is refused before anything runs."""
    names = ["base", *(f"alternative {index}" for index in range(1, len(items)))]
    problems = [f"{name} is {type(item).__name__}: should be a Scenario or a scenario file's path"
                for name, item in zip(names, items, strict=True) if not isinstance(item, Scenario | str | Path)]
    if problems:
        raise SettingsError("sim.compare", problems)
    return [item if isinstance(item, Scenario) else load_scenario(item) for item in items]


def _label(scenario: Scenario, taken: set[str], base: Scenario) -> str:
    """A short unique name for a scenario: its name; when names repeat, its file stem, else what
    it changes from the base (``levels.php.capacity=110``)."""
    label = scenario.name
    if label in taken and scenario.source not in ("<dict>", base.source):
        label = Path(scenario.source).stem
    if label in taken:
        label = _changes(base.to_dict(), scenario.to_dict()) or label
    while label in taken:
        label += "'"
    taken.add(label)
    return label


def _changes(base: dict, other: dict, most: int = 2) -> str:
    """The keys where ``other`` differs from ``base``, as ``key=value`` (the first ``most``)."""
    found = [f"{key}={after}" for key, _, after in changed_keys(base, other)]
    return ", ".join(found[:most]) + (f" and {len(found) - most} more" if len(found) > most else "")


def _by_metric(results: Results, by_group: bool = False) -> dict[tuple[str, ...], pd.Series]:
    """Each (level, metric)'s values indexed by replication, in the results' own order; with ``by_group``
    each (group, level, metric)'s."""
    table = results.group_replications if by_group else results.replications
    keys = ["group", "level", "metric"] if by_group else ["level", "metric"]
    if table is None:
        return {}
    return {key: group.set_index("replication")["value"] for key, group in table.groupby(keys, sort=False)}


NOT_COMPARED = {True: "not compared: in the base only", False: "not compared: in the alternative only"}
"""The ``method`` of a row whose level (or metric) only one of the two scenarios has, e.g. a new crisis unit."""


def comparison_table(base: Results, alternatives: dict[str, Results], paired: bool = True,
                     confidence: float = 0.95, groups: bool = False) -> pd.DataFrame:
    """Each alternative's difference from ``base`` per level and metric, with an interval.

    ``paired``: replication ``r`` of every scenario used the same random numbers, so the
    interval comes from the per-replication differences (narrow); otherwise Welch's interval
    for independent runs. ``clear`` is True when the interval excludes 0. A level only one of
    the two has (a new unit) keeps its rows with that side's mean, no difference, and a
    ``method`` saying which side has it (:data:`NOT_COMPARED`). Each side's own mean comes with
    its own interval across its replications (``base_ci_low`` ... ``alternative_ci_high``). With
    ``groups``, the same per patient group, in a last column ``group``.
    """
    base_values = _by_metric(base, groups)
    rows = []
    for label, results in alternatives.items():
        alt_values = _by_metric(results, groups)
        for key, before in base_values.items():
            row = (_compared(label, key[-2:], before, alt_values[key], paired, confidence) if key in alt_values
                   else _one_side(label, key[-2:], before, True, confidence))
            rows.append(row + key[:-2])
        rows += [_one_side(label, key[-2:], after, False, confidence) + key[:-2] for key, after in alt_values.items()
                 if key not in base_values]
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS + (["group"] if groups else []))


def _compared(label: str, key: tuple[str, ...], before: pd.Series, after_values: pd.Series, paired: bool,
              confidence: float) -> tuple:
    difference = paired_difference if paired else welch_difference
    method = "paired (common random numbers)" if paired else "independent (Welch)"
    after = after_values.reindex(before.index).to_numpy()
    mean, low, high, _, count = difference(before.to_numpy(), after, confidence)
    base_mean, *base_interval = _own(before.to_numpy(), key[1], confidence)
    alt_mean, *alt_interval = _own(after, key[1], confidence)
    relative = mean / base_mean if base_mean else np.nan
    clear = bool(np.isfinite(low) and (low > 0 or high < 0))
    return (label, *key, base_mean, alt_mean, mean, low, high, relative, clear, count, method, *base_interval,
            *alt_interval)


def _one_side(label: str, key: tuple[str, ...], values: pd.Series, in_base: bool, confidence: float) -> tuple:
    own = _own(values.to_numpy(), key[1], confidence)
    base, alternative = (own, (np.nan,) * 3) if in_base else ((np.nan,) * 3, own)
    return (label, *key, base[0], alternative[0], np.nan, np.nan, np.nan, np.nan, False, 0, NOT_COMPARED[in_base],
            *base[1:], *alternative[1:])


def _own(values: np.ndarray, metric: str, confidence: float) -> tuple[float, float, float]:
    """One scenario's mean and interval across its replications, as in its ``summary`` (low end clipped at
    the metric's lower bound)."""
    mean, low, high, _, _ = t_interval(values, confidence)
    return mean, max(low, METRICS[metric].lower_bound) if np.isfinite(low) else low, high


def not_compared(table: pd.DataFrame, base_label: str) -> list[str]:
    """``level (in X, not in Y)`` for each level a comparison could not pair, as the reader should be told."""
    rows = table[table["method"].isin(NOT_COMPARED.values())]
    found = dict.fromkeys(zip(rows["scenario"], rows["level"], rows["method"] == NOT_COMPARED[True], strict=True))
    return [f"{level} (in {base_label if in_base else label}, not in {label if in_base else base_label})"
            for label, level, in_base in found]


def run_all(base: Scenario | str | Path, *alternatives: Scenario | str | Path, replications: int | None = None,
            seed: int | None = None, common_random_numbers: bool = True, progress: bool = True,
            **run_options: Any) -> dict[str, Results]:
    """Run the base and every alternative on the same replications; the base comes first.

    With ``common_random_numbers`` every scenario runs on the base's seed (or ``seed``), so
    replication ``r`` sees the same patients everywhere; without it each alternative gets a
    seed of its own (independent runs, for teaching what CRN buys).
    """
    given = check_settings("sim.compare", replications=replications, seed=seed)
    run_options = check_run_options("sim.compare", run_options)
    scenarios = _as_scenarios((base, *alternatives))
    seed = scenarios[0].run.seed if given["seed"] is None else given["seed"]
    replications = scenarios[0].run.replications if given["replications"] is None else given["replications"]
    taken: set[str] = set()
    results = {}
    for index, scenario in enumerate(scenarios):
        own_seed = seed if common_random_numbers or index == 0 else int(
            np.random.SeedSequence([seed, index]).generate_state(1)[0])
        results[_label(scenario, taken, scenarios[0])] = run(scenario, replications=replications, seed=own_seed,
                                               progress=progress, **run_options)
    return results


def compare(base: Scenario | str | Path, *alternatives: Scenario | str | Path, replications: int | None = None,
            seed: int | None = None, common_random_numbers: bool = True, progress: bool = True,
            groups: bool = False, **run_options: Any) -> pd.DataFrame:
    """Compare scenarios (objects or files) with a base, on common random numbers.

    Returns one row per alternative, level and metric: ``scenario, level, metric, base,
    alternative, difference, ci_low, ci_high, relative_change, clear, replications, method,
    base_ci_low, base_ci_high, alternative_ci_low, alternative_ci_high``.
    ``difference`` is alternative minus base; ``ci_low``/``ci_high`` a 95% paired interval;
    ``clear`` marks differences whose interval excludes zero (clearly real). ``base`` and
    ``alternative`` are each scenario's own mean, and ``base_ci_*``/``alternative_ci_*`` its own
    95% interval across replications, as in its ``Results.summary`` (for a table or a figure of
    the values themselves). Judge a change by ``ci_low``/``ci_high``, not by whether the two
    scenarios' own intervals overlap: those carry the replication-to-replication noise that the
    pairing cancels, so they overlap even where the difference is clear. A level only one
    scenario has (a new unit) is not compared: its rows carry that scenario's mean and interval
    and a ``method`` saying so. ``groups=True`` compares every patient group instead (scenarios with
    ``groups``): the same columns, per group, level and metric, with the group in a last column ``group``.

    Raises
    ------
    sim.ScenarioError
        A scenario file that cannot be used; a bad setting (``replications=0``, ``jobs=0``, no
        alternative) as its subclass ``sim.settings.SettingsError``, also a ``ValueError``.
    """
    if not alternatives:
        raise SettingsError("sim.compare", ["no alternative given: compare a base with one or more alternatives, "
                                            "e.g. sim.compare(today, more_beds)"])
    if groups:
        ungrouped = [item for item in _as_scenarios((base, *alternatives)) if not item.groups]
        if ungrouped:
            raise SettingsError("sim.compare", [f"groups=True, but {item.name} has no patient groups (a top-level "
                                                "groups mapping)" for item in ungrouped])
    results = run_all(base, *alternatives, replications=replications, seed=seed,
                      common_random_numbers=common_random_numbers, progress=progress, **run_options)
    base_label, *others = results
    return comparison_table(results[base_label], {label: results[label] for label in others},
                            paired=common_random_numbers, groups=groups)


