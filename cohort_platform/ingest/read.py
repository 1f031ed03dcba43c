"""Reading the contract's CSV deliveries: whole-file faults, physical line numbers, malformed rows.

A delivery file either cannot be read at all (not UTF-8, empty, header only, a contract column
missing, a truncated last line): that is a `FileFault`, and the asset that reads it fails naming the
file, because a partial read of a broken file would silently lose rows. Otherwise every data record
comes out either as a row (all values still strings) or as a `malformed_row` in quarantine, each
with its 1-based physical line number (header = line 1), so that a reviewer can open the file at the
right place.

Reading is vectorised: the file's lines are split by polars and lines without a quote character
(nearly all of them) are split on commas with `str.split_exact`. Only lines holding a `"` go through
Python's csv module, which joins physical lines while a quoted field spans a line break.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from cohort_platform.contract.datasets import Dataset, folder

BOM = b"\xef\xbb\xbf"
MALFORMED_ROW = "malformed_row"
# A quoted field may hold a line break, but a record spanning more physical lines than this is taken
# to be a stray quote: its first line is quarantined alone and reading resumes on the next line.
MAX_LINES_PER_RECORD = 20
SNAPSHOT_DATASETS = ("opt_outs",)
_SNAPSHOT_NAME = re.compile(r"^ndop_([0-9]{4}-[0-9]{2}-[0-9]{2})\.csv$")

QUARANTINE_SCHEMA: dict[str, pl.DataType] = {
    "dataset": pl.String(),
    "source_file": pl.String(),
    "source_line": pl.Int64(),
    "record_id": pl.String(),
    "field": pl.String(),
    "value": pl.String(),
    "rule": pl.String(),
    "reason": pl.String(),
    "raw_record": pl.String(),
}
SOURCE_COLUMNS = ("source_file", "source_line")


def empty_quarantine() -> pl.DataFrame:
    return pl.DataFrame(schema=QUARANTINE_SCHEMA)


class FileFault(Exception):
    """A delivery file that cannot be read at all; `file` is relative to the raw root."""

    def __init__(self, file: str, fault: str):
        super().__init__(f"{file}: {fault}")
        self.file = file
        self.fault = fault


@dataclass(frozen=True)
class RawDelivery:
    """Every file of one dataset, read: rows as strings, malformed records, and what was seen."""

    rows: pl.DataFrame
    malformed: pl.DataFrame
    files: list[str] = field(default_factory=list)
    extra_columns: dict[str, list[str]] = field(default_factory=dict)
    rows_read: int = 0
    blank_lines: int = 0  # wholly empty lines, skipped as every CSV reader does; not records


@dataclass(frozen=True)
class _FileRead:
    rows: pl.DataFrame
    malformed: pl.DataFrame
    extra_columns: list[str]
    rows_read: int
    blank_lines: int


def raw_schema(dataset: Dataset) -> dict[str, pl.DataType]:
    """The columns of `RawDelivery.rows`: the contract's, as strings, then where each row came from."""
    schema: dict[str, pl.DataType] = {name: pl.String() for name in dataset.column_names}
    if dataset.name in SNAPSHOT_DATASETS:
        schema["snapshot_date"] = pl.Date()
    schema["source_file"] = pl.String()
    schema["source_line"] = pl.Int64()
    return schema


def dataset_files(raw_root: Path, dataset: Dataset) -> list[Path]:
    """The dataset's delivery files in file-name order; none when its folder is absent."""
    directory = Path(raw_root) / folder(dataset.name)
    if not directory.is_dir():
        return []
    return sorted((p for p in directory.glob(dataset.glob) if p.is_file()), key=lambda p: p.name)


def read_dataset(raw_root: Path, dataset: Dataset) -> RawDelivery:
    """Read every delivery file of a dataset; a FileFault in any file propagates."""
    raw_root = Path(raw_root)
    files: list[str] = []
    parts: list[pl.DataFrame] = []
    malformed: list[pl.DataFrame] = [empty_quarantine()]
    extras: dict[str, list[str]] = {}
    rows_read = 0
    blank = 0
    for path in dataset_files(raw_root, dataset):
        relative = path.relative_to(raw_root).as_posix()
        snapshot = snapshot_date(relative, path.name) if dataset.name in SNAPSHOT_DATASETS else None
        read = read_file(path, relative, dataset)
        rows = read.rows
        if dataset.name in SNAPSHOT_DATASETS:
            rows = rows.with_columns(pl.lit(snapshot, dtype=pl.Date).alias("snapshot_date"))
        files.append(relative)
        parts.append(rows.select(list(raw_schema(dataset))))
        malformed.append(read.malformed)
        if read.extra_columns:
            extras[relative] = read.extra_columns
        rows_read += read.rows_read
        blank += read.blank_lines
    rows = pl.concat(parts, how="vertical") if parts else pl.DataFrame(schema=raw_schema(dataset))
    return RawDelivery(
        rows=rows,
        malformed=pl.concat(malformed, how="vertical"),
        files=files,
        extra_columns=extras,
        rows_read=rows_read,
        blank_lines=blank,
    )


