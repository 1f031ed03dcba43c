"""One small generated extract shared by the synth tests (generation is deterministic, so sharing
it across modules is safe and keeps the suite fast)."""

import datetime as dt
from pathlib import Path

import pytest

from cohort_platform.synth.generate import generate

CUTOFF = dt.date(2023, 3, 31)
YEARS = [2006, 2007, 2008]
CHILDREN = 1500
SEED = 11


@pytest.fixture(scope="session")
def extract(tmp_path_factory) -> tuple[Path, Path, object]:
    base = tmp_path_factory.mktemp("synth")
    summary = generate(base / "raw", base / "truth", YEARS, CHILDREN, SEED, CUTOFF, environment=False)
    return base / "raw", base / "truth", summary


@pytest.fixture(scope="session")
def ingested(extract):
    """The platform's ingestion of each dataset of the shared extract, computed once per dataset."""
    from cohort_platform.ingest.pipeline import ingest

    raw = extract[0]
    cache: dict = {}

    def get(name: str):
        if name not in cache:
            cache[name] = ingest(raw, name, CUTOFF)
        return cache[name]

    return get
