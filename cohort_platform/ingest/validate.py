"""Row validation against the contract's column rules (see the docstring of `contract.datasets`).

Every rule of every column becomes one `Check`: a Boolean polars expression that is true where the
row breaks it, and a sentence that says so. All checks run at once over the whole frame; a row that
breaks any of them is rejected and appears in quarantine once per broken rule, with its file, line,
field, value, rule, a reason and the raw row as JSON. Accepted rows come out typed and canonical.

Identifier checks (NHS number Modulus 11, UPN check letter, postcode shape) never reject: an invalid
identifier is an expected imperfection of real extracts, so the value is kept with a `<column>_valid`
flag for linkage to weigh.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from cohort_platform.contract.datasets import IDENTIFIER_KINDS, Column, Dataset
from cohort_platform.ingest.canonical import CANONICAL, IS_VALID
from cohort_platform.ingest.read import QUARANTINE_SCHEMA, SOURCE_COLUMNS, empty_quarantine

EARLIEST_PLAUSIBLE_DATE = dt.date(1900, 1, 1)
INT_PATTERN = r"^[+-]?[0-9]+$"
FLOAT_PATTERN = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
DATE_FORMAT = "%Y-%m-%d"  # parsed without polars' cache of distinct values: here it only costs
CODES_LISTED_IN_REASONS = 12

@dataclass(frozen=True)
class Validated:
    accepted: pl.DataFrame  # typed, canonical rows
    quarantine: pl.DataFrame  # one row per (rejected row, broken rule)
    flagged: dict[str, int]  # identifier column -> accepted rows failing its check


@dataclass(frozen=True)
class Check:
    field: str
    rule: str
    fails: pl.Expr  # true where the row breaks the rule (never null)
    explains: pl.Expr  # what is wrong, after "<file> line <n>: "; evaluated on failing rows only


def validate(rows: pl.DataFrame, dataset: Dataset, cutoff: dt.date) -> Validated:
    """Split rows as `read_dataset` gives them (strings, stripped, empty = null) into accepted rows
    and quarantine."""
    checks = column_checks(dataset, cutoff)
    # a null check (a comparison with a missing value) is not broken: Kleene `any` is null only
    # when no check is true, so one fill_null at the end does for all
    broken = pl.any_horizontal([c.fails for c in checks] or [pl.lit(False)]).fill_null(False)
    marked = rows.lazy().with_columns(parsed_values(dataset)).with_columns(broken.alias("__rejected"))
    accepted, bad = pl.collect_all([
        typed_rows(marked.filter(~pl.col("__rejected")), dataset, rows.columns),
        marked.filter(pl.col("__rejected")),
    ])
    flagged = {
        c.name: int(accepted[f"{c.name}_valid"].eq(False).sum())
        for c in dataset.columns if c.kind in IDENTIFIER_KINDS
    }
    return Validated(accepted, quarantine_rows(bad, dataset, checks), flagged)


# --- parsing


def parsed(name: str) -> pl.Expr:
    return pl.col(f"__parsed_{name}")


def parsed_values(dataset: Dataset) -> list[pl.Expr]:
    """Typed values of int, float and date columns: null where missing or unparseable."""
    out = []
    for c in dataset.columns:
        raw = pl.col(c.name)
        if c.kind == "int":
            # polars' cast accepts exactly INT_PATTERN (in Int64 range); a test pins this down
            out.append(raw.cast(pl.Int64, strict=False).alias(f"__parsed_{c.name}"))
        elif c.kind == "float":
            out.append(pl.when(raw.str.contains(FLOAT_PATTERN)).then(raw.cast(pl.Float64, strict=False)).alias(f"__parsed_{c.name}"))
        elif c.kind == "date":
            out.append(pl.when(raw.str.contains(DATE_PATTERN)).then(raw.str.to_date(DATE_FORMAT, strict=False, cache=False)).alias(f"__parsed_{c.name}"))
    return out


# --- the rules


def _quoted(expr: pl.Expr) -> pl.Expr:
    return pl.concat_str([pl.lit("'"), expr.fill_null(""), pl.lit("'")])


def _says(c: Column, text: str | pl.Expr) -> pl.Expr:
    """"<field> '<value>' <text>"."""
    return pl.concat_str([pl.lit(f"{c.name} "), _quoted(pl.col(c.name)), pl.lit(" "), text if isinstance(text, pl.Expr) else pl.lit(text)])


def column_checks(dataset: Dataset, cutoff: dt.date) -> list[Check]:
    checks: list[Check] = []
    for c in dataset.columns:
        raw = pl.col(c.name)
        present = raw.is_not_null()
        if c.required:
            checks.append(Check(c.name, "required", raw.is_null(), pl.lit(f"{c.name} is missing")))
        if c.kind in ("int", "float"):
            noun = "a whole number" if c.kind == "int" else "a number"
            checks.append(Check(c.name, "type", present & parsed(c.name).is_null(), _says(c, f"is not {noun}")))
            if c.bounds is not None:
                lo, hi = c.bounds
                checks.append(Check(
                    c.name, "range", (parsed(c.name) < lo) | (parsed(c.name) > hi),
                    _says(c, f"is outside {_number(lo)}..{_number(hi)}"),
                ))
        elif c.kind == "code":
            checks.append(Check(c.name, "code_list", present & ~raw.is_in(list(c.codes)), _says(c, f"is not {_code_list(c.codes)}")))
        elif c.kind == "text" and c.pattern:
            checks.append(Check(c.name, "pattern", present & ~raw.str.contains(c.pattern), _says(c, f"does not match {c.pattern}")))
        elif c.kind == "date":
            checks.extend(date_checks(c, dataset, cutoff))
    return checks


def date_checks(c: Column, dataset: Dataset, cutoff: dt.date) -> list[Check]:
    raw = pl.col(c.name)
    value = parsed(c.name)
    shape_ok = raw.str.contains(DATE_PATTERN)
    checks = [
        Check(
            c.name, "date_format", raw.is_not_null() & value.is_null(),
            _says(c, pl.when(shape_ok).then(pl.lit("is not a real date")).otherwise(pl.lit("is not a YYYY-MM-DD date"))),
        ),
        Check(c.name, "implausible_date", value < EARLIEST_PLAUSIBLE_DATE, _says(c, f"is before {EARLIEST_PLAUSIBLE_DATE.year}")),
        Check(c.name, "after_cutoff", value > cutoff, _says(c, f"is after the data cut-off {cutoff.isoformat()}")),
    ]
    if c.not_before:
        other = dataset.column(c.not_before)
        checks.append(Check(
            c.name, "date_order", value < parsed(other.name),
            _says(c, pl.concat_str([pl.lit(f"is before {other.name} "), _quoted(pl.col(other.name))])),
        ))
    if c.age_bounds is not None and "dob" in dataset.column_names and c.name != "dob":
        lo, hi = c.age_bounds
        dob = parsed("dob")
        outside = (value < dob.dt.offset_by(f"{lo}y")) | (value > dob.dt.offset_by(f"{hi}y"))
        checks.append(Check(
            c.name, "age_range", outside,
            _says(c, pl.concat_str([pl.lit(f"is not {_years(lo, hi)} dob "), _quoted(pl.col("dob"))])),
        ))
    return checks


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _code_list(codes: tuple[str, ...]) -> str:
    if len(codes) > CODES_LISTED_IN_REASONS:
        return f"one of the {len(codes)} codes of its list"
    return "one of " + ", ".join(codes)


def _years(lo: int, hi: int) -> str:
    """Age bounds in words: (-70, -10) -> "10 to 70 years before"."""
    if hi <= 0:
        return f"{-hi} to {-lo} years before"
    if lo >= 0:
        return f"{lo} to {hi} years after"
    return f"within {-lo} years before to {hi} years after"


# --- outputs


def typed_rows(good: pl.LazyFrame, dataset: Dataset, input_columns: list[str]) -> pl.LazyFrame:
    """Accepted rows: contract columns typed and canonical, then `_valid` flags, then provenance."""
    values = []
    for c in dataset.columns:
        if c.kind in ("int", "float", "date"):
            values.append(parsed(c.name).alias(c.name))
        elif c.kind in CANONICAL:
            values.append(CANONICAL[c.kind](pl.col(c.name)).alias(c.name))
        else:
            values.append(pl.col(c.name))
    identifiers = [c for c in dataset.columns if c.kind in IDENTIFIER_KINDS]
    passthrough = [name for name in input_columns if name not in dataset.column_names and name not in SOURCE_COLUMNS]
    return (
        good.with_columns(values)
        .with_columns([IS_VALID[c.kind](pl.col(c.name)).alias(f"{c.name}_valid") for c in identifiers])
        .select(
            *dataset.column_names,
            *[f"{c.name}_valid" for c in identifiers],
            *passthrough,
            pl.col("source_file").cast(pl.String),
            pl.col("source_line").cast(pl.Int64),
        )
    )


def raw_record(dataset: Dataset) -> pl.Expr:
    """The row's values as delivered, as a JSON object in contract column order."""
    return pl.struct(dataset.column_names).struct.json_encode()


