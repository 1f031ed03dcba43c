"""New delivery files: which dataset each belongs to, which were seen before, which birth years they touch.

Plain Python (polars for one column read), no Dagster: the delivery sensor
(`cohort_platform.defs.operations.sensors`) scans the raw root each tick and asks this module

1. `scan(raw_root)`: every file in the contract's folders, with size and modification time;
2. `diff(cursor, scan, settled_before)`: the files new, changed or removed since the cursor, and the
   next cursor. A file still being written (modified after `settled_before`) waits for a later tick,
   so a half-copied delivery is never ingested; a file is processed once per version (size, mtime);
3. `plan(raw_root, changes, birth_years)`: the raw assets that changed, the platform's own assets fed
   by them, and the birth-year partitions to rebuild downstream.

Which birth years a file touches (`PartitionScope`):

- `dob` (births, deaths, MHSDS): every row is a cohort child linked only within its date-of-birth
  window, so a *new* file touches the years of its rows' dates of birth, one day either side (the
  linkage's candidate window: `linkage.spine.candidate_records`, `edge_days=1`). A file that cannot
  be read cheaply (no dob column, unreadable) falls back to every year.
- `all`: every other file: datasets holding parents as well as children (HES, census, survey),
  datasets linked through the UPN or the care record across date-of-birth windows (NPD, CLA), a new
  opt-out snapshot (the newest is the whole list: anyone may have opted out or back in), reference
  and environmental files (exposures and area measures of every child), and any changed or removed
  file, whose earlier rows are unknown.

Whether any partitioned asset lies downstream at all is for the asset graph to say (the sensor asks
it); this module only says which years.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal

import polars as pl

from cohort_platform.contract.datasets import (
    DATASETS,
    GRIDS,
    REFERENCE_DATASETS,
    ROADS_FILE,
    ROADS_FOLDER,
    folder,
)

Kind = Literal["person", "opt_outs", "reference", "environment"]
PartitionScope = Literal["dob", "all"]

DOB_SCOPED_DATASETS = ("births", "deaths", "mhsds")
"""Datasets whose rows are all cohort children, linked only within their date-of-birth window."""
EDGE_DAYS = 1
"""A record one day from New Year is a linkage candidate in both years (`spine.candidate_records`)."""
ROADS_NAME = "major_roads"  # `defs.environment.assets.ROADS`


@dataclass(frozen=True)
class DeliveryTarget:
    """What a delivery file feeds: its raw (external) asset, the platform assets built from it,
    and how to tell which birth years it touches."""

    name: str  # dataset, grid or roads name
    kind: Kind
    raw_asset: tuple[str, ...]
    assets: tuple[tuple[str, ...], ...]
    scope: PartitionScope


def _dataset_target(name: str) -> DeliveryTarget:
    if name == "opt_outs":
        kind: Kind = "opt_outs"
    elif name in REFERENCE_DATASETS:
        kind = "reference"
    else:
        kind = "person"
    return DeliveryTarget(
        name=name,
        kind=kind,
        raw_asset=("raw", name),
        assets=(("clean", name), ("quarantine", name)),  # one ingestion step writes both
        scope="dob" if name in DOB_SCOPED_DATASETS else "all",
    )


def _environment_target(name: str) -> DeliveryTarget:
    return DeliveryTarget(name=name, kind="environment", raw_asset=("raw", name),
                          assets=(("environment", name),), scope="all")


def watched_folders() -> list[str]:
    """Every folder of the raw root that the contract defines."""
    names = {folder(n) for n in DATASETS} | {g.folder for g in GRIDS.values()} | {ROADS_FOLDER}
    return sorted(names)


def classify(relative: str | PurePosixPath) -> DeliveryTarget | None:
    """The target of a file given by its path under the raw root (`births/births_2024.csv`), or
    None when the contract has no place for it (a stray or misnamed file, a subfolder)."""
    parts = PurePosixPath(relative).parts
    if len(parts) != 2:
        return None
    directory, name = parts
    for dataset in DATASETS.values():
        if folder(dataset.name) == directory and fnmatch.fnmatchcase(name, dataset.glob):
            return _dataset_target(dataset.name)
    for grid in GRIDS.values():
        if grid.folder == directory and re.fullmatch(rf"{re.escape(grid.prefix)}\d{{4}}\.nc", name):
            return _environment_target(grid.name)
    if directory == ROADS_FOLDER and name == ROADS_FILE:
        return _environment_target(ROADS_NAME)
    return None


# ----------------------------------------------------------------------------------------- cursor
@dataclass(frozen=True)
class FileStamp:
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class DeliveryCursor:
    """The files already processed, by path under the raw root, with the size and modification
    time they had then. Serialised as JSON in the sensor's cursor."""

    files: Mapping[str, FileStamp] = field(default_factory=dict)

    def dumps(self) -> str:
        return json.dumps({"files": {p: [s.size, s.mtime_ns] for p, s in sorted(self.files.items())}},
                          separators=(",", ":"))

    @classmethod
    def loads(cls, text: str | None) -> "DeliveryCursor":
        if not text:
            return cls()
        data = json.loads(text)
        return cls({p: FileStamp(int(v[0]), int(v[1])) for p, v in data.get("files", {}).items()})


def scan(raw_root: Path | str) -> dict[str, FileStamp]:
    """Every visible file directly in a contract folder of the raw root (hidden files, such as a
    copy tool's `.name.part`, are skipped)."""
    raw_root = Path(raw_root)
    found: dict[str, FileStamp] = {}
    for name in watched_folders():
        directory = raw_root / name
        if not directory.is_dir():
            continue
        for path in directory.iterdir():
            if path.name.startswith(".") or not path.is_file():
                continue
            stat = path.stat()
            found[f"{name}/{path.name}"] = FileStamp(stat.st_size, stat.st_mtime_ns)
    return found


