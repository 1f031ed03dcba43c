"""Dates as int32 days since 1970-01-01: the generator's vectorised calendar arithmetic."""

from __future__ import annotations

import datetime as dt

import numpy as np

EPOCH = dt.date(1970, 1, 1)
NEVER = np.int32(2**31 - 1)  # an open end date
DAYS_PER_YEAR = 365.2425


def day(date: dt.date) -> int:
    return (date - EPOCH).days


def days_from_ymd(year: np.ndarray, month: np.ndarray | int, dom: np.ndarray | int) -> np.ndarray:
    """Days for (year, month, day) arrays; the day must exist in the month."""
    year = np.asarray(year)
    months = (year - 1970) * 12 + (np.asarray(month) - 1)
    return (months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64) + np.asarray(dom) - 1).astype(np.int32)


def ymd(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = np.asarray(days).astype("datetime64[D]")
    months = d.astype("datetime64[M]")
    year = months.astype("datetime64[Y]").astype(np.int64) + 1970
    month = months.astype(np.int64) % 12 + 1
    dom = (d - months.astype("datetime64[D]")).astype(np.int64) + 1
    return year.astype(np.int32), month.astype(np.int32), dom.astype(np.int32)


def add_years(days: np.ndarray, years: np.ndarray | int) -> np.ndarray:
    """The same calendar day `years` later (29 February becomes 1 March in a common year)."""
    y, m, d = ymd(days)
    y2 = y + np.asarray(years)
    leap = (y2 % 4 == 0) & ((y2 % 100 != 0) | (y2 % 400 == 0))
    feb29 = (m == 2) & (d == 29) & ~leap
    return np.where(feb29, days_from_ymd(y2, 3, 1), days_from_ymd(y2, m, np.where(feb29, 1, d))).astype(np.int32)


def academic_cohort(dob: np.ndarray) -> np.ndarray:
    """The start year of the academic year a child is born in (September to August)."""
    y, m, _ = ymd(dob)
    return np.where(m >= 9, y, y - 1).astype(np.int32)
