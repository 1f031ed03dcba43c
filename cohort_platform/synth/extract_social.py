"""Household and survey extracts: the 2011 and 2021 censuses and a longitudinal survey of families.

Census: every family whose address history covers census day is a household (mother, her children
born by then and alive and not in care that day, and the father for the ~80% of partnered families
that live together); ~6% of households and ~1.5% of people are missed. Household characteristics
(tenure, NS-SEC of the reference person, occupancy) follow the area's deprivation.

Survey: ~2% of families are recruited when their first child in the window is 3 to 5; the study
child (and twins), the mother and, for two partnered families in three, the father take part. Health
consent is refused by ~15% of families; a few withdraw later and some of those ask for deletion.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from cohort_platform.synth import vocab
from cohort_platform.synth.days import DAYS_PER_YEAR, NEVER, day
from cohort_platform.synth.extracts import dates, map_codes, person_view, record_ids
from cohort_platform.synth.population import Population, labels

CENSUS_DAYS = {"census_2011": dt.date(2011, 3, 27), "census_2021": dt.date(2021, 3, 21)}
CENSUS_GROUPS = {"census_2011": vocab.CENSUS_2011_GROUP, "census_2021": vocab.CENSUS_2021_GROUP}
COVERAGE = {"household": 0.94, "person": 0.985, "father_coresident": 0.8}


def _in_care_on(pop: Population, when: int) -> np.ndarray:
    c = pop.care
    on = (c["decom"] <= when) & (c["dec"] >= when)
    return c.filter(on)["person_id"].unique().to_numpy()


def census(pop: Population, rng: np.random.Generator, name: str) -> pl.DataFrame:
    census_day = CENSUS_DAYS[name]
    when = day(census_day)
    if when > pop.cutoff_day:
        return pl.DataFrame()
    p = pop.persons.with_row_index("i")
    fam = pop.families
    n_fam = fam.height
    counted = rng.random(n_fam) < COVERAGE["household"]
    coresident = rng.random(n_fam) < COVERAGE["father_coresident"]
    has_home = pop.residence.postcode_at(np.arange(n_fam), np.full(n_fam, when)) >= 0
    alive = (p["dob"] <= when) & (p["dod"] > when)
    members = p.filter(alive & ~pl.col("person_id").is_in(pl.Series(_in_care_on(pop, when)).implode()))
    family = members["family"].to_numpy()
    role = members["role"].to_numpy()
    keep = counted[family] & has_home[family] & ((role != "father") | coresident[family]) \
        & (rng.random(members.height) < COVERAGE["person"])
    members = members.filter(pl.Series(keep))
    # a household needs an adult: drop children whose mother and father are both absent
    adults = members.filter(pl.col("role") != "child")["family"].unique()
    members = members.filter(pl.col("family").is_in(adults.implode()))
    n = members.height
    if n == 0:
        return pl.DataFrame()
    # households together, split into two delivery files by household: each file one block of rows
    fam = members["family"].to_numpy()
    role_rank = members["role"].replace_strict({"mother": 0, "father": 1, "child": 2}, return_dtype=pl.Int8).to_numpy()
    members = members[np.lexsort((members["dob"].to_numpy(), role_rank, fam, fam % 2))]
    view = person_view(pop, members["i"].to_numpy(), np.full(n, when))
    family = members["family"].to_numpy()
    role = members["role"].to_numpy()

    # household-level characteristics
    pc = pop.residence.postcode_at(np.arange(n_fam), np.full(n_fam, when))
    imd = pop.geo.lsoas["imd_decile"].to_numpy()[pop.geo.postcode_lsoa[np.maximum(pc, 0)]]
    d = (imd - 1) / 9.0
    u = rng.random(n_fam)
    owned, social = 0.3 + 0.5 * d, 0.38 - 0.33 * d
    tenure = np.where(u < owned, 1, np.where(u < owned + social, 2, np.where(u < 0.98, 3, 4)))
    nssec = np.clip(np.round(rng.normal(6.5 - 4.5 * d, 1.8, n_fam)), 1, 9).astype(int)
    occupancy = np.clip(np.round(rng.normal(0.2 + 1.0 * d, 0.9, n_fam)), -2, 2).astype(int)
    hh_ids = record_ids(rng, "H", n_fam, width=9)
    father_hrp = rng.random(n_fam) < 0.5
    has_father = np.zeros(n_fam, dtype=bool)
    has_father[family[role == "father"]] = True
    has_mother = np.zeros(n_fam, dtype=bool)
    has_mother[family[role == "mother"]] = True
    married = rng.random(n_fam) < 0.6
    hrp_is_father = has_father & (father_hrp | ~has_mother)
    relationship = labels(
        ["Child", "Stepchild", "Household reference person", "Husband or wife", "Partner"],
        np.where(role == "child", (rng.random(n) < 0.03).astype(np.int64),
                 np.where((role == "father") == hrp_is_father[family], 2, np.where(married[family], 3, 4))))
    ethnic = map_codes(view["ethnicity"], CENSUS_GROUPS[name], "ethnic_group")
    ethnic = pl.select(pl.when(pl.Series(rng.random(n) < 0.02)).then(None).otherwise(ethnic)).to_series()
    frame = pl.DataFrame({
        "record_id": record_ids(rng, "", n, width=10), "household_id": hh_ids.gather(pl.Series(family)),
        "forename": view["forename"], "_known_as": view["_known_as"], "surname": view["surname"],
        "dob": view["dob"], "sex": view["sex"].cast(pl.Utf8), "postcode": view["_postcode"],
        "ethnic_group": ethnic, "tenure": labels(["0", "1", "2", "3", "4"], tenure[family]),
        "nssec_hrp": labels([str(i) for i in range(10)], nssec[family]),
        "occupancy_rating": occupancy[family], "relationship_to_hrp": relationship,
        "person_id": view["person_id"], "role": view["role"],
        "_file": labels([f"{name}_part1.csv", f"{name}_part2.csv"], family % 2),
    })
    return frame


def census_2011(pop: Population, rng: np.random.Generator) -> pl.DataFrame:
    return census(pop, rng, "census_2011")


def census_2021(pop: Population, rng: np.random.Generator) -> pl.DataFrame:
    return census(pop, rng, "census_2021")


def survey(pop: Population, rng: np.random.Generator) -> pl.DataFrame:
    fam = pop.families
    n_fam = fam.height
    wave1 = (fam["first_maternity"].to_numpy().astype(np.int64)
             + ((3 + 2 * rng.random(n_fam)) * DAYS_PER_YEAR).astype(np.int64))
    mother_i = fam["mother_id"].to_numpy() - 1
    alive = pop.persons["dod"].to_numpy()[mother_i] > wave1
    chosen = (rng.random(n_fam) < 0.02) & (wave1 <= pop.cutoff_day) & alive
    f = np.flatnonzero(chosen)
    if len(f) == 0:
        return pl.DataFrame()
    mats = pop.maternities.filter(pl.col("family").is_in(pl.Series(f).implode()))
    first_mat = mats.group_by("family").agg(pl.col("maternity").min())
    p = pop.persons.with_row_index("i")
    kids = p.filter(pl.col("maternity").is_in(first_mat["maternity"].implode()))
    fathers_take_part = rng.random(n_fam) < 0.65
    parents = p.filter(((pl.col("role") == "mother") | (pl.col("role") == "father"))
                       & pl.col("family").is_in(pl.Series(f).implode()))
    parents = parents.filter((pl.col("role") == "mother") | pl.Series(fathers_take_part[parents["family"].to_numpy()]))
    members = pl.concat([kids, parents]).sort("family", "role")
    family = members["family"].to_numpy()
    when = wave1[family]
    members = members.filter(pl.Series(members["dod"].to_numpy() > when))
    family = members["family"].to_numpy()
    when = wave1[family]
    n = members.height
    view = person_view(pop, members["i"].to_numpy(), when)
    role = members["role"].to_numpy()
    health_no = rng.random(n_fam) < 0.15
    consent_health = np.where(health_no[family] ^ (rng.random(n) < 0.02), "N", "Y")
    consent_hmrc = np.where(rng.random(n) < 0.7, "Y", "N")
    consent_dwp = np.where(rng.random(n) < 0.75, "Y", "N")
    withdrawn = rng.random(n_fam) < 0.03
    withdraw_day = wave1 + (rng.random(n_fam) * np.maximum(pop.cutoff_day - wave1, 1)).astype(np.int64)
    withdraw_day = np.where(withdrawn & (withdraw_day <= pop.cutoff_day), withdraw_day, NEVER)
    deletion = withdrawn & (withdraw_day != NEVER) & (rng.random(n_fam) < 0.3)
    sdq = np.where(role == "child", np.clip(np.round(rng.gamma(2.2, 3.8, n)), 0, 40), np.nan)
    family_ids = record_ids(rng, "F", n_fam, width=6)
    return pl.DataFrame({
        "record_id": record_ids(rng, "SV", n, width=8), "study_id": record_ids(rng, "S", n, width=7),
        "family_id": family_ids.gather(pl.Series(family)), "role": role,
        "forename": view["forename"], "_known_as": view["_known_as"], "surname": view["surname"],
        "dob": view["dob"], "sex": view["sex"].cast(pl.Utf8), "postcode": view["_postcode"],
        "consent_health": consent_health, "consent_hmrc": consent_hmrc, "consent_dwp": consent_dwp,
        "withdrawn_date": dates("withdrawn_date", withdraw_day[family]),
        "deletion_requested": np.where(deletion[family], "Y", "N"),
        "wave1_sdq_total": pl.Series(sdq).fill_nan(None).cast(pl.Int64),
        "person_id": view["person_id"],
        "_file": pl.Series(np.full(n, "survey_wave1.csv")),
    })

