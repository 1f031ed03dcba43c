"""Identifier separation: the only place where linkage reads the ingested ("clean") datasets.

`identifiers_of` projects one clean dataset onto a common identifier schema (`IDENTIFIER_SCHEMA`):
record_id plus NHS number, UPN, names, date of birth, sex, postcode and the few keys one-to-one
resolution needs (academic year, a dataset's own person and family keys, a role hint). Everything
else (diagnoses, results, episodes of care) stays in content assets keyed by record_id, so nothing
downstream of linkage needs to read an identifier, and linkage never reads content.

Two narrower projections serve the mother-baby link, which also needs a handful of birth attributes
(birth weight, gestation, multiplicity) that are identifying for a delivery but not content anyone
analyses from here: `births_mothers_of` (the mother's side of each birth registration) and
`maternity_episodes_of` (HES episodes of adults: the mother's admissions and delivery episodes).

Harmonisation done here, once: sex codes of every dataset to '1' / '2' / null (9 and 0 mean "not
known", NPD's M / F become 1 / 2); identifiers that fail their check (Modulus 11, UPN check letter,
postcode shape) become null in the column the deterministic rules use, while `nhs_number_any` keeps
the digits as delivered so the probabilistic model can still credit a near miss (a one-digit typo).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

IDENTIFIER_SCHEMA: dict[str, pl.DataType] = {
    "dataset": pl.String(),
    "record_id": pl.String(),
    "nhs_number": pl.String(),  # valid (Modulus 11) only
    "nhs_number_any": pl.String(),  # digits as delivered, valid or not
    "upn": pl.String(),  # valid (check letter) only
    "forename": pl.String(),
    "surname": pl.String(),
    "dob": pl.Date(),
    "sex": pl.String(),  # '1' male, '2' female, null not known
    "postcode": pl.String(),  # valid shape only, "SW1A 1AA"
    "postcode_district": pl.String(),  # outward code, "SW1A"
    "event_date": pl.Date(),  # the date the row records (episode start, death, census day, ...)
    "academic_year": pl.Int64(),  # NPD: start year of the academic year
    "person_key": pl.String(),  # a dataset's own id for one person (CLA: LA + child_id; survey: study_id)
    "family_key": pl.String(),  # survey family, census household
    "role": pl.String(),  # child / mother / father where the dataset says; null = the record's subject
}
"""The common identifier schema every dataset is projected onto."""

SEX_HARMONISED = {"1": "1", "2": "2", "M": "1", "F": "2"}
"""Every sex code of the contract that carries information; anything else (0, 9) is not known."""

CENSUS_DAYS = {"census_2011": dt.date(2011, 3, 27), "census_2021": dt.date(2021, 3, 21)}


@dataclass(frozen=True)
class IdentifierSource:
    """Where one dataset keeps each identifier (clean column names; None = the dataset lacks it)."""

    nhs_number: str | None = None
    upn: str | None = None
    forename: str | None = None
    surname: str | None = None
    postcode: str | None = None
    event_date: str | None = None
    academic_year: str | None = None
    person_key: tuple[str, ...] = ()
    family_key: str | None = None
    role: str | None = None  # a column holding the role
    fixed_role: str | None = None
    relationship: str | None = None  # census: relationship to the household reference person (`household_role`)
    mother_episode_types: tuple[str, ...] = ()  # HES: epitype values that are the mother's episode
    constant_event_date: dt.date | None = None


SOURCES: dict[str, IdentifierSource] = {
    "births": IdentifierSource(nhs_number="nhs_number", forename="forename", surname="surname",
                               postcode="postcode", event_date="dob", fixed_role="child"),
    "deaths": IdentifierSource(nhs_number="nhs_number", forename="forename", surname="surname",
                               postcode="postcode", event_date="dod"),
    "hes_apc": IdentifierSource(nhs_number="newnhsno", postcode="homeadd", event_date="epistart",
                                mother_episode_types=("2",)),
    "mhsds": IdentifierSource(nhs_number="nhs_number", postcode="postcode", event_date="referral_date"),
    "npd_census": IdentifierSource(upn="upn", forename="forename", surname="surname", postcode="postcode",
                                   academic_year="academic_year"),
    "npd_ks2": IdentifierSource(upn="upn", academic_year="academic_year"),
    "npd_ks4": IdentifierSource(upn="upn", academic_year="academic_year"),
    "cla": IdentifierSource(nhs_number="nhs_number", upn="upn", postcode="home_post", event_date="decom",
                            person_key=("la_code", "child_id")),
    "census_2011": IdentifierSource(forename="forename", surname="surname", postcode="postcode",
                                    family_key="household_id", relationship="relationship_to_hrp",
                                    constant_event_date=CENSUS_DAYS["census_2011"]),
    "census_2021": IdentifierSource(forename="forename", surname="surname", postcode="postcode",
                                    family_key="household_id", relationship="relationship_to_hrp",
                                    constant_event_date=CENSUS_DAYS["census_2021"]),
    "survey": IdentifierSource(forename="forename", surname="surname", postcode="postcode",
                               person_key=("study_id",), family_key="family_id", role="role"),
}
"""Every person-level dataset that links to the spine (opt_outs is a list of NHS numbers, not people)."""

LINKED_DATASETS = tuple(name for name in SOURCES if name != "births")

SEPARATION_COLUMNS: dict[str, tuple[str, ...]] = {
    "births": ("record_id", "nhs_number", "nhs_number_valid", "forename", "surname", "dob", "sex", "postcode",
               "birthweight_g", "gestation_weeks", "multiplicity", "birth_order", "mother_nhs_number",
               "mother_nhs_number_valid", "mother_forename", "mother_surname", "mother_dob"),
    "deaths": ("record_id", "nhs_number", "nhs_number_valid", "forename", "surname", "dob", "sex", "dod", "postcode"),
    "hes_apc": ("record_id", "newnhsno", "newnhsno_valid", "dob", "sex", "homeadd", "ethnos", "admidate", "epistart",
                "epiend", "epitype", "numbaby", "gestat_1", "birweit_1", "sexbaby_1"),
    "mhsds": ("record_id", "nhs_number", "nhs_number_valid", "dob", "sex", "postcode", "referral_date"),
    "npd_census": ("record_id", "upn", "forename", "surname", "dob", "sex", "postcode", "la_code", "academic_year",
                   "ethnicity"),
    "npd_ks2": ("record_id", "upn", "dob", "sex", "academic_year"),
    "npd_ks4": ("record_id", "upn", "dob", "sex", "academic_year"),
    "cla": ("record_id", "la_code", "child_id", "upn", "nhs_number", "nhs_number_valid", "sex", "dob", "ethnic",
            "decom", "home_post"),
    "census_2011": ("record_id", "household_id", "forename", "surname", "dob", "sex", "postcode", "ethnic_group",
                    "relationship_to_hrp"),
    "census_2021": ("record_id", "household_id", "forename", "surname", "dob", "sex", "postcode", "ethnic_group",
                    "relationship_to_hrp"),
    "survey": ("record_id", "study_id", "family_id", "role", "forename", "surname", "dob", "sex", "postcode"),
}
"""The clean columns identifier separation reads, per dataset: everything the opt-out filter, the
identifier projections (`linkage_inputs`), the linkage-bias characteristics and the record dates
use, and nothing else (106 of the 191 clean columns). `separate_identifiers` loads only these: at
650,000 children whole clean tables took 7.5 GB. A test runs all five on generated data with these
columns and with every column and requires identical results, so a change that reads another
column fails there, not silently."""


def empty_identifiers() -> pl.DataFrame:
    return pl.DataFrame(schema=IDENTIFIER_SCHEMA)


HOUSEHOLD_PARENTS = ("household reference person", "husband or wife", "partner", "civil partner",
                     "same-sex civil partner", "spouse")
"""Relationships to the household reference person (HRP) of the adults who head the household: the
HRP and their spouse or partner. A child of the household ("Child", "Stepchild") is their child."""


def household_role(relationship: str, sex: pl.Expr) -> pl.Expr:
    """Census rows of the heads of a household -> role "mother" (female) or "father" (male); any
    other row -> null (a subject of its own, e.g. the household's children).

    The mother's date of birth then tells apart two namesakes born the same day whose families
    moved (`pipeline.with_mother_dob`), as in the survey. A head who is not the child's parent (a
    step-parent, a grandparent) makes the comparison disagree, which the model's m probabilities
    for that comparison allow for."""
    label = pl.col(relationship).cast(pl.String).str.strip_chars().str.to_lowercase()
    head = label.is_in(HOUSEHOLD_PARENTS)
    return (pl.when(head & (sex == "2")).then(pl.lit("mother"))
            .when(head & (sex == "1")).then(pl.lit("father"))
            .otherwise(pl.lit(None, pl.String)))


def harmonised_sex(column: str = "sex") -> pl.Expr:
    """Any dataset's sex code -> '1' / '2' / null."""
    return pl.col(column).cast(pl.String).replace_strict(SEX_HARMONISED, default=None, return_dtype=pl.String)


