"""Write regional_adult_extract.csv: three years of scenarios/regional_adult.yaml as a region's extract.

One replication (seed 2026) of the regional scenario, run for 1,095 days from 2023-01-01 with its
episodes kept, written one row per episode with calendar dates (sim.extract.episodes_as_extract).
Every patient is simulated: the file holds no real person's records. Run from the repository root:

    python scenarios/data/make_synthetic_extract.py
"""

from pathlib import Path

import sim
from sim.extract import episodes_as_extract

HERE = Path(__file__).resolve().parent
START_DATE = "2023-01-01"
DAYS = 1095


def main() -> None:
    scenario = sim.load_scenario(HERE.parent / "regional_adult.yaml").with_changes(
        {"run.days": DAYS, "run.replications": 1, "run.seed": 2026, "run.start_date": START_DATE})
    results = sim.run(scenario, replications=1, keep_episodes=True, progress=False)
    extract = episodes_as_extract(results.episodes, START_DATE, scenario.level_names, as_of_day=DAYS)
    path = HERE / "regional_adult_extract.csv"
    extract.to_csv(path, index=False)
    print(f"{path}: {len(extract):,} episodes of {extract['patient'].nunique():,} patients, "
          f"{path.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
