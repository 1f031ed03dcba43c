"""discover() lists what was delivered (a missing year or folder is not an error); the PNG maps render."""

from __future__ import annotations

import geopandas as gpd
import pytest
from shapely.geometry import LineString

from cohort_platform.contract.datasets import GRIDS
from cohort_platform.ingest.environment import (
    discover,
    png_markdown,
    render_grid_png,
    render_roads_png,
    unrecognised_files,
)

from .conftest import write_grid

PNG = b"\x89PNG\r\n\x1a\n"


def test_a_missing_year_is_simply_absent(raw):
    for year in (2009, 2011):
        write_grid(raw, "no2", year)
    found = discover(raw)
    assert [p.name for p in found["no2"]] == ["no2_2009.nc", "no2_2011.nc"]


def test_absent_folders_mean_nothing_delivered(raw):
    assert discover(raw) == {"no2": [], "pm25": [], "ndvi": [], "roads": []}
    assert discover(raw / "not_there") == {"no2": [], "pm25": [], "ndvi": [], "roads": []}


def test_files_are_found_per_grid_in_year_order_and_strays_are_reported_not_picked_up(raw):
    for year in (2012, 2010):
        write_grid(raw, "pm25", year)
    write_grid(raw, "no2", 2010)
    write_grid(raw, "ndvi", 2010)
    stray = raw / "air_quality" / "no2_2010_v2.nc"
    stray.write_bytes(b"")
    found = discover(raw)
    assert [p.name for p in found["pm25"]] == ["pm25_2010.nc", "pm25_2012.nc"]
    assert [p.name for p in found["no2"]] == ["no2_2010.nc"] and [p.name for p in found["ndvi"]] == ["ndvi_2010.nc"]
    assert unrecognised_files(raw) == [stray]


def test_the_roads_file_is_discovered(raw):
    path = raw / "roads" / "major_roads.gpkg"
    path.parent.mkdir()
    path.write_bytes(b"")
    assert discover(raw)["roads"] == [path]


@pytest.fixture
def roads() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"road_class": ["Motorway", "A Road"], "road_number": ["M1", "A6"]},
                            geometry=[LineString([(400_000, 200_000), (405_000, 204_000)]),
                                      LineString([(401_000, 200_500), (402_000, 203_000)])], crs="EPSG:27700")


@pytest.mark.parametrize("month", [None, 1])
def test_a_monthly_grid_renders_as_a_png_for_one_month_or_the_annual_mean(raw, roads, month):
    png = render_grid_png(write_grid(raw, "no2", y_desc=True), GRIDS["no2"], month=month, roads=roads)
    assert png.startswith(PNG) and len(png) > 1000


def test_an_ndvi_grid_and_the_roads_render_as_pngs(raw, roads):
    assert render_grid_png(write_grid(raw, "ndvi"), GRIDS["ndvi"]).startswith(PNG)
    png = render_roads_png(roads)
    assert png.startswith(PNG)
    assert png_markdown(png).startswith("![map](data:image/png;base64,iVBOR")
