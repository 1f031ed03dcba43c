"""Birth-year partitions: every person-level asset from the spine on is split by year of birth."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from cohort_platform.config import FIRST_BIRTH_YEAR


def birth_years(until: int | None = None) -> list[str]:
    """2006 to the current year (or `until`), as partition keys."""
    last = until or dt.date.today().year
    return [str(y) for y in range(FIRST_BIRTH_YEAR, last + 1)]


BIRTH_YEAR = dg.StaticPartitionsDefinition(birth_years())
BIRTH_YEAR_COLUMN = "birth_year"


def parse_birth_years(text: str) -> list[int]:
    """"2006-2010" -> [2006, ..., 2010]; "2008" -> [2008]; "2006,2009" -> [2006, 2009]."""
    years: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            start, end = (int(p) for p in part.split("-", 1))
            if end < start:
                raise ValueError(f"birth-year range {part!r} runs backwards")
            years.update(range(start, end + 1))
        else:
            years.add(int(part))
    if not years:
        raise ValueError(f"no birth years in {text!r}")
    return sorted(years)
