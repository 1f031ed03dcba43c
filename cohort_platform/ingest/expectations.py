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
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame.select(columns).to_pandas()})
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


def _snake(class_name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", class_name).lower()
