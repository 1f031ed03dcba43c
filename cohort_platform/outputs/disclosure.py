"""Statistical disclosure control of aggregate outputs, the way a trusted research environment does it.

acro 1.0.2 (the SACRO project's checker) builds each table from the records and runs the primary
checks per cell: threshold (fewer than 10 contributors), zeros (a zero count says something about
everyone in the row and column), n,k dominance (the largest 2 contributors make up 90% or more of a
sum) and the p-ratio (the rest are under 10% of the largest). What acro does not do is here:

- Secondary suppression. acro's own suppression recomputes the margins without the suppressed
  records, so its totals are not the true totals. Outputs here publish true totals (a local
  authority beside England), and a single suppressed cell in a row or column would then be its
  total minus the others. So every row and column (totals included) must hold no suppressed cell
  or at least two: the smallest other cell of a line with one is suppressed too, until none is left.
- Rounding of released counts to base 5, each cell and each true total rounded on its own (half up).

A table is released when no cell breaks a rule; with `suppress=True` it is released with the
breaking cells (and their secondary cells) blanked. A table that is not released is not returned:
the result names its cells and rules only.

acro configures logging at import (`logging.basicConfig(level=INFO)`) and logs whole tables at INFO;
`_acro()` undoes the first and quietens the second, so no unprotected table reaches a log.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

MARGINS_NAME = "All"
UNKNOWN = "unknown"

ACRO_RULES = {
    "MinimumThresholdCheck": "threshold",
    "PresenceOfZeroCheck": "zeros",
    "NKCheck": "dominance_nk",
    "PPercentCheck": "p_ratio",
    "AllSameValuesCheck": "all_values_same",
    "MissingCheck": "missing",
    "negative": "negative_values",
    "missing": "missing",
}
SECONDARY = "secondary"
ADDITIVE = ("sum", "count")


@dataclass(frozen=True)
class SdcRules:
    """The output checking rules: acro's defaults, plus the rounding base for released counts."""

    threshold: int = 10
    zeros_disclosive: bool = True
    nk_n: int = 2
    nk_k: float = 0.9
    p_ratio: float = 0.1
    round_base: int = 5

    def acro_config(self) -> dict[str, object]:
        return {
            "safe_threshold": self.threshold,
            "zeros_are_disclosive": self.zeros_disclosive,
            "safe_nk_n": self.nk_n,
            "safe_nk_k": self.nk_k,
            "safe_pratio_p": self.p_ratio,
            "safe_round_base": self.round_base,
        }


DEFAULT_RULES = SdcRules()


@dataclass(frozen=True, order=True)
class CellFinding:
    """One cell breaking one rule: its row labels, its column label, the rule."""

    row: tuple[str, ...]
    column: str
    rule: str


@dataclass(frozen=True)
class DisclosureResult:
    name: str
    released: bool
    table: pl.DataFrame | None  # as released (rounded, suppressed cells null); None when not released
    findings: tuple[CellFinding, ...] = ()
    acro_status: str = ""
    rules: SdcRules = field(default=DEFAULT_RULES)

    @property
    def rule_counts(self) -> dict[str, int]:
        """Cells per rule (a cell may count under several)."""
        counts: dict[str, int] = {}
        for f in self.findings:
            counts[f.rule] = counts.get(f.rule, 0) + 1
        return dict(sorted(counts.items()))

    def findings_frame(self) -> pl.DataFrame:
        return pl.DataFrame(
            [(" / ".join(f.row), f.column, f.rule) for f in self.findings],
            schema={"row": pl.String, "column": pl.String, "rule": pl.String},
            orient="row",
        )

    def describe(self) -> str:
        if not self.findings:
            return f"{self.name}: released, no cell breaks a rule"
        rules = ", ".join(f"{rule} {n}" for rule, n in self.rule_counts.items())
        state = "released with cells suppressed" if self.released else "NOT released"
        return f"{self.name}: {state} ({rules})"


# --- acro


