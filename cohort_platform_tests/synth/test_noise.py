"""Noise: each imperfection is what it claims, at about its configured rate, and never breaks a rule."""

import datetime as dt

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from cohort_platform.contract.datasets import DATASETS
from cohort_platform.contract.identifiers import canonical_nhs_number, nhs_number_is_valid, upn_check_letter
from cohort_platform.synth.days import add_years, day, days_from_ymd, ymd
from cohort_platform.synth.noise import RATES, NoiseRates, apply_noise, typo
from cohort_platform.synth.population import upn_check_letters, valid_nhs_numbers
from cohort_platform_tests.synth.conftest import CUTOFF


def _edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance (a transposition counts as one edit)."""
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[-1][-1]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyzéëç'- ", min_size=0, max_size=15), min_size=1, max_size=30),
       st.integers(0, 2**32 - 1))
def test_a_typo_is_one_edit_and_never_empties_a_name(names, seed):
    out = typo(pl.Series("n", names), np.random.default_rng(seed)).to_list()
    for before, after in zip(names, out):
        if len(before) < 3:
            assert after == before
        else:
            assert after and _edit_distance(before, after) <= 1


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 3000), st.integers(0, 2**32 - 1))
def test_generated_nhs_numbers_are_unique_and_valid(n, seed):
    numbers = valid_nhs_numbers(np.random.default_rng(seed), n)
    assert numbers.is_unique().all() and numbers.len() == n
    assert all(nhs_number_is_valid(x) for x in numbers.head(200).to_list())


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="0123456789", min_size=12, max_size=12))
def test_vectorised_upn_check_letter_agrees_with_the_contract(body):
    digits = np.array([[int(c) for c in body]])
    assert upn_check_letters(digits)[0] == upn_check_letter(body)


@given(st.dates(dt.date(1960, 1, 1), dt.date(2040, 12, 31)), st.integers(0, 30))
def test_day_arithmetic_matches_the_calendar(date, years):
    d = np.array([day(date)])
    y, m, dd = ymd(d)
    assert (int(y[0]), int(m[0]), int(dd[0])) == (date.year, date.month, date.day)
    assert int(days_from_ymd(y, m, dd)[0]) == day(date)
    later = add_years(d, years)[0]
    try:
        expected = date.replace(year=date.year + years)
    except ValueError:  # 29 February in a common year
        expected = dt.date(date.year + years, 3, 1)
    assert int(later) == day(expected)


def _hes_like(n: int, rng: np.random.Generator) -> pl.DataFrame:
    """Rows shaped like HES: dob, admission dates on or after it, NHS numbers, postcodes."""
    dob = pl.Series([dt.date(2010, 1, 1) + dt.timedelta(days=int(x)) for x in rng.integers(0, 3000, n)])
    return pl.DataFrame({
        "record_id": [str(i) for i in range(n)], "newnhsno": valid_nhs_numbers(rng, n), "dob": dob,
        "admidate": dob, "epistart": dob, "homeadd": ["AB1 2CD"] * n, "_homeadd_prev": ["AB1 3EF"] * n,
    })


def test_rates_are_near_the_configured_rates_and_every_change_is_recorded():
    rng = np.random.default_rng(5)
    n = 40_000
    frame = _hes_like(n, rng)
    rates = NoiseRates(nhs_missing=0.05, nhs_invalid=0.005, nhs_formatted=0.03, dob_off_by_one=0.01,
                       postcode_lagged=0.1, postcode_lower=0.03)
    noisy, errors = apply_noise(frame, DATASETS["hes_apc"], rates, rng, CUTOFF)
    count = dict(errors.group_by("error").len().iter_rows())
    assert abs(noisy["newnhsno"].null_count() / n - 0.05) < 0.006
    assert count["newnhsno:missing"] == noisy["newnhsno"].null_count()
    canonical = [canonical_nhs_number(x) for x in noisy["newnhsno"].drop_nulls().to_list()]
    invalid = sum(not nhs_number_is_valid(x) for x in canonical)
    assert invalid == count["newnhsno:invalid"] and abs(invalid / n - 0.005 * 0.95) < 0.002
    assert abs(count["newnhsno:formatted"] / n - 0.03 * 0.95) < 0.005
    assert abs(count["homeadd:lagged"] / n - 0.1) < 0.01
    assert (noisy["homeadd"] == "AB1 3EF").sum() + (noisy["homeadd"] == "ab1 3ef").sum() == count["homeadd:lagged"]
    assert "_homeadd_prev" not in noisy.columns


def test_dob_noise_never_puts_the_dob_after_another_date_of_the_row():
    rng = np.random.default_rng(6)
    frame = _hes_like(20_000, rng)
    noisy, errors = apply_noise(frame, DATASETS["hes_apc"], NoiseRates(dob_transposed=0.3, dob_off_by_one=0.3), rng, CUTOFF)
    assert (noisy["dob"] <= noisy["admidate"]).all() and (noisy["dob"] <= noisy["epistart"]).all()
    changed = errors.filter(pl.col("error").str.starts_with("dob:"))
    assert changed.height > 1000  # the earlier-by-a-day and transposed-earlier cases still happen
    transposed = noisy.join(frame.select("record_id", pl.col("dob").alias("true_dob")), on="record_id") \
        .filter(pl.col("record_id").is_in(errors.filter(pl.col("error") == "dob:transposed")["record_id"].implode()))
    assert ((transposed["dob"].dt.month() == transposed["true_dob"].dt.day())
            & (transposed["dob"].dt.day() == transposed["true_dob"].dt.month())).all()


def test_every_person_level_dataset_has_noise_rates():
    assert set(RATES) == {n for n, d in DATASETS.items() if d.person_level}


def test_configured_missing_nhs_rates_follow_the_brief():
    assert RATES["hes_apc"].nhs_missing == 0.05 and RATES["mhsds"].nhs_missing == 0.10
    assert RATES["deaths"].nhs_missing == 0.2 and RATES["cla"].nhs_missing == 0.2
