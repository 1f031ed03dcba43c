"""Every research table and column, described once: name, type, meaning and, for codes, what each means.

The research functions (`cohort.research`) conform their output to these declarations, the Dagster
assets take their column schemas from them (`table_schema`, `column_schema_metadata`), the project
extract validator takes the allowed columns from them (`research_columns`), and the CLI renders
them to `docs/data_dictionary.md` (`render_data_dictionary`). A column exists in a research table if
and only if it is declared here; a test compares every research function's output with this module.

Conventions every table shares (repeated in the rendered dictionary):

- `research_id` is the child's research pseudonym (keyed HMAC of the internal person id), the same
  in every table; rows about a mother or a household carry the child's research_id.
- `birth_year` is the child's year of birth, the partition the row belongs to.
- No names, NHS numbers, UPNs, provider record ids, postcodes, coordinates or full dates. Events are
  placed by year and month, ages are completed months or years, intervals within one record (length
  of stay, days to discharge) are in days.
- Codes are text (leading zeros kept). A null value means not recorded or not applicable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import polars as pl

# ------------------------------------------------------------------------------------------ code lists

SEX_ONS = {"1": "male", "2": "female", "9": "indeterminate"}

ETHNICITY_BROAD = {
    "W": "White (British, Irish, Gypsy or Irish Traveller, Roma, any other White background)",
    "M": "Mixed or multiple ethnic groups",
    "A": "Asian or Asian British (Indian, Pakistani, Bangladeshi, Chinese, any other Asian background)",
    "B": "Black, Black British, Caribbean or African",
    "O": "Other ethnic group (Arab, any other ethnic group)",
}
"""ONS broad ethnic groups (2011/2021 census classification; Chinese within Asian). Letter codes on
purpose: words such as "White" or "Black" are also surnames, which the leak scan would flag."""

ETHNICITY_SOURCES = {
    "census_2021": "Census 2021 (household response)",
    "census_2011": "Census 2011 (household response)",
    "npd_census": "School census (recorded by the school from the parent or pupil)",
    "cla": "Looked-after children return (recorded by the local authority)",
    "hes_apc": "Hospital episode (recorded by the hospital)",
}
"""Sources of a child's ethnicity, best first: the order in which `research.children` takes them. The
censuses record the family's own answer on the ONS classification; the school census is reported by
parents and refreshed every year; care and hospital records are often filled in by staff and are
the most often missing or defaulted."""

DFE_ETHNICITY = {
    "WBRI": "White British", "WIRI": "White Irish", "WOTH": "Any other White background",
    "MWBC": "White and Black Caribbean", "MWBA": "White and Black African", "MWAS": "White and Asian",
    "MOTH": "Any other mixed background", "AIND": "Indian", "APKN": "Pakistani", "ABAN": "Bangladeshi",
    "AOTH": "Any other Asian background", "BCRB": "Black Caribbean", "BAFR": "Black African",
    "BOTH": "Any other Black background", "CHNE": "Chinese", "OOTH": "Any other ethnic group",
    "REFU": "Refused", "NOBT": "Information not yet obtained",
}

IMD_DECILE = {"1": "most deprived 10% of LSOAs in England", "10": "least deprived 10%"}

ICD10_CHAPTERS: tuple[tuple[str, str, str, str], ...] = (
    ("I", "A00", "B99", "Certain infectious and parasitic diseases"),
    ("II", "C00", "D48", "Neoplasms"),
    ("III", "D50", "D89", "Diseases of the blood and blood-forming organs and certain disorders of the immune mechanism"),
    ("IV", "E00", "E90", "Endocrine, nutritional and metabolic diseases"),
    ("V", "F00", "F99", "Mental and behavioural disorders"),
    ("VI", "G00", "G99", "Diseases of the nervous system"),
    ("VII", "H00", "H59", "Diseases of the eye and adnexa"),
    ("VIII", "H60", "H95", "Diseases of the ear and mastoid process"),
    ("IX", "I00", "I99", "Diseases of the circulatory system"),
    ("X", "J00", "J99", "Diseases of the respiratory system"),
    ("XI", "K00", "K93", "Diseases of the digestive system"),
    ("XII", "L00", "L99", "Diseases of the skin and subcutaneous tissue"),
    ("XIII", "M00", "M99", "Diseases of the musculoskeletal system and connective tissue"),
    ("XIV", "N00", "N99", "Diseases of the genitourinary system"),
    ("XV", "O00", "O99", "Pregnancy, childbirth and the puerperium"),
    ("XVI", "P00", "P96", "Certain conditions originating in the perinatal period"),
    ("XVII", "Q00", "Q99", "Congenital malformations, deformations and chromosomal abnormalities"),
    ("XVIII", "R00", "R99", "Symptoms, signs and abnormal findings not elsewhere classified"),
    ("XIX", "S00", "T98", "Injury, poisoning and certain other consequences of external causes"),
    ("XX", "V01", "Y98", "External causes of morbidity and mortality"),
    ("XXI", "Z00", "Z99", "Factors influencing health status and contact with health services"),
    ("XXII", "U00", "U99", "Codes for special purposes"),
)
"""ICD-10 chapter, first and last three-character category, title."""

DEATH_AGE_BANDS = {
    "neonatal": "under 28 days",
    "postneonatal": "28 days to under 1 year",
    "child": "1 year or over",
}

LINK_STEPS = {
    "spine": "the child's own birth registration (the cohort spine)",
    "nhs_dob_sex": "deterministic: valid NHS number, date of birth and sex all agree",
    "upn_via_npd": "deterministic: a UPN already linked through another NPD or care record",
    "care_record": "deterministic: the local authority's child id already linked through another episode",
    "probabilistic": "probabilistic (Splink) model score above the dataset's threshold; see the probability",
    "mother_nhs": "mother's record: her valid NHS number is the birth registration's mother's NHS number",
    "mother_dob_postcode": "mother's record: her date of birth and full postcode agree with the registration",
    "mother_baby_delivery": "the delivery episode, linked to the birth by the mother-baby model",
    "survey_family": "survey parent, linked through the family of a linked survey child",
}
"""Linkage steps as the link map names them (cohort_platform.linkage)."""

HES_EPITYPE = {"1": "general episode", "2": "delivery episode (mother)", "3": "birth episode (baby)",
               "4": "other maternity event"}
HES_ADMIMETH = {
    "11": "elective: waiting list", "12": "elective: booked", "13": "elective: planned",
    "21": "emergency: via A&E", "22": "emergency: via GP", "23": "emergency: via bed bureau",
    "24": "emergency: via consultant outpatient clinic", "25": "emergency: other route",
    "26": "emergency: other route", "27": "emergency: other route", "28": "emergency: other means",
    "31": "maternity: admitted before delivery", "32": "maternity: admitted after delivery",
    "82": "birth of a baby in this hospital", "83": "baby born outside the hospital, not at home as intended",
}
HES_DELIVERY_METHOD = {
    "0": "spontaneous vertex", "1": "spontaneous other cephalic", "2": "low forceps, not breech",
    "3": "other forceps, not breech", "4": "ventouse (vacuum)", "5": "breech (spontaneous or assisted)",
    "6": "breech extraction", "7": "elective caesarean section", "8": "emergency caesarean section",
    "9": "other", "X": "not known",
}
NCYEAR = {"R": "reception", **{str(i): f"year {i}" for i in range(1, 12)}}
FSM = {"0": "not eligible for free school meals", "1": "eligible for free school meals"}
SEN = {"N": "no special educational need", "K": "SEN support", "E": "education, health and care plan"}
FIRST_LANGUAGE = {"ENG": "English", "OTH": "other than English", "UNK": "unknown"}
EBACC = {"0": "not entered for the English Baccalaureate", "1": "entered"}
CLA_LEGAL_STATUS = {
    "C1": "interim care order", "C2": "full care order", "D1": "freeing order granted",
    "E1": "placement order granted", "J1": "remanded to local authority or youth detention accommodation",
    "J2": "placed in local authority accommodation under PACE",
    "J3": "sentenced to a supervision order with residence requirement",
    "L1": "under police protection, in local authority accommodation", "L2": "emergency protection order",
    "L3": "under a child assessment order, in local authority accommodation",
    "V2": "single period of accommodation under section 20",
    "V3": "agreed series of short-term breaks (individual episodes recorded)",
    "V4": "agreed series of short-term breaks (agreements recorded)",
}
CLA_CIN = {
    "N1": "abuse or neglect", "N2": "child's disability", "N3": "parental illness or disability",
    "N4": "family in acute stress", "N5": "family dysfunction", "N6": "socially unacceptable behaviour",
    "N7": "low income", "N8": "absent parenting",
}
CLA_PLACEMENT = {
    "A3": "placed for adoption (consent) with current foster carers", "A4": "placed for adoption (consent), other",
    "A5": "placed for adoption (placement order) with current foster carers",
    "A6": "placed for adoption (placement order), other",
    "H5": "semi-independent or supported accommodation", "K1": "secure children's home", "K2": "children's home",
    "P1": "placed with own parents or others with parental responsibility", "P2": "independent living",
    "P3": "residential employment", "R1": "residential care home", "R2": "NHS or health establishment",
    "R3": "family centre or mother and baby unit", "R5": "young offender institution or prison",
    "S1": "residential school", "U1": "foster care with relative or friend: long term",
    "U2": "foster care with relative or friend who is an approved adopter",
    "U3": "foster care with relative or friend: other", "U4": "foster care with other carer: long term",
    "U5": "foster care with other carer who is an approved adopter", "U6": "foster care with other carer: other",
    "Z1": "other placement",
}
CLA_REASON_NEW = {
    "S": "started to be looked after", "L": "change of legal status only",
    "P": "change of placement and carer(s) only", "T": "change of placement, same carer(s)",
    "B": "change of legal status and of placement and carer(s) at the same time",
    "U": "change of legal status and of placement, same carer(s), at the same time",
}
CLA_REASON_ENDED = {
    "E11": "adopted: application unopposed", "E12": "adopted: consent dispensed with",
    "E13": "left care to live with parents, relatives or others without parental responsibility",
    "E14": "accommodation on remand ended", "E15": "age assessment found the child to be 18 or over",
    "E16": "child moved abroad", "E17": "aged 18 or over and stayed with current carers",
    "E2": "died", "E3": "care taken over by another local authority",
    "E41": "residence or child arrangements order granted",
    "E45": "special guardianship order: former foster carers who are relatives or friends",
    "E46": "special guardianship order: former foster carers, not relatives or friends",
    "E47": "special guardianship order: other carers who are relatives or friends",
    "E48": "special guardianship order: other carers, not relatives or friends",
    "E4A": "returned home to parents or others with parental responsibility, as planned",
    "E4B": "returned home to parents or others with parental responsibility, not as planned",
    "E5": "moved into independent living with formal support", "E6": "moved into independent living without formal support",
    "E7": "transferred to adult social care residential care", "E8": "ceased for any other reason",
    "E9": "sentenced to custody", "X1": "episode ended and a new one began the same day",
}
TENURE = {"1": "owned", "2": "social rented", "3": "private rented", "4": "other"}
NSSEC = {
    "1": "higher managerial, administrative and professional occupations",
    "2": "lower managerial, administrative and professional occupations",
    "3": "intermediate occupations", "4": "small employers and own account workers",
    "5": "lower supervisory and technical occupations", "6": "semi-routine occupations",
    "7": "routine occupations", "8": "never worked and long-term unemployed",
    "9": "full-time students and not classified",
}
OCCUPANCY = {"-2": "overcrowded by 2 or more rooms", "-1": "overcrowded by 1 room", "0": "as many rooms as needed",
             "1": "1 room more than needed", "2": "2 or more rooms more than needed"}
SURVEY_ROLE = {"child": "the cohort child", "mother": "the child's mother", "father": "the child's father"}
TRIMESTER = {"T1": "conception to the end of week 13", "T2": "weeks 14 to 27", "T3": "week 28 to birth",
             "all": "conception to birth"}

# ------------------------------------------------------------------------------------------ the model


@dataclass(frozen=True)
class ResearchColumn:
    name: str
    dtype: pl.DataType
    description: str
    codes: Mapping[str, str] = field(default_factory=dict)
    nullable: bool = True
    code_format: str | None = None
    """For a code column without a closed code list (providers, ICD-10, areas): a regular expression
    every value matches, e.g. `[A-Z0-9]{3}` for procode3."""

    @property
    def sql_type(self) -> str:
        return sql_type(self.dtype)

    def holds_only_codes(self, values: pl.Series) -> bool:
        """Every non-null value is one of the declared codes or has the declared code format.

        A name in the secure zone that equals a value of such a column ("RUB" a provider code and a
        misspelt "Ruby"; "B" an ethnic group and an initial) is a coincidence of short strings, not a
        leak: a column holding a person's name would not be all codes. A column with neither a
        code list nor a format never qualifies."""
        value = pl.col("value")
        accepted = ([value.is_in(list(self.codes))] if self.codes else []) + (
            [value.str.contains(f"^(?:{self.code_format})$")] if self.code_format else [])
        if not accepted:
            return False
        distinct = values.drop_nulls().cast(pl.String).unique().to_frame("value")
        return bool(distinct.select(pl.any_horizontal(accepted).all()).item())

    def described(self) -> str:
        """The description with its codes, in one line (for Dagster column descriptions)."""
        if not self.codes:
            return self.description
        return f"{self.description} Codes: " + "; ".join(f"{k} {v}" for k, v in self.codes.items()) + "."


@dataclass(frozen=True)
class ResearchTable:
    name: str
    description: str
    grain: str
    sources: tuple[str, ...]
    columns: tuple[ResearchColumn, ...]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def schema(self) -> dict[str, pl.DataType]:
        return {c.name: c.dtype for c in self.columns}

    def column(self, name: str) -> ResearchColumn:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"research table {self.name} has no column {name!r}")


_SQL = {
    pl.Int8: "TINYINT", pl.Int16: "SMALLINT", pl.Int32: "INTEGER", pl.Int64: "BIGINT",
    pl.UInt32: "UINTEGER", pl.Float32: "REAL", pl.Float64: "DOUBLE", pl.String: "VARCHAR", pl.Boolean: "BOOLEAN",
}


def sql_type(dtype: pl.DataType) -> str:
    """The DuckDB type a polars type lands as in the warehouse."""
    for polars_type, name in _SQL.items():
        if dtype == polars_type:
            return name
    raise ValueError(f"no SQL type for {dtype}; research tables use {', '.join(map(str, _SQL))}")


def _c(name: str, dtype: pl.DataType, description: str, codes: Mapping[str, str] | None = None,
       nullable: bool = True, code_format: str | None = None) -> ResearchColumn:
    return ResearchColumn(name, dtype, description, dict(codes or {}), nullable, code_format)


ICD10_FORMAT = r"[A-Z][0-9]{2}[0-9A-Z]?"
"""ICD-10 without the dot: three or four characters."""
OPCS4_FORMAT = r"[A-Z][0-9]{2}[0-9]?|-"
"""OPCS-4 without the dot, or '-' for none."""
PROVIDER_FORMAT = r"[A-Z0-9]{3}(?:[A-Z0-9]{2})?"
"""An NHS organisation code: three characters (trust), five with a site."""
NATIONAL_CODE_FORMAT = r"[A-Z0-9]{1,4}"
"""A short national code as delivered (MHSDS referral source, reason and service type: A1, 04, C01)."""
LA_FORMAT = r"[0-9]{3}"
"""DfE three-digit local authority code."""
ONS_AREA_FORMAT = r"[EWSN][0-9]{8}"
"""ONS area code (LSOA E01..., district E06/E07/E08/E09...)."""


INT = pl.Int32()
TEXT = pl.String()
FLOAT = pl.Float64()
BOOL = pl.Boolean()

RESEARCH_ID = _c("research_id", TEXT, "The child's research pseudonym: the same in every research table.", nullable=False)
BIRTH_YEAR = _c("birth_year", INT, "The child's year of birth (the partition).", nullable=False)
LINK_STEP = _c("link_step", TEXT, "How this record was linked to the child.", LINK_STEPS, nullable=False)
LINK_PROBABILITY = _c("link_probability", FLOAT,
                      "Match probability of this record's link (1.0 for deterministic steps).")
KEY = (RESEARCH_ID, BIRTH_YEAR)
LINK = (LINK_STEP, LINK_PROBABILITY)


def _year_month(prefix: str, what: str) -> tuple[ResearchColumn, ResearchColumn]:
    return (_c(f"{prefix}_year", INT, f"Calendar year of {what}."),
            _c(f"{prefix}_month", INT, f"Calendar month (1-12) of {what}."))


def _diagnoses(n: int = 5) -> tuple[ResearchColumn, ...]:
    return tuple(
        _c(f"diag_4_0{i}", TEXT, f"{'Primary' if i == 1 else 'Secondary'} diagnosis {i}: ICD-10, four characters, no dot.",
           code_format=ICD10_FORMAT)
        for i in range(1, n + 1)
    )


# --- per-dataset linkage summary of the children table

LINKAGE_SOURCES: tuple[tuple[str, str, str], ...] = (
    ("deaths", "deaths", "child"),
    ("hes_apc", "hes_apc", "child"),
    ("maternal_hes_apc", "hes_apc", "mother"),
    ("mhsds", "mhsds", "child"),
    ("npd_census", "npd_census", "child"),
    ("npd_ks2", "npd_ks2", "child"),
    ("npd_ks4", "npd_ks4", "child"),
    ("cla", "cla", "child"),
    ("census_2011", "census_2011", "child"),
    ("census_2021", "census_2021", "child"),
    ("survey", "survey", "child"),
)
"""(column prefix, dataset, role): the linkage the children table summarises, one group of columns each."""

_SOURCE_WHAT = {
    "deaths": "death registrations", "hes_apc": "the child's hospital episodes",
    "maternal_hes_apc": "the mother's hospital episodes (before the birth and the delivery)",
    "mhsds": "mental health referrals", "npd_census": "school census records", "npd_ks2": "KS2 results",
    "npd_ks4": "KS4 results", "cla": "episodes of care", "census_2011": "Census 2011 records",
    "census_2021": "Census 2021 records", "survey": "survey records of the child (consented links only)",
}


def linkage_columns(prefix: str) -> tuple[ResearchColumn, ...]:
    what = _SOURCE_WHAT[prefix]
    return (
        _c(f"linked_{prefix}", BOOL, f"At least one of {what} is linked to the child.", nullable=False),
        _c(f"{prefix}_records", INT, f"Number of {what} linked to the child.", nullable=False),
        _c(f"{prefix}_link_step", TEXT,
           f"Linkage step of the least certain of {what} (lowest match probability); null when none is linked.",
           LINK_STEPS),
        _c(f"{prefix}_link_probability", FLOAT,
           f"Lowest match probability among {what} (1.0 for deterministic steps); null when none is linked."),
    )


# --- the tables

CHILDREN = ResearchTable(
    "children",
    "Every live-born child of the cohort: birth, area at birth, ethnicity, death, and how well each "
    "dataset linked to the child.",
    "one row per child",
    ("births", "deaths", "postcodes", "lsoa_imd", "census_2021", "census_2011", "npd_census", "cla", "hes_apc"),
    (
        *KEY,
        _c("birth_month", INT, "Calendar month of birth (1-12)."),
        _c("sex", TEXT, "Sex at birth registration.", SEX_ONS),
        _c("ethnicity", TEXT, "Ethnic group, harmonised to the ONS broad groups, from the best source that "
           "records one (see ethnicity_source); within a source the value recorded most often, then the latest. "
           "Null when no linked source records it.", ETHNICITY_BROAD),
        _c("ethnicity_source", TEXT, "The dataset the ethnicity comes from (best first in this list).",
           ETHNICITY_SOURCES),
        _c("birthweight_g", INT, "Birth weight in grams (birth registration)."),
        _c("gestation_weeks", INT, "Gestational age at birth in completed weeks (birth registration)."),
        _c("multiplicity", INT, "Number of babies born in the maternity (1 singleton, 2 twins, 3 triplets...)."),
        _c("mother_age_at_birth", INT, "Mother's age at the birth in completed years (from the registration)."),
        _c("lsoa11cd_at_birth", TEXT, "2011 Lower Layer Super Output Area of the mother's usual residence at birth.",
           code_format=ONS_AREA_FORMAT),
        _c("lad_code_at_birth", TEXT, "ONS local authority district code (E06/E07/E08/E09...) of the residence at birth.",
           code_format=ONS_AREA_FORMAT),
        _c("la_code_at_birth", TEXT, "DfE three-digit local authority code of the residence at birth.", code_format=LA_FORMAT),
        _c("imd_decile_at_birth", INT,
           "Index of Multiple Deprivation decile of the LSOA at birth (1 most deprived .. 10 least).", IMD_DECILE),
        _c("died", BOOL, "A death registration is linked to the child.", nullable=False),
        *_year_month("death", "death"),
        _c("age_at_death_months", INT, "Age at death in completed months."),
        _c("death_age_band", TEXT, "Age at death band.", DEATH_AGE_BANDS),
        _c("death_cause_code", TEXT, "Underlying cause of death: ICD-10, four characters, no dot.", code_format=ICD10_FORMAT),
        _c("death_cause_chapter", TEXT, "ICD-10 chapter of the underlying cause of death.",
           {ch: f"{lo}-{hi} {title}" for ch, lo, hi, title in ICD10_CHAPTERS}),
        *(col for prefix, _, _ in LINKAGE_SOURCES for col in linkage_columns(prefix)),
    ),
)

MATERNAL_ADMISSIONS = ResearchTable(
    "maternal_admissions",
    "The mother's hospital episodes that started in the 12 months before the child's birth, the delivery "
    "episode included. Twins each have their mother's episodes.",
    "one row per child and maternal episode",
    ("hes_apc", "births"),
    (
        *KEY,
        _c("months_before_birth", INT, "Completed months from the episode start to the birth (0 = within the "
           "month before the birth, 11 = the earliest month of the window)."),
        _c("epitype", TEXT, "Episode type.", HES_EPITYPE),
        _c("admimeth", TEXT, "Method of admission.", HES_ADMIMETH),
        *_diagnoses(),
        _c("delivery_method", TEXT, "Method of delivery (delivery episodes).", HES_DELIVERY_METHOD),
        _c("episode_days", INT, "Days from episode start to episode end (null while unfinished)."),
        *LINK,
    ),
)

HOSPITAL_EPISODES = ResearchTable(
    "hospital_episodes",
    "The child's own hospital admitted patient care episodes (HES APC), the birth episode included.",
    "one row per episode",
    ("hes_apc", "births"),
    (
        *KEY,
        *_year_month("admission", "admission (the episode start where the admission date is missing)"),
        _c("age_months_at_admission", INT, "Age at admission in completed months."),
        _c("epiorder", INT, "Order of the episode within its hospital spell."),
        _c("epitype", TEXT, "Episode type.", HES_EPITYPE),
        _c("admimeth", TEXT, "Method of admission.", HES_ADMIMETH),
        _c("provider_code", TEXT, "Three-character code of the NHS provider (procode3).", code_format=PROVIDER_FORMAT),
        *_diagnoses(),
        *(_c(f"opertn_4_0{i}", TEXT, f"Procedure {i}: OPCS-4, four characters, no dot ('-' none).",
            code_format=OPCS4_FORMAT) for i in range(1, 4)),
        _c("length_of_stay_days", INT, "Days from episode start to episode end (the episode's own length; a "
           "spell of several episodes has one row each). Null while unfinished."),
        *LINK,
    ),
)

MENTAL_HEALTH_REFERRALS = ResearchTable(
    "mental_health_referrals",
    "The child's referrals to NHS mental health services (MHSDS).",
    "one row per referral",
    ("mhsds", "births"),
    (
        *KEY,
        *_year_month("referral", "the referral"),
        _c("age_at_referral", INT, "Age at referral in completed years."),
        _c("source_of_referral", TEXT, "Source of referral: MHSDS national code as delivered (e.g. A1 GP).",
           code_format=NATIONAL_CODE_FORMAT),
        _c("primary_reason", TEXT, "Primary reason for referral: MHSDS national code as delivered.",
           code_format=NATIONAL_CODE_FORMAT),
        _c("service_type", TEXT, "Service or team type referred to: MHSDS national code as delivered.",
           code_format=NATIONAL_CODE_FORMAT),
        _c("provider_code", TEXT, "Code of the provider organisation.", code_format=PROVIDER_FORMAT),
        _c("discharged", BOOL, "The referral has a discharge date (false: open at the data cut-off).", nullable=False),
        *_year_month("discharge", "discharge"),
        _c("days_to_discharge", INT, "Days from referral to discharge (null while open)."),
        *LINK,
    ),
)

SCHOOL_CENSUS_YEARS = ResearchTable(
    "school_census_years",
    "The child's spring school census records (National Pupil Database).",
    "one row per census record (normally one per academic year)",
    ("npd_census", "births"),
    (
        *KEY,
        _c("academic_year", INT, "Academic year by its start year (2016 = 2016/17)."),
        _c("ncyear", TEXT, "National curriculum year group.", NCYEAR),
        _c("fsm_eligible", TEXT, "Free school meal eligibility.", FSM),
        _c("sen_provision", TEXT, "Special educational needs provision.", SEN),
        _c("ethnicity_dfe", TEXT, "Ethnicity as recorded by the school (DfE minor codes).", DFE_ETHNICITY),
        _c("first_language", TEXT, "First language.", FIRST_LANGUAGE),
        _c("la_code", TEXT, "DfE three-digit code of the school's local authority.", code_format=LA_FORMAT),
        *LINK,
    ),
)

KS2 = ResearchTable(
    "ks2", "The child's key stage 2 results (end of primary school).", "one row per result record",
    ("npd_ks2", "births"),
    (
        *KEY,
        _c("academic_year", INT, "Academic year of the tests by its start year."),
        _c("ks2_read_scaled", INT, "Reading scaled score (80-120; 100 = the expected standard). Null if absent."),
        _c("ks2_mat_scaled", INT, "Mathematics scaled score (80-120; 100 = the expected standard). Null if absent."),
        *LINK,
    ),
)

KS4 = ResearchTable(
    "ks4", "The child's key stage 4 results (GCSE year).", "one row per result record",
    ("npd_ks4", "births"),
    (
        *KEY,
        _c("academic_year", INT, "Academic year of the examinations by its start year."),
        _c("att8", FLOAT, "Attainment 8 score (0-90)."),
        _c("ebacc_entered", TEXT, "Entered for the English Baccalaureate.", EBACC),
        *LINK,
    ),
)

CARE_EPISODES = ResearchTable(
    "care_episodes",
    "The child's episodes of care as a looked-after child (SSDA903), from every local authority.",
    "one row per episode of care",
    ("cla", "births"),
    (
        *KEY,
        _c("la_code", TEXT, "DfE three-digit code of the local authority looking after the child.", code_format=LA_FORMAT),
        *_year_month("start", "the episode start"),
        _c("age_at_start", INT, "Age at the episode start in completed years."),
        *_year_month("end", "the episode end (null while open)"),
        _c("open", BOOL, "The episode has no end date (open at the data cut-off).", nullable=False),
        _c("length_days", INT, "Days from episode start to end (null while open)."),
        _c("reason_new_episode", TEXT, "Reason the episode began (RNE).", CLA_REASON_NEW),
        _c("legal_status", TEXT, "Legal status (LS).", CLA_LEGAL_STATUS),
        _c("cin", TEXT, "Category of need (CIN).", CLA_CIN),
        _c("placement", TEXT, "Placement type (PLACE).", CLA_PLACEMENT),
        _c("reason_ended", TEXT, "Reason the episode ended (REC; null while open).", CLA_REASON_ENDED),
        *LINK,
    ),
)

CENSUS_HOUSEHOLD = ResearchTable(
    "census_household",
    "The child's household on census day (Census 2011 and 2021).",
    "one row per census the child is linked in",
    ("census_2011", "census_2021", "births"),
    (
        *KEY,
        _c("census_year", INT, "2011 or 2021."),
        _c("tenure", TEXT, "Tenure of the household's accommodation.", TENURE),
        _c("nssec_hrp", TEXT, "NS-SEC analytic class of the household reference person.", NSSEC),
        _c("occupancy_rating", INT, "Occupancy rating for rooms (negative: overcrowded).", OCCUPANCY),
        _c("ethnic_group", TEXT, "The child's ethnic group on the census form, harmonised to ONS broad groups.",
           ETHNICITY_BROAD),
        _c("household_size", INT, "Number of usual residents counted in the household."),
        *LINK,
    ),
)

SURVEY_RESPONSES = ResearchTable(
    "survey_responses",
    "Survey answers of linked participants who consented (withdrawn participants' earlier answers are "
    "kept; participants who asked for deletion are absent). Parents' rows carry their child's research_id.",
    "one row per participant record",
    ("survey",),
    (
        *KEY,
        _c("role", TEXT, "Who answered.", SURVEY_ROLE, nullable=False),
        _c("wave1_sdq_total", INT, "Strengths and Difficulties Questionnaire total difficulties score at wave 1 (0-40)."),
        *LINK,
    ),
)

EXPOSURES = ("no2", "pm25", "ndvi_300m", "road_m", "motorway_m")
"""Exposure names as `cohort_platform.exposures.sampling.EXPOSURES` has them (a test keeps them equal)."""
_EXPOSURE_WHAT = {
    "no2": "time-weighted mean NO2 concentration (ug/m3)",
    "pm25": "time-weighted mean PM2.5 concentration (ug/m3)",
    "ndvi_300m": "time-weighted mean greenness (NDVI, -1..1) within 300 m",
    "road_m": "time-weighted mean distance to the nearest major road (metres)",
    "motorway_m": "time-weighted mean distance to the nearest motorway (metres)",
}


def _exposure_columns(where: str, suffix: str = "") -> tuple[ResearchColumn, ...]:
    cols = [_c(f"days{suffix}", INT, f"Days of the period spent {where}.")]
    for name in EXPOSURES:
        cols.append(_c(f"{name}{suffix}", FLOAT, f"{_EXPOSURE_WHAT[name].capitalize()} {where}; null without data."))
        cols.append(_c(f"{name}_days{suffix}", INT, f"Days {where} on which {name} has a value."))
    return tuple(cols)


EXPOSURES_YEARLY = ResearchTable(
    "exposures_yearly",
    "Environmental exposures per calendar year at the child's home and school (from residential histories).",
    "one row per child and calendar year",
    ("exposures",),
    (
        *KEY,
        _c("year", INT, "Calendar year."),
        *_exposure_columns("at home", "_home"),
        *_exposure_columns("at school (term months)", "_school"),
    ),
)

EXPOSURES_PREGNANCY = ResearchTable(
    "exposures_pregnancy",
    "Environmental exposures in pregnancy by trimester, at the mother's address.",
    "one row per child and trimester",
    ("exposures",),
    (
        *KEY,
        _c("trimester", TEXT, "Period of the pregnancy.", TRIMESTER, nullable=False),
        _c("gestation_assumed", BOOL, "Gestation was missing and 40 weeks assumed."),
        *_exposure_columns("in the period"),
    ),
)

RESEARCH_TABLES: dict[str, ResearchTable] = {
    t.name: t for t in (
        CHILDREN, MATERNAL_ADMISSIONS, HOSPITAL_EPISODES, MENTAL_HEALTH_REFERRALS, SCHOOL_CENSUS_YEARS,
        KS2, KS4, CARE_EPISODES, CENSUS_HOUSEHOLD, SURVEY_RESPONSES, EXPOSURES_YEARLY, EXPOSURES_PREGNANCY,
    )
}


def research_columns() -> dict[str, list[str]]:
    """Table -> its column names: what `outputs.extracts.load_project` validates a project against."""
    return {name: t.column_names for name, t in RESEARCH_TABLES.items()}


def conform(frame: pl.DataFrame, table: str | ResearchTable) -> pl.DataFrame:
    """`frame` with exactly the table's declared columns, in order and typed; a missing one is an error."""
    spec = RESEARCH_TABLES[table] if isinstance(table, str) else table
    missing = [c for c in spec.column_names if c not in frame.columns]
    if missing:
        raise ValueError(f"{spec.name} lacks declared columns {', '.join(missing)}")
    return frame.select(pl.col(c.name).cast(c.dtype) for c in spec.columns)


