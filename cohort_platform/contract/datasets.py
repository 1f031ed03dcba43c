"""Every raw extract of the contract, declared once: its folder, its columns and each column's rule.

A column's `kind` says how it is parsed and checked:

- text: stripped; empty is missing. `pattern` (a regex) constrains it where the contract does.
- name: a person's name, kept as delivered and compared canonically by linkage.
- code: one of `codes`.
- int / float: a number, within `bounds` where given.
- date: ISO YYYY-MM-DD and a real calendar date, not after the data cut-off, not before `not_before`
  (another date column of the row, such as dob) and within `age_bounds` years of the row's `dob`.
- nhs_number / upn / postcode: identifiers, canonicalised; a value that fails its check (Modulus 11,
  UPN check letter, postcode shape) is kept with a `<column>_valid` flag set to false, because an
  invalid identifier is an expected imperfection of real extracts, not a malformed row.

A row is quarantined when a required value is missing or any present value cannot be parsed or
breaks its rule (identifier checks aside). Nothing is silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["text", "name", "code", "int", "float", "date", "nhs_number", "upn", "postcode"]
IDENTIFIER_KINDS = ("nhs_number", "upn", "postcode")


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind = "text"
    required: bool = False
    codes: tuple[str, ...] = ()
    bounds: tuple[float, float] | None = None
    pattern: str | None = None
    not_before: str | None = None  # another date column of the same row
    age_bounds: tuple[int, int] | None = None  # years after the row's dob
    description: str = ""


@dataclass(frozen=True)
class Dataset:
    name: str
    description: str
    columns: tuple[Column, ...]
    key: str = "record_id"
    glob: str = "*.csv"
    person_level: bool = True
    # share of rows that may miss each key field before the completeness check warns
    completeness: dict[str, float] = field(default_factory=dict)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")


def _codes(*values: object) -> tuple[str, ...]:
    return tuple(str(v) for v in values)


# --- shared code lists
SEX_ONS = _codes(1, 2, 9)
SEX_HES = _codes(0, 1, 2, 9)
SEX_NPD = ("M", "F")
SEX_12 = _codes(1, 2)
YN = ("Y", "N")
NPD_ETHNICITY = (
    "WBRI", "WIRI", "WOTH", "MWBC", "MWBA", "MWAS", "MOTH", "AIND", "APKN", "ABAN", "AOTH",
    "BCRB", "BAFR", "BOTH", "CHNE", "OOTH", "REFU", "NOBT",
)
HES_ETHNOS = tuple(chr(c) for c in range(ord("A"), ord("Z") + 1)) + ("99",)
HES_ADMIMETH = _codes(11, 12, 13, *range(21, 29), 31, 32, 82, 83)
NCYEAR = ("R",) + _codes(*range(1, 12))
ICD10 = r"^[A-Z][0-9]{2}[0-9A-Z]?$"
OPCS4 = r"^[A-Z][0-9]{2,3}$|^-$"
LA_CODE = r"^[0-9]{3}$"
URN = r"^[0-9]{5,7}$"

REC = Column("record_id", "text", required=True, description="The provider's key for the row.")


def _dob(**kw) -> Column:
    return Column("dob", "date", required=True, age_bounds=None, description="Date of birth.", **kw)


DATASETS: dict[str, Dataset] = {}


def _add(ds: Dataset) -> Dataset:
    DATASETS[ds.name] = ds
    return ds


BIRTHS = _add(Dataset(
    "births",
    "ONS live birth registrations with NHS Numbers for Babies: the cohort spine.",
    (
        REC,
        Column("nhs_number", "nhs_number", description="The baby's NHS number."),
        Column("forename", "name"),
        Column("surname", "name"),
        _dob(),
        Column("sex", "code", required=True, codes=SEX_ONS),
        Column("birthweight_g", "int", bounds=(200, 7000)),
        Column("gestation_weeks", "int", bounds=(20, 45)),
        Column("multiplicity", "int", required=True, bounds=(1, 8)),
        Column("birth_order", "int", required=True, bounds=(1, 8)),
        Column("mother_nhs_number", "nhs_number"),
        Column("mother_forename", "name"),
        Column("mother_surname", "name"),
        Column("mother_dob", "date", age_bounds=(-70, -10), description="Mother's date of birth: 10 to 70 years before the baby's."),
        Column("postcode", "postcode", description="Mother's usual residence at birth."),
        Column("place_of_birth", "code", codes=("hospital", "home", "other")),
        Column("registration_date", "date", not_before="dob"),
    ),
    completeness={"nhs_number": 0.02, "postcode": 0.02, "forename": 0.02, "surname": 0.02},
))

DEATHS = _add(Dataset(
    "deaths",
    "ONS death registrations.",
    (
        REC,
        Column("nhs_number", "nhs_number"),
        Column("forename", "name"),
        Column("surname", "name"),
        _dob(),
        Column("sex", "code", required=True, codes=SEX_ONS),
        Column("dod", "date", required=True, not_before="dob", description="Date of death."),
        Column("underlying_cause", "text", pattern=ICD10),
        Column("postcode", "postcode"),
        Column("registration_date", "date", not_before="dod"),
    ),
    completeness={"nhs_number": 0.25, "surname": 0.02},
))

HES_APC = _add(Dataset(
    "hes_apc",
    "HES admitted patient care episodes (children, and mothers in the year before birth).",
    (
        REC,
        Column("newnhsno", "nhs_number"),
        _dob(),
        Column("sex", "code", required=True, codes=SEX_HES),
        Column("homeadd", "postcode"),
        Column("ethnos", "code", codes=HES_ETHNOS),
        Column("admidate", "date", not_before="dob"),
        Column("epistart", "date", required=True, not_before="dob"),
        Column("epiend", "date", not_before="epistart"),
        Column("epiorder", "int", bounds=(1, 99)),
        Column("epitype", "code", required=True, codes=_codes(1, 2, 3, 4)),
        Column("admimeth", "code", codes=HES_ADMIMETH),
        Column("procode3", "text", pattern=r"^[A-Z0-9]{3}$"),
        *(Column(f"diag_4_0{i}", "text", pattern=ICD10) for i in range(1, 6)),
        *(Column(f"opertn_4_0{i}", "text", pattern=OPCS4) for i in range(1, 4)),
        Column("numbaby", "int", bounds=(1, 9)),
        Column("gestat_1", "int", bounds=(10, 49)),
        Column("birweit_1", "int", bounds=(100, 7000)),
        Column("sexbaby_1", "code", codes=SEX_HES),
        Column("delmeth_1", "text", pattern=r"^[0-9X]$"),
    ),
    completeness={"newnhsno": 0.1, "homeadd": 0.05},
))

MHSDS = _add(Dataset(
    "mhsds",
    "Referrals to NHS mental health services (MHSDS).",
    (
        REC,
        Column("nhs_number", "nhs_number"),
        _dob(),
        Column("sex", "code", required=True, codes=SEX_ONS),
        Column("postcode", "postcode"),
        Column("referral_date", "date", required=True, not_before="dob"),
        Column("source_of_referral", "text"),
        Column("primary_reason", "text"),
        Column("service_type", "text"),
        Column("discharge_date", "date", not_before="referral_date"),
        Column("provider_code", "text"),
    ),
    completeness={"nhs_number": 0.1, "postcode": 0.05},
))

_NPD_ID = (
    Column("upn", "upn", required=True, description="Unique Pupil Number."),
)

NPD_CENSUS = _add(Dataset(
    "npd_census",
    "National Pupil Database: one pupil in one spring school census.",
    (
        REC,
        *_NPD_ID,
        Column("forename", "name"),
        Column("surname", "name"),
        _dob(),
        Column("sex", "code", required=True, codes=SEX_NPD),
        Column("postcode", "postcode"),
        Column("urn", "text", pattern=URN),
        Column("la_code", "text", pattern=LA_CODE),
        Column("academic_year", "int", required=True, bounds=(1990, 2100)),
        Column("ncyear", "code", codes=NCYEAR),
        Column("fsm_eligible", "code", codes=_codes(0, 1)),
        Column("sen_provision", "code", codes=("N", "K", "E")),
        Column("ethnicity", "code", codes=NPD_ETHNICITY),
        Column("first_language", "code", codes=("ENG", "OTH", "UNK")),
    ),
    completeness={"postcode": 0.05, "urn": 0.01},
))

NPD_KS2 = _add(Dataset(
    "npd_ks2",
    "National Pupil Database: key stage 2 results.",
    (
        REC, *_NPD_ID, _dob(),
        Column("sex", "code", required=True, codes=SEX_NPD),
        Column("academic_year", "int", required=True, bounds=(1990, 2100)),
        Column("ks2_read_scaled", "int", bounds=(80, 120)),
        Column("ks2_mat_scaled", "int", bounds=(80, 120)),
    ),
))

NPD_KS4 = _add(Dataset(
    "npd_ks4",
    "National Pupil Database: key stage 4 results.",
    (
        REC, *_NPD_ID, _dob(),
        Column("sex", "code", required=True, codes=SEX_NPD),
        Column("academic_year", "int", required=True, bounds=(1990, 2100)),
        Column("att8", "float", bounds=(0, 90)),
        Column("ebacc_entered", "code", codes=_codes(0, 1)),
    ),
))

CLA = _add(Dataset(
    "cla",
    "Looked-after children: episodes of care returned by local authorities (SSDA903).",
    (
        REC,
        Column("la_code", "text", required=True, pattern=LA_CODE),
        Column("child_id", "text", required=True),
        Column("upn", "upn"),
        Column("nhs_number", "nhs_number"),
        Column("sex", "code", required=True, codes=SEX_12),
        _dob(),
        Column("ethnic", "code", codes=NPD_ETHNICITY),
        Column("decom", "date", required=True, not_before="dob", description="Episode start."),
        Column("rne", "text"),
        Column("ls", "text", pattern=r"^[A-Z][0-9A-Z]$"),
        Column("cin", "code", codes=tuple(f"N{i}" for i in range(1, 9))),
        Column("place", "text", pattern=r"^[A-Z][0-9A-Z]$"),
        Column("home_post", "postcode"),
        Column("pl_post", "postcode"),
        Column("dec", "date", not_before="decom", description="Episode end."),
        Column("rec", "text", pattern=r"^[A-Z][0-9A-Z]{1,2}$"),
    ),
    completeness={"upn": 0.3, "nhs_number": 0.3},
))


def _census(year: int, groups: int) -> Dataset:
    return Dataset(
        f"census_{year}",
        f"Census {year}: one person in a household.",
        (
            REC,
            Column("household_id", "text", required=True),
            Column("forename", "name"),
            Column("surname", "name"),
            _dob(),
            Column("sex", "code", required=True, codes=SEX_12),
            Column("postcode", "postcode"),
            Column("ethnic_group", "code", codes=_codes(*range(1, groups + 1))),
            Column("tenure", "code", codes=_codes(1, 2, 3, 4)),
            Column("nssec_hrp", "code", codes=_codes(*range(1, 10))),
            Column("occupancy_rating", "int", bounds=(-2, 2)),
            Column("relationship_to_hrp", "text"),
        ),
        completeness={"postcode": 0.02, "surname": 0.02},
    )


CENSUS_2011 = _add(_census(2011, 18))
CENSUS_2021 = _add(_census(2021, 19))

SURVEY = _add(Dataset(
    "survey",
    "A longitudinal survey of families: children and their parents, with per-dataset consent.",
    (
        REC,
        Column("study_id", "text", required=True),
        Column("family_id", "text", required=True),
        Column("role", "code", required=True, codes=("child", "mother", "father")),
        Column("forename", "name"),
        Column("surname", "name"),
        _dob(),
        Column("sex", "code", required=True, codes=SEX_12),
        Column("postcode", "postcode"),
        Column("consent_health", "code", required=True, codes=YN),
        Column("consent_hmrc", "code", codes=YN),
        Column("consent_dwp", "code", codes=YN),
        Column("withdrawn_date", "date"),
        Column("deletion_requested", "code", codes=YN),
        Column("wave1_sdq_total", "int", bounds=(0, 40)),
    ),
))

OPT_OUTS = _add(Dataset(
    "opt_outs",
    "National data opt-out snapshots; the newest is the whole current list.",
    (Column("nhs_number", "nhs_number", required=True),),
    key="",
    glob="ndop_*.csv",
))

# --- reference data (folder `reference/`, one file each)
POSTCODES = _add(Dataset(
    "postcodes",
    "Postcode centroids with LSOA, local authority district and DfE LA code.",
    (
        Column("postcode", "postcode", required=True),
        Column("easting", "float", required=True, bounds=(0, 700_000)),
        Column("northing", "float", required=True, bounds=(0, 1_300_000)),
        Column("lsoa11cd", "text", pattern=r"^E01[0-9]{6}$"),
        Column("lad_code", "text", pattern=r"^E0[6-9][0-9]{6}$"),
        Column("la_code", "text", pattern=LA_CODE),
    ),
    key="postcode", glob="postcodes.csv", person_level=False,
))
LSOA_IMD = _add(Dataset(
    "lsoa_imd",
    "Index of Multiple Deprivation decile of each LSOA (1 most deprived).",
    (
        Column("lsoa11cd", "text", required=True, pattern=r"^E01[0-9]{6}$"),
        Column("imd_decile", "int", required=True, bounds=(1, 10)),
    ),
    key="lsoa11cd", glob="lsoa_imd.csv", person_level=False,
))
SCHOOLS = _add(Dataset(
    "schools",
    "Schools (by URN) with location, local authority and phase.",
    (
        Column("urn", "text", required=True, pattern=URN),
        Column("establishment_name", "text"),
        Column("easting", "float", required=True, bounds=(0, 700_000)),
        Column("northing", "float", required=True, bounds=(0, 1_300_000)),
        Column("la_code", "text", pattern=LA_CODE),
        Column("phase", "code", codes=("primary", "secondary")),
    ),
    key="urn", glob="schools.csv", person_level=False,
))

PERSON_DATASETS = tuple(n for n, d in DATASETS.items() if d.person_level)
REFERENCE_DATASETS = tuple(n for n, d in DATASETS.items() if not d.person_level)


def folder(dataset: str) -> str:
    """The folder under the raw root that holds a dataset's files."""
    return "reference" if dataset in REFERENCE_DATASETS else dataset


# --- environmental inputs
@dataclass(frozen=True)
class Grid:
    name: str
    folder: str
    variable: str
    prefix: str
    monthly: bool
    bounds: tuple[float, float]
    units: str
    description: str


GRIDS: dict[str, Grid] = {
    "no2": Grid("no2", "air_quality", "no2", "no2_", True, (0.0, 200.0), "ug/m3",
                "Monthly mean NO2 on a 1 km grid."),
    "pm25": Grid("pm25", "air_quality", "pm25", "pm25_", True, (0.0, 150.0), "ug/m3",
                 "Monthly mean PM2.5 on a 1 km grid."),
    "ndvi": Grid("ndvi", "greenspace", "ndvi", "ndvi_", False, (-1.0, 1.0), "1",
                 "Annual NDVI (greenness) on a 100-250 m grid."),
}
ROADS_FOLDER = "roads"
ROADS_FILE = "major_roads.gpkg"
ROADS_LAYER = "roads"
ROAD_CLASSES = ("Motorway", "A Road")
CRS_EPSG = 27700