@dataclass(frozen=True)
class Changes:
    new: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    waiting: tuple[str, ...] = ()  # still being written: left for a later tick

    @property
    def files(self) -> tuple[str, ...]:
        return (*self.new, *self.changed, *self.removed)

    def __bool__(self) -> bool:
        return bool(self.files)


def diff(cursor: DeliveryCursor, current: Mapping[str, FileStamp], settled_before_ns: int | None = None) -> tuple[Changes, DeliveryCursor]:
    """What changed since `cursor`, and the cursor that records it as processed. A file modified
    after `settled_before_ns` (epoch nanoseconds) is left out of both, as if not yet delivered."""
    seen = dict(cursor.files)
    new, changed, waiting = [], [], []
    for path, stamp in sorted(current.items()):
        if seen.get(path) == stamp:
            continue
        if settled_before_ns is not None and stamp.mtime_ns > settled_before_ns:
            waiting.append(path)
            continue
        (changed if path in seen else new).append(path)
        seen[path] = stamp
    removed = sorted(p for p in cursor.files if p not in current)
    for path in removed:
        del seen[path]
    return Changes(tuple(new), tuple(changed), tuple(removed), tuple(waiting)), DeliveryCursor(seen)


# ------------------------------------------------------------------------------------ birth years
def birth_years_in_file(path: Path | str, edge_days: int = EDGE_DAYS, column: str = "dob") -> set[int] | None:
    """The birth years whose linkage window holds a date of birth in the file: each row's year, and
    the neighbouring year for dates within `edge_days` of New Year. Reads the one column with
    polars; None when that is not possible (no such column, unreadable file), meaning "all years".
    Unparseable dates are ignored: ingestion quarantines those rows, so they touch no partition."""
    try:
        frame = pl.scan_csv(
            path, infer_schema=False, encoding="utf8-lossy", truncate_ragged_lines=True,
            ignore_errors=True,
        ).select(pl.col(column).str.strip_chars().str.to_date("%Y-%m-%d", strict=False).alias("d")).collect()
    except (pl.exceptions.PolarsError, OSError):
        return None
    shift = pl.duration(days=edge_days)
    years = frame.select(
        pl.concat_list((pl.col("d") - shift).dt.year(), pl.col("d").dt.year(), (pl.col("d") + shift).dt.year())
        .explode().drop_nulls().unique().alias("year")
    )
    return {int(y) for y in years["year"].to_list()}


# ------------------------------------------------------------------------------------------- plan
@dataclass(frozen=True)
class DeliveryPlan:
    files: tuple[str, ...]  # files that feed an asset, new, changed or removed
    ignored: tuple[str, ...]  # files the contract has no place for
    raw_assets: Mapping[tuple[str, ...], tuple[str, ...]]  # raw asset -> its files in `files`
    assets: tuple[tuple[str, ...], ...]
    birth_years: tuple[int, ...]  # partitions to rebuild downstream (if any partitioned asset is)
    all_birth_years: bool

    def __bool__(self) -> bool:
        return bool(self.files)

    def birth_years_tag(self) -> str:
        """`all`, or the years comma-separated: how the plan travels on a run's tags."""
        return "all" if self.all_birth_years else ",".join(str(y) for y in self.birth_years)


def plan(raw_root: Path | str, changes: Changes, birth_years: Sequence[int | str]) -> DeliveryPlan:
    """The assets and birth years that `changes` affect. `birth_years` are the partitions that exist."""
    raw_root = Path(raw_root)
    available = sorted({int(y) for y in birth_years})
    removed_or_changed = set(changes.changed) | set(changes.removed)
    files, ignored = [], []
    raw_assets: dict[tuple[str, ...], list[str]] = {}
    assets: dict[tuple[str, ...], None] = {}
    years: set[int] = set()
    every_year = False
    for relative in changes.files:
        target = classify(relative)
        if target is None:
            ignored.append(relative)
            continue
        files.append(relative)
        raw_assets.setdefault(target.raw_asset, []).append(relative)
        assets.update(dict.fromkeys(target.assets))
        if every_year:
            continue
        found = (birth_years_in_file(raw_root / relative)
                 if target.scope == "dob" and relative not in removed_or_changed else None)
        if found is None:
            every_year = True
        else:
            years |= found
    chosen = tuple(available) if every_year else tuple(y for y in available if y in years)
    return DeliveryPlan(
        files=tuple(files), ignored=tuple(ignored), raw_assets={k: tuple(v) for k, v in raw_assets.items()},
        assets=tuple(assets),
        birth_years=chosen if files else (), all_birth_years=every_year and bool(files),
    )


def delivery_key(changes: Changes, current: Mapping[str, FileStamp]) -> str:
    """A key for one batch of changes: the same files in the same versions give the same key, so a
    run requested under it (a sensor's run_key) is launched once."""
    state = {p: [current[p].size, current[p].mtime_ns] if p in current else None for p in sorted(changes.files)}
    return hashlib.sha256(json.dumps(state).encode()).hexdigest()[:20]


def parse_birth_years_tag(tag: str | None, available: Iterable[str]) -> list[str]:
    """The partition keys a `birth_years_tag` names, among those that exist, in order."""
    keys = list(available)
    if not tag:
        return []
    if tag.strip() == "all":
        return keys
    wanted = {t.strip() for t in tag.split(",") if t.strip()}
    return [k for k in keys if k in wanted]