def _acro():
    """acro, imported lazily (it takes seconds) without its side effects on logging."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    import acro  # noqa: PLC0415

    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    for name in ("acro", "acro:records"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return acro


def _session(rules: SdcRules):
    session = _acro().ACRO(suppress=False)
    session.config.update(rules.acro_config())  # the same dict as the checks' risk appetite
    return session


def _pandas_input(records: pl.DataFrame, keys: Sequence[str], levels: Mapping[str, Sequence[str]] | None):
    import pandas as pd  # noqa: PLC0415

    missing = [k for k in keys if k not in records.columns]
    if missing:
        raise ValueError(f"no column {', '.join(map(repr, missing))} in the records")
    if records.height == 0:
        raise ValueError("no records to tabulate")
    frame = records.with_columns(pl.col(k).cast(pl.String).fill_null(UNKNOWN) for k in keys).to_pandas()
    for key, categories in (levels or {}).items():
        categories = [str(c) for c in categories]
        unexpected = sorted(set(frame[key]) - set(categories))
        if unexpected:
            raise ValueError(f"{key} has values outside its levels: {unexpected}")
        frame[key] = pd.Categorical(frame[key], categories=categories)
    return frame


def _cell_rules(outcome) -> np.ndarray:
    """acro's per-cell outcome strings ("ok", "A; B; ") -> an object array of rule tuples."""
    def parse(text: str) -> tuple[str, ...]:
        names = [t.strip() for t in str(text).split(";") if t.strip() and t.strip() != "ok"]
        return tuple(dict.fromkeys(ACRO_RULES.get(n, n) for n in names))

    return np.vectorize(parse, otypes=[object])(outcome.to_numpy())


def _label(value) -> str:
    if isinstance(value, tuple):
        return " / ".join(str(v) for v in value if str(v) != "")
    return str(value)


def _row_labels(index) -> list[tuple[str, ...]]:
    return [tuple(str(v) for v in (label if isinstance(label, tuple) else (label,))) for label in index]


# --- secondary suppression and rounding


def secondary_suppression(values: np.ndarray, suppressed: np.ndarray) -> np.ndarray:
    """Cells to suppress as well, so that no row or column of a table with true margins (last row
    and last column) can be solved for a single suppressed cell.

    Each line (a row with its total, a column with its total, the totals row and column) must hold
    no suppressed cell or at least two. A line with exactly one gets its smallest other inner cell
    suppressed (its total when no inner cell is left), and the search repeats until none changes.
    """
    values = np.asarray(values, dtype=float)
    done = np.asarray(suppressed, dtype=bool).copy()
    extra = np.zeros_like(done)
    n_rows, n_cols = values.shape
    lines = [[(i, j) for j in range(n_cols)] for i in range(n_rows)] + [
        [(i, j) for i in range(n_rows)] for j in range(n_cols)
    ]
    changed = True
    while changed:
        changed = False
        for line in lines:
            if sum(done[c] for c in line) != 1:
                continue
            inner, total = line[:-1], line[-1]
            candidates = [c for c in inner if not done[c]] or ([total] if not done[total] else [])
            if not candidates:
                continue
            pick = min(candidates, key=lambda c: (np.nan_to_num(values[c], nan=np.inf), c))
            done[pick] = extra[pick] = True
            changed = True
    return extra


def round_to_base(values: np.ndarray, base: int) -> np.ndarray:
    """Nearest multiple of `base`, halves up (12 -> 10, 13 -> 15); NaN stays NaN; base 1 is no rounding."""
    values = np.asarray(values, dtype=float)
    if base <= 1:
        return values
    return np.floor(values / base + 0.5) * base


# --- the checks


