"""The one place where the platform's Dagster definitions are assembled.

`dagster dev -w workspace.yaml` (or `dg dev`) loads `defs` from here; the headless
`cohort-platform build` calls `build_defs` with the settings given on its command line.
"""

from __future__ import annotations

import dagster as dg

from cohort_platform.config import Settings
from cohort_platform.defs.environment.assets import ENVIRONMENT_ASSETS, ENVIRONMENT_RAW_SPECS
from cohort_platform.defs.environment.checks import ENVIRONMENT_CHECKS
from cohort_platform.defs.exposures.assets import EXPOSURE_ASSETS
from cohort_platform.defs.ingest.assets import INGEST_ASSETS, RAW_SPECS
from cohort_platform.defs.ingest.checks import INGEST_CHECKS
from cohort_platform.defs.linkage.assets import LINKAGE_ASSETS
from cohort_platform.defs.operations import build_schedules, build_sensors, operations_resources
from cohort_platform.defs.outputs.assets import OUTPUT_ASSETS
from cohort_platform.defs.privacy.assets import PRIVACY_ASSETS
from cohort_platform.defs.research.assets import CONTENT_ASSETS, RESEARCH_ASSETS
from cohort_platform.defs.research.checks import RESEARCH_CHECKS, identifier_values
from cohort_platform.defs.resources import resources_for
from cohort_platform.orchestration.jobs import build_jobs

ASSETS = [*RAW_SPECS, *ENVIRONMENT_RAW_SPECS, *INGEST_ASSETS, *ENVIRONMENT_ASSETS, *LINKAGE_ASSETS, *PRIVACY_ASSETS,
          *CONTENT_ASSETS, identifier_values, *RESEARCH_ASSETS, *OUTPUT_ASSETS,
          *EXPOSURE_ASSETS]
CHECKS = [*INGEST_CHECKS, *ENVIRONMENT_CHECKS, *RESEARCH_CHECKS]


def partitioned_keys(assets: list) -> list[dg.AssetKey]:
    return [
        key
        for a in assets
        if isinstance(a, dg.AssetsDefinition) and a.partitions_def is not None
        for key in a.keys
    ]


def build_defs(settings: Settings | None = None) -> dg.Definitions:
    settings = settings or Settings.from_env()
    jobs = build_jobs(partitioned_keys(ASSETS))  # one list: the sensors and schedules hold these jobs
    return dg.Definitions(
        assets=ASSETS,
        asset_checks=CHECKS,
        jobs=jobs,
        sensors=build_sensors(jobs),
        schedules=build_schedules(jobs),
        resources={**resources_for(settings), **operations_resources(settings)},
        # DuckDB takes one writing process per file: steps of a run share this process.
        executor=dg.in_process_executor,
    )


defs = build_defs()
