"""A provider's imperfections, applied to true rows, each one recorded so linkage can be scored.

`apply_noise` works on a frame holding a dataset's contract columns (typed: names as text, dates as
polars Date, identifiers as canonical text) plus helper columns the extract builders provide:

- `_known_as`: the name the person goes by (a nickname for some), for providers that record it;
- `_surname_prev`: the surname before a recent change, for providers slow to update it;
- `_postcode_prev`: the postcode before a recent move, for providers whose address lags.

Every noise is vectorised (polars expressions over a random mask) and returns, besides the noisy
frame, an `errors` frame (dataset, record_id, error) naming each change actually made. Rates are per
row (per field for names). Noise never breaks a contract rule: a DOB error that would put the dob
after another date of its row is not applied, so only the deliberately malformed rows fail ingestion.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields

import numpy as np
import polars as pl

from cohort_platform.contract.datasets import Dataset

LETTERS = np.array(list("abcdefghijklmnopqrstuvwxyz"))


@dataclass(frozen=True)
class NoiseRates:
    """Per-dataset rates; zero switches a kind of noise off."""

    name_typo: float = 0.0  # per name field: one-character edit
    nickname: float = 0.0  # forename -> the name the person goes by
    surname_stale: float = 0.0  # a recent surname change not yet recorded
    dob_transposed: float = 0.0  # day and month swapped (both <= 12)
    dob_off_by_one: float = 0.0
    nhs_missing: float = 0.0
    nhs_invalid: float = 0.005  # wrong check digit
    nhs_formatted: float = 0.0  # "943 476 5919" or "943-476-5919"
    postcode_lagged: float = 0.0  # of rows whose family moved in the last year
    postcode_missing: float = 0.0
    postcode_lower: float = 0.0
    postcode_no_space: float = 0.0
    upn_missing: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


RATES: dict[str, NoiseRates] = {
    "births": NoiseRates(name_typo=0.005, dob_off_by_one=0.0005, nhs_missing=0.002,
                         nhs_formatted=0.01, postcode_missing=0.005, postcode_lower=0.01, postcode_no_space=0.01),
    "deaths": NoiseRates(name_typo=0.02, nickname=0.05, surname_stale=0.2, dob_transposed=0.005, dob_off_by_one=0.005,
                         nhs_missing=0.2, nhs_formatted=0.05, postcode_lagged=0.2, postcode_lower=0.02,
                         postcode_no_space=0.02),
    "hes_apc": NoiseRates(dob_transposed=0.004, dob_off_by_one=0.004, nhs_missing=0.05, nhs_formatted=0.03,
                          postcode_lagged=0.3, postcode_missing=0.02, postcode_lower=0.03, postcode_no_space=0.03),
    "mhsds": NoiseRates(dob_transposed=0.005, dob_off_by_one=0.005, nhs_missing=0.10, nhs_formatted=0.05,
                        postcode_lagged=0.3, postcode_missing=0.03, postcode_lower=0.05, postcode_no_space=0.05),
    "npd_census": NoiseRates(name_typo=0.01, nickname=0.5, surname_stale=0.4, dob_transposed=0.002,
                             dob_off_by_one=0.002, postcode_lagged=0.4, postcode_missing=0.01, postcode_lower=0.02,
                             postcode_no_space=0.02),
    "npd_ks2": NoiseRates(dob_off_by_one=0.001),
    "npd_ks4": NoiseRates(dob_off_by_one=0.001),
    "cla": NoiseRates(dob_transposed=0.005, dob_off_by_one=0.005, nhs_missing=0.2, nhs_formatted=0.1,
                      postcode_lagged=0.2, postcode_lower=0.05, postcode_no_space=0.05, upn_missing=0.15),
    "census_2011": NoiseRates(name_typo=0.02, nickname=0.3, dob_transposed=0.005, dob_off_by_one=0.005,
                              postcode_lower=0.01, postcode_no_space=0.01),
    "census_2021": NoiseRates(name_typo=0.02, nickname=0.3, dob_transposed=0.005, dob_off_by_one=0.005,
                              postcode_lower=0.01, postcode_no_space=0.01),
    "survey": NoiseRates(name_typo=0.015, nickname=0.4, dob_transposed=0.003, dob_off_by_one=0.003,
                         postcode_lower=0.05, postcode_no_space=0.05),
    "opt_outs": NoiseRates(nhs_invalid=0.0, nhs_formatted=0.05),
}


def _mask(rng: np.random.Generator, n: int, rate: float) -> np.ndarray:
    return rng.random(n) < rate if rate > 0 else np.zeros(n, dtype=bool)


def _present(frame: pl.DataFrame, column: str) -> np.ndarray:
    return frame[column].is_not_null().to_numpy()


class _Recorder:
    def __init__(self, dataset: str):
        self.dataset, self.parts = dataset, []

    def add(self, record_ids: pl.Series, error: str) -> None:
        if len(record_ids):
            self.parts.append(pl.DataFrame({"record_id": record_ids.cast(pl.Utf8)}).with_columns(
                pl.lit(self.dataset).alias("dataset"), pl.lit(error).alias("error")))

    def frame(self) -> pl.DataFrame:
        if not self.parts:
            return pl.DataFrame(schema={"dataset": pl.Utf8, "record_id": pl.Utf8, "error": pl.Utf8})
        return pl.concat(self.parts).select("dataset", "record_id", "error")


def typo(values: pl.Series, rng: np.random.Generator) -> pl.Series:
    """One-character edits (substitute, delete, insert, transpose) at a random position; names shorter
    than three characters are left alone so a typo never empties a field."""
    n = len(values)
    f = pl.DataFrame({"s": values, "op": rng.integers(0, 4, n), "u": rng.random(n),
                      "c": LETTERS[rng.integers(0, 26, n)]})
    s = pl.col("s")
    length = s.str.len_chars()
    p = (pl.col("u") * (length - 1)).floor().cast(pl.Int64).clip(0, None)
    c = pl.when(p == 0).then(pl.col("c").str.to_uppercase()).otherwise(pl.col("c"))
    head, rest = s.str.slice(0, p), s.str.slice(p + 1)
    edited = (
        pl.when(pl.col("op") == 0).then(head + c + rest)
        .when(pl.col("op") == 1).then(head + rest)
        .when(pl.col("op") == 2).then(head + c + s.str.slice(p))
        .otherwise(head + s.str.slice(p + 1, 1) + s.str.slice(p, 1) + s.str.slice(p + 2))
    )
    return f.select(pl.when(length >= 3).then(edited).otherwise(s).alias(values.name)).to_series()


def _date_columns_after(dataset: Dataset, column: str) -> list[str]:
    return [c.name for c in dataset.columns if c.kind == "date" and c.not_before == column]


def apply_noise(frame: pl.DataFrame, dataset: Dataset, rates: NoiseRates, rng: np.random.Generator,
                cutoff: dt.date) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(noisy frame without the helper columns, errors). Each imperfection is computed on the chosen
    rows only and scattered back, so the cost follows the number of errors, not of rows."""
    n = frame.height
    rec = _Recorder(dataset.name)
    kinds = {c.name: c.kind for c in dataset.columns}
    out = frame if "record_id" in frame.columns else frame.with_columns(
        pl.int_range(n).cast(pl.Utf8).alias("record_id"))

    def swap(column: str, mask: np.ndarray, make, error: str) -> None:
        nonlocal out
        idx = np.flatnonzero(mask)
        if len(idx) == 0:
            return
        sub = out[idx]
        new = make(sub, rng)
        new = (new if isinstance(new, pl.Series) else sub.select(new).to_series()).alias(column)
        new = new.cast(out.schema[column])
        changed = ~sub[column].eq_missing(new)
        out = out.with_columns(out[column].scatter(idx, new))
        rec.add(sub["record_id"].filter(changed), f"{column}:{error}")

    # names: known-as, stale surname, then typos
    if rates.nickname and "forename" in out.columns and "_known_as" in out.columns:
        swap("forename", _mask(rng, n, rates.nickname), lambda f, r: f["_known_as"], "nickname")
    if rates.surname_stale and "surname" in out.columns and "_surname_prev" in out.columns:
        m = _mask(rng, n, rates.surname_stale) & _present(out, "_surname_prev")
        swap("surname", m, lambda f, r: f["_surname_prev"], "stale_surname")
    for column in (c for c, k in kinds.items() if k == "name" and c in out.columns):
        m = _mask(rng, n, rates.name_typo) & _present(out, column)
        swap(column, m, lambda f, r, c=column: typo(f[c], r), "typo")

    # dates of birth: transposed day and month, or a day out; never past another date of the row
    for column in ("dob", "mother_dob"):
        if column not in out.columns:
            continue
        later = [c for c in _date_columns_after(dataset, column) if c in out.columns]
        d = pl.col(column)

        def guarded(new: pl.Expr, later=later, column=column):
            def make(f: pl.DataFrame, r: np.random.Generator) -> pl.Series:
                candidate = f.select(new.alias("x"))["x"]
                ok = (candidate <= cutoff).fill_null(False)
                for c in later:
                    ok = ok & (f[c].is_null() | (candidate <= f[c])).fill_null(False)
                return pl.select(pl.when(ok).then(candidate).otherwise(f[column])).to_series()
            return make

        transposed = pl.when((d.dt.day() <= 12) & (d.dt.day() != d.dt.month())) \
            .then(pl.date(d.dt.year(), d.dt.day(), d.dt.month())).otherwise(d)
        m_t = _mask(rng, n, rates.dob_transposed) & _present(out, column)
        m_o = _mask(rng, n, rates.dob_off_by_one) & _present(out, column) & ~m_t
        swap(column, m_t, guarded(transposed), "transposed")
        shift = pl.when(pl.int_range(pl.len()) % 2 == 0).then(1).otherwise(-1)
        swap(column, m_o, guarded(d + pl.duration(days=shift)), "off_by_one")

    # NHS numbers: missing, invalid (wrong check digit), formatted with spaces or hyphens
    for column in (c for c, k in kinds.items() if k == "nhs_number" and c in out.columns):
        swap(column, _mask(rng, n, rates.nhs_missing) & _present(out, column),
             lambda f, r: pl.lit(None, dtype=pl.Utf8), "missing")

        def wrong(f: pl.DataFrame, r: np.random.Generator, c=column) -> pl.Series:
            bump = pl.Series(r.integers(1, 10, f.height))
            last = (f[c].str.slice(9, 1).cast(pl.Int64) + bump) % 10
            return f[c].str.slice(0, 9) + last.cast(pl.Utf8)

        swap(column, _mask(rng, n, rates.nhs_invalid) & _present(out, column), wrong, "invalid")

        def formatted(f: pl.DataFrame, r: np.random.Generator, c=column) -> pl.Series:
            sep = pl.Series(np.where(r.random(f.height) < 0.7, " ", "-"))
            v = f[c]
            return v.str.slice(0, 3) + sep + v.str.slice(3, 3) + sep + v.str.slice(6)

        swap(column, _mask(rng, n, rates.nhs_formatted) & _present(out, column), formatted, "formatted")

    # postcodes: lagging a recent move, missing, lower case, no space
    for column in (c for c, k in kinds.items() if k == "postcode" and c in out.columns):
        prev = f"_{column}_prev"
        if rates.postcode_lagged and prev in out.columns:
            m = _mask(rng, n, rates.postcode_lagged) & _present(out, prev) & _present(out, column)
            swap(column, m, lambda f, r, p=prev: f[p], "lagged")
        swap(column, _mask(rng, n, rates.postcode_missing) & _present(out, column),
             lambda f, r: pl.lit(None, dtype=pl.Utf8), "missing")
        swap(column, _mask(rng, n, rates.postcode_lower) & _present(out, column),
             lambda f, r, c=column: f[c].str.to_lowercase(), "lower_case")
        swap(column, _mask(rng, n, rates.postcode_no_space) & _present(out, column),
             lambda f, r, c=column: f[c].str.replace_all(" ", "", literal=True), "no_space")

    if rates.upn_missing and "upn" in out.columns:
        swap("upn", _mask(rng, n, rates.upn_missing) & _present(out, "upn"),
             lambda f, r: pl.lit(None, dtype=pl.Utf8), "missing")

    helpers = [c for c in out.columns if c.startswith("_") and c != "_file"]
    if "record_id" not in frame.columns:
        helpers.append("record_id")
    return out.drop(helpers), rec.frame()
