"""The column schema shown in the UI is the clean table's real column order."""

import datetime as dt
from pathlib import Path

import pytest

from cohort_platform.contract.datasets import DATASETS
from cohort_platform.defs.ingest.assets import column_schema
from cohort_platform.ingest.pipeline import ingest

RAW = Path(__file__).parents[1] / "fixtures" / "independent_raw"


@pytest.mark.parametrize("name", list(DATASETS))
def test_declared_columns_are_the_stored_columns(name):
    stored = ingest(RAW, name, dt.date(2025, 3, 31)).accepted.columns
    assert [c.name for c in column_schema(DATASETS[name]).columns] == stored
