"""The research-ready tables of one birth year, from the clean datasets and the link map. Dagster-free.

Inputs, as the rest of the platform makes them:

- clean frames (`contract.datasets`): typed contract columns, canonical identifiers;
- the link map (`linkage.link_map`), after opt-outs and survey consent have been applied: a record
  is the child's when it has a row with the child's person_id (the births record_id of the child's
  own registration) and role child; the mother's HES episodes have role mother and the child's
  person_id;
- `pseudonymise(person_ids) -> research ids` (`privacy.pseudonyms`: keyed HMAC).

Who is in a birth year: the spine persons whose own registration (record_id == person_id in the
link map's births rows) is dated in that year. Ages are measured from that registration's date of
birth, not from the date of birth each dataset recorded.

What leaves: every function returns `columns.conform(...)` of its table, so the output holds exactly
the declared columns. Dates become calendar year and month, ages in completed months or years, and
intervals within one record in days; the research_id replaces every person and record key. The
combination matters as well as each column: an event is never given both as days since birth and as
a calendar month, since together they would pin down the day of birth.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping

import polars as pl

from cohort_platform.cohort import columns as cols

Pseudonymise = Callable[[pl.Series], pl.Series]

PERSON = "person_id"
RID = cols.RESEARCH_ID.name
_BIRTH = "__birth"  # the child's registered date of birth, carried through joins


# ------------------------------------------------------------------------------------------ helpers


def completed_months(start: pl.Expr, end: pl.Expr) -> pl.Expr:
    """Whole months from `start` to `end` (the month count goes up on the day of the month of `start`)."""
    years = end.dt.year().cast(pl.Int32) - start.dt.year().cast(pl.Int32)
    months = years * 12 + (end.dt.month().cast(pl.Int32) - start.dt.month().cast(pl.Int32))
    return months - (end.dt.day() < start.dt.day()).cast(pl.Int32)


def completed_years(start: pl.Expr, end: pl.Expr) -> pl.Expr:
    return completed_months(start, end).floordiv(12)


def days_between(start: pl.Expr, end: pl.Expr) -> pl.Expr:
    return (end - start).dt.total_days().cast(pl.Int32)


def year_month(date: pl.Expr, prefix: str) -> list[pl.Expr]:
    """`<prefix>_year` and `<prefix>_month` of a date: the only form in which an event date leaves."""
    return [date.dt.year().cast(pl.Int32).alias(f"{prefix}_year"), date.dt.month().cast(pl.Int32).alias(f"{prefix}_month")]


def icd10_chapter(code: pl.Expr) -> pl.Expr:
    """The ICD-10 chapter (roman numeral) of a code such as "P072" or "R95X"; null when none fits."""
    category = code.str.slice(0, 3).str.to_uppercase()
    chapter = pl.lit(None, pl.String)
    for name, first, last, _ in reversed(cols.ICD10_CHAPTERS):
        chapter = pl.when(category.is_between(pl.lit(first), pl.lit(last))).then(pl.lit(name)).otherwise(chapter)
    return chapter


def cohort_persons(birth_year: int, link_map: pl.DataFrame, births: pl.DataFrame,
                   pseudonymise: Pseudonymise | None = None) -> pl.DataFrame:
    """The birth year's children: their own registration's births row plus `person_id` (and
    `research_id` when `pseudonymise` is given: computed once per child, then carried by joins).

    A child is a spine person (births row in the link map with person_id == record_id) whose own
    registration is dated in `birth_year`. Duplicate registrations are left out: the person is one row.
    """
    kept = (
        link_map.filter((pl.col("dataset") == "births") & (pl.col("person_id") == pl.col("record_id"))
                        & (pl.col("role").fill_null("child") == "child"))
        .select(pl.col("person_id"))
        .unique()
    )
    persons = (
        births.filter(pl.col("dob").dt.year() == birth_year)
        .join(kept, left_on="record_id", right_on=PERSON, how="semi")
        .unique("record_id", keep="first", maintain_order=True)
        .with_columns(pl.col("record_id").alias(PERSON))
    )
    if pseudonymise is not None:
        persons = persons.with_columns(pseudonymise(persons[PERSON]).alias(RID))
    return persons


def linked_records(dataset: str, link_map: pl.DataFrame, frame: pl.DataFrame, persons: pl.DataFrame,
                   role: str = "child") -> pl.DataFrame:
    """`frame`'s records linked with `role` to one of `persons`, with person_id, the child's registered
    date of birth (`__birth`), research_id (when `persons` has it), link_step and link_probability (1.0
    where the step gives none)."""
    links = link_map.filter(
        (pl.col("dataset") == dataset) & (pl.col("role") == role) & pl.col(PERSON).is_not_null()
    ).select(
        "record_id", PERSON, pl.col("step").alias("link_step"),
        pl.col("match_probability").fill_null(1.0).alias("link_probability"),
    )
    return (
        frame.join(links, on="record_id", how="inner")
        .join(persons.select(PERSON, pl.col("dob").alias(_BIRTH), *([RID] if RID in persons.columns else [])),
              on=PERSON, how="inner")
    )


def finish(frame: pl.DataFrame, table: str, birth_year: int, pseudonymise: Pseudonymise,
           order: tuple[str, ...] = ()) -> pl.DataFrame:
    """Add research_id (unless carried from `cohort_persons`) and birth_year, keep the declared columns
    only (every other key goes), sort."""
    if frame.is_empty():
        return cols.empty_frame(table)
    if RID not in frame.columns:
        frame = frame.with_columns(pseudonymise(frame[PERSON]).alias(RID))
    out = frame.with_columns(pl.lit(birth_year, pl.Int32).alias(cols.BIRTH_YEAR.name))
    out = cols.conform(out, table)
    # Sorted by pseudonym (an order unrelated to any identifier), through its leading 64 bits as an
    # integer: sorting 32-character strings is several times slower at millions of rows.
    key = pl.col(RID).str.slice(0, 16).str.to_integer(base=16, dtype=pl.UInt64, strict=False)
    return out.sort([key, *order])


def _usable(frame: pl.DataFrame | None, needed: tuple[str, ...]) -> pl.DataFrame | None:
    """`frame` when it is there and has the `needed` columns, else None (a dataset not delivered yet)."""
    return frame if frame is not None and all(c in frame.columns for c in needed) else None


# ------------------------------------------------------------------------------------------ ethnicity

HES_ETHNOS_BROAD = {
    **dict.fromkeys("ABC", "W"), **dict.fromkeys("DEFG", "M"), **dict.fromkeys("HJKLR", "A"),
    **dict.fromkeys("MNP", "B"), "S": "O",
}
"""HES ethnic category (2001 codes) -> ONS broad group; R (Chinese) is Asian as in the 2011+ census. Z,
99 and letters outside the list are not known."""
DFE_ETHNICITY_BROAD = {
    "WBRI": "W", "WIRI": "W", "WOTH": "W", "MWBC": "M", "MWBA": "M", "MWAS": "M", "MOTH": "M",
    "AIND": "A", "APKN": "A", "ABAN": "A", "AOTH": "A", "CHNE": "A", "BCRB": "B", "BAFR": "B", "BOTH": "B",
    "OOTH": "O",
}
"""DfE minor ethnicity -> ONS broad group; REFU and NOBT are not known."""
CENSUS_ETHNIC_BROAD = {
    2011: {**{str(i): "W" for i in range(1, 5)}, **{str(i): "M" for i in range(5, 9)},
           **{str(i): "A" for i in range(9, 14)}, **{str(i): "B" for i in range(14, 17)}, "17": "O", "18": "O"},
    2021: {**{str(i): "A" for i in range(1, 6)}, **{str(i): "B" for i in range(6, 9)},
           **{str(i): "M" for i in range(9, 13)}, **{str(i): "W" for i in range(13, 18)}, "18": "O", "19": "O"},
}
"""Census ethnic group category number -> ONS broad group, per census (the 2021 list starts with Asian)."""


def _broad(column: str, mapping: Mapping[str, str]) -> pl.Expr:
    return pl.col(column).cast(pl.String).replace_strict(mapping, default=None, return_dtype=pl.String)


CENSUS_DAYS = {2011: dt.date(2011, 3, 27), 2021: dt.date(2021, 3, 21)}


def _census_day(year: int) -> pl.Expr:
    return pl.lit(CENSUS_DAYS[year])


def _ethnicity_observations(link_map: pl.DataFrame, persons: pl.DataFrame,
                            sources: Mapping[str, pl.DataFrame | None]) -> pl.DataFrame:
    """(person_id, source, broad, date) for every known ethnicity of a linked child record."""
    how = {
        "census_2021": ("ethnic_group", CENSUS_ETHNIC_BROAD[2021], _census_day(2021)),
        "census_2011": ("ethnic_group", CENSUS_ETHNIC_BROAD[2011], _census_day(2011)),
        "npd_census": ("ethnicity", DFE_ETHNICITY_BROAD, pl.date(pl.col("academic_year").cast(pl.Int32) + 1, 1, 15)),
        "cla": ("ethnic", DFE_ETHNICITY_BROAD, pl.col("decom")),
        "hes_apc": ("ethnos", HES_ETHNOS_BROAD, pl.col("epistart")),
    }
    parts = []
    for source, (column, mapping, date) in how.items():
        frame = _usable(sources.get(source), ("record_id", column))
        if frame is None:
            continue
        parts.append(
            linked_records(source, link_map, frame, persons)
            .select(PERSON, pl.lit(source).alias("source"), _broad(column, mapping).alias("broad"),
                    date.cast(pl.Date).alias("date"))
            .filter(pl.col("broad").is_not_null())
        )
    schema = {PERSON: pl.String, "source": pl.String, "broad": pl.String, "date": pl.Date}
    return pl.concat(parts) if parts else pl.DataFrame(schema=schema)


def best_ethnicity(observations: pl.DataFrame) -> pl.DataFrame:
    """Per person: the broad group of the best source (order of `columns.ETHNICITY_SOURCES`), within it
    the group recorded most often, then the most recently recorded. Columns person_id, ethnicity,
    ethnicity_source."""
    rank = {s: i for i, s in enumerate(cols.ETHNICITY_SOURCES)}
    best = [pl.col("rank"), pl.col("n"), pl.col("latest"), pl.col("broad")]
    descending = [False, True, True, False]
    return (
        observations.group_by(PERSON, "source", "broad")
        .agg(pl.len().alias("n"), pl.col("date").max().alias("latest"))
        .with_columns(pl.col("source").replace_strict(rank, return_dtype=pl.Int32).alias("rank"))
        .group_by(PERSON)
        .agg(
            pl.col("broad").sort_by(best, descending=descending, nulls_last=True).first().alias("ethnicity"),
            pl.col("source").sort_by(best, descending=descending, nulls_last=True).first().alias("ethnicity_source"),
        )
    )


# ------------------------------------------------------------------------------------------ children


def linkage_summary(link_map: pl.DataFrame, persons: pl.DataFrame) -> pl.DataFrame:
    """Per person, per `columns.LINKAGE_SOURCES` entry: linked flag, records, weakest step, lowest probability."""
    sources = pl.DataFrame(
        [(prefix, dataset, role) for prefix, dataset, role in cols.LINKAGE_SOURCES],
        schema={"prefix": pl.String, "dataset": pl.String, "role": pl.String}, orient="row",
    )
    probability = pl.col("match_probability").fill_null(1.0)
    weakest = (
        link_map.filter(pl.col(PERSON).is_not_null())
        .join(persons.select(PERSON), on=PERSON, how="semi")
        .join(sources, on=["dataset", "role"], how="inner")
        .group_by(PERSON, "prefix")
        .agg(
            pl.len().cast(pl.Int32).alias("records"),
            pl.col("step").get(probability.arg_min()).alias("link_step"),
            probability.min().alias("link_probability"),
        )
    )
    out = persons.select(PERSON)
    for prefix, _, _ in cols.LINKAGE_SOURCES:
        part = weakest.filter(pl.col("prefix") == prefix).select(
            PERSON, pl.col("records").alias(f"{prefix}_records"), pl.col("link_step").alias(f"{prefix}_link_step"),
            pl.col("link_probability").alias(f"{prefix}_link_probability"),
        )
        out = out.join(part, on=PERSON, how="left").with_columns(
            pl.col(f"{prefix}_records").fill_null(0),
            (pl.col(f"{prefix}_records").fill_null(0) > 0).alias(f"linked_{prefix}"),
        )
    return out


def _deaths_of(link_map: pl.DataFrame, persons: pl.DataFrame, deaths: pl.DataFrame | None) -> pl.DataFrame:
    """The earliest linked death of each child: year, month, age, band, cause."""
    schema = {PERSON: pl.String, "dod": pl.Date, "underlying_cause": pl.String, _BIRTH: pl.Date}
    frame = _usable(deaths, ("record_id", "dod"))
    if frame is None:
        found = pl.DataFrame(schema=schema)
    else:
        found = linked_records("deaths", link_map, frame, persons).select(
            PERSON, "dod", pl.col("underlying_cause").cast(pl.String), _BIRTH)
    age_days = days_between(pl.col(_BIRTH), pl.col("dod"))
    return (
        found.sort(PERSON, "dod").unique(PERSON, keep="first", maintain_order=True)
        .select(
            PERSON,
            *year_month(pl.col("dod"), "death"),
            completed_months(pl.col(_BIRTH), pl.col("dod")).alias("age_at_death_months"),
            pl.when(age_days < 28).then(pl.lit("neonatal")).when(completed_years(pl.col(_BIRTH), pl.col("dod")) < 1)
            .then(pl.lit("postneonatal")).otherwise(pl.lit("child")).alias("death_age_band"),
            pl.col("underlying_cause").alias("death_cause_code"),
            icd10_chapter(pl.col("underlying_cause")).alias("death_cause_chapter"),
        )
    )


def children(
    birth_year: int,
    link_map: pl.DataFrame,
    *,
    births: pl.DataFrame,
    postcodes: pl.DataFrame,
    lsoa_imd: pl.DataFrame,
    pseudonymise: Pseudonymise,
    deaths: pl.DataFrame | None = None,
    hes_apc: pl.DataFrame | None = None,
    npd_census: pl.DataFrame | None = None,
    cla: pl.DataFrame | None = None,
    census_2011: pl.DataFrame | None = None,
    census_2021: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One row per child born in `birth_year` (see `columns.CHILDREN`). The datasets after `deaths` give
    ethnicity; any may be missing (not delivered yet), and the linkage summary comes from the link map."""
    persons = cohort_persons(birth_year, link_map, births, pseudonymise)
    if persons.is_empty():
        return cols.empty_frame("children")
    imd = lsoa_imd.select(pl.col("lsoa11cd").alias("lsoa11cd_at_birth"), pl.col("imd_decile").alias("imd_decile_at_birth"))
    area = (
        postcodes.select("postcode", pl.col("lsoa11cd").alias("lsoa11cd_at_birth"),
                         pl.col("lad_code").alias("lad_code_at_birth"), pl.col("la_code").alias("la_code_at_birth"))
        .unique("postcode", keep="first")
        .join(imd, on="lsoa11cd_at_birth", how="left")
    )
    ethnicity = best_ethnicity(_ethnicity_observations(link_map, persons, {
        "census_2021": census_2021, "census_2011": census_2011, "npd_census": npd_census, "cla": cla, "hes_apc": hes_apc,
    }))
    mother_dob = pl.col("mother_dob") if "mother_dob" in persons.columns else pl.lit(None, pl.Date)
    frame = (
        persons.with_columns(
            pl.col("dob").dt.month().cast(pl.Int32).alias("birth_month"),
            completed_years(mother_dob, pl.col("dob")).alias("mother_age_at_birth"),
        )
        .join(area, on="postcode", how="left")
        .join(ethnicity, on=PERSON, how="left")
        .join(_deaths_of(link_map, persons, deaths), on=PERSON, how="left")
        .with_columns(pl.col("death_year").is_not_null().alias("died"))
        .join(linkage_summary(link_map, persons), on=PERSON, how="left")
    )
    return finish(frame, "children", birth_year, pseudonymise)