def valid_only(column: str) -> pl.Expr:
    """The identifier where its check passed, else null (ingestion's `<column>_valid` flag)."""
    return pl.when(pl.col(f"{column}_valid").fill_null(False)).then(pl.col(column)).otherwise(None)


def _valid_or_self(frame: pl.DataFrame, column: str) -> pl.Expr:
    """`valid_only` when ingestion supplied the flag, else the column as it is (hand-made frames)."""
    return valid_only(column) if f"{column}_valid" in frame.columns else pl.col(column)


def postcode_district_of(postcode: pl.Expr) -> pl.Expr:
    """"SW1A 1AA" -> "SW1A" (the outward code); null stays null."""
    return postcode.str.split(" ").list.first()


def identifiers_of(dataset: str, clean: pl.DataFrame) -> pl.DataFrame:
    """Project one clean dataset onto `IDENTIFIER_SCHEMA` (and nothing else).

    The result holds one row per clean row; no content column survives, which is the identifier
    separation the linkage assets rely on.
    """
    try:
        src = SOURCES[dataset]
    except KeyError:
        raise ValueError(f"{dataset!r} is not a dataset that links to the spine; known: {', '.join(SOURCES)}") from None

    def col(name: str | None, dtype: pl.DataType = pl.String()) -> pl.Expr:
        return pl.col(name).cast(dtype) if name else pl.lit(None, dtype=dtype)

    nhs = _valid_or_self(clean, src.nhs_number).cast(pl.String) if src.nhs_number else pl.lit(None, pl.String)
    upn = _valid_or_self(clean, src.upn).cast(pl.String) if src.upn else pl.lit(None, pl.String)
    postcode = _valid_or_self(clean, src.postcode).cast(pl.String) if src.postcode else pl.lit(None, pl.String)
    if src.role:
        role = pl.col(src.role).cast(pl.String)
    elif src.relationship and src.relationship in clean.columns:
        role = household_role(src.relationship, harmonised_sex("sex"))
    elif src.fixed_role:
        role = pl.lit(src.fixed_role)
    elif src.mother_episode_types:
        role = pl.when(pl.col("epitype").cast(pl.String).is_in(src.mother_episode_types)).then(pl.lit("mother"))
    else:
        role = pl.lit(None, pl.String)
    if src.constant_event_date:
        event_date = pl.lit(src.constant_event_date, dtype=pl.Date)
    else:
        event_date = col(src.event_date, pl.Date())
    person_key = (
        pl.concat_str([pl.col(c).cast(pl.String) for c in src.person_key], separator=":")
        if src.person_key else pl.lit(None, pl.String)
    )
    return clean.lazy().select(
        pl.lit(dataset).alias("dataset"),
        pl.col("record_id").cast(pl.String),
        nhs.alias("nhs_number"),
        col(src.nhs_number).alias("nhs_number_any"),
        upn.alias("upn"),
        col(src.forename).alias("forename"),
        col(src.surname).alias("surname"),
        pl.col("dob").cast(pl.Date),
        harmonised_sex("sex").alias("sex"),
        postcode.alias("postcode"),
        postcode_district_of(postcode).alias("postcode_district"),
        event_date.alias("event_date"),
        col(src.academic_year, pl.Int64()).alias("academic_year"),
        person_key.alias("person_key"),
        col(src.family_key).alias("family_key"),
        role.cast(pl.String).alias("role"),
    ).collect()


