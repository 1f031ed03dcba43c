import datetime as dt
from pathlib import Path

import pytest

from cohort_platform.config import Settings


def test_defaults_put_everything_under_data():
    s = Settings.from_env({})
    assert s.home == Path("data") and s.raw_dir == Path("data/raw")
    assert s.warehouse_path == Path("data/warehouse.duckdb")
    assert s.cutoff == dt.date(2025, 3, 31)


def test_the_environment_overrides_each_setting():
    s = Settings.from_env({"COHORT_HOME": "/tmp/h", "COHORT_RAW_DIR": "/tmp/r", "COHORT_CUTOFF": "2020-01-31"})
    assert (s.home, s.raw_dir, s.cutoff) == (Path("/tmp/h"), Path("/tmp/r"), dt.date(2020, 1, 31))


def test_the_raw_dir_follows_the_home_by_default():
    assert Settings.from_env({"COHORT_HOME": "/tmp/h"}).raw_dir == Path("/tmp/h/raw")


def test_a_bad_cutoff_is_refused_with_its_value():
    with pytest.raises(ValueError, match="2020-13-01"):
        Settings.from_env({"COHORT_CUTOFF": "2020-13-01"})
