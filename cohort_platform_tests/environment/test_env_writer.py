"""The synthetic environment writer: its files pass the platform's own validator and its fields have
the structure exposure analyses rely on (roads, density, season, trend)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import xarray as xr

from cohort_platform.contract.datasets import GRIDS
from cohort_platform.ingest.environment import discover, read_roads, sample_grid, validate_grid, validate_roads
from cohort_platform.synth.environment import write_environment

YEARS = (2006, 2015)


def synthetic_postcodes(n: int = 1500, span_m: float = 30_000, seed: int = 3) -> pl.DataFrame:
    """Postcodes clustered in a few towns of different sizes, as the population generator makes them."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, span_m, size=(6, 2)) + [430_000, 280_000]
    weights = np.array([0.4, 0.2, 0.15, 0.1, 0.1, 0.05])
    town = rng.choice(6, n, p=weights)
    spread = np.where(rng.random(n) < 0.7, 1500.0, 6000.0)[:, None]
    xy = centres[town] + rng.normal(size=(n, 2)) * spread
    return pl.DataFrame({
        "postcode": [f"AB{i // 100} {i % 100:02d}" for i in range(n)],
        "easting": xy[:, 0].round(), "northing": xy[:, 1].round(),
        "lsoa11cd": "E01000001", "lad_code": "E06000001", "la_code": "800",
    })


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> tuple[Path, Path, pl.DataFrame]:
    base = tmp_path_factory.mktemp("synth_env")
    postcodes = synthetic_postcodes()
    write_environment(base / "raw", postcodes, YEARS, seed=7, truth_dir=base / "truth")
    return base / "raw", base / "truth", postcodes


@pytest.fixture(scope="module")
def reports(written):
    raw, _, postcodes = written
    found = discover(raw)
    return {p.name: validate_grid(p, GRIDS[name], postcodes, raw) for name in GRIDS for p in found[name]}


def annual_mean(raw: Path, name: str, year: int) -> xr.DataArray:
    with xr.open_dataset(raw / GRIDS[name].folder / f"{GRIDS[name].prefix}{year}.nc") as ds:
        da = ds[GRIDS[name].variable].load()
    return da.mean("time") if "time" in da.dims else da


def test_every_written_grid_passes_the_validator_and_covers_every_postcode(reports):
    assert sorted(reports) == sorted(f"{g}_{y}.nc" for g in ("no2", "pm25", "ndvi") for y in YEARS)
    assert all(r.land_coverage == 1.0 for r in reports.values())
    assert {r.resolution_m for r in reports.values()} == {(1000.0, 1000.0), (250.0, 250.0)}


def test_the_planted_out_of_range_cells_are_counted_by_the_validator(written, reports):
    truth = json.loads((written[1] / "environment.json").read_text())
    planted = truth["planted_out_of_range"]
    rel = "air_quality/no2_2015.nc"  # planted in the years ending in 5
    assert reports[Path(rel).name].cells_out_of_range == planted["cells"] == len(truth["files"][rel]["planted_out_of_range_xy"])
    assert sum(r.cells_out_of_range for r in reports.values()) == planted["cells"]


def test_both_axis_directions_occur_among_the_files(reports):
    assert {r.y_ascending for r in reports.values()} == {True, False}


def test_grids_declare_the_crs_the_cf_way_and_are_compressed(written):
    raw = written[0]
    for name in GRIDS:
        for path in discover(raw)[name]:
            with xr.open_dataset(path) as ds:
                da = ds[GRIDS[name].variable]
                assert "crs_wkt" in ds[da.attrs["grid_mapping"]].attrs
                assert da.encoding["zlib"] is True


def test_the_roads_pass_the_validator_with_motorways_and_a_roads(written):
    raw = written[0]
    report = validate_roads(raw / "roads" / "major_roads.gpkg", raw)
    assert report.kept_by_class["Motorway"] > 0 and report.kept_by_class["A Road"] > 0
    assert report.missing_road_number == 0


def test_no2_is_higher_in_winter_than_in_summer(written):
    with xr.open_dataset(written[0] / "air_quality" / "no2_2006.nc") as ds:
        monthly = ds["no2"].mean(["x", "y"]).values
    assert monthly[[0, 1, 11]].mean() > 1.2 * monthly[[5, 6, 7]].mean()