# ------------------------------------------------------------------------------------------ health


MATERNAL_WINDOW_MONTHS = 12


def maternal_admissions(birth_year: int, link_map: pl.DataFrame, *, births: pl.DataFrame, hes_apc: pl.DataFrame,
                        pseudonymise: Pseudonymise, window_months: int = MATERNAL_WINDOW_MONTHS) -> pl.DataFrame:
    """The mother's episodes that started in the `window_months` before the birth, up to the birth day.

    The window is checked here whatever linkage did: an episode counts when it starts on or before
    the birth and fewer than `window_months` completed months before it (with 12: an episode that
    starts a year before the birth to the day is out, one a day later is in)."""
    persons = cohort_persons(birth_year, link_map, births, pseudonymise)
    linked = linked_records("hes_apc", link_map, hes_apc, persons, role="mother")
    months = completed_months(pl.col("epistart"), pl.col(_BIRTH))
    frame = (
        linked.with_columns(months.alias("months_before_birth"))
        .filter((pl.col("epistart") <= pl.col(_BIRTH)) & (pl.col("months_before_birth") < window_months))
        .with_columns(
            pl.col("delmeth_1").alias("delivery_method"),
            days_between(pl.col("epistart"), pl.col("epiend")).alias("episode_days"),
        )
    )
    return finish(frame, "maternal_admissions", birth_year, pseudonymise, order=("months_before_birth",))


