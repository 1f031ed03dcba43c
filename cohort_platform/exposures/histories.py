"""Residential histories: where each child lived, month by month, from birth to the data cut-off, and
where each mother lived in the 12 months before the birth. Dagster-free and vectorised (polars).

Every linked record that carries a postcode and a date says "this person lived at this postcode on
this day" (`SOURCES`). The sources disagree: a hospital or school record often still holds the address
the family left months ago, a birth registration or census form states the address on the day. The
rules below turn those observations into one address per month; each is tested and written up in
docs/residential_histories.md.

1. Window. A child's months run from the birth month to the month of death or of the cut-off; a
   mother's (person_id = the child, role mother) from 12 months before the birth month to the birth
   month. Observations outside the window, dated after the cut-off or without a valid postcode are
   not used.
2. One winner a month. When a month holds several observations that disagree, the more authoritative
   source wins (`SOURCE_PRIORITY`: the birth registration, then the censuses, then deaths, care
   episodes, school census, hospital episodes, mental health referrals); among equals, the most
   recent observation in the month.
3. Implausible moves. An excursion A -> B -> A, where B is seen only in secondary sources (not a
   birth registration nor a census) and the family is seen back at A within `excursion_days` (365)
   of the first sighting at B, is noise: typically a provider still holding a former address
   (a lag of up to a year) or a one-off wrong address. When two such excursions overlap (A B A B),
   the return to an address the child had already left is dropped first, never the newer address.
   Dropping repeats until nothing more is implausible.
4. Gaps. An address holds from the month it is first observed until the month another address is
   observed (carried forward). Months before the first observation take the first address observed:
   for a child that is the birth registration's postcode (an observation in the birth month), for a
   mother the earliest of her addresses in the window, which is the birth postcode where nothing else
   is known. Such months are marked `basis = "back_filled"`.

Each spell carries the source of the observation that established it, the number of observations
supporting it and the date of the last one, so a researcher can judge how well it is founded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import polars as pl

ROLES = ("child", "mother")


@dataclass(frozen=True)
class DatedPostcode:
    """Where a dataset keeps a postcode, and the date on which it held."""

    column: str
    date: pl.Expr
    meaning: str


SOURCES: dict[str, DatedPostcode] = {
    "births": DatedPostcode("postcode", pl.col("dob"), "mother's usual residence at the birth (child and mother)"),
    "census_2021": DatedPostcode("postcode", pl.lit(dt.date(2021, 3, 21)), "household address on census day 2021"),
    "census_2011": DatedPostcode("postcode", pl.lit(dt.date(2011, 3, 27)), "household address on census day 2011"),
    "deaths": DatedPostcode("postcode", pl.col("dod"), "usual residence at death"),
    "cla": DatedPostcode("home_post", pl.col("decom"), "home address when the episode of care began"),
    "npd_census": DatedPostcode(
        "postcode", pl.date(pl.col("academic_year") + 1, 1, 15), "pupil's home at the spring census (15 January)"),
    "hes_apc": DatedPostcode("homeadd", pl.col("epistart"), "patient's home at the start of a hospital episode"),
    "mhsds": DatedPostcode("postcode", pl.col("referral_date"), "patient's home at a mental health referral"),
}
"""Every source of dated postcodes, in order of authority (see `SOURCE_PRIORITY`)."""

def required_columns(dataset: str) -> list[str]:
    """The columns of a clean table that histories and exposures read (load only these: the school
    census of one birth year has millions of rows and many columns)."""
    extra = {"births": ["dob", "gestation_weeks"], "deaths": ["dod"], "npd_census": ["academic_year", "urn"]}
    if dataset not in SOURCES:
        return []
    source = SOURCES[dataset]
    dates = source.date.meta.root_names()
    return list(dict.fromkeys(["record_id", source.column, f"{source.column}_valid", *dates, *extra.get(dataset, [])]))


SOURCE_PRIORITY: dict[str, int] = {name: rank for rank, name in enumerate(SOURCES, start=1)}
"""1 = most authoritative. Registrations and censuses state the address on the day (the informant
gives it); care episodes record it when the child enters care; school and health records copy a
registered address that is updated only when the family tells the school or GP, and so lags moves."""

PRIMARY_SOURCES = frozenset({"births", "census_2011", "census_2021"})
"""Sources whose observations are never discarded as implausible: the person states the address on
the day it refers to."""

EXCURSION_DAYS = 365
"""A secondary-only excursion A -> B -> A shorter than this is noise (providers lag moves by up to a
year; the benchmark measures the choice against synthetic truth)."""

SPELL_SCHEMA: dict[str, pl.DataType] = {
    "person_id": pl.String(), "role": pl.String(), "start_month": pl.Date(), "end_month": pl.Date(),
    "months": pl.Int32(), "postcode": pl.String(), "source": pl.String(), "basis": pl.String(),
    "observations": pl.UInt32(), "last_seen": pl.Date(),
}
DATED_SCHEMA: dict[str, pl.DataType] = {
    "person_id": pl.String(), "role": pl.String(), "date": pl.Date(), "postcode": pl.String(), "source": pl.String(),
}


@dataclass(frozen=True)
class HistoryRules:
    """The tunable parts of the rules (defaults are the documented ones)."""

    priority: Mapping[str, int] = field(default_factory=lambda: dict(SOURCE_PRIORITY))
    primary: frozenset[str] = PRIMARY_SOURCES
    excursion_days: int | None = EXCURSION_DAYS  # None: keep every excursion
    mother_months: int = 12
    max_passes: int = 25
    move_timing: str = "first_seen"  # or "midpoint": between the last sighting of the old address and the first of the new


# ------------------------------------------------------------------------------------- month keys
def month_key(date: pl.Expr) -> pl.Expr:
    """Months since year 0 (year * 12 + month - 1): consecutive months differ by one."""
    return (date.dt.year().cast(pl.Int32) * 12 + date.dt.month().cast(pl.Int32) - 1).cast(pl.Int32)


def month_start(key: pl.Expr) -> pl.Expr:
    """The first day of the month of a month key."""
    return pl.date(key // 12, key % 12 + 1, 1)


def _date_key(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


# -------------------------------------------------------------------------------- observations
def dated_addresses(clean: Mapping[str, pl.DataFrame], link_map: pl.DataFrame,
                    known_postcodes: pl.Series | None = None) -> pl.DataFrame:
    """Every dated postcode of a linked child or mother: person_id (the child), role (child or mother),
    date, postcode, source (the dataset).

    `clean` maps dataset names to accepted (clean) tables; datasets that are absent or carry no dated
    postcode are skipped. Records without a link, with a missing or invalid postcode (`<col>_valid`
    false) or without a date are not observations. The birth registration's postcode is the mother's
    address at the birth, so it is an observation of the child and of the mother. With
    `known_postcodes` (the reference postcodes), postcodes that cannot be located are dropped too:
    they would otherwise hide a locatable address.
    """
    links = (link_map.filter(pl.col("person_id").is_not_null() & pl.col("role").is_in(ROLES))
             .select("dataset", "record_id", "person_id", "role"))
    by_dataset = links.partition_by("dataset", as_dict=True, include_key=False)
    parts = []
    for name, source in SOURCES.items():
        frame = clean.get(name)
        if frame is None or frame.height == 0 or source.column not in frame.columns:
            continue
        valid = f"{source.column}_valid"
        observed = frame.select(
            pl.col("record_id").cast(pl.String),
            pl.col(source.column).cast(pl.String).alias("postcode"),
            source.date.cast(pl.Date).alias("date"),
            (pl.col(valid) if valid in frame.columns else pl.lit(True)).alias("_valid"),
        ).filter(pl.col("postcode").is_not_null() & pl.col("date").is_not_null() & pl.col("_valid").fill_null(False))
        linked = by_dataset.get((name,), pl.DataFrame(schema={"record_id": pl.String, "person_id": pl.String,
                                                              "role": pl.String}))
        if name == "births":
            children = linked.filter(pl.col("role") == "child")
            if children.height == 0:  # a link map without spine rows: the births record_id is the child
                children = observed.select("record_id", pl.col("record_id").alias("person_id"), pl.lit("child").alias("role"))
            linked = pl.concat([children, children.with_columns(pl.lit("mother").alias("role"))])
        parts.append(observed.join(linked, on="record_id", how="inner")
                     .select("person_id", "role", "date", "postcode", pl.lit(name).alias("source")))
    if not parts:
        return pl.DataFrame(schema=DATED_SCHEMA)
    out = pl.concat(parts).unique()
    if known_postcodes is not None:
        out = out.filter(pl.col("postcode").is_in(known_postcodes.implode()))
    return out.select(DATED_SCHEMA.keys()).cast(DATED_SCHEMA).sort("person_id", "role", "date", "source", "postcode")


def cohort_children(clean: Mapping[str, pl.DataFrame], link_map: pl.DataFrame) -> pl.DataFrame:
    """One row per child of the spine: person_id, dob, gestation_weeks (null where not recorded) and
    dod (the earliest linked death registration, else null). A duplicate birth registration linked to
    a child adds nothing: the child's own registration (record_id = person_id) is used."""
    births = clean["births"].select(
        pl.col("record_id").cast(pl.String).alias("person_id"), pl.col("dob").cast(pl.Date),
        pl.col("gestation_weeks").cast(pl.Int32) if "gestation_weeks" in clean["births"].columns
        else pl.lit(None, pl.Int32).alias("gestation_weeks"),
    )
    spine = link_map.filter((pl.col("dataset") == "births") & (pl.col("role") == "child")).select("person_id").unique()
    if spine.height:
        births = births.join(spine, on="person_id", how="semi")
    births = births.unique("person_id", keep="first")
    deaths = clean.get("deaths")
    if deaths is not None and deaths.height:
        dod = (deaths.select(pl.col("record_id").cast(pl.String), pl.col("dod").cast(pl.Date))
               .join(link_map.filter((pl.col("dataset") == "deaths") & (pl.col("role") == "child")
                                     & pl.col("person_id").is_not_null()).select("record_id", "person_id"),
                     on="record_id")
               .group_by("person_id").agg(pl.col("dod").min()))
        births = births.join(dod, on="person_id", how="left")
    else:
        births = births.with_columns(pl.lit(None, pl.Date).alias("dod"))
    return births.sort("person_id")


