"""Leak scan: does a research table hold anything that identifies a person?

Rules, each counting rows (a finding never holds the values it found):

- `nhs_number`: a 10-digit number passing Modulus 11, alone or inside text, with or without the
  3-3-4 spaces or hyphens; in text columns and in integer columns.
- `upn`: a 13-character UPN whose check letter agrees.
- `postcode`: a full postcode (any case, with or without the space). Districts ("SW1A") are allowed.
- `date_of_birth`: a column named like a date of birth (dob, mother_dob, date_of_birth, birth_date).
- `date_equals_dob`: a date equal to the same person's date of birth, given the secure zone's
  (person, dob) pairs: a full event date on a birth episode is a full date of birth.
- `identifier_column`: a column named like a direct identifier of the raw contract (names, NHS
  numbers, UPNs, postcodes, record ids, provider person ids).
- `secure:<set>`: a text value equal to a value of one of the secure zone's identifier sets
  (NHS numbers, UPNs, postcodes, names, record ids ...), compared without case, accents, spaces or
  punctuation. Values shorter than `MIN_SECURE_CHARS` are not compared: every short code ("1", "M")
  would match something.

Pseudonyms (32 lowercase hex characters) cannot match the patterns: every rule needs a word
boundary, and a pseudonym is one word. Text means String, Categorical and Enum columns; nested
(List, Struct) columns are not scanned: research tables should not have them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from cohort_platform.contract.datasets import DATASETS
from cohort_platform.ingest import canonical
from cohort_platform.privacy.pseudonyms import RESEARCH_ID_COLUMN

NHS_PATTERN = r"\b[0-9]{3}[ \-]?[0-9]{3}[ \-]?[0-9]{4}\b"
UPN_PATTERN = r"\b[A-Za-z][0-9]{11}[0-9A-Za-z]\b"
POSTCODE_PATTERN = r"(?i)\b[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}\b"
DOB_NAME = re.compile(r"(^|_)(dob|date_of_birth|birth_date|birthdate)($|_)", re.IGNORECASE)
MIN_SECURE_CHARS = 3

_ID_KINDS = ("name", "nhs_number", "upn", "postcode")
_PROVIDER_IDS = ("record_id", "person_id", "child_id", "study_id", "family_id", "household_id", "epikey")
IDENTIFIER_COLUMNS: frozenset[str] = frozenset(
    {c.name for ds in DATASETS.values() if ds.person_level for c in ds.columns if c.kind in _ID_KINDS}
    | {f"{c.name}_valid" for ds in DATASETS.values() if ds.person_level for c in ds.columns if c.kind in _ID_KINDS[1:]}
    | set(_PROVIDER_IDS)
)
"""Column names that are direct identifiers of the raw contract (from the contract itself)."""


@dataclass(frozen=True, order=True)
class LeakFinding:
    table: str
    column: str
    rule: str
    count: int


def _is_integer(dtype: pl.DataType) -> bool:
    return dtype.is_integer()


def _is_date(dtype: pl.DataType) -> bool:
    return dtype == pl.Date or isinstance(dtype, pl.Datetime)


def _is_text(dtype: pl.DataType) -> bool:
    return dtype == pl.String or isinstance(dtype, (pl.Categorical, pl.Enum))


def _rows_with_valid(values: pl.Series, pattern: str, valid, prepare) -> int:
    """Rows holding at least one match of `pattern` that passes `valid`."""
    candidates = values.rename("v").to_frame().with_row_index("_row").filter(pl.col("v").str.contains(pattern))
    if candidates.height == 0:
        return 0
    matches = candidates.select("_row", pl.col("v").str.extract_all(pattern).alias("_m")).explode("_m")
    return matches.filter(valid(prepare(pl.col("_m"))).fill_null(False))["_row"].n_unique()


def _compact(values: pl.Series) -> pl.Series:
    """Upper case, accents and everything but letters and digits removed: how values are compared.
    Null where fewer than `MIN_SECURE_CHARS` remain. Unicode decomposition (slow) only for the rare
    non-ASCII values."""
    values = values.cast(pl.String)
    out = values.str.replace_all(r"[^0-9A-Za-z]", "").str.to_uppercase()
    other = (values.str.len_bytes() != values.str.len_chars()).fill_null(False)
    if other.any():
        where = other.arg_true()
        decomposed = values.gather(where).str.normalize("NFKD").str.replace_all(r"[^0-9A-Za-z]", "").str.to_uppercase()
        out = out.scatter(where, decomposed)
    return out.set(out.str.len_chars() < MIN_SECURE_CHARS, None)


def _secure_set_of(column) -> str | None:
    """The secure set a contract column's values belong to, or None for content."""
    if column.kind in _ID_KINDS:
        return column.kind
    if column.name == "record_id":
        return "record_id"
    if column.name in _PROVIDER_IDS:
        return "provider_id"
    return None


