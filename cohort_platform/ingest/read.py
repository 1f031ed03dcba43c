"""Reading the contract's CSV deliveries: whole-file faults, physical line numbers, malformed rows.

A delivery file either cannot be read at all (not UTF-8, empty, header only, a contract column
missing, a truncated last line): that is a `FileFault`, and the asset that reads it fails naming the
file, because a partial read of a broken file would silently lose rows. Otherwise every data record
comes out either as a row (all values still strings) or as a `malformed_row` in quarantine, each
with its 1-based physical line number (header = line 1), so that a reviewer can open the file at the
right place.

Reading is vectorised. numpy finds every line end and counts each line's commas over the file's
bytes. Lines known to hold exactly one record of the header's number of fields (no quote and the
right number of commas, or only properly quoted fields, checked by regex) go in one buffer to polars'
CSV reader, so each gives exactly one row and keeps its line number. Only the rare other lines
holding a `"` go through Python's csv module, which joins physical lines while a quoted field spans a
line break. Wholly blank lines are skipped, as every CSV reader
does (they hold no record); they are counted in `RawDelivery.blank_lines`.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from cohort_platform.contract.datasets import Dataset, folder

BOM = b"\xef\xbb\xbf"
MALFORMED_ROW = "malformed_row"
# A quoted field may hold a line break, but a record spanning more physical lines than this is taken
# to be a stray quote: its first line is quarantined alone and reading resumes on the next line.
MAX_LINES_PER_RECORD = 20
SNAPSHOT_DATASETS = ("opt_outs",)
READ_THREADS = min(4, os.cpu_count() or 1)  # files read at once
# Whitespace beyond ASCII, as Rust's `char::is_whitespace` (and so polars' `str.strip_chars`) has it
_UNICODE_WHITESPACE = tuple(
    chr(c).encode() for c in (0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000)
)
# A line whose quotes all belong to properly quoted fields ("a ""b"", c") is one record that polars'
# reader parses exactly as the csv module would; other lines holding quotes go to the csv module.
_QUOTED_FIELD = r'"(?:[^"]|"")*"'
_SIMPLY_QUOTED_LINE = rf'^(?:{_QUOTED_FIELD}|[^",]*)(?:,(?:{_QUOTED_FIELD}|[^",]*))*$'
_COMMA_AND_FIELD = rf',(?:{_QUOTED_FIELD}|[^",]*)'  # never empty: counted over "," + line
_NOT_A_LINE_END = re.compile(rb"[^\r\n]")
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
    """Read every delivery file of a dataset; a FileFault in any file propagates (the first by name).

    Files are read two or more at a time: numpy's and polars' work release the GIL, so one file's
    single-threaded scan overlaps another's parse.
    """
    raw_root = Path(raw_root)
    paths = dataset_files(raw_root, dataset)
    relatives = [path.relative_to(raw_root).as_posix() for path in paths]
    with ThreadPoolExecutor(max_workers=max(1, min(len(paths), READ_THREADS))) as pool:
        futures = [pool.submit(_read_delivery_file, path, relative, dataset) for path, relative in zip(paths, relatives)]
        reads = [future.result() for future in futures]
    schema = raw_schema(dataset)
    parts = [read.rows[list(schema)] for read in reads]  # not `select`: see read_fast_lines
    return RawDelivery(
        rows=pl.concat(parts, how="vertical") if parts else pl.DataFrame(schema=schema),
        malformed=pl.concat([empty_quarantine(), *(read.malformed for read in reads)], how="vertical"),
        files=relatives,
        extra_columns={rel: read.extra_columns for rel, read in zip(relatives, reads) if read.extra_columns},
        rows_read=sum(read.rows_read for read in reads),
        blank_lines=sum(read.blank_lines for read in reads),
    )


def _read_delivery_file(path: Path, relative: str, dataset: Dataset) -> _FileRead:
    snapshot = snapshot_date(relative, path.name) if dataset.name in SNAPSHOT_DATASETS else None
    read = read_file(path, relative, dataset)
    if snapshot is None:
        return read
    rows = read.rows.with_columns(pl.lit(snapshot, dtype=pl.Date).alias("snapshot_date"))
    return _FileRead(rows, read.malformed, read.extra_columns, read.rows_read, read.blank_lines)


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
    is_ascii = data.isascii()  # ten times faster than decoding, and the usual case
    offset = check_utf8(data, relative, is_ascii)
    if _NOT_A_LINE_END.search(data, offset) is None:
        raise FileFault(relative, "empty file")
    if not data.endswith(b"\n"):
        raise FileFault(relative, f"truncated last line (no line end after byte {len(data)})")
    lines = Lines.of(data, offset, is_ascii)
    header = parse_header(lines.text(0), relative)
    check_header(header, dataset, relative)
    extra = [name for name in header if name not in set(dataset.column_names)]
    if bool(lines.blank[1:].all()):
        raise FileFault(relative, "header only (no rows)")
    return read_records(lines, header, dataset, relative, extra)


def check_utf8(data: bytes, relative: str, is_ascii: bool) -> int:
    """Where the text starts (after a BOM); a FileFault naming the byte and line where UTF-8 breaks."""
    start = len(BOM) if data.startswith(BOM) else 0
    if is_ascii:
        return start
    try:
        data[start:].decode("utf-8")
    except UnicodeDecodeError as error:
        offset = start + error.start
        line = data.count(b"\n", 0, offset) + 1
        raise FileFault(
            relative, f"not UTF-8 (invalid byte 0x{data[offset]:02x} at byte {offset}, line {line})"
        ) from None
    return start


@dataclass(frozen=True)
class Lines:
    """Where each physical line of a file lies (index 0 = line 1 = the header), found with numpy."""

    data: bytes
    bytes_: np.ndarray  # the file as uint8, BOM included
    start: np.ndarray  # offset of each line's first byte
    end: np.ndarray  # offset just past its content, before `\r\n` or `\n`
    newline: np.ndarray  # offset of its `\n`
    ascii: bool  # the whole file is ASCII

    @classmethod
    def of(cls, data: bytes, offset: int, is_ascii: bool) -> "Lines":
        array = np.frombuffer(data, dtype=np.uint8)
        newline = np.flatnonzero(array == ord("\n"))
        newline = newline[newline >= offset]
        start = np.concatenate([[offset], newline[:-1] + 1]).astype(np.int64)
        has_cr = (newline > start) & (array[np.maximum(newline - 1, 0)] == ord("\r"))
        return cls(data, array, start, newline - has_cr, newline, is_ascii)

    def __len__(self) -> int:
        return len(self.start)

    @property
    def blank(self) -> np.ndarray:
        return self.end == self.start

    def text(self, i: int) -> str:
        return self.data[self.start[i]:self.end[i]].decode("utf-8")

    def text_with_line_end(self, i: int) -> str:
        """For the csv module, which must see a `\r\n` inside a quoted field as part of the value."""
        return self.data[self.start[i]:self.newline[i] + 1].decode("utf-8")

    def may_pad_values(self) -> bool:
        """Whether any value of a data line might begin or end with whitespace (as `str.strip_chars`
        sees it); false means stripping can be skipped, which saves a third of the reading time.

        Cheap whole-file tests first: a tab, vertical tab, form feed, a carriage return that does
        not end a line, or any non-ASCII whitespace character anywhere answers yes. Otherwise only
        a space next to a comma, a line end or a quote (`" a"`) can pad a value.
        """
        body = int(self.start[1]) if len(self) > 1 else len(self.data)
        if any(self.data.find(b, body) != -1 for b in (b"\t", b"\x0b", b"\x0c")):
            return True
        line_end_crs = int((self.end[1:] < self.newline[1:]).sum())
        if line_end_crs == 0 and self.data.find(b"\r", body) != -1:
            return True
        if line_end_crs and self.data.count(b"\r", body) != line_end_crs:
            return True
        if not self.ascii and any(self.data.find(w, body) != -1 for w in _UNICODE_WHITESPACE):
            return True
        spaces = np.flatnonzero(self.bytes_[body:] == ord(" ")) + body
        if len(spaces) == 0:
            return False
        neighbours = np.concatenate([self.bytes_[spaces - 1], self.bytes_[spaces + 1]])  # the file ends with \n
        edge = (neighbours == ord(",")) | (neighbours == ord("\n")) | (neighbours == ord("\r")) | (neighbours == ord('"'))
        return bool(edge.any())

    def strings(self, indices: np.ndarray) -> pl.Series:
        """The text of some lines, without line ends, as a polars Series (no Python loop)."""
        if len(indices) == 0:
            return pl.Series(dtype=pl.String)
        offsets = np.append(self.start, len(self.data)).astype(np.int64)  # each line with its line end
        whole = pa.LargeStringArray.from_buffers(len(self), pa.py_buffer(offsets), pa.py_buffer(self.data))
        text = pl.from_arrow(whole).gather(indices)  # the text is valid UTF-8: checked on reading
        return text.str.strip_suffix("\n").str.strip_suffix("\r")

    def count(self, byte: str) -> np.ndarray:
        """How many times a byte occurs on each line."""
        return self._count_per_line(self.bytes_ == ord(byte), byte)

    def _count_per_line(self, hits: np.ndarray, byte: str) -> np.ndarray:
        counts = np.add.reduceat(hits.view(np.uint8), self.start, dtype=np.uint16).astype(np.int64)
        long = np.flatnonzero(self.newline - self.start >= np.iinfo(np.uint16).max)
        for i in long.tolist():  # a uint16 count could wrap on a line of 64 KiB or more
            counts[i] = self.data.count(byte.encode(), self.start[i], self.end[i])
        return counts

    def holding(self, byte: str) -> np.ndarray:
        """Indices of the lines where a byte occurs, in order."""
        hits = self.bytes_ == ord(byte)
        n_hits = int(np.count_nonzero(hits))
        if n_hits > len(self):  # e.g. every field quoted: count per line instead of locating each hit
            return np.flatnonzero(self._count_per_line(hits, byte))
        line = np.searchsorted(self.newline, np.flatnonzero(hits))
        return line[np.concatenate([[True], line[1:] != line[:-1]])] if n_hits else line

    def joined(self, keep: np.ndarray) -> bytes:
        """The bytes of the kept lines, line ends included, in file order."""
        edges = np.diff(np.concatenate([[0], keep.astype(np.int8), [0]]))
        firsts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        return b"".join(self.data[self.start[a]:self.newline[b - 1] + 1] for a, b in zip(firsts.tolist(), stops.tolist()))


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


def read_records(lines: Lines, header: list[str], dataset: Dataset, relative: str, extra: list[str]) -> _FileRead:
    """Split the data lines into rows and malformed records, keeping physical line numbers.

    A line is parsed by polars' CSV reader when it holds no quote and has the header's number of
    commas, or when all its quotes belong to properly quoted fields and it has the header's number of
    fields. Other lines holding quotes go to the csv module, which may join lines. Other lines
    without quotes have the wrong number of fields.
    """
    n_fields = len(header)
    data_line = np.ones(len(lines), dtype=bool)
    data_line[0] = False
    data_line &= ~lines.blank
    quote_lines = lines.holding('"')
    quote_lines = quote_lines[quote_lines > 0]
    is_simple = simply_quoted(lines.strings(quote_lines), n_fields)
    simple = quote_lines[is_simple]
    quoted = read_quoted_records(lines, quote_lines[~is_simple], n_fields)
    has_quote = _mask(len(lines), quote_lines)
    remaining = data_line & ~_mask(len(lines), quoted.starts) & ~_mask(len(lines), quoted.consumed)
    commas = lines.count(",")
    right_count = commas == n_fields - 1
    fast = read_fast_lines(lines, remaining & ((~has_quote & right_count) | _mask(len(lines), simple)), header)
    fast = fast[[*dataset.column_names, "source_line"]]
    if lines.may_pad_values():
        fast = fast.with_columns(clean_values(dataset.column_names))
    elif len(simple):  # a quoted empty value ("") is read as an empty string
        fast = fast.with_columns(pl.col(dataset.column_names).replace("", None))
    slow = quoted.rows(header, dataset).with_columns(clean_values(dataset.column_names))
    rows = pl.concat([fast, slow], how="vertical")
    if quoted.lines:
        rows = rows.sort("source_line")
    rows = rows.with_columns(pl.lit(relative).alias("source_file"))
    wrong = np.flatnonzero(remaining & ~has_quote & ~right_count)
    wrong_counts = commas[wrong] + 1
    malformed = pl.concat(
        [
            malformed_frame(
                dataset.name, relative, (wrong + 1).tolist(), [lines.text(i) for i in wrong.tolist()],
                [f"{n} fields where the header has {n_fields}" for n in wrong_counts.tolist()],
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
        blank_lines=int((lines.blank & ~_mask(len(lines), quoted.consumed)).sum()),
    )


def simply_quoted(text: pl.Series, n_fields: int) -> np.ndarray:
    """Which lines hold only properly quoted fields, and the header's number of them."""
    shape = text.str.contains(_SIMPLY_QUOTED_LINE)
    fields = ("," + text).str.count_matches(_COMMA_AND_FIELD)
    return (shape & (fields == n_fields)).fill_null(False).to_numpy()


