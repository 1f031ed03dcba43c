"""A small hand-made world for the research table tests: clean frames with every contract column, a
link map, and identifiers chosen so that a leak would be visible (valid NHS numbers and UPNs, names
with accents, full postcodes, provider ids)."""

from __future__ import annotations

import datetime as dt

import polars as pl

from cohort_platform.contract.datasets import DATASETS, IDENTIFIER_KINDS
from cohort_platform.linkage.link_map import LINK_MAP_SCHEMA
from cohort_platform.privacy.pseudonyms import PseudonymKey
from cohort_platform_tests.privacy.factories import nhs, upn

KEY = PseudonymKey(bytes(range(32)), "test")
pseudonymise = KEY.pseudonymise
YEAR = 2010
D = dt.date

_TYPES = {"int": pl.Int64, "float": pl.Float64, "date": pl.Date}


def clean(dataset: str, rows: list[dict]) -> pl.DataFrame:
    """A clean frame as ingestion makes it: every contract column typed, `_valid` flags, provenance."""
    spec = DATASETS[dataset]
    schema = {c.name: _TYPES.get(c.kind, pl.String) for c in spec.columns}
    frame = pl.DataFrame([{c: r.get(c) for c in schema} for r in rows], schema=schema, orient="row")
    flags = [pl.col(c.name).is_not_null().alias(f"{c.name}_valid") for c in spec.columns if c.kind in IDENTIFIER_KINDS]
    return frame.with_columns(*flags, pl.lit(f"{dataset}/part1.csv").alias("source_file"),
                              pl.int_range(2, frame.height + 2).cast(pl.Int64).alias("source_line"))


def link_map(rows: list[tuple]) -> pl.DataFrame:
    """(dataset, record_id, person_id, role, step[, probability]) rows."""
    full = [(*r[:5], r[5] if len(r) > 5 else (None if r[4] == "unlinked" else 1.0)) for r in rows]
    frame = pl.DataFrame(full, schema=["dataset", "record_id", "person_id", "role", "step", "match_probability"], orient="row")
    return frame.with_columns(
        pl.when(pl.col("step") == "probabilistic").then(pl.lit(9.5)).otherwise(None).alias("match_weight")
    ).select(list(LINK_MAP_SCHEMA)).cast(LINK_MAP_SCHEMA)


# --- people: A (BR0000001) born May 2010 with a duplicate registration; B (BR0000002) a twin born
# November 2010 who died at 10 days; C (BR0000005) born on New Year's Day 2010; E (BR0000004) born 2011.
A, B, C, E = "BR0000001", "BR0000002", "BR0000005", "BR0000004"
A_DOB, B_DOB, C_DOB = D(2010, 5, 15), D(2010, 11, 30), D(2010, 1, 1)
POSTCODE_A, POSTCODE_B = "SW1A 1AA", "M1 1AE"


def births() -> pl.DataFrame:
    mother = {"mother_forename": "Siân", "mother_surname": "O'Brien", "mother_dob": D(1985, 3, 20),
              "mother_nhs_number": nhs(90), "place_of_birth": "hospital", "birth_order": 1, "multiplicity": 1}
    return clean("births", [
        {**mother, "record_id": A, "nhs_number": nhs(1), "forename": "Zoë", "surname": "O'Brien-Smith", "dob": A_DOB,
         "sex": "2", "birthweight_g": 3300, "gestation_weeks": 39, "postcode": POSTCODE_A, "registration_date": D(2010, 6, 1)},
        {**mother, "record_id": "BR0000003", "nhs_number": nhs(1), "forename": "Zoe", "surname": "O'Brien-Smith",
         "dob": A_DOB, "sex": "2", "postcode": POSTCODE_A},  # duplicate registration of A
        {"record_id": B, "nhs_number": nhs(2), "forename": "Kwame", "surname": "Mensah", "dob": B_DOB, "sex": "1",
         "birthweight_g": 2100, "gestation_weeks": 35, "multiplicity": 2, "birth_order": 1, "mother_nhs_number": nhs(91),
         "mother_forename": "Ama", "mother_surname": "Mensah", "mother_dob": D(1990, 12, 1), "postcode": POSTCODE_B},
        {"record_id": E, "nhs_number": nhs(4), "forename": "Jack", "surname": "Jones", "dob": D(2011, 2, 2), "sex": "1",
         "multiplicity": 1, "birth_order": 1, "postcode": POSTCODE_A},
        {"record_id": C, "nhs_number": nhs(5), "forename": "Ayaan", "surname": "Rahman", "dob": C_DOB, "sex": "1",
         "birthweight_g": 3500, "gestation_weeks": 40, "multiplicity": 1, "birth_order": 1, "postcode": "ZZ9 9ZZ"},
    ])