# -------------------------------------------------------------------------------------- windows
def history_windows(birth_dates: pl.DataFrame, cutoff: dt.date, mother_months: int = 12) -> pl.DataFrame:
    """person_id, role, start, end (inclusive month keys) of each history: the child's from the birth
    month to the month of death or of the cut-off, the mother's from `mother_months` before the birth
    month to the birth month. Births after the cut-off have no window."""
    cols = ["person_id", "dob"] + (["dod"] if "dod" in birth_dates.columns else [])
    b = birth_dates.select(cols).filter(pl.col("dob") <= cutoff)
    if "dod" not in b.columns:
        b = b.with_columns(pl.lit(None, pl.Date).alias("dod"))
    birth = month_key(pl.col("dob"))
    last = pl.min_horizontal(month_key(pl.col("dod")).fill_null(_date_key(cutoff)), pl.lit(_date_key(cutoff)))
    child = b.select("person_id", pl.lit("child").alias("role"), birth.alias("start"), last.cast(pl.Int32).alias("end"))
    mother = b.select("person_id", pl.lit("mother").alias("role"), (birth - mother_months).alias("start"), birth.alias("end"))
    return pl.concat([child, mother]).with_columns(pl.col("person_id").cast(pl.String))


# ------------------------------------------------------------------------------ the rules, steps
def monthly_winners(dated: pl.DataFrame, windows: pl.DataFrame, cutoff: dt.date, rules: HistoryRules) -> pl.DataFrame:
    """Rule 1 and 2: the observations inside each window, one per person, role and month (the most
    authoritative source, then the latest date), with the count of observations in that month."""
    priority = pl.col("source").replace_strict(dict(rules.priority), default=len(rules.priority) + 1,
                                               return_dtype=pl.Int32)
    obs = (dated.filter(pl.col("date") <= cutoff)
           .with_columns(month_key(pl.col("date")).alias("mk"))
           .join(windows, on=["person_id", "role"], how="inner")
           .filter(pl.col("mk").is_between(pl.col("start"), pl.col("end")))
           .with_columns(priority.alias("priority")))
    obs = obs.sort(["person_id", "role", "mk", "priority", "date", "postcode"],
                   descending=[False, False, False, False, True, False])
    # groups of (person, role, month) are contiguous once sorted: boundaries by comparing neighbours
    # (no hash group-by), the winner is each group's first row
    obs = obs.with_columns(_boundary(("person_id", "role", "mk")).alias("_new"))
    obs = obs.with_columns(pl.when(pl.col("_new")).then(pl.col("postcode")).forward_fill().alias("_winner"))
    group = obs["_new"].cast(pl.Int64).cum_sum().to_numpy() - 1
    agreeing = np.bincount(group, weights=(obs["postcode"] == obs["_winner"]).to_numpy().astype(np.float64))
    return (obs.filter(pl.col("_new"))
            .select("person_id", "role", "mk", "postcode", "source", "date",
                    pl.col("source").is_in(list(rules.primary)).alias("primary"))
            .with_columns(pl.Series("n_obs", agreeing, dtype=pl.Float64).cast(pl.UInt32)))