def _mask(length: int, indices) -> np.ndarray:
    mask = np.zeros(length, dtype=bool)
    mask[np.asarray(indices, dtype=np.int64)] = True
    return mask


def read_fast_lines(lines: Lines, keep: np.ndarray, header: list[str]) -> pl.DataFrame:
    """Lines known to hold one record of the header's number of fields, parsed by polars.

    polars reads a file into many chunks. A column added as one chunk (a Series) would make the
    next eager `select` copy every column into one chunk, a third of the cost of reading; so the
    line numbers are derived from polars' own row index where possible, and the callers pick
    columns by indexing, not `select`.
    """
    schema = {name: pl.String() for name in header}
    kept = np.flatnonzero(keep)
    if len(kept) == 0:
        return pl.DataFrame(schema=schema).with_columns(pl.Series("source_line", [], dtype=pl.Int64))
    every_line_after_a_plain_header = len(kept) == len(lines) - 1 and '"' not in lines.text(0)
    frame = pl.read_csv(  # unquoted empty values are read as null
        lines.data if every_line_after_a_plain_header else lines.joined(keep),  # the first: no copy
        skip_rows=1 if every_line_after_a_plain_header else 0,
        has_header=False, schema=schema, quote_char='"', comment_prefix=None, raise_if_empty=False,
        row_index_name="__row",
    )
    if frame.height != len(kept):  # would misnumber every row after the slip
        raise RuntimeError(f"polars read {frame.height} rows from {len(kept)} lines")
    if every_line_after_a_plain_header:
        source_line = pl.col("__row").cast(pl.Int64) + 2
    else:
        source_line = pl.lit(pl.Series(kept + 1, dtype=pl.Int64)).gather(pl.col("__row"))
    return frame.with_columns(source_line.alias("source_line")).drop("__row")


