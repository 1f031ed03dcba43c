"""Writing a dataset's delivery files: contract columns as text, a few malformed raw lines per file,
and re-deliveries (a later file repeating some record_ids, a share with a changed value).

The malformed lines are corrupted copies of real rows with fresh record_ids (so the real row still
arrives intact) and each is recorded with its physical line number (header = line 1). A re-delivered
record's later copy carries the final value; where the copies differ, the earlier file holds the
superseded value, so an ingester that lets the later file win recovers the generator's row.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from cohort_platform.contract.datasets import Dataset

DEFECTS = ("impossible_date", "code_outside_list", "text_in_numeric", "empty_record_id", "wrong_field_count")
MALFORMED_SCHEMA = {"dataset": pl.Utf8, "file": pl.Utf8, "line": pl.Int64, "record_id": pl.Utf8,
                    "defect": pl.Utf8, "person_id": pl.Int64}
REDELIVERY_SUFFIX = "_r2"


@dataclass(frozen=True)
class Redelivery:
    """`share` of the rows of the last `files` delivery files come again in `<file>_r2.csv`;
    `changed` of those differ in `column` (the earlier copy holds `earlier(value)`)."""

    share: float
    changed: float
    column: str
    earlier: Callable[[pl.Expr], pl.Expr]
    files: int = 2


REDELIVERIES: dict[str, Redelivery] = {
    "births": Redelivery(0.003, 0.3, "birthweight_g",
                         lambda c: (c.cast(pl.Int64, strict=False) + 10).cast(pl.Utf8)),
    "hes_apc": Redelivery(0.01, 0.2, "admimeth", lambda c: pl.when(c == "21").then(pl.lit("22")).otherwise(pl.lit("21"))),
    "npd_census": Redelivery(0.004, 0.3, "fsm_eligible", lambda c: pl.when(c == "1").then(pl.lit("0")).otherwise(pl.lit("1"))),
    "cla": Redelivery(0.03, 0.3, "place", lambda c: pl.when(c == "U4").then(pl.lit("U5")).otherwise(pl.lit("U4")), files=3),
    "survey": Redelivery(0.05, 0.4, "consent_dwp", lambda c: pl.when(c == "Y").then(pl.lit("N")).otherwise(pl.lit("Y")), files=1),
}


def as_text(frame: pl.DataFrame, dataset: Dataset) -> pl.DataFrame:
    """The contract columns, in contract order, as text (ISO dates, plain numbers, empty = missing)."""
    exprs = []
    for c in dataset.columns:
        col = pl.col(c.name)
        dtype = frame.schema[c.name]
        if dtype == pl.Date:
            col = col.dt.to_string("%Y-%m-%d")
        elif dtype != pl.Utf8:
            col = col.cast(pl.Utf8)
        exprs.append(col.alias(c.name))
    return frame.select(exprs)


def _csv_line(values: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(values)
    return buf.getvalue()


def _corrupt(row: dict[str, str | None], dataset: Dataset, defect: str, new_id: str) -> tuple[str, str | None] | None:
    """(raw line, record_id) of a corrupted copy of `row`, or None if the defect does not apply."""
    values = {k: ("" if v is None else v) for k, v in row.items()}
    has_key = bool(dataset.key)
    if has_key:
        values[dataset.key] = new_id
    if defect == "impossible_date":
        dates = [c.name for c in dataset.columns if c.kind == "date"]
        if not dates:
            return None
        target = "dob" if "dob" in dates else dates[0]
        year = values[target][:4] if values[target][:4].isdigit() else "2010"
        values[target] = f"{year}-02-30"
    elif defect == "code_outside_list":
        codes = [c.name for c in dataset.columns if c.kind == "code"]
        if not codes:
            return None
        values[codes[0]] = "X9"
    elif defect == "text_in_numeric":
        numeric = [c.name for c in dataset.columns if c.kind in ("int", "float")]
        if not numeric:
            return None
        values[numeric[0]] = "unknown"
    elif defect == "empty_record_id":
        if not has_key:
            return None
        values[dataset.key] = ""
    elif defect == "wrong_field_count":
        ordered = [values[c] for c in dataset.column_names]
        line = _csv_line(ordered + ["extra"] if len(ordered) == 1 else ordered[:-1])
        return line, (new_id if has_key else None)
    else:
        raise ValueError(defect)
    return _csv_line([values[c] for c in dataset.column_names]), (values[dataset.key] or None) if has_key else None


def malformed_count(rows: int) -> int:
    """A few per file: one in a tiny file, two usually, up to four in the largest."""
    return 1 + (rows >= 200) + (rows > 50_000) + (rows > 500_000)


@dataclass
class Written:
    truth: pl.DataFrame  # record_id, person_id, role, file (the winning copy)
    malformed: pl.DataFrame
    errors: pl.DataFrame
    rows: int  # data lines written, malformed and re-delivered copies included
    files: list[str]
    id_map: pl.DataFrame | None = None  # keyless datasets: the frame's row id -> "<file>:<line>"


def _redeliver(text: pl.DataFrame, meta: pl.DataFrame, spec: Redelivery | None, rng: np.random.Generator,
               dataset: str) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, list[pl.DataFrame]]:
    """(text with superseded values in the earlier copies, meta with r2 rows appended, r2 text rows, errors)."""
    if spec is None or text.height == 0:
        return text, meta, text.clear(), []
    files = sorted(meta["_file"].unique().to_list())[-spec.files:]
    eligible = meta["_file"].is_in(files).to_numpy()
    chosen = eligible & (rng.random(text.height) < spec.share)
    changed = chosen & (rng.random(text.height) < spec.changed) & text[spec.column].is_not_null().to_numpy()
    copies = text.filter(pl.Series(chosen))
    copies_meta = meta.filter(pl.Series(chosen)).with_columns(
        pl.col("_file").str.replace(r"\.csv$", REDELIVERY_SUFFIX + ".csv"))
    text = text.with_columns(pl.when(pl.Series(changed)).then(spec.earlier(pl.col(spec.column)))
                             .otherwise(pl.col(spec.column)).alias(spec.column))
    errors = [
        pl.DataFrame({"record_id": copies["record_id"]}).with_columns(
            pl.lit(dataset).alias("dataset"), pl.lit("redelivered").alias("error")),
        pl.DataFrame({"record_id": text["record_id"].filter(pl.Series(changed))}).with_columns(
            pl.lit(dataset).alias("dataset"), pl.lit(f"{spec.column}:superseded_copy_differs").alias("error")),
    ]
    return text, pl.concat([meta, copies_meta]), copies, errors


def _insert_points(rng: np.random.Generator, part: pl.DataFrame, part_meta: pl.DataFrame, dataset: Dataset,
                   count: int) -> list[tuple[int, bytes, str | None, str, int]]:
    """(row position to insert before, raw line, record_id, defect, person_id) of the malformed lines."""
    n = part.height
    out = []
    if n == 0:
        return out
    start = int(rng.integers(len(DEFECTS)))
    for j in range(count):
        defect = DEFECTS[(start + j) % len(DEFECTS)]
        src = int(rng.integers(n))
        row = part.row(src, named=True)
        new_id = f"{row[dataset.key]}-M{j + 1}" if dataset.key else ""
        made = _corrupt(row, dataset, defect, new_id)
        if made is None:
            defect = "wrong_field_count"
            made = _corrupt(row, dataset, defect, new_id)
        out.append((int(rng.integers(0, n + 1)), made[0].encode(), made[1], defect, int(part_meta["person_id"][src])))
    return sorted(out, key=lambda t: t[0])


def _write_file(path: Path, header: bytes, part: pl.DataFrame, lines) -> None:
    with open(path, "wb") as fh:
        fh.write(header)
        at = 0
        for pos, raw, *_ in lines:
            if pos > at:
                part.slice(at, pos - at).write_csv(fh, include_header=False)
                at = pos
            fh.write(raw)
        if at < part.height:
            part.slice(at, part.height - at).write_csv(fh, include_header=False)


def _split_by_file(frame: pl.DataFrame, column: str) -> dict[tuple[str], pl.DataFrame]:
    """{(file,): rows}: zero-copy slices when each file's rows are contiguous (builders emit them so),
    else a partition (a full copy)."""
    names = frame[column]
    starts = np.flatnonzero((names != names.shift(1)).fill_null(True).to_numpy())
    runs = names.gather(pl.Series(starts)).to_list()
    if len(set(runs)) != len(runs):
        return frame.partition_by(column, as_dict=True, maintain_order=True)
    ends = np.append(starts[1:], frame.height)
    return {(name,): frame.slice(int(a), int(b - a)) for name, a, b in zip(runs, starts, ends)}


def write_dataset(folder: Path, dataset: Dataset, frame: pl.DataFrame, rng: np.random.Generator,
                  malformed: bool = True) -> Written:
    """Write `frame` (noisy contract columns + person_id, role, _file) as delivery files in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    keyless = not dataset.key
    text = as_text(frame, dataset)
    meta = frame.select("person_id", "role", "_file", *(["record_id"] if keyless and "record_id" in frame.columns else []))
    text, meta, copies, errors = _redeliver(text, meta, REDELIVERIES.get(dataset.name), rng, dataset.name)
    if copies.height:
        text = pl.concat([text, copies])
    whole = pl.concat([text, meta.select(pl.all().name.prefix("__"))], how="horizontal")
    parts = _split_by_file(whole, "___file")
    header = _csv_line(dataset.column_names).encode()
    bad_rows: list[dict] = []
    truth_parts, redelivered, id_maps = [], [], []
    rows_written = 0
    files = sorted(key[0] for key in parts)
    for name in files:
        part_all = parts[(name,)]
        part = part_all.select(dataset.column_names)
        part_meta = part_all.select(pl.col("__person_id").alias("person_id"), pl.col("__role").alias("role"))
        lines = _insert_points(rng, part, part_meta, dataset, malformed_count(part.height) if malformed else 0)
        _write_file(folder / name, header, part, lines)
        relative = f"{folder.name}/{name}"
        for j, (pos, _raw, rid, defect, pid) in enumerate(lines):
            bad_rows.append({"dataset": dataset.name, "file": relative, "line": pos + j + 2,
                             "record_id": rid, "defect": defect, "person_id": pid})
        rows_written += part.height + len(lines)
        if keyless:
            inserted = np.array([p for p, *_ in lines], dtype=np.int64)
            line_no = np.arange(part.height) + 2 + np.searchsorted(inserted, np.arange(part.height), side="right")
            ids = (f"{relative}:" + pl.Series(line_no).cast(pl.Utf8)).alias("record_id")
        else:
            ids = part[dataset.key]
        rows = pl.DataFrame({"record_id": ids, "person_id": part_meta["person_id"], "role": part_meta["role"]}) \
            .with_columns(pl.lit(relative).alias("file"))
        if keyless and "__record_id" in part_all.columns:
            id_maps.append(pl.DataFrame({"row_id": part_all["__record_id"], "record_id": ids}))
        (redelivered if name.endswith(REDELIVERY_SUFFIX + ".csv") else truth_parts).append(rows)
    empty = pl.DataFrame(schema={"record_id": pl.Utf8, "person_id": pl.Int64, "role": pl.Utf8, "file": pl.Utf8})
    truth = pl.concat(truth_parts) if truth_parts else empty
    if redelivered:  # one row per record: the winning (later) copy names its file
        later = pl.concat(redelivered).select("record_id", pl.col("file").alias("_later"))
        truth = truth.join(later, on="record_id", how="left", maintain_order="left").with_columns(
            pl.coalesce("_later", "file").alias("file")).drop("_later")
    bad = pl.DataFrame(bad_rows, schema=MALFORMED_SCHEMA)
    err = pl.concat([e.select("dataset", "record_id", "error") for e in errors]) if errors else \
        pl.DataFrame(schema={"dataset": pl.Utf8, "record_id": pl.Utf8, "error": pl.Utf8})
    return Written(truth=truth, malformed=bad, errors=err, rows=rows_written, files=files,
                   id_map=pl.concat(id_maps) if id_maps else None)