def secure_identifier_columns(dataset: str) -> list[str]:
    """The columns of a clean dataset that hold secure identifier values: all `secure_identifier_sets`
    reads, so that a caller can load only these (a third of the columns or fewer)."""
    contract = DATASETS.get(dataset)
    return [c.name for c in contract.columns if _secure_set_of(c) is not None] if contract else []


def secure_identifier_sets(clean_frames: Mapping[str, pl.DataFrame]) -> dict[str, pl.Series]:
    """The identifier sets of the secure zone, from the clean datasets and the contract's column kinds:
    nhs_number, upn, postcode, name (every forename and surname), record_id and provider_id (child,
    study, family and household ids). Reads only `secure_identifier_columns`."""
    parts: dict[str, list[pl.Series]] = {k: [] for k in ("nhs_number", "upn", "postcode", "name", "record_id", "provider_id")}
    for dataset, frame in clean_frames.items():
        contract = DATASETS.get(dataset)
        if contract is None:
            continue
        for column in contract.columns:
            kind = _secure_set_of(column)
            if kind is not None and column.name in frame.columns:
                parts[kind].append(frame[column.name].cast(pl.String))
    return {
        name: (pl.concat(series) if series else pl.Series([], dtype=pl.String)).drop_nulls().unique().rename(name)
        for name, series in parts.items()
    }


@dataclass(frozen=True)
class SecureSets:
    """The secure zone's identifier sets, compacted and distinct: built once, scanned against often."""

    sets: dict[str, pl.Series]


def compact_secure_sets(secure_sets: Mapping[str, pl.Series | pl.DataFrame] | SecureSets) -> SecureSets:
    """Set name -> values (a Series, or a frame whose text columns all count) -> `SecureSets`."""
    if isinstance(secure_sets, SecureSets):
        return secure_sets
    out: dict[str, pl.Series] = {}
    for name, values in secure_sets.items():
        if isinstance(values, pl.DataFrame):
            parts = [values[c].cast(pl.String) for c, t in values.schema.items() if t == pl.String]
            values = pl.concat(parts) if parts else pl.Series([], dtype=pl.String)
        out[name] = _compact(values).drop_nulls().unique()
    return SecureSets(out)


def _secure_value_counts(frame: pl.DataFrame, columns: list[str], sets: Mapping[str, pl.Series]) -> dict[str, list[tuple[str, int]]]:
    """Text column -> (set name, rows whose compacted value is in that secure set), for the hits only.

    Each secure set is probed once per table, against the distinct compacted values of all the
    table's text columns together: a secure set holds every record id, name and number of the secure
    zone (millions), so hashing it once per column would cost far more than the scan itself. Only
    the (usually empty) matched values are then looked up column by column."""
    if not sets or not columns or frame.height == 0:
        return {}
    distinct = {c: frame[c].cast(pl.String).drop_nulls().unique() for c in columns}
    keys = {c: _compact(values) for c, values in distinct.items()}
    table_keys = pl.concat(list(keys.values())).drop_nulls().unique()
    counts: dict[str, list[tuple[str, int]]] = {}
    if table_keys.len() == 0:
        return counts
    for name, secure in sets.items():
        matched = secure.filter(secure.is_in(table_keys.implode()).fill_null(False))  # hashes the table's keys, not the set
        if matched.len() == 0:
            continue
        for column in columns:
            hits = distinct[column].filter(keys[column].is_in(matched.implode()).fill_null(False))
            if hits.len():
                rows = int(frame[column].cast(pl.String).is_in(hits.implode()).sum())
                counts.setdefault(column, []).append((name, rows))
    return counts