def snapshot_date(relative: str, name: str) -> dt.date:
    """The date an opt-out snapshot was taken, from its name `ndop_YYYY-MM-DD.csv`."""
    match = _SNAPSHOT_NAME.match(name)
    try:
        if match is None:
            raise ValueError
        return dt.date.fromisoformat(match.group(1))
    except ValueError:
        raise FileFault(relative, f"file name does not carry a real snapshot date (expected ndop_YYYY-MM-DD.csv, got {name!r})") from None


def read_file(path: Path, relative: str, dataset: Dataset) -> _FileRead:
    """One delivery file: whole-file checks, then its records with their physical line numbers."""
    data = Path(path).read_bytes()
    text = decode_utf8(data, relative)
    if not text.strip("\r\n"):
        raise FileFault(relative, "empty file")
    if not text.endswith("\n"):
        raise FileFault(relative, f"truncated last line (no line end after byte {len(data)})")
    lines = split_lines(text)
    del text
    header = parse_header(lines[0], relative)
    check_header(header, dataset, relative)
    extra = [name for name in header if name not in set(dataset.column_names)]
    body = lines.slice(1)
    blank = body.str.len_bytes() == 0
    if bool(blank.all()):
        raise FileFault(relative, "header only (no rows)")
    return read_records(body, blank, header, dataset, relative, extra)


def decode_utf8(data: bytes, relative: str) -> str:
    """The file's text without its BOM; a FileFault naming the byte and line where UTF-8 breaks."""
    start = len(BOM) if data.startswith(BOM) else 0
    try:
        return data[start:].decode("utf-8")
    except UnicodeDecodeError as error:
        offset = start + error.start
        line = data.count(b"\n", 0, offset) + 1
        raise FileFault(
            relative, f"not UTF-8 (invalid byte 0x{data[offset]:02x} at byte {offset}, line {line})"
        ) from None


def split_lines(text: str) -> pl.Series:
    """Physical lines (index 0 = line 1) without their `\\n` or `\\r\\n`; the text ends with `\\n`."""
    lines = pl.Series("line", [text]).str.split("\n").explode()
    return lines.slice(0, len(lines) - 1).str.strip_suffix("\r")


def parse_header(line: str, relative: str) -> list[str]:
    names = [name.strip() for name in next(csv.reader([line]), [])]
    if not any(names):
        raise FileFault(relative, "empty header line")
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise FileFault(relative, f"duplicate column(s) in header: {', '.join(duplicated)}")
    return names


def check_header(header: list[str], dataset: Dataset, relative: str) -> None:
    missing = [name for name in dataset.column_names if name not in header]
    if missing:
        noun = "column" if len(missing) == 1 else "columns"
        raise FileFault(relative, f"missing contract {noun}: {', '.join(missing)}")


def read_records(
    body: pl.Series, blank: pl.Series, header: list[str], dataset: Dataset, relative: str, extra: list[str]
) -> _FileRead:
    """Split the data lines into rows and malformed records, keeping physical line numbers."""
    n_fields = len(header)
    has_quote = body.str.contains('"', literal=True).to_numpy()
    quoted = read_quoted_records(body, np.flatnonzero(has_quote), n_fields)
    plain = ~has_quote & ~blank.to_numpy()
    plain[quoted.consumed] = False  # continuation lines of a quoted field
    frame = pl.DataFrame({"line": body, "source_line": pl.int_range(2, len(body) + 2, dtype=pl.Int64, eager=True)})
    plain_lines = frame.filter(pl.Series(plain))
    commas = pl.col("line").str.count_matches(",", literal=True)
    fast = plain_lines.filter(commas == n_fields - 1)
    fields = (
        fast.select(pl.col("line").str.split_exact(",", n_fields - 1).struct.rename_fields(header), "source_line")
        .unnest("line")
        .select(*dataset.column_names, "source_line")
    )
    wrong_count = plain_lines.filter(commas != n_fields - 1).with_columns(
        (commas + 1).alias("n_fields"),
    )
    slow = quoted.rows(header, dataset)
    rows = (
        pl.concat([fields, slow], how="vertical")
        .sort("source_line")
        .with_columns(clean_values(dataset.column_names))
        .with_columns(pl.lit(relative).alias("source_file"))
    )
    malformed = pl.concat(
        [
            malformed_frame(
                dataset.name, relative, wrong_count["source_line"], wrong_count["line"],
                [f"{n} fields where the header has {n_fields}" for n in wrong_count["n_fields"].to_list()],
            ),
            malformed_frame(dataset.name, relative, quoted.bad_lines, quoted.bad_text, quoted.bad_why),
        ],
        how="vertical",
    ).sort("source_line")
    return _FileRead(
        rows=rows,
        malformed=malformed,
        extra_columns=extra,
        rows_read=rows.height + malformed.height,
        blank_lines=int((blank.to_numpy() & ~_mask(len(body), quoted.consumed)).sum()),
    )


