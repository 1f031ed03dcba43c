"""sample_grid finds a point's cell by arithmetic, whichever way the axes run; normalise_grid turns a
valid delivery into the ascending, float32, NaN-cleaned grid the exposure work samples."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from cohort_platform.contract.datasets import GRIDS
from cohort_platform.ingest.environment import EnvironmentFault, normalise_grid, sample_grid, validate_grid

from .conftest import X0, Y0, cell_centres, cell_values, write_grid

NO2, NDVI = GRIDS["no2"], GRIDS["ndvi"]


def hand_grid(x_desc: bool = False, y_desc: bool = False) -> xr.DataArray:
    """3 rows x 4 columns of 1 km cells; value = 10 * row + column (row 0 southernmost)."""
    x = 1000.0 * np.arange(4) + 500
    y = 1000.0 * np.arange(3) + 500
    values = 10.0 * np.arange(3)[:, None] + np.arange(4)[None, :]
    da = xr.DataArray(values, dims=("y", "x"), coords={"x": x, "y": y})
    return da.isel(x=slice(None, None, -1 if x_desc else 1), y=slice(None, None, -1 if y_desc else 1))


POINTS_E = [500.0, 1499.0, 1501.0, 3999.0, 10.0, 2600.0]
POINTS_N = [500.0, 10.0, 2999.0, 2999.0, 1500.1, 1400.0]
EXPECTED = [0.0, 1.0, 21.0, 23.0, 10.0, 12.0]


@pytest.mark.parametrize("x_desc,y_desc", [(False, False), (True, False), (False, True), (True, True)])
def test_sampling_returns_the_value_of_the_cell_containing_each_point(x_desc, y_desc):
    got = sample_grid(hand_grid(x_desc, y_desc), POINTS_E, POINTS_N)
    assert got.tolist() == EXPECTED


@pytest.mark.parametrize("x_desc,y_desc", [(False, False), (True, True)])
def test_points_outside_the_grid_sample_as_nan(x_desc, y_desc):
    got = sample_grid(hand_grid(x_desc, y_desc), [-1.0, 4001.0, 500.0, 500.0, np.nan], [500.0, 500.0, -0.5, 3000.5, 500.0])
    assert np.isnan(got).all()


@settings(max_examples=60, deadline=None)
@given(
    nx=st.integers(2, 9), ny=st.integers(2, 9), res=st.sampled_from([100.0, 250.0, 1000.0]),
    x_desc=st.booleans(), y_desc=st.booleans(), data=st.data(),
)
def test_sampling_agrees_with_the_cell_whose_bounds_contain_the_point(nx, ny, res, x_desc, y_desc, data):
    x = 300_000 + res * np.arange(nx) + res / 2
    y = 100_000 + res * np.arange(ny) + res / 2
    values = np.arange(ny * nx, dtype=float).reshape(ny, nx)
    da = xr.DataArray(values, dims=("y", "x"), coords={"x": x, "y": y})
    da = da.isel(x=slice(None, None, -1 if x_desc else 1), y=slice(None, None, -1 if y_desc else 1))
    # a point a fraction of a cell off some cell centre; cells beyond the edges are outside
    i = data.draw(st.integers(-2, nx + 1))
    j = data.draw(st.integers(-2, ny + 1))
    fx, fy = data.draw(st.floats(-0.49, 0.49)), data.draw(st.floats(-0.49, 0.49))
    e, n = 300_000 + res * (i + 0.5 + fx), 100_000 + res * (j + 0.5 + fy)
    got = sample_grid(da, [e], [n])[0]
    if 0 <= i < nx and 0 <= j < ny:
        assert got == values[j, i]
    else:
        assert np.isnan(got)


def monthly_grid(y_desc: bool = False) -> xr.DataArray:
    base = hand_grid(y_desc=y_desc)
    times = np.array([f"2010-{m:02d}-01" for m in range(1, 13)], dtype="datetime64[ns]")
    return (base + 100.0 * xr.DataArray(np.arange(1, 13), dims="time", coords={"time": times})).transpose("time", "y", "x")


@pytest.mark.parametrize("y_desc", [False, True])
def test_a_monthly_grid_samples_every_month_when_no_time_is_given(y_desc):
    got = sample_grid(monthly_grid(y_desc), [500.0, 3500.0], [500.0, 2500.0])
    assert got.shape == (2, 12)
    assert got[0].tolist() == [100.0 * m for m in range(1, 13)]
    assert got[1].tolist() == [23 + 100.0 * m for m in range(1, 13)]


def test_with_times_each_point_gets_the_month_of_its_time_and_nan_for_months_not_in_the_grid():
    times = [dt.date(2010, 3, 17), np.datetime64("2010-12-31"), dt.date(2011, 1, 1), None]
    got = sample_grid(monthly_grid(), [500.0, 3500.0, 500.0, 500.0], [500.0, 2500.0, 500.0, 500.0], times=times)
    assert got[:2].tolist() == [300.0, 1223.0] and np.isnan(got[2:]).all()


def test_sampling_a_file_path_reads_its_single_gridded_variable(raw):
    path = write_grid(raw, "no2", y_desc=True, crs_style="gdal")
    got = sample_grid(path, [X0, X0 + 5000], [Y0, Y0 + 4000], times=["2010-02-01", "2010-12-01"])
    expected = cell_values("no2", 12, 5, 6)
    assert got == pytest.approx([expected[1, 0, 0], expected[11, 4, 5]])


# ------------------------------------------------------------------------------------ normalising
@pytest.mark.parametrize("fmt", ["NETCDF4", "NETCDF3_CLASSIC"])
def test_normalising_makes_both_axes_ascending_float32_and_keeps_the_crs(raw, tmp_path, fmt):
    path = write_grid(raw, "no2", x_desc=True, y_desc=True, fmt=fmt)
    out = normalise_grid(path, NO2, tmp_path / "norm" / "no2_2010.nc")
    with xr.open_dataset(out) as ds:
        assert np.all(np.diff(ds["x"].values) > 0) and np.all(np.diff(ds["y"].values) > 0)
        assert ds["no2"].dtype == np.float32 and ds["no2"].dims == ("time", "y", "x")
        assert ds["no2"].attrs["grid_mapping"] == "spatial_ref"
    report = validate_grid(out, NO2, cell_centres(), tmp_path / "norm")
    assert report.x_ascending and report.y_ascending and report.crs == "EPSG:27700"


def test_normalising_keeps_every_cell_where_it_was(raw, tmp_path):
    path = write_grid(raw, "ndvi", y_desc=True)
    out = normalise_grid(path, NDVI, tmp_path / "ndvi_2010.nc")
    pts = cell_centres(res=250.0)
    before = sample_grid(path, pts["easting"], pts["northing"])
    after = sample_grid(out, pts["easting"], pts["northing"])
    assert np.array_equal(before.astype(np.float32), after.astype(np.float32))


def test_normalising_sets_out_of_range_values_to_nan(raw, tmp_path):
    values = cell_values("no2", 12, 10, 10)
    values[6, 3, 4] = -2.0
    out = normalise_grid(write_grid(raw, "no2", nx=10, ny=10, values=values), NO2, tmp_path / "no2_2010.nc")
    with xr.open_dataset(out) as ds:
        assert np.isnan(ds["no2"].values[6, 3, 4]) and int(ds["no2"].isnull().sum()) == 1
    assert validate_grid(out, NO2, None, tmp_path).cells_out_of_range == 0


def test_normalising_sorts_months_delivered_out_of_order(raw, tmp_path):
    order = [12, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
    values = cell_values("no2", 12, 5, 6)[[m - 1 for m in order]]
    path = write_grid(raw, "no2", values=values, times=[f"2010-{m:02d}-01" for m in order])
    out = normalise_grid(path, NO2, tmp_path / "no2_2010.nc")
    with xr.open_dataset(out) as ds:
        assert ds["time"].dt.month.values.tolist() == list(range(1, 13))
        assert ds["no2"].values[:, 0, 0] == pytest.approx(cell_values("no2", 12, 5, 6)[:, 0, 0])


def test_a_structurally_broken_grid_is_not_normalised(raw, tmp_path):
    path = write_grid(raw, "no2", epsg=4326)
    with pytest.raises(EnvironmentFault, match="CRS is EPSG:4326"):
        normalise_grid(path, NO2, tmp_path / "no2_2010.nc", raw_root=raw)
    assert not (tmp_path / "no2_2010.nc").exists()
