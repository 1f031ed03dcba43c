"""A throwaway platform for tests that run Dagster in another process: a copy of the hand-written
delivery and a local Dagster instance holding the repo's dagster.yaml."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIXTURE_RAW = REPO / "cohort_platform_tests" / "fixtures" / "independent_raw"


def sandbox(tmp: Path) -> tuple[Path, dict[str, str]]:
    """`tmp/raw` (the fixture delivery) and the environment of a local instance in `tmp/dagster_home`."""
    raw = tmp / "raw"
    shutil.copytree(FIXTURE_RAW, raw)
    (tmp / "dagster_home").mkdir()
    shutil.copy(REPO / "dagster.yaml", tmp / "dagster_home" / "dagster.yaml")
    return raw, {**os.environ, "DAGSTER_HOME": str(tmp / "dagster_home"), "DAGSTER_DISABLE_TELEMETRY": "1"}
