"""What every extract builder shares: a person as a provider sees them on a given day, record ids,
postcode and code lookups.

A builder (`extract_health`, `extract_education`, `extract_social`) returns one frame per dataset
holding the contract columns (typed: dates as polars Date, codes and identifiers as text) plus
`person_id`, `role`, `_file` (the delivery file the row goes to) and the helper columns `noise.py`
reads (`_known_as`, `_surname_prev`, `_<postcode column>_prev`). Rows are true values: imperfections
come later, from `noise.apply_noise`.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from cohort_platform.synth.days import NEVER
from cohort_platform.synth.population import Population, labels

SURNAME_LAG_DAYS = 730
POSTCODE_LAG_DAYS = 365


def gather(series: pl.Series, index: np.ndarray, name: str | None = None) -> pl.Series:
    """`series[index]` with index -1 giving null."""
    idx = pl.Series(np.asarray(index, dtype=np.int64))
    idx = pl.select(pl.when(idx >= 0).then(idx)).to_series()
    out = series.gather(idx)
    return out.alias(name or series.name)


def dates(name: str, days: np.ndarray) -> pl.Series:
    """A Date series from int days; NEVER becomes null."""
    d = pl.Series(name, np.asarray(days, dtype=np.int64))
    return pl.select(pl.when(d != int(NEVER)).then(d).cast(pl.Int32).cast(pl.Date).alias(name)).to_series()


def record_ids(rng: np.random.Generator, prefix: str, n: int, width: int = 9) -> pl.Series:
    """`n` unique ids that do not reveal row order: prefix + zero-padded digits."""
    stride = max(1, (10**width - 10 ** (width - 1)) // max(n, 1) // 2)
    numbers = 10 ** (width - 1) + rng.permutation(n).astype(np.int64) * stride + rng.integers(0, stride, n)
    return (prefix + pl.Series("record_id", numbers).cast(pl.Utf8)).alias("record_id")


def file_names(template: str, keys: np.ndarray, name: str = "_file") -> pl.Series:
    """Delivery file names from integer keys (a year, an LA index...): `template.format(key)` for each
    distinct key, gathered, so no per-row string work."""
    keys = np.asarray(keys)
    if len(keys) == 0:
        return pl.Series(name, [], dtype=pl.Utf8)
    distinct, inverse = np.unique(keys, return_inverse=True)
    return labels([template.format(int(k)) for k in distinct], inverse, name)


def sort_by_days(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """Rows in date order (ties keep their order): an integer sort, not a string one."""
    order = np.argsort(frame[column].cast(pl.Int32).fill_null(0).to_numpy(), kind="stable")
    return frame[order]


def map_codes(values: pl.Series, mapping: dict[str, str], name: str) -> pl.Series:
    return values.replace_strict(mapping, default=None, return_dtype=pl.Utf8).alias(name)


def person_view(pop: Population, person_index: np.ndarray, days: np.ndarray) -> pl.DataFrame:
    """The person at `person_index` (row of pop.persons) as known on `days`: identifiers, names (the
    surname then in use, and the previous one if it changed within two years), sex, dob, and the
    family's postcode then (and the previous one if the family moved within a year)."""
    p = pop.persons
    idx = pl.Series(np.asarray(person_index, dtype=np.int64))
    days = np.asarray(days, dtype=np.int64)
    family = p["family"].to_numpy()[person_index]
    change = p["surname_change"].to_numpy()[person_index].astype(np.int64)
    changed = days >= change
    recent = changed & (days - change <= SURNAME_LAG_DAYS)
    surname_1, surname_2 = p["surname"].gather(idx), p["surname_2"].gather(idx)
    seg = pop.residence.segment_at(family, days)
    pc = np.where(seg >= 0, pop.residence.postcode[np.maximum(seg, 0)], -1)
    prev = pop.residence.previous_postcode(seg, days, POSTCODE_LAG_DAYS)
    postcodes = pop.geo.postcodes["postcode"]
    return pl.DataFrame({
        "person_id": p["person_id"].gather(idx),
        "role": p["role"].gather(idx),
        "nhs_number": p["nhs_number"].gather(idx),
        "forename": p["forename"].gather(idx),
        "_known_as": p["known_as"].gather(idx),
        "surname": pl.select(pl.when(pl.Series(changed)).then(surname_2).otherwise(surname_1)).to_series(),
        "_surname_prev": pl.select(pl.when(pl.Series(recent)).then(surname_1)).to_series(),
        "dob": p["dob"].gather(idx).cast(pl.Date),
        "sex": p["sex"].gather(idx),
        "ethnicity": p["ethnicity"].gather(idx),
        "_postcode": gather(postcodes, pc, "_postcode"),
        "_postcode_prev": gather(postcodes, prev, "_postcode_prev"),
        "_pc_index": pc.astype(np.int32),
    })


def la_trust_codes(pop: Population, pc_index: np.ndarray) -> pl.Series:
    """The acute trust (procode3) serving a postcode's LA; unknown postcodes get the first trust."""
    la = pop.geo.postcode_la[np.maximum(pc_index, 0)]
    return pl.Series(pop.geo.las["procode3"].to_numpy()[la])


def weighted_codes(rng: np.random.Generator, table: dict[str, tuple[float, ...]] | dict[str, float], n: int,
                   column: int | None = None) -> pl.Series:
    """`n` codes drawn with the table's weights (a column of them when the weights are tuples)."""
    w = np.array([v[column] if column is not None else v for v in table.values()], dtype=float)
    cdf = np.cumsum(w) / w.sum()
    return labels(list(table), np.searchsorted(cdf, rng.random(n), side="right").clip(0, len(w) - 1))


def where(mask: np.ndarray, then, otherwise=None) -> pl.Series:
    """Element-wise choice between two series (or a literal) by a numpy mask; null where no otherwise."""
    t = then if isinstance(then, pl.Series) else pl.lit(then)
    expr = pl.when(pl.Series(np.asarray(mask, dtype=bool))).then(t)
    if otherwise is not None:
        expr = expr.otherwise(otherwise if isinstance(otherwise, pl.Series) else pl.lit(otherwise))
    return pl.select(expr.alias("x")).to_series()


def npd_ethnicity(true: pl.Series, rng: np.random.Generator, refused: float = 0.02) -> pl.Series:
    """The NPD code of the true ethnicity, refused or not obtained for a small share."""
    n = len(true)
    u = rng.random(n)
    return pl.select(pl.when(pl.Series(u < refused / 2)).then(pl.lit("REFU"))
                     .when(pl.Series(u < refused)).then(pl.lit("NOBT")).otherwise(true)).to_series()

