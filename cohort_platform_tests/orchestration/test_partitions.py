import pytest

from cohort_platform.orchestration.partitions import BIRTH_YEAR, birth_years, parse_birth_years


def test_birth_years_start_in_2006():
    assert birth_years(2010) == ["2006", "2007", "2008", "2009", "2010"]
    assert BIRTH_YEAR.get_partition_keys()[0] == "2006"


@pytest.mark.parametrize(("text", "years"), [
    ("2006-2008", [2006, 2007, 2008]), ("2009", [2009]), ("2006,2009", [2006, 2009]), ("2008-2008", [2008]),
])
def test_birth_year_ranges_are_parsed(text, years):
    assert parse_birth_years(text) == years


@pytest.mark.parametrize("text", ["2010-2006", "", "abc"])
def test_bad_birth_year_ranges_are_refused(text):
    with pytest.raises(ValueError):
        parse_birth_years(text)