def clean_values(columns: list[str]) -> list[pl.Expr]:
    """Strip surrounding whitespace; an empty value is missing."""
    stripped = [pl.col(c).str.strip_chars() for c in columns]
    return [pl.when(s.str.len_bytes() > 0).then(s).alias(c) for s, c in zip(stripped, columns)]


def malformed_frame(dataset: str, relative: str, lines, texts, why) -> pl.DataFrame:
    lines = list(lines)
    texts = list(texts)
    why = list(why)
    return pl.DataFrame(
        {
            "dataset": [dataset] * len(lines),
            "source_file": [relative] * len(lines),
            "source_line": lines,
            "record_id": [None] * len(lines),
            "field": [None] * len(lines),
            "value": texts,
            "rule": [MALFORMED_ROW] * len(lines),
            "reason": [f"{relative} line {n}: {w} ({MALFORMED_ROW})" for n, w in zip(lines, why)],
            "raw_record": [json.dumps({"raw_line": t}, ensure_ascii=False) for t in texts],
        },
        schema=QUARANTINE_SCHEMA,
    )


def _mask(length: int, indices: list[int]) -> np.ndarray:
    mask = np.zeros(length, dtype=bool)
    mask[indices] = True
    return mask


@dataclass
class _Quoted:
    """Records read by the csv module, starting on lines that hold a quote character."""

    lines: list[int] = field(default_factory=list)  # physical line of each good record
    values: list[list[str]] = field(default_factory=list)
    consumed: list[int] = field(default_factory=list)  # body indices of continuation lines
    bad_lines: list[int] = field(default_factory=list)
    bad_text: list[str] = field(default_factory=list)
    bad_why: list[str] = field(default_factory=list)

    def rows(self, header: list[str], dataset: Dataset) -> pl.DataFrame:
        wanted = [header.index(name) for name in dataset.column_names]
        columns = {name: [v[i] for v in self.values] for name, i in zip(dataset.column_names, wanted)}
        schema = {name: pl.String() for name in dataset.column_names} | {"source_line": pl.Int64()}
        return pl.DataFrame(columns | {"source_line": self.lines}, schema=schema)


def read_quoted_records(body: pl.Series, starts: np.ndarray, n_fields: int) -> _Quoted:
    """Parse the (rare) records that start on a line holding `"` with the csv module.

    A record continues onto the next physical line while a quoted field is open. A record that
    needs more than MAX_LINES_PER_RECORD lines, never closes its quote, breaks the quoting rules or
    spans lines yet has the wrong number of fields is taken to be one bad line: that line is
    quarantined alone and the following lines are read as records of their own.
    """
    out = _Quoted()
    if len(starts) == 0:
        return out
    texts = dict(zip(starts.tolist(), body.gather(starts).to_list()))
    n_lines = len(body)

    def line_at(i: int) -> str:
        return texts[i] if i in texts else body[i]

    next_free = 0
    for start in starts.tolist():
        if start < next_free:
            continue
        fields, used, why = _csv_record(line_at, start, n_lines, n_fields)
        physical = start + 2
        if fields is not None:
            out.lines.append(physical)
            out.values.append(fields)
            out.consumed.extend(range(start + 1, start + used))
            next_free = start + used
        else:
            out.bad_lines.append(physical)
            out.bad_text.append("\n".join(line_at(i) for i in range(start, start + used)))
            out.bad_why.append(why)
            next_free = start + used
    return out


def _csv_record(line_at, start: int, n_lines: int, n_fields: int) -> tuple[list[str] | None, int, str]:
    """One record from line `start`: (fields, physical lines used, why it is bad)."""
    last = min(n_lines, start + MAX_LINES_PER_RECORD)
    taken = 0

    def feed():
        nonlocal taken
        for i in range(start, last):
            taken += 1
            yield line_at(i) + "\n"

    try:
        fields = next(csv.reader(feed(), strict=True))
    except csv.Error as error:
        reason = "unterminated quoted field" if "end of data" in str(error) else f"bad quoting ({error})"
        return None, 1, reason
    if len(fields) != n_fields:
        if taken > 1:
            return None, 1, f"unbalanced quote (the record would span {taken} lines with {len(fields)} fields)"
        return None, 1, f"{len(fields)} fields where the header has {n_fields}"
    return fields, taken, ""
