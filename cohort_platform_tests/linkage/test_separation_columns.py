"""Identifier separation loads only `SEPARATION_COLUMNS`: with them alone, every output of
`separate_identifiers` is what it is with every clean column."""

import datetime as dt

import polars as pl
import pytest

from cohort_platform.contract.datasets import DATASETS
from cohort_platform.ingest.pipeline import ingest
from cohort_platform.linkage.identifiers import SEPARATION_COLUMNS, SOURCES, linkage_inputs
from cohort_platform.linkage.quality import characteristics_of
from cohort_platform.privacy.consent import RECORD_DATE, record_dates
from cohort_platform.privacy.opt_out import apply_opt_outs, current_opt_outs
from cohort_platform.synth.generate import generate

CUTOFF = dt.date(2025, 3, 31)


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    root = tmp_path_factory.mktemp("gen")
    generate(root / "raw", root / "truth", [2008], 300, seed=11, cutoff=CUTOFF, environment=False)
    frames = {name: ingest(root / "raw", name, CUTOFF).accepted for name in (*SOURCES, "opt_outs")}
    return frames


def separation_outputs(frames: dict[str, pl.DataFrame], current: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """What `separate_identifiers` computes, without Dagster (see defs/linkage/assets.py)."""
    frames = dict(frames)
    for name in SOURCES:
        if name != "births":
            frames[name], _ = apply_opt_outs(name, frames[name], current)
    inputs = linkage_inputs(frames)
    out = {f"identifiers_{k}": v for k, v in inputs.identifiers.items()}
    out["births_mothers"], out["maternity"] = inputs.births_mothers, inputs.maternity
    out["characteristics"] = pl.concat([characteristics_of(n, frames[n]) for n in SOURCES if n != "births"])
    out["record_dates"] = record_dates({n: f for n, f in frames.items() if RECORD_DATE.get(n) is not None})
    return out


def test_every_separation_column_is_a_clean_column():
    for name, columns in SEPARATION_COLUMNS.items():
        contract = {c.name for c in DATASETS[name].columns}
        for column in columns:
            assert column in contract or column.removesuffix("_valid") in contract, (name, column)
    assert set(SEPARATION_COLUMNS) == set(SOURCES)


def test_the_declared_columns_give_exactly_the_outputs_of_every_column(clean):
    current = current_opt_outs(clean["opt_outs"])
    people = {n: clean[n] for n in SOURCES}
    assert all(f.height > 0 for n, f in people.items() if n != "npd_ks4")
    full = separation_outputs(people, current)
    pruned = separation_outputs({n: f.select(SEPARATION_COLUMNS[n]) for n, f in people.items()}, current)
    for key, frame in full.items():
        assert pruned[key].equals(frame), key
    assert sum(len(c) for c in SEPARATION_COLUMNS.values()) < sum(f.width for f in people.values())


def test_a_column_left_out_of_the_list_would_be_noticed(clean):
    """The comparison above can fail: without the NHS number's validity flag, invalid numbers would
    reach the deterministic rules."""
    current = current_opt_outs(clean["opt_outs"])
    people = {n: clean[n] for n in SOURCES}
    full = separation_outputs(people, current)
    short = dict(people, hes_apc=people["hes_apc"].drop("newnhsno_valid"))
    assert not separation_outputs(short, current)["identifiers_hes_apc"].equals(full["identifiers_hes_apc"])