# ------------------------------------------------------------------------------ mothers' side

BIRTH_MOTHER_SCHEMA: dict[str, pl.DataType] = {
    "record_id": pl.String(),  # the birth registration
    "dob": pl.Date(),  # the baby's
    "sex": pl.String(),  # the baby's, harmonised
    "birth_order": pl.Int64(),
    "multiplicity": pl.Int64(),
    "birthweight": pl.Int64(),
    "gestation": pl.Int64(),
    "mother_nhs_number": pl.String(),  # valid only
    "mother_nhs_number_any": pl.String(),
    "mother_forename": pl.String(),
    "mother_surname": pl.String(),
    "mother_dob": pl.Date(),
    "postcode": pl.String(),
    "postcode_district": pl.String(),
}

MATERNITY_SCHEMA: dict[str, pl.DataType] = {
    "record_id": pl.String(),  # the HES episode (EPIKEY)
    "nhs_number": pl.String(),  # the patient's (the mother's), valid only
    "nhs_number_any": pl.String(),
    "dob": pl.Date(),  # the patient's
    "postcode": pl.String(),
    "postcode_district": pl.String(),
    "admidate": pl.Date(),
    "epistart": pl.Date(),
    "epiend": pl.Date(),
    "is_delivery": pl.Boolean(),  # epitype 2: the mother's delivery episode
    "numbaby": pl.Int64(),
    "gestation": pl.Int64(),  # gestat_1
    "birthweight": pl.Int64(),  # birweit_1
    "sexbaby": pl.String(),  # sexbaby_1, harmonised
}

