"""validate_roads / read_roads: the major roads layer in British National Grid, other road classes
counted and dropped, every breach a fault naming the file."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import LineString, MultiLineString, Point

from cohort_platform.ingest.environment import EnvironmentFault, read_roads, validate_roads

REL = "roads/major_roads.gpkg"


def write_roads(raw: Path, rows=None, crs="EPSG:27700", layer="roads", drop: str | None = None) -> Path:
    rows = rows if rows is not None else [
        ("Motorway", "M1", LineString([(400_000, 200_000), (410_000, 205_000)])),
        ("A Road", "A6", MultiLineString([[(400_000, 201_000), (401_000, 202_000)], [(401_000, 202_000), (403_000, 202_500)]])),
        ("A Road", "A43", LineString([(402_000, 200_000), (402_000, 204_000)])),
        ("B Road", "B5400", LineString([(403_000, 200_000), (404_000, 201_000)])),
        ("Minor Road", "", LineString([(405_000, 200_000), (405_500, 201_000)])),
    ]
    gdf = gpd.GeoDataFrame({"road_class": [r[0] for r in rows], "road_number": [r[1] for r in rows]},
                           geometry=[r[2] for r in rows], crs="EPSG:27700")
    if crs != "EPSG:27700":
        gdf = gdf.to_crs(crs)
    if drop:
        gdf = gdf.drop(columns=drop)
    path = raw / "roads" / "major_roads.gpkg"
    path.parent.mkdir(parents=True, exist_ok=True)
    gdf.to_file(path, layer=layer, driver="GPKG", engine="pyogrio")
    return path


def test_good_roads_pass_and_other_classes_are_counted_and_dropped(raw):
    report = validate_roads(write_roads(raw), raw)
    assert report.file == REL and report.crs == "EPSG:27700"
    assert report.features_read == 5 and report.features_kept == 3
    assert report.kept_by_class == {"Motorway": 1, "A Road": 2}
    assert report.dropped_other_class == 2 and report.dropped_classes == {"B Road": 1, "Minor Road": 1}
    assert report.length_km_by_class["A Road"] == pytest.approx(4 + 2 ** 0.5 + (2 ** 2 + 0.5 ** 2) ** 0.5, abs=1e-3)


def test_read_roads_returns_only_motorways_and_a_roads_in_british_national_grid(raw):
    roads = read_roads(write_roads(raw))
    assert set(roads["road_class"]) == {"Motorway", "A Road"} and roads.crs.to_epsg() == 27700
    assert set(roads.geometry.geom_type) <= {"LineString", "MultiLineString"} and len(roads) == 3


def test_roads_in_wgs84_are_a_fault_not_silently_reprojected(raw):
    with pytest.raises(EnvironmentFault) as info:
        validate_roads(write_roads(raw, crs="EPSG:4326"), raw)
    assert str(info.value) == f"{REL}: CRS is EPSG:4326, expected EPSG:27700"


def test_a_missing_roads_layer_is_a_fault_naming_the_file(raw):
    with pytest.raises(EnvironmentFault) as info:
        validate_roads(write_roads(raw, layer="major_roads"), raw)
    assert info.value.file == REL and "layer 'roads' missing (layers: ['major_roads'])" in str(info.value)


def test_point_geometries_are_a_fault(raw):
    rows = [("A Road", "A1", Point(400_000, 200_000))]
    with pytest.raises(EnvironmentFault, match="LineString or MultiLineString, found \\['Point'\\]"):
        validate_roads(write_roads(raw, rows), raw)


def test_a_missing_road_number_column_is_a_fault(raw):
    with pytest.raises(EnvironmentFault, match=f"{REL}: column 'road_number' missing"):
        validate_roads(write_roads(raw, drop="road_number"), raw)


def test_lon_lat_coordinates_labelled_british_national_grid_are_a_fault(raw):
    rows = [("A Road", "A1", LineString([(-1.5, 52.0), (-1.4, 52.1)]))]
    with pytest.raises(EnvironmentFault, match="outside the British National Grid"):
        validate_roads(write_roads(raw, rows), raw)


def test_a_file_that_is_not_a_geopackage_is_a_fault(raw):
    path = raw / "roads" / "major_roads.gpkg"
    path.parent.mkdir()
    path.write_text("not a database")
    with pytest.raises(EnvironmentFault, match=f"{REL}: cannot be opened as a GeoPackage"):
        validate_roads(path, raw)