def postcodes() -> pl.DataFrame:
    return clean("postcodes", [
        {"postcode": POSTCODE_A, "easting": 529090.0, "northing": 179645.0, "lsoa11cd": "E01004736", "lad_code": "E09000033", "la_code": "213"},
        {"postcode": POSTCODE_B, "easting": 384000.0, "northing": 398000.0, "lsoa11cd": "E01005131", "lad_code": "E08000003", "la_code": "352"},
    ]).select("postcode", "easting", "northing", "lsoa11cd", "lad_code", "la_code")


def lsoa_imd() -> pl.DataFrame:
    return pl.DataFrame({"lsoa11cd": ["E01004736", "E01005131"], "imd_decile": [9, 1]})


def deaths() -> pl.DataFrame:
    return clean("deaths", [
        {"record_id": "DR0000001", "nhs_number": nhs(2), "forename": "Kwame", "surname": "Mensah", "dob": B_DOB, "sex": "1",
         "dod": D(2010, 12, 10), "underlying_cause": "P072", "postcode": POSTCODE_B, "registration_date": D(2010, 12, 15)},
    ])


def _hes(record_id, epistart, **kw):
    return {"record_id": record_id, "dob": kw.pop("dob", A_DOB), "sex": "2", "epistart": epistart, "epitype": "1",
            "epiorder": 1, "admimeth": "21", "procode3": "RJ1", "homeadd": POSTCODE_A, **kw}


def hes_apc() -> pl.DataFrame:
    mum = {"dob": D(1985, 3, 20), "newnhsno": nhs(90)}
    return clean("hes_apc", [
        _hes("EP00000001", D(2011, 2, 20), admidate=D(2011, 2, 19), epiend=D(2011, 2, 24), newnhsno=nhs(1), ethnos="H",
             diag_4_01="J219", opertn_4_01="-"),
        _hes("EP00000008", D(2012, 7, 1), epiend=D(2012, 7, 1), ethnos="H", diag_4_01="S525", opertn_4_01="W242"),
        _hes("EP00000002", D(2009, 6, 1), epiend=D(2009, 6, 3), diag_4_01="O210", **mum),   # 11 months before: in
        _hes("EP00000003", D(2009, 5, 15), epiend=D(2009, 5, 16), diag_4_01="O470", **mum),  # exactly 12 months: out
        _hes("EP00000004", D(2009, 5, 16), epiend=D(2009, 5, 17), diag_4_01="O244", **mum),  # a day inside: in
        _hes("EP00000005", D(2010, 5, 14), epiend=D(2010, 5, 17), epitype="2", admimeth="31", diag_4_01="O800",
             delmeth_1="0", numbaby=1, **mum),                                                 # the delivery: in
        _hes("EP00000006", D(2010, 6, 1), epiend=D(2010, 6, 2), diag_4_01="O864", **mum),   # after the birth: out
        _hes("EP00000007", D(2010, 3, 1), epiend=D(2010, 3, 2), diag_4_01="J459", dob=D(1970, 1, 1)),  # unlinked
    ])


def mhsds() -> pl.DataFrame:
    return clean("mhsds", [
        {"record_id": "MH00000001", "nhs_number": nhs(1), "dob": A_DOB, "sex": "2", "postcode": POSTCODE_A,
         "referral_date": D(2015, 3, 10), "source_of_referral": "A1", "primary_reason": "06", "service_type": "C06",
         "discharge_date": D(2015, 6, 1), "provider_code": "RX4"},
        {"record_id": "MH00000002", "nhs_number": nhs(1), "dob": A_DOB, "sex": "2", "referral_date": D(2019, 1, 5),
         "source_of_referral": "C1", "primary_reason": "17", "service_type": "C01", "provider_code": "RX4"},
    ])


def npd_census() -> pl.DataFrame:
    base = {"upn": upn(1), "forename": "Zoe", "surname": "O'Brien-Smith", "dob": A_DOB, "sex": "F",
            "postcode": POSTCODE_A, "urn": "100001", "la_code": "213", "ncyear": "R", "fsm_eligible": "1",
            "sen_provision": "N", "ethnicity": "WBRI", "first_language": "ENG"}
    return clean("npd_census", [
        {**base, "record_id": "NP00000001", "academic_year": 2015},
        {**base, "record_id": "NP00000002", "academic_year": 2016, "ncyear": "1", "sen_provision": "K"},
        {**base, "record_id": "NP00000003", "upn": upn(5), "forename": "Ayaan", "surname": "Rahman", "dob": C_DOB,
         "sex": "M", "academic_year": 2014, "ethnicity": "WBRI", "la_code": "352"},
    ])