def _boundary(keys: tuple[str, ...]) -> pl.Expr:
    """True on the first row of each run of equal `keys` in a sorted frame."""
    changed = [pl.col(k) != pl.col(k).shift(1) for k in keys]
    return pl.any_horizontal(changed).fill_null(True)


def _runs(frame: pl.DataFrame) -> pl.DataFrame:
    """Merge consecutive rows (sorted by person, role, time) at the same postcode into runs: first
    and last sighting, source of the first, whether a primary source saw it, observations. Runs are
    contiguous rows: boundaries by comparing neighbours and sums by `np.bincount` (no hash group-by)."""
    frame = frame.with_columns(_boundary(("person_id", "role", "postcode")).alias("_new"))
    if frame.height == 0:
        return frame.drop("_new")
    run = frame["_new"].cast(pl.Int64).cum_sum().to_numpy() - 1
    is_last = frame.select(pl.col("_new").shift(-1).fill_null(True)).to_series()
    primary = np.bincount(run, weights=frame["primary"].to_numpy().astype(np.float64)) > 0
    n_obs = np.bincount(run, weights=frame["n_obs"].to_numpy().astype(np.float64))
    firsts = frame.filter(pl.col("_new")).select("person_id", "role", "postcode", "source", "first_mk", "first_date")
    return firsts.with_columns(frame.filter(is_last)["last_date"], pl.Series("primary", primary),
                               pl.Series("n_obs", n_obs).cast(pl.UInt32))