def scan_frame(
    table: str,
    frame: pl.DataFrame,
    *,
    secure_sets: Mapping[str, pl.Series | pl.DataFrame] | SecureSets | None = None,
    dob_by_person: pl.DataFrame | None = None,
    person_column: str = RESEARCH_ID_COLUMN,
) -> list[LeakFinding]:
    """Every leak finding in one table (empty when clean).

    `dob_by_person` holds the secure zone's (`person_column`, dob) pairs; `secure_sets` its
    identifier sets by name (see `compact_secure_sets`)."""
    sets = compact_secure_sets(secure_sets).sets if secure_sets is not None else {}
    found: list[LeakFinding] = []

    def add(column: str, rule: str, count: int) -> None:
        if count:
            found.append(LeakFinding(table, column, rule, int(count)))

    dobs = None
    if dob_by_person is not None and person_column in frame.columns:
        dobs = frame.select(pl.col(person_column)).join(
            dob_by_person.select(pl.col(person_column).cast(frame.schema[person_column]), pl.col("dob").alias("_dob"))
            .unique(person_column, keep="first"),
            on=person_column, how="left", maintain_order="left",
        )["_dob"]

    secure_counts = _secure_value_counts(frame, [c for c, t in frame.schema.items() if _is_text(t)], sets)
    for column, dtype in frame.schema.items():
        values = frame[column]
        non_null = values.len() - values.null_count()
        if DOB_NAME.search(column):
            add(column, "date_of_birth", non_null)
        elif column.lower() in IDENTIFIER_COLUMNS:
            add(column, "identifier_column", non_null)
        if _is_text(dtype):
            values = values.cast(pl.String)
            nhs = _rows_with_valid(values, NHS_PATTERN, canonical.nhs_number_is_valid, canonical.canonical_nhs_number)
            add(column, "nhs_number", nhs)
            add(column, "upn", _rows_with_valid(values, UPN_PATTERN, canonical.upn_is_valid, lambda e: e.str.to_uppercase()))
            add(column, "postcode", int(values.str.contains(POSTCODE_PATTERN).sum()))
            for name, count in secure_counts.get(column, ()):
                add(column, f"secure:{name}", count)
        elif _is_integer(dtype):
            wide = values.cast(pl.Int128) if dtype != pl.UInt64 else values
            ten_digits = values.filter((wide >= 1_000_000_000) & (wide <= 9_999_999_999)).cast(pl.String)
            if ten_digits.len():
                valid = ten_digits.to_frame("v").select(canonical.nhs_number_is_valid(pl.col("v")).sum()).item()
                add(column, "nhs_number", int(valid))
        elif _is_date(dtype) and dobs is not None:
            add(column, "date_equals_dob", int((values.cast(pl.Date) == dobs).fill_null(False).sum()))
    return sorted(found)


def merge_findings(findings: Iterable[LeakFinding]) -> list[LeakFinding]:
    """Findings of the same table, column and rule (from several files) added up."""
    totals: Counter[tuple[str, str, str]] = Counter()
    for f in findings:
        totals[(f.table, f.column, f.rule)] += f.count
    return sorted(LeakFinding(t, c, r, n) for (t, c, r), n in totals.items())


def scan_tables(tables: Mapping[str, pl.DataFrame], **kwargs) -> list[LeakFinding]:
    """`scan_frame` over several tables; the secure sets are compacted once."""
    if kwargs.get("secure_sets") is not None:
        kwargs["secure_sets"] = compact_secure_sets(kwargs["secure_sets"])
    return merge_findings(f for name, frame in tables.items() for f in scan_frame(name, frame, **kwargs))


def scan_parquet_dir(root: Path, **kwargs) -> list[LeakFinding]:
    """Every table under `root` (`<root>/<table>/**/*.parquet`, e.g. `research_ready/`), one file at
    a time so memory stays bounded by the largest file."""
    if kwargs.get("secure_sets") is not None:
        kwargs["secure_sets"] = compact_secure_sets(kwargs["secure_sets"])
    found: list[LeakFinding] = []
    for table_dir in sorted(p for p in Path(root).iterdir() if p.is_dir()):
        for file in sorted(table_dir.rglob("*.parquet")):
            found.extend(scan_frame(table_dir.name, pl.read_parquet(file, hive_partitioning=False), **kwargs))
    return merge_findings(found)


def findings_frame(findings: Iterable[LeakFinding]) -> pl.DataFrame:
    """Findings as a frame (table, column, rule, count) for metadata and reports."""
    rows = [(f.table, f.column, f.rule, f.count) for f in findings]
    schema = {"table": pl.String, "column": pl.String, "rule": pl.String, "count": pl.Int64}
    return pl.DataFrame(rows, schema=schema, orient="row")
