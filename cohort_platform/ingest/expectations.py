"""Great Expectations 1.x suites for the clean tables, derived from the contract's declarations.

Validation at ingestion already rejects rows that break a rule; these suites state what a usable
table looks like on top of that: key fields complete within the dataset's tolerance, identifiers
mostly passing their check digits, and (as a guard against regressions in ingestion itself) every
code in its list and every date of birth plausible. GX is imported lazily: it costs seconds.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache

import polars as pl

from cohort_platform.contract.datasets import IDENTIFIER_KINDS, Dataset

IDENTIFIER_VALID_SHARE = 0.95  # an identifier column may fail its check in at most 5% of rows


@dataclass(frozen=True)
class Expectation:
    """One declarative expectation: a GX class name, its column and keyword arguments."""

    kind: str
    column: str
    kwargs: tuple[tuple[str, object], ...] = ()

    def describe(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs if k != "value_set")
        return f"{self.kind}({self.column}{', ' + args if args else ''})"


@dataclass(frozen=True)
class Outcome:
    expectation: str
    success: bool
    unexpected_percent: float | None
    error: str | None = None


def expectations_for(dataset: Dataset, cutoff: dt.date) -> list[Expectation]:
    out: list[Expectation] = []
    for col in dataset.columns:
        if col.required:
            out.append(Expectation("ExpectColumnValuesToNotBeNull", col.name))
        elif col.name in dataset.completeness:
            mostly = round(1 - dataset.completeness[col.name], 4)
            out.append(Expectation("ExpectColumnValuesToNotBeNull", col.name, (("mostly", mostly),)))
        if col.kind == "code":
            out.append(Expectation("ExpectColumnValuesToBeInSet", col.name, (("value_set", list(col.codes)),)))
        if col.kind in IDENTIFIER_KINDS:
            out.append(Expectation(
                "ExpectColumnValuesToBeInSet", f"{col.name}_valid",
                (("value_set", [True]), ("mostly", IDENTIFIER_VALID_SHARE)),
            ))
    if "dob" in dataset.column_names:
        # GX sees polars dates as pandas datetimes: the bounds must be datetimes too (stack notes)
        out.append(Expectation("ExpectColumnValuesToBeBetween", "dob", (
            ("min_value", dt.datetime(1900, 1, 1)),
            ("max_value", dt.datetime.combine(cutoff, dt.time())),
        )))
    return out


@lru_cache(maxsize=1)
def _batch_definition():
    import great_expectations as gx

    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("cohort")
    asset = source.add_dataframe_asset("table")
    return gx, asset.add_batch_definition_whole_dataframe("whole")


def run_expectations(frame: pl.DataFrame, expectations: list[Expectation]) -> list[Outcome]:
    """Validate a frame; an expectation that GX could not evaluate counts as failed, with its error."""
    if not expectations:
        return []
    gx, batch_definition = _batch_definition()
    columns = sorted({e.column for e in expectations} & set(frame.columns))
    batch = batch_definition.get_batch(batch_parameters={"dataframe": _for_pandas_engine(frame.select(columns))})
    suite = gx.ExpectationSuite(name="contract")
    missing: list[Outcome] = []
    for e in expectations:
        if e.column not in frame.columns:
            missing.append(Outcome(e.describe(), False, None, f"column {e.column} is absent"))
            continue
        suite.add_expectation(getattr(gx.expectations, e.kind)(column=e.column, **dict(e.kwargs)))
    result = batch.validate(suite)
    by_key = {(r.expectation_config.type, r.expectation_config.kwargs["column"]): r for r in result.results}
    outcomes = []
    for e in expectations:
        if e.column not in frame.columns:
            continue
        r = by_key[(_snake(e.kind), e.column)]
        error = None
        if r.exception_info and r.exception_info.get("raised_exception"):
            error = str(r.exception_info.get("exception_message"))
        outcomes.append(Outcome(
            e.describe(),
            bool(r.success) and error is None,
            (r.result or {}).get("unexpected_percent"),
            error,
        ))
    return outcomes + missing


# pandas' datetime64[ns] spans 1677-09-21 to 2262-04-11
_NS_FIRST, _NS_LAST = dt.date(1678, 1, 1), dt.date(2262, 1, 1)


def _for_pandas_engine(frame: pl.DataFrame):
    """The pandas frame GX validates, in dtypes its pandas engine handles vectorised. Same values:

    - dates as datetime64[ns]: polars dates arrive as datetime64[ms], and GX's between-expectation
      compares any resolution but ns value by value in Python (seconds per million rows). A column
      with a date outside the ns range keeps its resolution (slow but exact);
    - text as categorical: GX fingerprints every batch by hashing the whole frame, and hashing a
      categorical hashes its distinct values once instead of every row's string.
    """
    casts = []
    for name, dtype in frame.schema.items():
        if dtype == pl.Date:
            first, last = frame[name].min(), frame[name].max()
            if first is None or (first >= _NS_FIRST and last <= _NS_LAST):
                casts.append(pl.col(name).cast(pl.Datetime("ns")))
        elif dtype == pl.String:
            casts.append(pl.col(name).cast(pl.Categorical))
    return frame.with_columns(casts).to_pandas()


def _snake(class_name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", class_name).lower()
