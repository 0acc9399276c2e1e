"""A golden file: the small scenario in ``tests/golden/`` must give exactly the numbers kept there.

Every other test checks the model against theory, which leaves room for the numbers to move
without anyone meaning it: a random stream renamed, draws taken in another order, a changed
SimPy internal (the engine relies on ``Environment.schedule`` and on ``_ok``). This test pins
``summary.csv`` and ``daily.csv`` of a short run that exercises every mechanism of the engine
(schedules, growth, seasonality, hold, cohorts, patience, turn-away, staff on hand, relapse,
today's census and waitlist).

When a change is *meant* to move the numbers, say so in the commit and regenerate the files:

    CONTINUUM_REGENERATE_GOLDEN=1 python -m pytest tests/test_golden.py -n 0

then look at ``git diff tests/golden`` before committing it.
"""

from __future__ import annotations

import difflib
import hashlib
import os
from pathlib import Path

import sim

GOLDEN = Path(__file__).resolve().parent / "golden"
SCENARIO = GOLDEN / "small_continuum.yaml"


def _tables() -> dict[str, str]:
    results = sim.run(sim.load_scenario(SCENARIO), jobs=1, progress=False)
    return {"summary.csv": results.summary.to_csv(index=False),
            "daily.csv.sha256": hashlib.sha256(results.daily.to_csv(index=False).encode()).hexdigest() + "\n"}


def test_the_golden_scenario_gives_exactly_the_kept_numbers():
    tables = _tables()
    if os.environ.get("CONTINUUM_REGENERATE_GOLDEN"):
        for name, text in tables.items():
            (GOLDEN / name).write_text(text, encoding="utf-8")
    for name, text in tables.items():
        kept = (GOLDEN / name).read_text(encoding="utf-8")
        changed = list(difflib.unified_diff(kept.splitlines(), text.splitlines(), "kept", "now", lineterm="", n=0))
        assert not changed, f"{name} differs from tests/golden/{name} (see this file's docstring):\n" + "\n".join(
            changed[:20])