def hospital_episodes(birth_year: int, link_map: pl.DataFrame, *, births: pl.DataFrame, hes_apc: pl.DataFrame,
                      pseudonymise: Pseudonymise) -> pl.DataFrame:
    """The child's own HES episodes; admission placed by year-month and age in completed months."""
    persons = cohort_persons(birth_year, link_map, births, pseudonymise)
    admitted = pl.coalesce(pl.col("admidate"), pl.col("epistart"))
    frame = linked_records("hes_apc", link_map, hes_apc, persons).with_columns(
        *year_month(admitted, "admission"),
        completed_months(pl.col(_BIRTH), admitted).alias("age_months_at_admission"),
        pl.col("procode3").alias("provider_code"),
        days_between(pl.col("epistart"), pl.col("epiend")).alias("length_of_stay_days"),
    )
    return finish(frame, "hospital_episodes", birth_year, pseudonymise,
                  order=("admission_year", "admission_month", "epiorder"))


def mental_health_referrals(birth_year: int, link_map: pl.DataFrame, *, births: pl.DataFrame, mhsds: pl.DataFrame,
                            pseudonymise: Pseudonymise) -> pl.DataFrame:
    persons = cohort_persons(birth_year, link_map, births, pseudonymise)
    frame = linked_records("mhsds", link_map, mhsds, persons).with_columns(
        *year_month(pl.col("referral_date"), "referral"),
        completed_years(pl.col(_BIRTH), pl.col("referral_date")).alias("age_at_referral"),
        pl.col("discharge_date").is_not_null().alias("discharged"),
        *year_month(pl.col("discharge_date"), "discharge"),
        days_between(pl.col("referral_date"), pl.col("discharge_date")).alias("days_to_discharge"),
    )
    return finish(frame, "mental_health_referrals", birth_year, pseudonymise, order=("referral_year", "referral_month"))


