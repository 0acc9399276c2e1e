"""The bundled regional scenario with patient groups: it validates, runs, and its groups keep their places."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import SCENARIOS
from test_bad_input import invoke

REGIONAL_GROUPS = SCENARIOS / "regional_groups.yaml"


def test_regional_groups_validates_runs_and_keeps_adolescents_in_their_own_php(tmp_path):
    checked = invoke("validate", REGIONAL_GROUPS)
    assert checked.exit_code == 0 and "valid" in checked.output, checked.output
    done = invoke("run", REGIONAL_GROUPS, "--out", tmp_path / "out", "--replications", "2", "--jobs", "1",
                  "--set", "run.days=365", "--quiet", "--no-report")
    assert done.exit_code == 0, done.output
    groups = pd.read_csv(tmp_path / "out" / "groups.csv")
    summary = pd.read_csv(tmp_path / "out" / "summary.csv")
    assert set(groups["group"]) == {"adult_mh", "adult_sud", "adolescent"}

    admitted = groups.query("metric == 'admissions_per_year' and mean > 0")
    assert set(admitted.query("level == 'php_adolescent'")["group"]) == {"adolescent"}
    assert set(admitted.query("level == 'php'")["group"]) == {"adult_mh", "adult_sud"}

    census = groups.query("metric == 'census_mean' and level != 'all'").groupby("level")["mean"].sum()
    level_census = summary.query("metric == 'census_mean' and level != 'all'").set_index("level")["mean"]
    assert census.to_dict() == pytest.approx(level_census.to_dict(), rel=1e-9)