@pytest.mark.parametrize("name", ["no2", "pm25"])
def test_pollution_declines_over_the_years(written, name):
    raw = written[0]
    assert float(annual_mean(raw, name, 2015).mean()) < 0.85 * float(annual_mean(raw, name, 2006).mean())


def test_no2_is_higher_near_motorways_than_far_from_them(written):
    raw = written[0]
    no2 = annual_mean(raw, "no2", 2006)
    motorways = read_roads(raw / "roads" / "major_roads.gpkg").query("road_class == 'Motorway'")
    vertices = np.vstack([np.asarray(g.coords) for g in motorways.geometry.explode(index_parts=False)])
    yy, xx = np.meshgrid(no2["y"].values, no2["x"].values, indexing="ij")
    from scipy.spatial import cKDTree

    distance = cKDTree(vertices).query(np.column_stack([xx.ravel(), yy.ravel()]))[0].reshape(xx.shape)
    values = no2.values
    near, far = values[(distance < 400) & np.isfinite(values)], values[(distance > 5000) & np.isfinite(values)]
    assert near.mean() > far.mean() + 5


def density_deciles(postcodes: pl.DataFrame) -> pl.DataFrame:
    """Each postcode with the number of postcodes in its 1 km square."""
    return postcodes.with_columns(
        cell=(pl.col("easting") // 1000).cast(pl.Int64) * 10_000 + (pl.col("northing") // 1000).cast(pl.Int64)
    ).with_columns(density=pl.len().over("cell"))


@pytest.mark.parametrize("name,denser_is_higher", [("no2", True), ("pm25", True), ("ndvi", False)])
def test_dense_areas_have_more_pollution_and_less_greenery(written, name, denser_is_higher):
    raw, _, postcodes = written
    pts = density_deciles(postcodes)
    value = np.nanmean(np.atleast_2d(sample_grid(raw / GRIDS[name].folder / f"{GRIDS[name].prefix}2006.nc",
                                                 pts["easting"], pts["northing"]).T), axis=0)
    dense = value[pts["density"].to_numpy() >= np.quantile(pts["density"], 0.9)].mean()
    sparse = value[pts["density"].to_numpy() <= np.quantile(pts["density"], 0.1)].mean()
    assert (dense > sparse) == denser_is_higher


def test_pm25_is_spatially_smoother_than_no2(written):
    def roughness(da: xr.DataArray) -> float:
        v = da.values
        return float(np.nanmean(np.abs(np.diff(v, axis=1))) / np.nanmean(v))

    raw = written[0]
    assert roughness(annual_mean(raw, "pm25", 2006)) < 0.5 * roughness(annual_mean(raw, "no2", 2006))


def test_the_same_seed_writes_the_same_fields_and_another_seed_other_fields(written, tmp_path):
    raw, _, postcodes = written
    write_environment(tmp_path / "a", postcodes, [2006], seed=7)
    write_environment(tmp_path / "b", postcodes, [2006], seed=8)
    first = annual_mean(raw, "no2", 2006).values
    assert np.array_equal(annual_mean(tmp_path / "a", "no2", 2006).values, first, equal_nan=True)
    assert not np.array_equal(annual_mean(tmp_path / "b", "no2", 2006).values, first, equal_nan=True)


def test_the_truth_records_the_generating_parameters_and_file_layouts(written):
    truth = json.loads((written[1] / "environment.json").read_text())
    assert truth["seed"] == 7 and truth["years"] == list(YEARS)
    assert set(truth["files"]) == {f"{GRIDS[g].folder}/{GRIDS[g].prefix}{y}.nc" for g in GRIDS for y in YEARS}
    assert truth["no2"]["annual_change"] < 0 and truth["roads"]["features"] > 0


def test_a_single_postcode_still_gets_valid_files(tmp_path):
    one = pl.DataFrame({"postcode": ["AB1 2CD"], "easting": [450_000], "northing": [300_000]})
    write_environment(tmp_path, one, [2010], seed=1)
    found = discover(tmp_path)
    for name in GRIDS:
        assert validate_grid(found[name][0], GRIDS[name], one, tmp_path).land_coverage == 1.0
    assert validate_roads(found["roads"][0], tmp_path).features_kept > 0