# ------------------------------------------------------------------------------------------ education


def school_census_years(birth_year: int, link_map: pl.DataFrame, *, births: pl.DataFrame, npd_census: pl.DataFrame,
                        pseudonymise: Pseudonymise) -> pl.DataFrame:
    persons = cohort_persons(birth_year, link_map, births, pseudonymise)
    frame = linked_records("npd_census", link_map, npd_census, persons).with_columns(
        pl.col("ethnicity").alias("ethnicity_dfe"))
    return finish(frame, "school_census_years", birth_year, pseudonymise, order=("academic_year",))


def ks2(birth_year: int, link_map: pl.DataFrame, *, births: pl.DataFrame, npd_ks2: pl.DataFrame,
        pseudonymise: Pseudonymise) -> pl.DataFrame:
    persons = cohort_persons(birth_year, link_map, births, pseudonymise)
    return finish(linked_records("npd_ks2", link_map, npd_ks2, persons), "ks2", birth_year, pseudonymise,
                  order=("academic_year",))


def ks4(birth_year: int, link_map: pl.DataFrame, *, births: pl.DataFrame, npd_ks4: pl.DataFrame,
        pseudonymise: Pseudonymise) -> pl.DataFrame:
    persons = cohort_persons(birth_year, link_map, births, pseudonymise)
    return finish(linked_records("npd_ks4", link_map, npd_ks4, persons), "ks4", birth_year, pseudonymise,
                  order=("academic_year",))