def empty_frame(table: str | ResearchTable) -> pl.DataFrame:
    spec = RESEARCH_TABLES[table] if isinstance(table, str) else table
    return pl.DataFrame(schema=spec.schema)


# ------------------------------------------------------------------------------------------ Dagster


def table_schema(table: str | ResearchTable):
    """The table as a `dagster.TableSchema` (Dagster imported here only: this module stays light)."""
    import dagster as dg  # noqa: PLC0415

    spec = RESEARCH_TABLES[table] if isinstance(table, str) else table
    return dg.TableSchema(columns=[
        dg.TableColumn(c.name, c.sql_type, description=c.described(),
                       constraints=dg.TableColumnConstraints(nullable=c.nullable))
        for c in spec.columns
    ])


def column_schema_metadata(table: str | ResearchTable) -> dict[str, object]:
    """Asset metadata that shows the columns in the Dagster UI: {"dagster/column_schema": TableSchema}."""
    return {"dagster/column_schema": table_schema(table)}


# ------------------------------------------------------------------------------------------ Markdown

_CONVENTIONS = """\
Conventions shared by every table:

- `research_id` is the child's research pseudonym: a keyed HMAC of the internal person id, the same
  in every research table (a project extract replaces it with the project's own pseudonym). Rows
  about a mother, a household or a parent carry the child's `research_id`.
- `birth_year` is the child's year of birth; tables are partitioned by it
  (`research_ready/<table>/birth_year=YYYY/`).
- There are no names, NHS numbers, UPNs, provider record ids, postcodes, coordinates or full dates.
  Events are placed by calendar year and month; ages are in completed months or years; intervals
  within one record (length of stay, days to discharge) are in days.
- Codes are text, leading zeros kept. Null means not recorded, not applicable, or (for linkage
  columns) nothing linked.
- Linkage: `link_step` and `link_probability` on each event row say how that record was linked;
  the `children` table summarises, per dataset, whether and how confidently anything was linked.
  Sensitivity analyses can drop links below a probability.
- Survey participants are linked only to what they consented to; people who opted out of data
  sharing are absent.
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _codes_cell(codes: Mapping[str, str]) -> str:
    return "<br>".join(f"`{k}` {_cell(v)}" for k, v in codes.items())


def render_table(spec: ResearchTable) -> str:
    lines = [
        f"## {spec.name}",
        "",
        spec.description,
        "",
        f"Grain: {spec.grain}. Built from: {', '.join(f'`{s}`' for s in spec.sources)}.",
        "",
        "| column | type | description | codes |",
        "|---|---|---|---|",
    ]
    for c in spec.columns:
        required = "" if c.nullable else " (never null)"
        lines.append(f"| `{c.name}` | {c.sql_type} | {_cell(c.description)}{required} | {_codes_cell(c.codes)} |")
    return "\n".join(lines) + "\n"


def render_data_dictionary(tables: Mapping[str, ResearchTable] | None = None) -> str:
    """The data dictionary as Markdown, for `docs/data_dictionary.md`. Generated: edit this module, not the file."""
    tables = RESEARCH_TABLES if tables is None else tables
    parts = [
        "# Data dictionary: the research-ready cohort",
        "",
        "<!-- Generated from cohort_platform/cohort/columns.py by `render_data_dictionary()`; do not edit. -->",
        "",
        _CONVENTIONS,
        "| table | one row is | columns |",
        "|---|---|---|",
        *(f"| [{t.name}](#{t.name}) | {t.grain} | {len(t.columns)} |" for t in tables.values()),
        "",
    ]
    parts += [render_table(t) for t in tables.values()]
    return "\n".join(parts)
