"""Vectorised sampling: NDVI disc mean on hand-made grids, road distances to hand-made lines, monthly
values by calendar month, and missing years left missing."""

from __future__ import annotations

import numpy as np
import pytest

from cohort_platform.exposures.sampling import (
    disc_kernel, disc_mean, monthly_values, ndvi_disc_values, road_distances, sample_locations,
)
from cohort_platform_tests.exposures.factories import annual_grid, monthly_grid, roads


def test_disc_kernel_holds_the_cells_within_the_radius():
    assert disc_kernel(100, 100, 300).sum() == 29  # offsets with dx^2 + dy^2 <= 3^2 (in cells)
    assert disc_kernel(250, 250, 300).tolist() == [[0, 1, 0], [1, 1, 1], [0, 1, 0]]


def test_ndvi_disc_mean_of_a_single_green_cell():
    # 100 m cells; only the cell centred at (1050, 1050) is green (1.0)
    grid = annual_grid(lambda ix, iy: 1.0 if (ix, iy) == (10, 10) else 0.0, nx=21, ny=21, res=100.0)
    e = np.array([1050.0, 1350.0, 1450.0, 1250.0])
    n = np.array([1050.0, 1050.0, 1050.0, 1250.0])
    got = ndvi_disc_values({2015: grid}, e, n, [2015])[0]
    # at the cell, 300 m east (its disc still reaches the green cell), 400 m east (it does not),
    # and (200, 200) away: 283 m, inside the disc
    np.testing.assert_allclose(got, [1 / 29, 1 / 29, 0.0, 1 / 29], rtol=1e-6)


def test_ndvi_disc_mean_leaves_sea_cells_out():
    # west half NaN (sea), east half 0.6; a coastal cell averages only its land neighbours
    grid = annual_grid(lambda ix, iy: np.nan if ix < 8 else 0.6, nx=16, ny=12, res=250.0)
    mean = disc_mean(grid, 300.0)
    x8 = float(grid["x"][8])
    assert float(mean.sel(x=x8, y=float(grid["y"][5]))) == pytest.approx(0.6)
    assert np.isnan(float(mean.sel(x=float(grid["x"][3]), y=float(grid["y"][5]))))


def test_ndvi_disc_mean_averages_a_gradient():
    grid = annual_grid(lambda ix, iy: 0.1 * ix, nx=10, ny=10, res=250.0)
    # plus-shaped kernel at 250 m: (x-1, x, x+1 in the row) + the cells above and below
    x, y = float(grid["x"][4]), float(grid["y"][4])
    got = ndvi_disc_values({2015: grid}, np.array([x]), np.array([y]), [2015])[0, 0]
    assert got == pytest.approx((0.3 + 0.4 + 0.5 + 0.4 + 0.4) / 5, rel=1e-6)


def test_road_distance_to_a_hand_made_line():
    r = roads(("Motorway", [(0.0, 0.0), (1000.0, 0.0)]), ("A Road", [(0.0, 500.0), (1000.0, 500.0)]))
    e = np.array([500.0, 1300.0, 500.0, np.nan])
    n = np.array([-300.0, -400.0, 400.0, 0.0])
    got = road_distances(r, e, n)
    np.testing.assert_allclose(got["motorway_m"], [300.0, 500.0, 400.0, np.nan])  # 500 m: to the end (1000, 0)
    np.testing.assert_allclose(got["road_m"], [300.0, 500.0, 100.0, np.nan])  # the A road is nearer to the third


def test_road_distances_without_roads_are_missing():
    got = road_distances(None, np.array([1.0]), np.array([1.0]))
    assert np.isnan(got["road_m"]).all() and np.isnan(got["motorway_m"]).all()


def test_monthly_values_put_each_month_in_its_calendar_slot_even_when_stored_backwards():
    grid = monthly_grid(2015, lambda ix, iy, m: 10 * ix + m)
    backwards = grid.isel(time=slice(None, None, -1))
    got = monthly_values({2015: backwards}, np.array([1500.0]), np.array([500.0]), [2015], "no2")
    np.testing.assert_allclose(got[0, 0], 10 + np.arange(1, 13))


def test_a_missing_year_is_missing_not_borrowed():
    grid = monthly_grid(2015, lambda ix, iy, m: 5.0)
    got = monthly_values({2015: grid}, np.array([500.0]), np.array([500.0]), [2014, 2015, 2016], "no2")
    assert np.isnan(got[0]).all() and np.isnan(got[2]).all()
    np.testing.assert_allclose(got[1, 0], 5.0)


def test_points_outside_the_grid_are_missing():
    grid = monthly_grid(2015, lambda ix, iy, m: 5.0)
    got = monthly_values({2015: grid}, np.array([99_000.0, np.nan]), np.array([500.0, 500.0]), [2015], "no2")
    assert np.isnan(got).all()


def test_sample_locations_counts_the_values_read():
    g = monthly_grid(2015, lambda ix, iy, m: 5.0)
    values = sample_locations(np.array([500.0, 1500.0]), np.array([500.0, 500.0]), [2015, 2016],
                              {2015: g}, {2015: g.rename("pm25")}, {}, None)
    assert values.points_sampled == 2 * (12 + 12)
    assert values.years == [2015, 2016]
