"""Parameter sweeps: the tidy table, common random numbers, resuming a killed sweep, bad grids."""

from __future__ import annotations

import importlib
import json
import shutil

import numpy as np
import pandas as pd
import pytest
from conftest import SCENARIOS

import sim
from sim import SweepFolderError, sweep
from sim.analysis import SUMMARY_COLUMNS
from sim.results import HEADLINE_METRICS, sweep_headline
from sim.sweep import grid_points, parse_grid, point_ids
from sim.workload import RunTooBig

# the module itself, whatever ``sim.sweep`` names once the package re-exports the function
sweep_module = importlib.import_module("sim.sweep")

CAPACITY = "levels.ward.capacity"
GRID = {CAPACITY: [19, 20, 22]}


@pytest.fixture(scope="module")
def base():
    return sim.load_scenario(SCENARIOS / "teaching_mmc.yaml").with_changes(
        {"run.days": 200, "run.warmup_days": 50, "run.replications": 3})


@pytest.fixture(scope="module")
def swept(base, tmp_path_factory):
    """The capacity sweep, written to a folder: (folder, table)."""
    out = tmp_path_factory.mktemp("sweep") / "mmc_sweep"
    return out, sweep(base, GRID, out=out, jobs=1, progress=False)


@pytest.fixture
def simulated(monkeypatch):
    """Records the grid values of every point the sweep simulates (instead of loading); run serially."""
    calls = []
    real_replication = sweep_module.run_replication

    def counting_replication(scenario, replication, keep_episodes=False):
        if replication == 0:
            calls.append(scenario.levels["ward"].capacity[0].capacity)
        return real_replication(scenario, replication, keep_episodes)

    monkeypatch.setattr(sweep_module, "run_replication", counting_replication)
    return calls


def ward(table: pd.DataFrame, metric: str) -> pd.Series:
    rows = table[(table["level"] == "ward") & (table["metric"] == metric)]
    return rows.set_index(CAPACITY)["mean"]


# ---------------------------------------------------------------------------- the table
def test_one_tidy_block_per_point_in_grid_order(base):
    grid = {CAPACITY: [19, 22], "run.wait_target_days": [1, 3]}
    table = sweep(base, grid, jobs=1, progress=False)
    assert list(table.columns) == [CAPACITY, "run.wait_target_days", "point", *SUMMARY_COLUMNS]
    one = sim.run(base, jobs=1, progress=False).summary
    assert len(table) == 4 * len(one)
    points = table.drop_duplicates("point")[[CAPACITY, "run.wait_target_days", "point"]]
    assert points.values.tolist() == [[19, 1, 0], [19, 3, 1], [22, 1, 2], [22, 3, 3]]
    for _, block in table.groupby("point"):
        assert block[["level", "metric"]].values.tolist() == one[["level", "metric"]].values.tolist()


def test_a_point_equals_a_direct_run_exactly(base, swept):
    _, table = swept
    for capacity in GRID[CAPACITY]:
        direct = sim.run(base.with_changes({CAPACITY: capacity}), jobs=1, progress=False).summary
        block = table[table[CAPACITY] == capacity][SUMMARY_COLUMNS].reset_index(drop=True)
        pd.testing.assert_frame_equal(block, direct, check_exact=True)


def test_the_folder_holds_the_same_table_as_a_sweep_in_memory(base, swept):
    folder, table = swept
    pd.testing.assert_frame_equal(table, sweep(base, GRID, jobs=1, progress=False), check_exact=True)
    assert (folder / "sweep.csv").read_text() == table.to_csv(index=False)
    recorded = json.loads((folder / "sweep.json").read_text())
    assert recorded["seed"] == base.run.seed and recorded["replications"] == 3
    assert recorded["scenario"] == base.to_dict() and recorded["grid"] == GRID
    assert sorted(p.name for p in (folder / "points").iterdir()) == [f"{CAPACITY}={c}" for c in (19, 20, 22)]


def test_points_share_common_random_numbers(swept):
    folder, _ = swept
    rows = pd.read_csv(folder / "sweep_replications.csv")
    referrals = rows[(rows["level"] == "ward") & (rows["metric"] == "referrals_per_year")]
    by_point = referrals.pivot(index="replication", columns=CAPACITY, values="value")
    assert by_point.shape == (3, 3)
    for capacity in (20, 22):
        assert (by_point[capacity] == by_point[19]).all()


def test_more_capacity_shortens_waits_and_waitlists(swept):
    _, table = swept
    for metric in ("wait_mean_days", "waitlist_mean"):
        means = ward(table, metric)
        assert means[19] > means[20] > means[22], metric


# ---------------------------------------------------------------------------- resuming
def test_a_rerun_simulates_only_the_missing_points(base, tmp_path, simulated):
    out = tmp_path / "sweep"
    first = sweep(base, GRID, out=out, jobs=1, progress=False)
    written = (out / "sweep.csv").read_bytes()
    shutil.rmtree(out / "points" / f"{CAPACITY}=20")
    (out / "sweep.csv").unlink()
    simulated.clear()
    again = sweep(base, GRID, out=out, jobs=1, progress=False)
    assert simulated == [20]
    pd.testing.assert_frame_equal(again, first, check_exact=True)
    assert (out / "sweep.csv").read_bytes() == written
    simulated.clear()
    sweep(base, {CAPACITY: [19, 20, 22, 24]}, out=out, jobs=1, progress=False)
    assert simulated == [24]  # a grown grid reuses what is done


