"""Residential histories and environmental exposures, Dagster-free (the assets call these per
birth-year partition): `histories` (dated addresses -> monthly spells), `sampling` (grid values and
road distances per location, vectorised), `assign` (per child-year at home and school, per pregnancy
trimester), `quality` (coverage, range checks). Method and rules: docs/residential_histories.md."""
