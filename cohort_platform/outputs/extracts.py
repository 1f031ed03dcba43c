"""Project extracts: an approved project gets only its tables, columns and birth years.

An approved project is a YAML file:

    name: lac_mental_health          # lower case letters, digits, _ and -: it also derives the key
    birth_years: [2006, 2007, 2008]
    tables:
      children: [research_id, sex, birth_year, la_code_at_birth]
      mental_health_referrals: [research_id, referral_month, service_type]

`load_project` checks it against the research tables' columns and refuses, naming them, any unknown
table, unknown column or unexpected field, so a typo never widens or silently narrows an approval.
`write_extract` writes `<out>/<table>/birth_year=YYYY/part-0.parquet` with only those columns, and
replaces every research pseudonym column (`research_id`, `*_research_id`) by the project's own
pseudonym (`project_id`, `*_project_id`): HMAC with a key derived from the master key and the
project name, so two projects' extracts, or an extract and the research tables, cannot be joined.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import yaml

from cohort_platform.config import FIRST_BIRTH_YEAR
from cohort_platform.privacy.pseudonyms import RESEARCH_ID_COLUMN, PseudonymKey

PROJECT_FIELDS = ("name", "tables", "birth_years")
PROJECT_NAME = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,63}$")
BIRTH_YEAR_COLUMN = "birth_year"
PROJECT_ID_COLUMN = "project_id"
MANIFEST = "manifest.json"


class ProjectError(ValueError):
    """An approved-project file that cannot be used; the message lists every problem."""


@dataclass(frozen=True)
class Project:
    name: str
    tables: dict[str, tuple[str, ...]]
    birth_years: tuple[int, ...]
    source: Path | None = None


def _problems(raw: object, research_columns: Mapping[str, Sequence[str]]) -> list[str]:
    if not isinstance(raw, dict):
        return ["the file must hold a mapping with name, tables and birth_years"]
    problems = []
    unexpected = sorted(set(raw) - set(PROJECT_FIELDS))
    if unexpected:
        problems.append(f"unexpected fields: {', '.join(map(str, unexpected))} (allowed: {', '.join(PROJECT_FIELDS)})")
    problems += [f"missing field: {f}" for f in PROJECT_FIELDS if f not in raw]
    name = raw.get("name")
    if "name" in raw and not (isinstance(name, str) and PROJECT_NAME.match(name)):
        problems.append(f"name {name!r} must be 1-64 lower-case letters, digits, '_' or '-'")
    years = raw.get("birth_years")
    if "birth_years" in raw:
        if not (isinstance(years, list) and years and all(isinstance(y, int) and not isinstance(y, bool) for y in years)):
            problems.append("birth_years must be a non-empty list of years, e.g. [2006, 2007]")
        else:
            last = dt.date.today().year
            bad = [y for y in years if not FIRST_BIRTH_YEAR <= y <= last]
            if bad:
                problems.append(f"birth years outside {FIRST_BIRTH_YEAR}-{last}: {', '.join(map(str, bad))}")
    tables = raw.get("tables")
    if "tables" in raw:
        if not (isinstance(tables, dict) and tables):
            problems.append("tables must map each table to its list of columns")
        else:
            for table, columns in tables.items():
                if table not in research_columns:
                    problems.append(f"unknown table {table!r} (research tables: {', '.join(sorted(research_columns))})")
                    continue
                if not (isinstance(columns, list) and columns and all(isinstance(c, str) for c in columns)):
                    problems.append(f"table {table!r}: columns must be a non-empty list of names")
                    continue
                unknown = [c for c in columns if c not in research_columns[table]]
                if unknown:
                    problems.append(f"table {table!r}: unknown columns {', '.join(map(repr, unknown))} "
                                    f"(its columns: {', '.join(research_columns[table])})")
                repeated = sorted({c for c in columns if columns.count(c) > 1})
                if repeated:
                    problems.append(f"table {table!r}: columns listed twice: {', '.join(repeated)}")
    return problems


def parse_project(text: str, research_columns: Mapping[str, Sequence[str]], source: Path | None = None) -> Project:
    """A project from YAML text, validated against the research tables' columns."""
    where = f" in {source}" if source else ""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ProjectError(f"approved project{where} is not valid YAML: {exc}") from None
    problems = _problems(raw, research_columns)
    if problems:
        raise ProjectError(f"approved project{where} is refused:\n- " + "\n- ".join(problems))
    return Project(
        name=raw["name"],
        tables={t: tuple(cs) for t, cs in raw["tables"].items()},
        birth_years=tuple(sorted(set(raw["birth_years"]))),
        source=source,
    )