def _check(
    name: str,
    table,
    outcome,
    acro_status: str,
    *,
    margins: bool,
    additive: bool,
    round_counts: bool,
    suppress: bool,
    rules: SdcRules,
    row_keys: Sequence[str],
) -> DisclosureResult:
    cell_rules = _cell_rules(outcome)
    primary = np.vectorize(bool, otypes=[bool])(cell_rules)
    values = table.to_numpy(dtype=float)
    extra = secondary_suppression(values, primary) if (margins and additive) else np.zeros_like(primary)
    rows, columns = _row_labels(table.index), [_label(c) for c in table.columns]
    findings = [
        CellFinding(rows[i], columns[j], rule)
        for i in range(len(rows)) for j in range(len(columns)) for rule in cell_rules[i, j]
    ] + [CellFinding(rows[i], columns[j], SECONDARY) for i, j in zip(*np.nonzero(extra))]
    findings.sort()
    released = not findings or suppress
    if not released:
        return DisclosureResult(name, False, None, tuple(findings), acro_status, rules)
    shown = round_to_base(values, rules.round_base) if round_counts else values
    shown = np.where(primary | extra, np.nan, shown)
    data: dict[str, list] = {key: [r[k] for r in rows] for k, key in enumerate(row_keys)}
    dtype = pl.Int64 if round_counts else pl.Float64
    for j, column in enumerate(columns):
        data[column] = [None if np.isnan(v) else v for v in shown[:, j]]
    out = pl.DataFrame(data).with_columns(pl.col(c).cast(dtype) for c in columns)
    return DisclosureResult(name, True, out, tuple(findings), acro_status, rules)


def _finalise(session, evidence_dir: Path | None) -> None:
    if evidence_dir is not None:
        session.finalise(str(evidence_dir), "json")


def check_frequency_table(
    records: pl.DataFrame,
    rows: str | Sequence[str],
    column: str,
    *,
    name: str = "table",
    margins: bool = True,
    suppress: bool = False,
    levels: Mapping[str, Sequence[str]] | None = None,
    rules: SdcRules = DEFAULT_RULES,
    evidence_dir: Path | None = None,
) -> DisclosureResult:
    """Counts of records by `rows` x `column`, checked (threshold, zeros), suppressed if asked, rounded.

    One record is one contributor (a child, not an episode: count children). `levels` declares every
    category of a key (every local authority), so empty combinations show as zeros rather than vanish.
    A null key is counted as "unknown". `evidence_dir` (must not exist) receives acro's results.json
    and the unprotected table: a secure-zone folder only.
    """
    rows = [rows] if isinstance(rows, str) else list(rows)
    frame = _pandas_input(records.select(*rows, column), [*rows, column], levels)
    session = _session(rules)
    with warnings.catch_warnings():  # acro's pandas calls warn of pandas 3 changes; nothing to act on here
        warnings.simplefilter("ignore", FutureWarning)
        table = session.crosstab([frame[r] for r in rows], frame[column], margins=margins, margins_name=MARGINS_NAME)
    record = session.results.results[f"output_{session.results.output_id - 1}"]
    result = _check(name, table, record.outcome, record.status, margins=margins, additive=True,
                    round_counts=True, suppress=suppress, rules=rules, row_keys=rows)
    _finalise(session, evidence_dir)
    return result


def check_magnitude_table(
    records: pl.DataFrame,
    rows: str | Sequence[str],
    column: str,
    value: str,
    *,
    aggfunc: str = "sum",
    name: str = "table",
    margins: bool = True,
    suppress: bool = False,
    levels: Mapping[str, Sequence[str]] | None = None,
    rules: SdcRules = DEFAULT_RULES,
    evidence_dir: Path | None = None,
) -> DisclosureResult:
    """`aggfunc` ("sum", "mean", "median", ...) of `value` by `rows` x `column`, checked by acro
    (threshold, n,k dominance, p-ratio). Secondary suppression for additive statistics only: a mean
    cannot be solved from its margins. Magnitudes are not rounded."""
    rows = [rows] if isinstance(rows, str) else list(rows)
    frame = _pandas_input(records.select(*rows, column, value), [*rows, column], levels)
    session = _session(rules)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        table = session.pivot_table(frame, values=value, index=rows, columns=[column], aggfunc=aggfunc,
                                    margins=margins, margins_name=MARGINS_NAME)
    record = session.results.results[f"output_{session.results.output_id - 1}"]
    result = _check(name, table, record.outcome, record.status, margins=margins, additive=aggfunc in ADDITIVE,
                    round_counts=False, suppress=suppress, rules=rules, row_keys=rows)
    _finalise(session, evidence_dir)
    return result