def address_runs(winners: pl.DataFrame) -> pl.DataFrame:
    """Consecutive months won by the same postcode, as runs."""
    rows = winners.sort("person_id", "role", "mk").select(
        "person_id", "role", "postcode", "source", pl.col("mk").alias("first_mk"),
        pl.col("date").alias("first_date"), pl.col("date").alias("last_date"), "primary", "n_obs")
    return _runs(rows)


def implausible_runs(runs: pl.DataFrame, rules: HistoryRules) -> pl.Series:
    """Rule 3 for one pass: which runs to drop (boolean, aligned with `runs`, sorted by person, role,
    time). A candidate is a run seen only in secondary sources, between two runs of one other address,
    with the return seen within `excursion_days` of the run's first sighting (the apparent stay). Of
    two adjacent candidates the return to a former address goes first (then the earlier one); the
    other waits a pass."""
    if rules.excursion_days is None or runs.height < 3:
        return pl.Series("drop", [False] * runs.height, dtype=pl.Boolean)
    same_prev = (pl.col("person_id") == pl.col("person_id").shift(1)) & (pl.col("role") == pl.col("role").shift(1))
    same_next = (pl.col("person_id") == pl.col("person_id").shift(-1)) & (pl.col("role") == pl.col("role").shift(-1))
    stay = (pl.col("first_date").shift(-1) - pl.col("first_date")).dt.total_days()
    first_seen = pl.col("first_date").min().over("person_id", "role", "postcode")
    flagged = runs.with_columns(
        (same_prev.fill_null(False) & same_next.fill_null(False) & ~pl.col("primary")
         & (pl.col("postcode").shift(1) == pl.col("postcode").shift(-1)).fill_null(False)
         & (stay <= rules.excursion_days).fill_null(False)).alias("_cand"),
        # precedence: a return to a former address outranks a new address; then the earlier run
        ((first_seen < pl.col("first_date")).cast(pl.Int64) * 10_000_000
         - pl.col("first_date").cast(pl.Int64)).alias("_prec"),
    )
    beaten_by_prev = (same_prev & pl.col("_cand").shift(1) & (pl.col("_prec").shift(1) > pl.col("_prec"))).fill_null(False)
    beaten_by_next = (same_next & pl.col("_cand").shift(-1) & (pl.col("_prec").shift(-1) > pl.col("_prec"))).fill_null(False)
    return flagged.select((pl.col("_cand") & ~beaten_by_prev & ~beaten_by_next).alias("drop")).to_series()