# ------------------------------------------------------------------------------------------ social care


def care_episodes(birth_year: int, link_map: pl.DataFrame, *, births: pl.DataFrame, cla: pl.DataFrame,
                  pseudonymise: Pseudonymise) -> pl.DataFrame:
    persons = cohort_persons(birth_year, link_map, births, pseudonymise)
    frame = linked_records("cla", link_map, cla, persons).with_columns(
        *year_month(pl.col("decom"), "start"),
        completed_years(pl.col(_BIRTH), pl.col("decom")).alias("age_at_start"),
        *year_month(pl.col("dec"), "end"),
        pl.col("dec").is_null().alias("open"),
        days_between(pl.col("decom"), pl.col("dec")).alias("length_days"),
        pl.col("rne").alias("reason_new_episode"),
        pl.col("ls").alias("legal_status"),
        pl.col("place").alias("placement"),
        pl.col("rec").alias("reason_ended"),
    )
    return finish(frame, "care_episodes", birth_year, pseudonymise, order=("start_year", "start_month", "la_code"))


CENSUS_YEARS = {"census_2011": 2011, "census_2021": 2021}


def census_household(birth_year: int, link_map: pl.DataFrame, *, births: pl.DataFrame,
                     census_2011: pl.DataFrame | None, census_2021: pl.DataFrame | None,
                     pseudonymise: Pseudonymise) -> pl.DataFrame:
    """The child's household in each census the child is linked in; household size counts every person
    delivered in the household, linked or not."""
    persons = cohort_persons(birth_year, link_map, births, pseudonymise)
    parts = []
    for dataset, frame in (("census_2011", census_2011), ("census_2021", census_2021)):
        if frame is None or frame.is_empty():
            continue
        year = CENSUS_YEARS[dataset]
        sized = frame.with_columns(pl.len().over("household_id").cast(pl.Int32).alias("household_size"))
        parts.append(linked_records(dataset, link_map, sized, persons).with_columns(
            pl.lit(year, pl.Int32).alias("census_year"),
            _broad("ethnic_group", CENSUS_ETHNIC_BROAD[year]).alias("ethnic_group"),
            pl.col("tenure").cast(pl.String), pl.col("nssec_hrp").cast(pl.String),
        ).select(PERSON, RID, "census_year", "tenure", "nssec_hrp", "occupancy_rating", "ethnic_group", "household_size",
                 "link_step", "link_probability"))
    frame = pl.concat(parts, how="vertical_relaxed") if parts else pl.DataFrame()
    return finish(frame, "census_household", birth_year, pseudonymise, order=("census_year",))


