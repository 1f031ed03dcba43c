"""The synthetic geography: reference frames in the contract's shape, England-like codes, a compact
region, clustered deprivation."""

import numpy as np
import polars as pl
import pytest
from scipy.spatial import cKDTree

from cohort_platform.contract.datasets import DATASETS
from cohort_platform.contract.identifiers import postcode_is_valid
from cohort_platform.synth.geography import build_geography


@pytest.fixture(scope="module")
def geo():
    return build_geography(np.random.default_rng(3), 20_000)


def test_reference_frames_have_exactly_the_contract_columns(geo):
    assert geo.postcodes.columns == DATASETS["postcodes"].column_names
    assert geo.lsoa_imd.columns == DATASETS["lsoa_imd"].column_names
    assert geo.schools.columns == DATASETS["schools"].column_names


def test_postcodes_are_unique_well_formed_and_several_per_lsoa(geo):
    pc = geo.postcodes["postcode"]
    assert pc.is_unique().all()
    assert all(postcode_is_valid(p) for p in pc.to_list())
    assert pc.str.contains(r"^[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}$").all()
    assert geo.postcodes.group_by("lsoa11cd").len()["len"].min() >= 2


def test_codes_have_real_shapes(geo):
    assert geo.postcodes["lsoa11cd"].str.contains(r"^E01[0-9]{6}$").all()
    assert geo.postcodes["lad_code"].str.contains(r"^E0[6-9][0-9]{6}$").all()
    assert geo.postcodes["la_code"].str.contains(r"^[0-9]{3}$").all()
    assert geo.schools["urn"].str.contains(r"^[0-9]{6}$").all() and geo.schools["urn"].is_unique().all()
    las = geo.postcodes.select("la_code", "lad_code").unique()
    assert las["la_code"].is_unique().all() and las.height >= 3


def test_every_la_has_primary_and_secondary_schools(geo):
    phases = geo.schools.group_by("la_code").agg(pl.col("phase").n_unique())
    assert phases["phase"].min() == 2
    assert set(phases["la_code"]) == set(geo.postcodes["la_code"])


def test_the_region_is_compact_and_around_the_midlands(geo):
    e, n = geo.postcodes["easting"], geo.postcodes["northing"]
    assert 40_000 <= e.max() - e.min() <= 130_000 and 40_000 <= n.max() - n.min() <= 130_000
    assert 380_000 < e.mean() < 520_000 and 230_000 < n.mean() < 370_000


def test_deprivation_is_spatially_clustered(geo):
    lsoas = geo.lsoas
    xy = lsoas.select("easting", "northing").to_numpy()
    imd = lsoas["imd_decile"].to_numpy().astype(float)
    _, nearest = cKDTree(xy).query(xy, k=2)
    neighbour = imd[nearest[:, 1]]
    assert np.corrcoef(imd, neighbour)[0, 1] > 0.3
    assert sorted(geo.lsoa_imd["imd_decile"].unique().to_list()) == list(range(1, 11))


def test_size_scales_with_births():
    small, large = build_geography(np.random.default_rng(1), 2_000), build_geography(np.random.default_rng(1), 60_000)
    assert large.postcodes.height > 10 * small.postcodes.height
    assert large.schools.height > 10 * small.schools.height