def npd_ks2() -> pl.DataFrame:
    return clean("npd_ks2", [{"record_id": "KS20000001", "upn": upn(1), "dob": A_DOB, "sex": "F", "academic_year": 2020,
                              "ks2_read_scaled": 105, "ks2_mat_scaled": 98}])


def npd_ks4() -> pl.DataFrame:
    return clean("npd_ks4", [{"record_id": "KS40000001", "upn": upn(1), "dob": A_DOB, "sex": "F", "academic_year": 2025,
                              "att8": 50.5, "ebacc_entered": "1"}])


def cla() -> pl.DataFrame:
    base = {"la_code": "213", "child_id": "LA213CHILD77", "upn": upn(1), "nhs_number": nhs(1), "sex": "2", "dob": A_DOB,
            "ethnic": "WBRI", "home_post": POSTCODE_A, "pl_post": POSTCODE_B}
    return clean("cla", [
        {**base, "record_id": "CL00000001", "decom": D(2014, 9, 1), "rne": "S", "ls": "V2", "cin": "N1", "place": "U4",
         "dec": D(2015, 9, 1), "rec": "X1"},
        {**base, "record_id": "CL00000002", "decom": D(2015, 9, 1), "rne": "L", "ls": "C2", "cin": "N1", "place": "U4"},
    ])


def _census(dataset, rows):
    return clean(dataset, [{"tenure": "2", "nssec_hrp": "7", "occupancy_rating": -1, **r} for r in rows])


def census_2011() -> pl.DataFrame:
    return _census("census_2011", [
        {"record_id": "CE11000001", "household_id": "HH11000001", "forename": "Zoe", "surname": "O'Brien-Smith",
         "dob": A_DOB, "sex": "2", "postcode": POSTCODE_A, "ethnic_group": "1", "relationship_to_hrp": "Child"},
        {"record_id": "CE11000002", "household_id": "HH11000001", "forename": "Siân", "surname": "O'Brien",
         "dob": D(1985, 3, 20), "sex": "2", "postcode": POSTCODE_A, "ethnic_group": "1", "relationship_to_hrp": "Household reference person"},
        {"record_id": "CE11000003", "household_id": "HH11000001", "forename": "Liam", "surname": "O'Brien",
         "dob": D(1983, 1, 2), "sex": "1", "postcode": POSTCODE_A, "ethnic_group": "2", "relationship_to_hrp": "Partner"},
    ])


def census_2021() -> pl.DataFrame:
    return _census("census_2021", [
        {"record_id": "CE21000001", "household_id": "HH21000001", "forename": "Ayaan", "surname": "Rahman", "dob": C_DOB,
         "sex": "1", "postcode": POSTCODE_B, "ethnic_group": "1", "tenure": "3", "relationship_to_hrp": "Child"},
        {"record_id": "CE21000002", "household_id": "HH21000001", "forename": "Nadia", "surname": "Rahman",
         "dob": D(1988, 4, 4), "sex": "2", "postcode": POSTCODE_B, "ethnic_group": "1", "relationship_to_hrp": "Household reference person"},
    ])


def survey_raw() -> pl.DataFrame:
    """Before consent: A (child) and A's mother consented; B asked for deletion; C withdrew consent to
    everything and was removed by the consent step (absent from `survey_after_consent`)."""
    base = {"consent_health": "Y", "consent_hmrc": "N", "consent_dwp": "N", "deletion_requested": "N", "sex": "2",
            "postcode": POSTCODE_A}
    return clean("survey", [
        {**base, "record_id": "SV00000001", "study_id": "S0000001", "family_id": "FAM00001", "role": "child",
         "forename": "Zoe", "surname": "O'Brien-Smith", "dob": A_DOB, "wave1_sdq_total": 12},
        {**base, "record_id": "SV00000002", "study_id": "S0000002", "family_id": "FAM00001", "role": "mother",
         "forename": "Siân", "surname": "O'Brien", "dob": D(1985, 3, 20), "wave1_sdq_total": 8},
        {**base, "record_id": "SV00000003", "study_id": "S0000003", "family_id": "FAM00002", "role": "child",
         "forename": "Kwame", "surname": "Mensah", "dob": B_DOB, "sex": "1", "deletion_requested": "Y", "wave1_sdq_total": 30},
        {**base, "record_id": "SV00000004", "study_id": "S0000004", "family_id": "FAM00003", "role": "child",
         "forename": "Ayaan", "surname": "Rahman", "dob": C_DOB, "sex": "1", "wave1_sdq_total": 20},
    ])