def drop_implausible(runs: pl.DataFrame, rules: HistoryRules) -> tuple[pl.DataFrame, int]:
    """Apply rule 3 until nothing more is dropped; returns the runs and the number of runs dropped."""
    dropped = 0
    for _ in range(rules.max_passes):
        drop = implausible_runs(runs, rules)
        n = int(drop.sum())
        if n == 0:
            break
        dropped += n
        runs = _runs(runs.filter(~drop))
    return runs, dropped


def spells_from_runs(runs: pl.DataFrame, windows: pl.DataFrame, move_timing: str = "first_seen") -> pl.DataFrame:
    """Rule 4: each run's address holds from its first month until the next run begins (or the window
    ends); months before the first run take the first run's address, marked back_filled."""
    r = runs.join(windows, on=["person_id", "role"], how="inner").sort("person_id", "role", "first_mk")
    same_next = (pl.col("person_id") == pl.col("person_id").shift(-1)) & (pl.col("role") == pl.col("role").shift(-1))
    first_of_person = ~((pl.col("person_id") == pl.col("person_id").shift(1))
                        & (pl.col("role") == pl.col("role").shift(1))).fill_null(False)
    if move_timing == "midpoint":
        # the unobserved months between the old address's last sighting and the new one's first are split
        last_mk = month_key(pl.col("last_date"))
        gap_start = last_mk.shift(1) + 1
        moved = gap_start + (pl.col("first_mk") - gap_start) // 2
        r = r.with_columns(pl.when(first_of_person).then(pl.col("first_mk"))
                           .otherwise(pl.min_horizontal(moved, pl.col("first_mk"))).alias("first_mk"))
    elif move_timing != "first_seen":
        raise ValueError(f"move_timing must be 'first_seen' or 'midpoint', not {move_timing!r}")
    r = r.with_columns(
        pl.when(same_next.fill_null(False)).then(pl.col("first_mk").shift(-1) - 1).otherwise(pl.col("end")).alias("_end"),
        first_of_person.alias("_first"),
    )
    observed = r.select("person_id", "role", pl.col("first_mk").alias("s"), pl.col("_end").alias("e"), "postcode",
                        "source", pl.lit("observed").alias("basis"), pl.col("n_obs").alias("observations"),
                        pl.col("last_date").alias("last_seen"))
    back = r.filter(pl.col("_first") & (pl.col("first_mk") > pl.col("start"))).select(
        "person_id", "role", pl.col("start").alias("s"), (pl.col("first_mk") - 1).alias("e"), "postcode", "source",
        pl.lit("back_filled").alias("basis"), pl.lit(0, pl.UInt32).alias("observations"),
        pl.lit(None, pl.Date).alias("last_seen"))
    spells = pl.concat([back, observed]).sort("person_id", "role", "s")
    return spells.select(
        "person_id", "role", month_start(pl.col("s")).alias("start_month"), month_start(pl.col("e")).alias("end_month"),
        (pl.col("e") - pl.col("s") + 1).cast(pl.Int32).alias("months"), "postcode", "source", "basis",
        "observations", "last_seen",
    ).cast(SPELL_SCHEMA)


