"""validate_grid: a good grid passes in every form the contract allows; each breach fails with a
message that names the file (relative to the raw root) and the fault."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cohort_platform.contract.datasets import GRIDS
from cohort_platform.ingest.environment import EnvironmentFault, validate_grid

from .conftest import X0, Y0, cell_centres, cell_values, write_grid

NO2, PM25, NDVI = GRIDS["no2"], GRIDS["pm25"], GRIDS["ndvi"]


def fault_of(path, grid, raw, land=None) -> EnvironmentFault:
    with pytest.raises(EnvironmentFault) as info:
        validate_grid(path, grid, land if land is not None else cell_centres(), raw)
    return info.value


# ------------------------------------------------------------------------------------- good files
@pytest.mark.parametrize("fmt", ["NETCDF4", "NETCDF3_CLASSIC", "NETCDF3_64BIT"])
@pytest.mark.parametrize("x_desc,y_desc", [(False, False), (False, True), (True, False), (True, True)])
def test_a_good_monthly_grid_passes_in_either_axis_direction_and_netcdf_flavour(raw, fmt, x_desc, y_desc):
    path = write_grid(raw, "no2", 2010, x_desc=x_desc, y_desc=y_desc, fmt=fmt)
    report = validate_grid(path, NO2, cell_centres(), raw)
    assert (report.x_ascending, report.y_ascending) == (not x_desc, not y_desc)
    assert report.file == "air_quality/no2_2010.nc" and report.year == 2010
    assert report.file_format.startswith("NETCDF4" if fmt == "NETCDF4" else "NETCDF3")
    assert report.shape == (12, 5, 6) and report.resolution_m == (1000.0, 1000.0)
    assert report.land_coverage == 1.0 and report.land_points == 30


def test_the_report_describes_the_grid_in_simple_values(raw):
    path = write_grid(raw, "pm25", 2011)
    report = validate_grid(path, PM25, cell_centres(), raw).to_dict()
    expected = cell_values("pm25", 12, 5, 6)
    assert report["bounds"] == [X0 - 500, Y0 - 500, X0 + 5500, Y0 + 4500]
    assert report["value_min"] == pytest.approx(expected.min())
    assert report["value_max"] == pytest.approx(expected.max(), rel=1e-6)
    assert report["value_mean"] == pytest.approx(expected.mean(), rel=1e-6)
    assert report["crs"] == "EPSG:27700" and report["nan_share"] == 0 and report["cells_out_of_range"] == 0
    json.dumps(report)  # metadata-ready


@pytest.mark.parametrize("res", [100.0, 250.0])
def test_a_good_ndvi_grid_passes_at_100_to_250_m(raw, res):
    path = write_grid(raw, "ndvi", 2012, res=res, y_desc=True)
    report = validate_grid(path, NDVI, cell_centres(res=res), raw)
    assert report.dims == ("y", "x") and report.resolution_m == (res, res)


@pytest.mark.parametrize("style", ["cf", "gdal", "epsg_attr"])
def test_the_crs_is_read_from_a_grid_mapping_variable_or_a_crs_attribute(raw, style):
    path = write_grid(raw, "no2", crs_style=style)
    assert validate_grid(path, NO2, None, raw).crs == "EPSG:27700"


def _rewrite_crs_variable(path, attrs):
    import xarray as xr

    with xr.open_dataset(path) as ds:
        ds = ds.load()
    ds["crs"].attrs = attrs
    ds.to_netcdf(path)
    return path


def test_cf_parameters_without_an_ellipsoid_defer_to_an_explicit_epsg_code(raw):
    params = {"grid_mapping_name": "transverse_mercator", "latitude_of_projection_origin": 49.0,
              "longitude_of_central_meridian": -2.0, "scale_factor_at_central_meridian": 0.9996012717,
              "false_easting": 400000.0, "false_northing": -100000.0, "epsg_code": "EPSG:27700"}
    path = _rewrite_crs_variable(write_grid(raw, "no2"), params)
    assert validate_grid(path, NO2, None, raw).crs == "EPSG:27700"


def test_crs_declarations_that_disagree_are_a_fault(raw):
    import pyproj

    attrs = {"crs_wkt": pyproj.CRS(27700).to_wkt(), "epsg_code": "EPSG:4326"}
    fault = fault_of(_rewrite_crs_variable(write_grid(raw, "no2"), attrs), NO2, raw)
    assert "CRS declarations disagree" in str(fault) and "epsg_code EPSG:4326" in str(fault)


@pytest.mark.parametrize("units", ["ug/m3", "µg/m³", "ug m-3", "µg m-3"])
def test_the_usual_spellings_of_micrograms_per_cubic_metre_are_accepted(raw, units):
    validate_grid(write_grid(raw, "no2", units=units), NO2, None, raw)


def test_a_cf_packed_int16_grid_is_checked_on_its_decoded_values(raw):
    values = cell_values("ndvi", 1, 5, 6)
    values[0, 0] = np.nan
    storage = {"dtype": "int16", "scale_factor": 1e-4, "add_offset": 0.0, "_FillValue": np.int16(-32768)}
    report = validate_grid(write_grid(raw, "ndvi", values=values, storage=storage), NDVI, None, raw)
    assert report.value_max == pytest.approx(np.nanmax(values), abs=1e-4) and report.nan_share == pytest.approx(1 / 30)


def test_without_land_points_coverage_is_not_checked(raw):
    path = write_grid(raw, "no2")
    report = validate_grid(path, NO2, None, raw)
    assert report.land_coverage is None and report.land_points is None


# ------------------------------------------------------------------------------------------ faults
def test_a_missing_variable_is_a_fault_naming_the_file(raw):
    fault = fault_of(write_grid(raw, "no2", variable="nox"), NO2, raw)
    assert fault.file == "air_quality/no2_2010.nc"
    assert str(fault).startswith("air_quality/no2_2010.nc: variable 'no2' missing")


def test_a_grid_without_any_crs_is_a_fault(raw):
    fault = fault_of(write_grid(raw, "no2", crs_style=None), NO2, raw)
    assert str(fault).startswith("air_quality/no2_2010.nc: no CRS")


@pytest.mark.parametrize("style", ["cf", "gdal", "epsg_attr"])
def test_a_grid_in_wgs84_is_a_fault_not_reprojected(raw, style):
    fault = fault_of(write_grid(raw, "no2", epsg=4326, crs_style=style), NO2, raw)
    assert str(fault) == "air_quality/no2_2010.nc: CRS is EPSG:4326, expected EPSG:27700"


def test_a_grid_mapping_naming_no_variable_is_a_fault(raw):
    path = write_grid(raw, "no2", crs_style=None)
    import xarray as xr

    with xr.open_dataset(path) as ds:
        ds = ds.load()
    ds["no2"].attrs["grid_mapping"] = "crs"
    ds.to_netcdf(path)
    assert "grid_mapping names 'crs'" in str(fault_of(path, NO2, raw))


@pytest.mark.parametrize("dims", [("y", "x", "time"), ("time", "x", "y")])
def test_dims_other_than_time_y_x_are_a_fault(raw, dims):
    fault = fault_of(write_grid(raw, "no2", dims=dims), NO2, raw)
    assert f"dims are ({', '.join(dims)}), expected (time, y, x)" in str(fault)


def test_an_ndvi_grid_with_a_time_dimension_is_a_fault(raw):
    values = cell_values("ndvi", 1, 5, 6)[None]
    path = write_grid(raw, "ndvi", values=values, dims=("time", "y", "x"), times=["2010-01-01"], res=250)
    assert "expected (y, x)" in str(fault_of(path, NDVI, raw))


def test_eleven_monthly_steps_are_a_fault(raw):
    fault = fault_of(write_grid(raw, "no2", n_times=11), NO2, raw)
    assert str(fault) == "air_quality/no2_2010.nc: time has 11 steps, expected 12 monthly means"


def test_months_stamped_mid_month_are_a_fault(raw):
    path = write_grid(raw, "no2", times=[f"2010-{m:02d}-15" for m in range(1, 13)])
    assert "stamped on the 1st" in str(fault_of(path, NO2, raw))


def test_time_stamps_of_another_year_than_the_file_name_are_a_fault(raw):
    path = write_grid(raw, "no2", 2010, times=[f"2011-{m:02d}-01" for m in range(1, 13)])
    assert "expected 2010 (from the file name)" in str(fault_of(path, NO2, raw))


def test_a_repeated_month_is_a_fault(raw):
    path = write_grid(raw, "no2", times=[f"2010-{m:02d}-01" for m in [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 11]])
    assert "not one per month" in str(fault_of(path, NO2, raw))


def test_a_2_km_air_quality_grid_is_a_fault(raw):
    fault = fault_of(write_grid(raw, "no2", res=2000.0), NO2, raw, land=cell_centres(res=2000.0))
    assert str(fault) == "air_quality/no2_2010.nc: x cell size is 2000 m, expected 1000 m"


def test_a_500_m_ndvi_grid_is_a_fault(raw):
    fault = fault_of(write_grid(raw, "ndvi", res=500.0), NDVI, raw, land=cell_centres(res=500.0))
    assert "cell size is 500 m, expected 100-250 m" in str(fault)


def test_irregularly_spaced_coordinates_are_a_fault(raw):
    x = X0 + np.array([0, 1000, 2000, 3500, 4500, 5500.0])
    assert "x is not regularly spaced" in str(fault_of(write_grid(raw, "no2", x_coords=x), NO2, raw))


def test_other_units_are_a_fault(raw):
    assert "units are 'ppb'" in str(fault_of(write_grid(raw, "no2", units="ppb"), NO2, raw))


def test_a_few_out_of_range_cells_are_counted_not_a_fault(raw):
    values = cell_values("no2", 12, 10, 10)
    values[3, 2, 2] = -4.0  # 1 of 1200 cells
    path = write_grid(raw, "no2", nx=10, ny=10, values=values)
    report = validate_grid(path, NO2, None, raw)
    assert report.cells_out_of_range == 1 and report.value_min >= 0


def test_exactly_one_percent_out_of_range_passes_and_more_fails(raw):
    values = cell_values("no2", 12, 10, 10)  # 1200 cells
    values.reshape(-1)[:12] = 500.0
    validate_grid(write_grid(raw, "no2", 2010, nx=10, ny=10, values=values), NO2, None, raw)
    values.reshape(-1)[:13] = 500.0
    fault = fault_of(write_grid(raw, "no2", 2011, nx=10, ny=10, values=values), NO2, raw, land=cell_centres(10, 10))
    assert "13 of 1200 values (1.1%) outside the physical range 0..200 ug/m3" in str(fault)


def test_infinite_values_count_as_out_of_range(raw):
    values = cell_values("ndvi", 1, 5, 6)
    values[0, 0] = np.inf
    assert "outside the physical range" in str(fault_of(write_grid(raw, "ndvi", values=values), NDVI, raw,
                                                        land=cell_centres(res=250)))


def test_a_grid_not_covering_the_land_points_is_a_fault(raw):
    land = cell_centres()
    outside = land.head(3).with_columns(easting=land["easting"].head(3) + 50_000)
    fault = fault_of(write_grid(raw, "no2"), NO2, raw, land=land.vstack(outside))  # 3 of 33 outside
    assert str(fault) == ("air_quality/no2_2010.nc: grid does not cover England's land: 9.1% of postcodes "
                          "fall outside or on NaN cells")


def test_land_points_on_nan_cells_count_as_uncovered(raw):
    values = cell_values("no2", 12, 5, 6)
    values[:, 0, :] = np.nan  # the whole first row is sea, though six postcodes lie there
    assert "20.0% of postcodes" in str(fault_of(write_grid(raw, "no2", values=values), NO2, raw))


def test_a_cell_missing_in_one_month_only_is_uncovered_for_its_postcodes(raw):
    values = cell_values("no2", 12, 5, 6)
    values[5, 0, 0] = np.nan
    land = cell_centres()
    report_land = land.vstack(land.tail(29).with_columns(northing=land["northing"].tail(29) + 1.0))  # 59 points
    with pytest.raises(EnvironmentFault, match=r"1\.7% of postcodes"):
        validate_grid(write_grid(raw, "no2", values=values), NO2, report_land, raw)


def test_a_file_name_without_a_year_is_a_fault(raw):
    fault = fault_of(write_grid(raw, "no2", filename="no2_latest.nc"), NO2, raw)
    assert str(fault) == "air_quality/no2_latest.nc: file name does not follow no2_YYYY.nc"


def test_a_file_that_is_not_netcdf_is_a_fault(raw):
    path = raw / "air_quality" / "no2_2010.nc"
    path.parent.mkdir()
    path.write_text("easting,northing,no2\n")
    assert str(fault_of(path, NO2, raw)).startswith("air_quality/no2_2010.nc: cannot be opened as NetCDF")


def test_an_all_nan_grid_is_a_fault(raw):
    values = np.full((12, 5, 6), np.nan)
    assert "holds no values" in str(fault_of(write_grid(raw, "no2", values=values), NO2, raw))
