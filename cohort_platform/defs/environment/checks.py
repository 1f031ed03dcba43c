"""Checks on the environmental inputs, beyond the faults that fail ingestion outright.

- `years_cover_cohort` (warn): every year from the year before the first birth year to the cut-off
  is delivered; a missing year leaves its exposures missing.
- `land_coverage` (warn): at least 99.9% of postcodes fall on a cell with data (ingestion fails
  below 99.5%).
- `values_in_range` (warn): no cell was outside the physical range (such cells are set to missing).
"""


import dagster as dg

from cohort_platform.config import FIRST_BIRTH_YEAR
from cohort_platform.contract.datasets import GRIDS, Grid
from cohort_platform.defs.environment.assets import ROADS, environment_key
from cohort_platform.defs.resources import CohortSettings, Warehouse

LAND_COVERAGE_WARN = 0.999


def _catalogue(warehouse: Warehouse, grid: Grid):
    with warehouse.connect() as con:
        return con.execute(f"select * from environment.{grid.name}").pl()


def build_grid_checks(grid: Grid) -> list[dg.AssetChecksDefinition]:
    key = environment_key(grid.name)

    @dg.asset_check(asset=key, name="years_cover_cohort", description="Every year from the year before the first birth to the cut-off is delivered.")
    def years_cover_cohort(warehouse: Warehouse, settings: CohortSettings) -> dg.AssetCheckResult:
        catalogue = _catalogue(warehouse, grid)
        have = set(catalogue["year"].to_list()) if catalogue.height else set()
        want = set(range(FIRST_BIRTH_YEAR - 1, settings.settings.cutoff.year + 1))
        missing = sorted(want - have)
        return dg.AssetCheckResult(
            passed=not missing, severity=dg.AssetCheckSeverity.WARN,
            description=f"years missing: {missing}" if missing else None,
            metadata={"years_delivered": len(have & want), "years_missing": dg.MetadataValue.json(missing)},
        )

    @dg.asset_check(asset=key, name="land_coverage", description="At least 99.9% of postcodes fall on a cell with data in every year.")
    def land_coverage(warehouse: Warehouse) -> dg.AssetCheckResult:
        catalogue = _catalogue(warehouse, grid)
        if not catalogue.height or "land_coverage" not in catalogue.columns:
            return dg.AssetCheckResult(passed=True, severity=dg.AssetCheckSeverity.WARN, metadata={"years": 0})
        worst = catalogue.filter(catalogue["land_coverage"].is_not_null()).sort("land_coverage").head(1)
        lowest = float(worst["land_coverage"][0]) if worst.height else 1.0
        return dg.AssetCheckResult(
            passed=lowest >= LAND_COVERAGE_WARN, severity=dg.AssetCheckSeverity.WARN,
            metadata={"lowest_coverage": lowest, "year_of_lowest": int(worst["year"][0]) if worst.height else None},
        )

    @dg.asset_check(asset=key, name="values_in_range", description=f"Every cell lies within the physical range of {grid.variable}.")
    def values_in_range(warehouse: Warehouse) -> dg.AssetCheckResult:
        catalogue = _catalogue(warehouse, grid)
        out = int(catalogue["cells_out_of_range"].sum()) if catalogue.height else 0
        return dg.AssetCheckResult(
            passed=out == 0, severity=dg.AssetCheckSeverity.WARN,
            metadata={"cells_out_of_range_set_missing": out, "range": dg.MetadataValue.json(list(grid.bounds))},
        )

    return [years_cover_cohort, land_coverage, values_in_range]


@dg.asset_check(asset=environment_key(ROADS), name="both_road_classes", description="Motorways and A roads are both present.")
def both_road_classes(warehouse: Warehouse) -> dg.AssetCheckResult:
    with warehouse.connect() as con:
        counts = dict(con.execute(f"select road_class, count(*) from environment.{ROADS} group by 1").fetchall())
    return dg.AssetCheckResult(
        passed=counts.get("Motorway", 0) > 0 and counts.get("A Road", 0) > 0,
        severity=dg.AssetCheckSeverity.WARN, metadata={"features_by_class": dg.MetadataValue.json(counts)},
    )


ENVIRONMENT_CHECKS = [*(c for g in GRIDS.values() for c in build_grid_checks(g)), both_road_classes]