# ------------------------------------------------------------------------------------------ survey


def survey_responses(birth_year: int, link_map: pl.DataFrame, *, births: pl.DataFrame, survey: pl.DataFrame,
                     pseudonymise: Pseudonymise) -> pl.DataFrame:
    """Answers of linked participants, from the consent-filtered survey (`privacy.consent`'s
    `ConsentResult.survey`) and link map: a row absent from either is absent here. A row marked for
    deletion is dropped even if it reached this far."""
    persons = cohort_persons(birth_year, link_map, births, pseudonymise)
    kept = survey
    if "deletion_requested" in survey.columns:
        kept = survey.filter(~pl.col("deletion_requested").eq("Y").fill_null(False))
    parts = [
        linked_records("survey", link_map, kept.drop("role", strict=False), persons, role=role)
        .with_columns(pl.lit(role).alias("role"))
        for role in cols.SURVEY_ROLE
    ]
    return finish(pl.concat(parts), "survey_responses", birth_year, pseudonymise, order=("role",))


# ------------------------------------------------------------------------------------------ exposures


def exposures_yearly(birth_year: int, link_map: pl.DataFrame, *, births: pl.DataFrame, yearly: pl.DataFrame,
                     pseudonymise: Pseudonymise) -> pl.DataFrame:
    """`exposures.assign.Exposures.yearly` (person_id, year, *_home, *_school) for the birth year's children."""
    persons = cohort_persons(birth_year, link_map, births, pseudonymise)
    frame = yearly.join(persons.select(PERSON, RID), on=PERSON, how="inner")
    return finish(frame, "exposures_yearly", birth_year, pseudonymise, order=("year",))