def survey_after_consent() -> pl.DataFrame:
    """As the consent step leaves it, except that B's deletion request slipped through (the research
    function must still drop it) and C's row was removed."""
    return survey_raw().filter(pl.col("record_id") != "SV00000004")


def the_link_map() -> pl.DataFrame:
    return link_map([
        ("births", A, A, "child", "spine"),
        ("births", "BR0000003", A, "child", "spine_duplicate"),
        ("births", B, B, "child", "spine"),
        ("births", C, C, "child", "spine"),
        ("births", E, E, "child", "spine"),
        ("deaths", "DR0000001", B, "child", "nhs_dob_sex"),
        ("hes_apc", "EP00000001", A, "child", "nhs_dob_sex"),
        ("hes_apc", "EP00000008", A, "child", "probabilistic", 0.91),
        *[("hes_apc", f"EP0000000{i}", A, "mother", "mother_nhs") for i in (2, 3, 4, 6)],
        ("hes_apc", "EP00000005", A, "mother", "mother_baby_delivery", 0.998),
        ("hes_apc", "EP00000007", None, "child", "unlinked"),
        ("mhsds", "MH00000001", A, "child", "nhs_dob_sex"),
        ("mhsds", "MH00000002", A, "child", "probabilistic", 0.97),
        ("npd_census", "NP00000001", A, "child", "probabilistic", 0.99),
        ("npd_census", "NP00000002", A, "child", "upn_via_npd"),
        ("npd_census", "NP00000003", C, "child", "probabilistic", 0.95),
        ("npd_ks2", "KS20000001", A, "child", "upn_via_npd"),
        ("npd_ks4", "KS40000001", A, "child", "upn_via_npd"),
        ("cla", "CL00000001", A, "child", "nhs_dob_sex"),
        ("cla", "CL00000002", A, "child", "care_record"),
        ("census_2011", "CE11000001", A, "child", "probabilistic", 0.93),
        ("census_2011", "CE11000002", None, "child", "unlinked"),
        ("census_2011", "CE11000003", None, "child", "unlinked"),
        ("census_2021", "CE21000001", C, "child", "probabilistic", 0.96),
        ("census_2021", "CE21000002", None, "child", "unlinked"),
        ("survey", "SV00000001", A, "child", "probabilistic", 0.99),
        ("survey", "SV00000002", A, "mother", "survey_family", 0.99),
        ("survey", "SV00000003", B, "child", "probabilistic", 0.98),
        ("survey", "SV00000004", C, "child", "probabilistic", 0.97),
    ])


def exposures_yearly_frame() -> pl.DataFrame:
    """As `exposures.assign.yearly_exposures` makes it, for A and E."""
    from cohort_platform.cohort.columns import EXPOSURES

    row = {"person_id": A, "year": 2011}
    for suffix in ("home", "school"):
        row[f"days_{suffix}"] = 365
        for e in EXPOSURES:
            row[f"{e}_{suffix}"] = 20.0
            row[f"{e}_days_{suffix}"] = 365
    other = {**row, "person_id": E}
    return pl.DataFrame([row, other]).with_columns(pl.col("year").cast(pl.Int32))


def exposures_pregnancy_frame() -> pl.DataFrame:
    from cohort_platform.cohort.columns import EXPOSURES

    row = {"person_id": A, "trimester": "T1", "gestation_assumed": False, "days": 90}
    for e in EXPOSURES:
        row[e] = 15.0
        row[f"{e}_days"] = 90
    return pl.DataFrame([row])


def frames() -> dict[str, pl.DataFrame]:
    """Every input of `research.build_research_table`, by name."""
    return {
        "births": births(), "postcodes": postcodes(), "lsoa_imd": lsoa_imd(), "deaths": deaths(), "hes_apc": hes_apc(),
        "mhsds": mhsds(), "npd_census": npd_census(), "npd_ks2": npd_ks2(), "npd_ks4": npd_ks4(), "cla": cla(),
        "census_2011": census_2011(), "census_2021": census_2021(), "survey": survey_after_consent(),
        "yearly": exposures_yearly_frame(), "pregnancy": exposures_pregnancy_frame(),
    }