MIN_MOTHER_AGE_YEARS = 10
"""A HES episode counts as an adult's (possibly a mother's) when the patient was at least this old."""


def births_mothers_of(births: pl.DataFrame) -> pl.DataFrame:
    """The mother's side of each birth registration, with the baby attributes a delivery records."""
    mother_nhs = _valid_or_self(births, "mother_nhs_number")
    postcode = _valid_or_self(births, "postcode")
    return births.lazy().select(
        pl.col("record_id").cast(pl.String),
        pl.col("dob").cast(pl.Date),
        harmonised_sex("sex").alias("sex"),
        pl.col("birth_order").cast(pl.Int64),
        pl.col("multiplicity").cast(pl.Int64),
        pl.col("birthweight_g").cast(pl.Int64).alias("birthweight"),
        pl.col("gestation_weeks").cast(pl.Int64).alias("gestation"),
        mother_nhs.cast(pl.String).alias("mother_nhs_number"),
        pl.col("mother_nhs_number").cast(pl.String).alias("mother_nhs_number_any"),
        pl.col("mother_forename").cast(pl.String),
        pl.col("mother_surname").cast(pl.String),
        pl.col("mother_dob").cast(pl.Date),
        postcode.cast(pl.String).alias("postcode"),
        postcode_district_of(postcode.cast(pl.String)).alias("postcode_district"),
    ).collect()


def maternity_episodes_of(hes: pl.DataFrame) -> pl.DataFrame:
    """HES episodes of patients aged at least `MIN_MOTHER_AGE_YEARS` at the episode: the candidate
    maternal admissions, with the delivery fields of epitype 2 episodes."""
    nhs = _valid_or_self(hes, "newnhsno")
    postcode = _valid_or_self(hes, "homeadd")
    adult = (pl.col("epistart").dt.year() - pl.col("dob").dt.year()) >= MIN_MOTHER_AGE_YEARS
    return hes.lazy().filter(adult).select(
        pl.col("record_id").cast(pl.String),
        nhs.cast(pl.String).alias("nhs_number"),
        pl.col("newnhsno").cast(pl.String).alias("nhs_number_any"),
        pl.col("dob").cast(pl.Date),
        postcode.cast(pl.String).alias("postcode"),
        postcode_district_of(postcode.cast(pl.String)).alias("postcode_district"),
        pl.col("admidate").cast(pl.Date),
        pl.col("epistart").cast(pl.Date),
        pl.col("epiend").cast(pl.Date),
        (pl.col("epitype").cast(pl.String) == "2").fill_null(False).alias("is_delivery"),
        pl.col("numbaby").cast(pl.Int64),
        pl.col("gestat_1").cast(pl.Int64).alias("gestation"),
        pl.col("birweit_1").cast(pl.Int64).alias("birthweight"),
        harmonised_sex("sexbaby_1").alias("sexbaby"),
    ).collect()


@dataclass(frozen=True)
class LinkageInputs:
    """Everything linkage reads, already separated from content: build with `linkage_inputs`."""

    identifiers: dict[str, pl.DataFrame]  # dataset -> IDENTIFIER_SCHEMA frame (births included)
    births_mothers: pl.DataFrame  # BIRTH_MOTHER_SCHEMA
    maternity: pl.DataFrame  # MATERNITY_SCHEMA


def linkage_inputs(clean: dict[str, pl.DataFrame]) -> LinkageInputs:
    """Project every clean dataset present in `clean` (births required) for linkage."""
    if "births" not in clean:
        raise ValueError("linkage needs the births spine")
    identifiers = {name: identifiers_of(name, frame) for name, frame in clean.items() if name in SOURCES}
    hes = clean.get("hes_apc")
    return LinkageInputs(
        identifiers=identifiers,
        births_mothers=births_mothers_of(clean["births"]),
        maternity=maternity_episodes_of(hes) if hes is not None else pl.DataFrame(schema=MATERNITY_SCHEMA),
    )