def residential_spells(dated: pl.DataFrame, cutoff: dt.date, birth_dates: pl.DataFrame,
                       rules: HistoryRules | None = None) -> pl.DataFrame:
    """Monthly address spells of every child (birth to death or cut-off) and of every mother (the
    12 months before the birth; person_id = the child, role mother), by the module's rules.

    `dated` comes from `dated_addresses`; `birth_dates` has person_id, dob and optionally dod.
    Returns `SPELL_SCHEMA`: one row per spell of consecutive months at one address, start_month and
    end_month inclusive (first days of months), with the spell's source, basis (observed or
    back_filled), number of observations and last sighting. Spells of one person and role tile the
    window from the first month with an address; a person with no observation has no spell.
    """
    rules = rules or HistoryRules()
    windows = history_windows(birth_dates, cutoff, rules.mother_months)
    winners = monthly_winners(dated.cast(DATED_SCHEMA), windows, cutoff, rules)
    runs, _ = drop_implausible(address_runs(winners), rules)
    return spells_from_runs(runs, windows, rules.move_timing)


def monthly(spells: pl.DataFrame) -> pl.DataFrame:
    """One row per person, role and month (first day) from spells: the long form of the history."""
    return (spells.with_columns(pl.int_ranges(month_key(pl.col("start_month")), month_key(pl.col("end_month")) + 1,
                                              dtype=pl.Int32).alias("_mk"))
            .explode("_mk")
            .select("person_id", "role", month_start(pl.col("_mk")).alias("month"), "postcode", "source", "basis"))


def school_enrolments(clean: Mapping[str, pl.DataFrame], link_map: pl.DataFrame) -> pl.DataFrame:
    """person_id, academic_year, urn of every linked child's spring school census record. A child with
    two records in one academic year (dual registration) keeps the first URN in order, so term months
    are not counted twice."""
    census = clean.get("npd_census")
    if census is None or census.height == 0 or "urn" not in census.columns:
        return pl.DataFrame(schema={"person_id": pl.String, "academic_year": pl.Int32, "urn": pl.String})
    links = link_map.filter((pl.col("dataset") == "npd_census") & (pl.col("role") == "child")
                            & pl.col("person_id").is_not_null()).select("record_id", "person_id")
    return (census.select(pl.col("record_id").cast(pl.String), pl.col("academic_year").cast(pl.Int32),
                          pl.col("urn").cast(pl.String))
            .filter(pl.col("urn").is_not_null())
            .join(links, on="record_id")
            .sort("person_id", "academic_year", "urn")
            .unique(["person_id", "academic_year"], keep="first", maintain_order=True)
            .select("person_id", "academic_year", "urn"))