def exposures_pregnancy(birth_year: int, link_map: pl.DataFrame, *, births: pl.DataFrame, pregnancy: pl.DataFrame,
                        pseudonymise: Pseudonymise) -> pl.DataFrame:
    """`exposures.assign.Exposures.pregnancy` (person_id, trimester, ...) for the birth year's children."""
    persons = cohort_persons(birth_year, link_map, births, pseudonymise)
    frame = pregnancy.join(persons.select(PERSON, RID), on=PERSON, how="inner")
    return finish(frame, "exposures_pregnancy", birth_year, pseudonymise, order=("trimester",))


# ------------------------------------------------------------------------------------------ registry

BUILDERS: dict[str, Callable[..., pl.DataFrame]] = {
    "children": children,
    "maternal_admissions": maternal_admissions,
    "hospital_episodes": hospital_episodes,
    "mental_health_referrals": mental_health_referrals,
    "school_census_years": school_census_years,
    "ks2": ks2,
    "ks4": ks4,
    "care_episodes": care_episodes,
    "census_household": census_household,
    "survey_responses": survey_responses,
    "exposures_yearly": exposures_yearly,
    "exposures_pregnancy": exposures_pregnancy,
}
"""Research table -> its builder; every builder is (birth_year, link_map, *, <inputs>, pseudonymise)."""

INPUTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "children": (("births", "postcodes", "lsoa_imd"),
                 ("deaths", "hes_apc", "npd_census", "cla", "census_2011", "census_2021")),
    "maternal_admissions": (("births", "hes_apc"), ()),
    "hospital_episodes": (("births", "hes_apc"), ()),
    "mental_health_referrals": (("births", "mhsds"), ()),
    "school_census_years": (("births", "npd_census"), ()),
    "ks2": (("births", "npd_ks2"), ()),
    "ks4": (("births", "npd_ks4"), ()),
    "care_episodes": (("births", "cla"), ()),
    "census_household": (("births", "census_2011", "census_2021"), ()),
    "survey_responses": (("births", "survey"), ()),
    "exposures_yearly": (("births", "yearly"), ()),
    "exposures_pregnancy": (("births", "pregnancy"), ()),
}
"""Research table -> (required inputs, optional inputs), by keyword. `survey` is the consent-filtered
survey; `yearly` and `pregnancy` are the exposures module's frames (keyed by person_id)."""


def build_research_table(table: str, birth_year: int, link_map: pl.DataFrame, frames: Mapping[str, pl.DataFrame | None],
                         pseudonymise: Pseudonymise) -> pl.DataFrame:
    """Build one research table from a mapping of available frames (clean datasets by name, reference
    tables, `survey` after consent, exposures' `yearly` / `pregnancy`). A required frame that is absent
    is an error; census_household takes either census (None when not delivered)."""
    if table not in BUILDERS:
        raise KeyError(f"unknown research table {table!r}; tables: {', '.join(BUILDERS)}")
    required, optional = INPUTS[table]
    missing = [n for n in required if n not in frames and not (table == "census_household" and n.startswith("census_"))]
    if missing:
        raise ValueError(f"{table} needs {', '.join(missing)}")
    kwargs = {n: frames.get(n) for n in (*required, *optional)}
    return BUILDERS[table](birth_year, link_map, pseudonymise=pseudonymise, **kwargs)