def load_project(path: Path, research_columns: Mapping[str, Sequence[str]]) -> Project:
    """Read and validate an approved-project YAML file; `ProjectError` names every problem."""
    path = Path(path)
    return parse_project(path.read_text(encoding="utf-8"), research_columns, source=path)


def _is_pseudonym(column: str) -> bool:
    return column == RESEARCH_ID_COLUMN or column.endswith(f"_{RESEARCH_ID_COLUMN}")


def project_column_name(column: str) -> str:
    """research_id -> project_id, mother_research_id -> mother_project_id; others unchanged."""
    return column[: -len(RESEARCH_ID_COLUMN)] + PROJECT_ID_COLUMN if _is_pseudonym(column) else column


def _year_frame(files: list[Path], columns: Sequence[str], year: int) -> pl.DataFrame:
    frame = pl.read_parquet(files, hive_partitioning=False)
    if BIRTH_YEAR_COLUMN in columns and BIRTH_YEAR_COLUMN not in frame.columns:
        frame = frame.with_columns(pl.lit(year, dtype=pl.Int32).alias(BIRTH_YEAR_COLUMN))
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ProjectError(f"research files {files[0].parent} lack columns {', '.join(missing)}")
    return frame.select(columns)


def write_extract(project: Project, research_dir: Path, out_dir: Path, key: PseudonymKey) -> dict[str, int]:
    """Write the project's extract; return rows per table. `out_dir` must be new or empty.

    Reads `<research_dir>/<table>/birth_year=YYYY/*.parquet` one birth year at a time, so memory
    is bounded by a year of one table. A manifest (project, tables, columns, years, rows; no key)
    is written beside the tables.
    """
    research_dir, out_dir = Path(research_dir), Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise ProjectError(f"output folder {out_dir} is not empty; extracts are never written over")
    project_key = key.for_project(project.name)
    rows: dict[str, int] = {}
    for table, columns in project.tables.items():
        table_dir = research_dir / table
        if not any(table_dir.glob("birth_year=*/*.parquet")):
            raise ProjectError(f"research table {table!r} has no data under {table_dir}")
        rows[table] = 0
        for year in project.birth_years:
            files = sorted((table_dir / f"{BIRTH_YEAR_COLUMN}={year}").glob("*.parquet"))
            if not files:
                continue
            frame = _year_frame(files, columns, year)
            frame = frame.with_columns(
                project_key.pseudonymise(frame[c]).alias(c) for c in columns if _is_pseudonym(c)
            ).rename({c: project_column_name(c) for c in columns if _is_pseudonym(c)})
            target = out_dir / table / f"{BIRTH_YEAR_COLUMN}={year}"
            target.mkdir(parents=True, exist_ok=True)
            frame.write_parquet(target / "part-0.parquet")
            rows[table] += frame.height
    manifest = {
        "project": project.name,
        "birth_years": list(project.birth_years),
        "tables": {t: {"columns": [project_column_name(c) for c in cs], "rows": rows[t]} for t, cs in project.tables.items()},
        "person_id": f"{PROJECT_ID_COLUMN}: this project's own pseudonym; it joins this extract's tables only",
        "written_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return rows
