"""Scenario comparison: each metric's difference from a base, with paired intervals (CRN)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .analysis import paired_difference, welch_difference
from .outputs import MANIFEST, staged_folder
from .results import Results
from .run import run
from .scenario import Scenario, load_scenario

COMPARISON_FILES = ("comparison.csv", "report.html", "figures", MANIFEST)
"""What a comparison folder holds besides one folder per scenario (whose names must not collide)."""
COMPARISON_COLUMNS = ["scenario", "level", "metric", "base", "alternative", "difference", "ci_low", "ci_high",
                      "relative_change", "clear", "replications", "method"]


def _as_scenario(item: Scenario | str | Path) -> Scenario:
    return item if isinstance(item, Scenario) else load_scenario(item)


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
    found = _differences(base, other, "")
    return ", ".join(found[:most]) + (f" and {len(found) - most} more" if len(found) > most else "")


def _differences(left: Any, right: Any, where: str) -> list[str]:
    if isinstance(left, dict) and isinstance(right, dict):
        return [found for key in dict.fromkeys([*left, *right])
                for found in _differences(left.get(key), right.get(key), f"{where}{key}.")]
    return [] if left == right else [f"{where[:-1]}={right}"]


def _by_metric(results: Results) -> dict[tuple[str, str], pd.Series]:
    """Each (level, metric)'s values indexed by replication, in the results' own order."""
    table = results.replications
    return {key: group.set_index("replication")["value"]
            for key, group in table.groupby(["level", "metric"], sort=False)}


def comparison_table(base: Results, alternatives: dict[str, Results], paired: bool = True,
                     confidence: float = 0.95) -> pd.DataFrame:
    """Each alternative's difference from ``base`` per level and metric, with an interval.

    ``paired``: replication ``r`` of every scenario used the same random numbers, so the
    interval comes from the per-replication differences (narrow); otherwise Welch's interval
    for independent runs. ``clear`` is True when the interval excludes 0.
    """
    difference = paired_difference if paired else welch_difference
    method = "paired (common random numbers)" if paired else "independent (Welch)"
    base_values = _by_metric(base)
    rows = []
    for label, results in alternatives.items():
        alt_values = _by_metric(results)
        for (level, metric), before in base_values.items():
            after = alt_values[(level, metric)].reindex(before.index).to_numpy()
            mean, low, high, _, count = difference(before.to_numpy(), after, confidence)
            base_mean = float(np.nanmean(before)) if before.notna().any() else np.nan
            alt_mean = float(np.nanmean(after)) if np.isfinite(after).any() else np.nan
            relative = mean / base_mean if base_mean else np.nan
            clear = bool(np.isfinite(low) and (low > 0 or high < 0))
            rows.append((label, level, metric, base_mean, alt_mean, mean, low, high, relative, clear, count, method))
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


def run_all(base: Scenario | str | Path, *alternatives: Scenario | str | Path, replications: int | None = None,
            seed: int | None = None, common_random_numbers: bool = True, progress: bool = True,
            **run_options: Any) -> dict[str, Results]:
    """Run the base and every alternative on the same replications; the base comes first.

    With ``common_random_numbers`` every scenario runs on the base's seed (or ``seed``), so
    replication ``r`` sees the same patients everywhere; without it each alternative gets a
    seed of its own (independent runs, for teaching what CRN buys).
    """
    scenarios = [_as_scenario(item) for item in (base, *alternatives)]
    seed = scenarios[0].run.seed if seed is None else seed
    replications = scenarios[0].run.replications if replications is None else replications
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
            **run_options: Any) -> pd.DataFrame:
    """Compare scenarios (objects or files) with a base, on common random numbers.

    Returns one row per alternative, level and metric: ``scenario, level, metric, base,
    alternative, difference, ci_low, ci_high, relative_change, clear, replications, method``.
    ``difference`` is alternative minus base; ``ci_low``/``ci_high`` a 95% paired interval;
    ``clear`` marks differences whose interval excludes zero (clearly real).
    """
    results = run_all(base, *alternatives, replications=replications, seed=seed,
                      common_random_numbers=common_random_numbers, progress=progress, **run_options)
    base_label, *others = results
    return comparison_table(results[base_label], {label: results[label] for label in others},
                            paired=common_random_numbers)


def write_comparison(folder: str | Path, table: pd.DataFrame, results: dict[str, Results],
                     sources: list[str | Path], overwrite: bool = False) -> Path:
    """Write ``comparison.csv`` and each scenario's results folder, whole or not at all.

    ``overwrite``: replace a folder continuum did not write; see :meth:`Results.to_folder`.
    """
    inputs = [*sources, *(outcome.scenario.source for outcome in results.values())]
    with staged_folder(folder, "compare", inputs, overwrite) as staging:
        table.to_csv(staging / "comparison.csv", index=False)
        for name, outcome in zip(_folder_names(sources, list(results.values())), results.values(), strict=True):
            outcome.to_folder(staging / name, report=True)
        from .report import comparison_section, write_report  # the report draws on plots and results

        compared, drawn = comparison_section(table)
        write_report(next(iter(results.values())), staging, [compared], drawn)
    return Path(folder)


def _folder_names(sources: list[str | Path], outcomes: list[Results]) -> list[str]:
    """A folder name per scenario: its file stem, prefixed by its place in the list when stems repeat
    or one would collide with a file the comparison writes (``report.html.yaml``)."""
    names = [_folder_name(source, outcome) for source, outcome in zip(sources, outcomes, strict=True)]
    counts = Counter(names)
    taken = {name.casefold() for name in (*COMPARISON_FILES, "", ".", "..")}
    chosen = []
    for index, name in enumerate(names):
        unique = name if counts[name] == 1 else f"{index}_{name}"
        while unique.casefold() in taken:   # case-blind file systems take Report.html for report.html
            unique = f"{index}_{unique}"
        taken.add(unique.casefold())
        chosen.append(unique)
    return chosen


def _folder_name(source: str | Path, outcome: Results) -> str:
    if isinstance(source, str | Path) and Path(source).suffix in (".yaml", ".yml"):
        return Path(source).stem
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in outcome.scenario.name)[:60]