def clean_values(columns: list[str]) -> list[pl.Expr]:
    """Strip surrounding whitespace; an empty value is missing."""
    return [pl.col(c).str.strip_chars().replace("", None) for c in columns]


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


@dataclass
class _Quoted:
    """Records read by the csv module, starting on lines that hold a quote character."""

    starts: list[int] = field(default_factory=list)  # line index where each record starts
    lines: list[int] = field(default_factory=list)  # physical line of each good record
    values: list[list[str]] = field(default_factory=list)
    consumed: list[int] = field(default_factory=list)  # line indices of continuation lines
    bad_lines: list[int] = field(default_factory=list)
    bad_text: list[str] = field(default_factory=list)
    bad_why: list[str] = field(default_factory=list)

    def rows(self, header: list[str], dataset: Dataset) -> pl.DataFrame:
        wanted = [header.index(name) for name in dataset.column_names]
        columns = {name: [v[i] for v in self.values] for name, i in zip(dataset.column_names, wanted)}
        schema = {name: pl.String() for name in dataset.column_names} | {"source_line": pl.Int64()}
        return pl.DataFrame(columns | {"source_line": self.lines}, schema=schema)


def read_quoted_records(lines: Lines, starts: np.ndarray, n_fields: int) -> _Quoted:
    """Parse the (rare) records that start on a line holding `"` with the csv module.

    A record continues onto the next physical line while a quoted field is open. A record that
    needs more than MAX_LINES_PER_RECORD lines, never closes its quote, breaks the quoting rules or
    spans lines yet has the wrong number of fields is taken to be one bad line: that line is
    quarantined alone and the following lines are read as records of their own.
    """
    out = _Quoted()
    next_free = 1
    for start in starts.tolist():
        if start < next_free:
            continue
        fields, used, why = _csv_record(lines, start, n_fields)
        out.starts.append(start)
        if fields is not None:
            out.lines.append(start + 1)
            out.values.append(fields)
            out.consumed.extend(range(start + 1, start + used))
        else:
            out.bad_lines.append(start + 1)
            out.bad_text.append(lines.text(start))
            out.bad_why.append(why)
        next_free = start + used
    return out


def _csv_record(lines: Lines, start: int, n_fields: int) -> tuple[list[str] | None, int, str]:
    """One record from line index `start`: (fields, physical lines used, why it is bad)."""
    last = min(len(lines), start + MAX_LINES_PER_RECORD)
    taken = 0

    def feed():
        nonlocal taken
        for i in range(start, last):
            taken += 1
            yield lines.text_with_line_end(i)

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
