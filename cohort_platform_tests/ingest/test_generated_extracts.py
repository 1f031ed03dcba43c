"""The generator and ingestion meet: every row the generator deliberately malformed is quarantined,
nothing else is (but superseded re-deliveries), and the counts reconcile for every dataset."""

import datetime as dt

import polars as pl
import pytest

from cohort_platform.contract.datasets import DATASETS
from cohort_platform.ingest.pipeline import ingest
from cohort_platform.synth.generate import generate

CUTOFF = dt.date(2025, 3, 31)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("gen")
    generate(root / "raw", root / "truth", [2008], 300, seed=7, cutoff=CUTOFF, environment=False)
    return root


@pytest.mark.parametrize("name", list(DATASETS))
def test_malformed_rows_are_exactly_the_quarantined_ones(generated, name):
    result = ingest(generated / "raw", name, CUTOFF)
    assert result.rows_read == result.rows_accepted + result.rows_quarantined
    malformed = pl.read_parquet(generated / "truth" / "malformed.parquet").filter(pl.col("dataset") == name)
    expected = {(f if "/" in f else f"{name}/{f}", int(line)) for f, line in zip(malformed["file"], malformed["line"])}
    rejected = result.quarantine.filter(pl.col("rule") != "superseded")
    got = {(f, int(line)) for f, line in zip(rejected["source_file"], rejected["source_line"])}
    assert got == expected