def quarantine_rows(bad: pl.DataFrame, dataset: Dataset, checks: list[Check]) -> pl.DataFrame:
    """One row per (rejected row, broken rule); the checks are evaluated again, on rejected rows only."""
    if bad.height == 0:
        return empty_quarantine()
    bad = bad.with_columns(raw_record(dataset).alias("__raw_record"))
    record_id = pl.col("record_id") if "record_id" in dataset.column_names else pl.lit(None, dtype=pl.String)
    parts = []
    for order, check in enumerate(checks):
        failing = bad.filter(check.fails.fill_null(False))
        if failing.height == 0:
            continue
        parts.append(failing.select(
            pl.lit(dataset.name).alias("dataset"),
            pl.col("source_file"),
            pl.col("source_line"),
            record_id.alias("record_id"),
            pl.lit(check.field).alias("field"),
            pl.col(check.field).alias("value"),
            pl.lit(check.rule).alias("rule"),
            pl.concat_str([
                pl.col("source_file"), pl.lit(" line "), pl.col("source_line").cast(pl.String), pl.lit(": "),
                check.explains, pl.lit(f" ({check.rule})"),
            ]).alias("reason"),
            pl.col("__raw_record").alias("raw_record"),
            pl.lit(order).alias("__order"),
        ))
    return (
        pl.concat(parts, how="vertical")
        .sort("source_file", "source_line", "__order")
        .drop("__order")
        .cast(QUARANTINE_SCHEMA)
    )