@pytest.mark.parametrize("change, key", [({"seed": 7}, "run.seed"), ({"replications": 4}, "run.replications")])
def test_a_different_sweep_into_the_same_folder_is_refused(base, swept, simulated, change, key):
    folder, _ = swept
    with pytest.raises(SweepFolderError, match=key) as caught:
        sweep(base, GRID, out=folder, jobs=1, progress=False, **change)
    assert "another output folder" in str(caught.value)
    assert simulated == []


def test_a_folder_that_is_not_a_sweep_is_refused(base, tmp_path, simulated):
    (tmp_path / "summary.csv").write_text("level,metric\n")
    with pytest.raises(SweepFolderError, match="not a sweep folder"):
        sweep(base, GRID, out=tmp_path, jobs=1, progress=False)
    assert simulated == []


# ---------------------------------------------------------------------------- bad grids
def test_a_bad_value_is_refused_before_anything_runs(base, tmp_path, simulated):
    out = tmp_path / "never"
    with pytest.raises(sim.ScenarioError, match=r"levels\.ward\.capacity .*= -1"):
        sweep(base, {CAPACITY: [19, -1, 22]}, out=out, jobs=1, progress=False)
    assert simulated == []
    assert not out.exists()


@pytest.mark.parametrize("grid, message", [
    ({}, "give dotted keys"),
    ({CAPACITY: 20}, "give a list"),
    ({CAPACITY: []}, "at least one value"),
    ({CAPACITY: [19, 20, 19]}, "lists 19 more than once"),
    ({"levels.wrd.capacity": [19]}, "no level 'wrd'"),
])
def test_malformed_grids_say_what_is_wrong(base, simulated, grid, message):
    with pytest.raises(sim.ScenarioError, match=message):
        sweep(base, grid, progress=False)
    assert simulated == []


def test_numpy_values_are_plain_numbers():
    points = grid_points({CAPACITY: np.arange(19, 21)})
    assert points == [{CAPACITY: 19}, {CAPACITY: 20}]
    assert point_ids(points) == [f"{CAPACITY}=19", f"{CAPACITY}=20"]


def test_point_ids_are_safe_and_distinct_for_any_value():
    points = grid_points({"name": ["a b", "a/b"], "levels.php.next": [{"iop": 0.5, "discharged": 0.5}]})
    ids = point_ids(points)
    assert len(set(ids)) == 2
    assert all(set(i) <= set("abcdefghijklmnopqrstuvwxyz0123456789._=,+-_") for i in ids)
    assert ids == point_ids(points)  # stable


def test_run_options_reach_every_point(base, tmp_path, simulated):
    out = tmp_path / "sweep"
    sweep(base, {CAPACITY: [20, 22]}, out=out, jobs=1, executor="serial", keep_episodes=True, progress=False)
    assert simulated == [20, 22]
    for capacity in (20, 22):
        point = out / "points" / f"{CAPACITY}={capacity}"
        meta = json.loads((point / "run.json").read_text())
        assert (meta["executor"], meta["jobs"], meta["address"]) == ("serial", 1, None)
        assert (point / "episodes.csv").exists()
    with pytest.raises(RunTooBig, match="visits_per_replication"):
        sweep(base, {CAPACITY: [20, 22]}, jobs=1, limits={"visits_per_replication": 10}, progress=False)
    assert simulated == [20, 22]   # a point too big is refused before any point runs


def test_a_sweep_to_a_precision_runs_point_by_point(base, monkeypatch):
    seen = []
    real_run = sweep_module.run

    def recording_run(scenario, **options):
        seen.append(options)
        return real_run(scenario, **options)

    monkeypatch.setattr(sweep_module, "run", recording_run)
    table = sweep(base, {CAPACITY: [20, 22]}, jobs=1, precision=0.5, max_replications=4, progress=False)
    assert seen == [{"progress": False, "jobs": 1, "precision": 0.5, "max_replications": 4}] * 2
    direct = sim.run(base.with_changes({CAPACITY: 22}), jobs=1, precision=0.5, max_replications=4, progress=False)
    pd.testing.assert_frame_equal(table[table["point"] == 1][SUMMARY_COLUMNS].reset_index(drop=True),
                                  direct.summary, check_exact=True)


# ---------------------------------------------------------------------------- for people
def test_grid_options_are_read_as_yaml():
    grid = parse_grid([f"{CAPACITY}=19,20", "levels.ward.next={discharged: 1},{discharged: 1.0}", "name=a b"])
    assert grid == {CAPACITY: [19, 20], "levels.ward.next": [{"discharged": 1}, {"discharged": 1.0}],
                    "name": ["a b"]}
    with pytest.raises(sim.ScenarioError, match="--grid") as caught:
        parse_grid(["levels.ward.capacity", "a=[1", f"{CAPACITY}=1", f"{CAPACITY}=2"])
    assert len(caught.value.problems) == 3


def test_headline_has_a_row_per_point_and_level(swept):
    _, table = swept
    headline = sweep_headline(table)
    assert list(headline.index.names) == [CAPACITY, "level"]
    assert headline.index.tolist() == [(19, "ward"), (20, "ward"), (22, "ward")]
    assert list(headline.columns) == list(HEADLINE_METRICS)
