"""DfE and local authority extracts: NPD spring census, key stage 2 and 4 results, looked-after children.

Pupil characteristics come from child-level latent traits so that they persist from year to year:
free school meals follow deprivation of the current home plus a family propensity; special
educational needs follow a need score (EHC plans ~3%, SEN support ~12%, boys more); attainment
follows an ability score that falls with deprivation and need. KS2 was not sat in 2019/20 and
2020/21. The CLA return comes from each child's LA at the start of the period of care.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from cohort_platform.synth.days import days_from_ymd
from cohort_platform.synth.extracts import dates, file_names, gather, npd_ethnicity, person_view, record_ids
from cohort_platform.synth.population import Population, labels

NO_KS2_YEARS = (2019, 2020)
OTHER_LANGUAGE_SHARE = {"WBRI": 0.0, "WIRI": 0.02, "WOTH": 0.65, "MWBC": 0.02, "MWBA": 0.2, "MWAS": 0.25,
                        "MOTH": 0.2, "AIND": 0.55, "APKN": 0.75, "ABAN": 0.8, "AOTH": 0.7, "BCRB": 0.03,
                        "BAFR": 0.55, "BOTH": 0.4, "CHNE": 0.65, "OOTH": 0.75}


def _year_files(prefix: str, academic_year: np.ndarray) -> pl.Series:
    """One file per academic year, named like `npd_census_2016-17.csv`."""
    distinct, inverse = np.unique(academic_year, return_inverse=True)
    return labels([f"{prefix}_{y}-{(y + 1) % 100:02d}.csv" for y in distinct], inverse, "_file")


def _child_traits(pop: Population, seed_rng: np.random.Generator) -> pl.DataFrame:
    """Per child (rows of pop.persons with role child): need, ability, FSM propensity, language, NPD ethnicity."""
    ch = pop.children()
    n = ch.height
    rng = seed_rng
    sex = ch["sex"].to_numpy()
    need = rng.normal(0, 1, n) + np.where(sex == 1, 0.3, 0.0)
    fam = ch["family"].to_numpy()
    birth_pc = pop.residence.postcode_at(fam, ch["dob"].to_numpy())
    imd = pop.geo.lsoas["imd_decile"].to_numpy()[pop.geo.postcode_lsoa[birth_pc]]
    family_fsm = rng.normal(0, 1, pop.families.height)[fam]
    ability = rng.normal(0, 1, n) + 0.08 * (imd - 5.5) - 0.35 * (need > 1.1) - 1.0 * (need > 1.9)
    share = ch["ethnicity"].replace_strict(OTHER_LANGUAGE_SHARE, return_dtype=pl.Float64).to_numpy()
    u = rng.random(n)
    language = labels(["UNK", "OTH", "ENG"], np.where(u < 0.01, 0, np.where(rng.random(n) < share, 1, 2)))
    return pl.DataFrame({
        "person_id": ch["person_id"], "need": need, "ability": ability, "family_fsm": family_fsm,
        "first_language": language, "npd_ethnicity": npd_ethnicity(ch["ethnicity"], rng, 0.025),
    })


def npd_census(pop: Population, rng: np.random.Generator) -> pl.DataFrame:
    s = pop.schooling
    if s.height == 0:
        return pl.DataFrame(schema={"ncyear": pl.Utf8, "academic_year": pl.Int32})
    traits = _child_traits(pop, rng)
    s = s.join(traits, on="person_id", how="left", maintain_order="left")
    n = s.height
    view = person_view(pop, s["person_id"].to_numpy() - 1, s["census_day"].to_numpy())
    imd_now = pop.geo.lsoas["imd_decile"].to_numpy()[pop.geo.postcode_lsoa[s["postcode"].to_numpy()]]
    logit = -1.9 + 0.3 * (5.5 - imd_now) + 1.3 * s["family_fsm"].to_numpy() + rng.normal(0, 0.5, n)
    fsm = labels(["0", "1"], (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64))
    need = s["need"].to_numpy()
    ncyear = s["ncyear"].to_numpy()
    sen = labels(["E", "K", "N"], np.where((need > 1.9) & (ncyear >= 1), 0,
                                            np.where((need > 1.1) & (rng.random(n) < 0.85), 1, 2)))
    return pl.DataFrame({
        "record_id": record_ids(rng, "", n, width=11),
        "upn": s["upn"], "forename": view["forename"], "_known_as": view["_known_as"],
        "surname": view["surname"], "_surname_prev": view["_surname_prev"], "dob": view["dob"],
        "sex": view["sex"].replace_strict({1: "M", 2: "F"}, return_dtype=pl.Utf8),
        "postcode": view["_postcode"], "_postcode_prev": view["_postcode_prev"],
        "urn": s["urn"], "la_code": s["la_code"], "academic_year": s["academic_year"],
        "ncyear": labels(["R"] + [str(y) for y in range(1, 12)], ncyear),
        "fsm_eligible": fsm, "sen_provision": sen, "ethnicity": s["npd_ethnicity"],
        "first_language": s["first_language"],
        "person_id": view["person_id"], "role": view["role"],
        "_file": _year_files("npd_census", s["academic_year"].to_numpy()),
        "_need": need, "_ability": s["ability"],
    })


def _results_rows(pop: Population, census: pl.DataFrame, ncyear: str, result_month_day: tuple[int, int],
                  skip_years: tuple[int, ...] = ()) -> pl.DataFrame:
    rows = census.filter((pl.col("ncyear") == ncyear) & ~pl.col("academic_year").is_in(list(skip_years)))
    results = days_from_ymd(rows["academic_year"].to_numpy() + 1, *result_month_day)
    return rows.filter(pl.Series(results <= pop.cutoff_day))


def npd_ks2(pop: Population, rng: np.random.Generator, census: pl.DataFrame) -> pl.DataFrame:
    """Year 6 pupils in the true census (before noise), results published in July."""
    rows = _results_rows(pop, census, "6", (7, 10), NO_KS2_YEARS)
    n = rows.height
    if n == 0:
        return pl.DataFrame()
    z = rows["_ability"].to_numpy()
    absent_e = (rows["_need"].to_numpy() > 1.9) & (rng.random(n) < 0.3)

    def score() -> pl.Series:
        v = np.clip(np.round(104 + 6.5 * (0.8 * z + 0.6 * rng.normal(0, 1, n))), 80, 120).astype(np.int64)
        missing = absent_e | (rng.random(n) < 0.02)
        return pl.select(pl.when(pl.Series(~missing)).then(pl.Series(v))).to_series()

    return pl.DataFrame({
        "record_id": record_ids(rng, "K2", n, width=10), "upn": rows["upn"], "dob": rows["dob"], "sex": rows["sex"],
        "academic_year": rows["academic_year"], "ks2_read_scaled": score(), "ks2_mat_scaled": score(),
        "person_id": rows["person_id"], "role": rows["role"],
        "_file": _year_files("npd_ks2", rows["academic_year"].to_numpy()),
    })


def npd_ks4(pop: Population, rng: np.random.Generator, census: pl.DataFrame) -> pl.DataFrame:
    """Year 11 pupils, results published in late August."""
    rows = _results_rows(pop, census, "11", (8, 25))
    n = rows.height
    if n == 0:
        return pl.DataFrame()
    z = rows["_ability"].to_numpy()
    att8 = np.clip(np.round((46 + 16 * (0.85 * z + 0.5 * rng.normal(0, 1, n))) * 2) / 2, 0, 90)
    ebacc = labels(["0", "1"], (rng.random(n) < 1 / (1 + np.exp(-(1.5 * z - 0.4)))).astype(np.int64))
    return pl.DataFrame({
        "record_id": record_ids(rng, "K4", n, width=10), "upn": rows["upn"], "dob": rows["dob"], "sex": rows["sex"],
        "academic_year": rows["academic_year"], "att8": att8, "ebacc_entered": ebacc,
        "person_id": rows["person_id"], "role": rows["role"],
        "_file": _year_files("npd_ks4", rows["academic_year"].to_numpy()),
    })


def cla(pop: Population, rng: np.random.Generator) -> pl.DataFrame:
    c = pop.care
    n = c.height
    if n == 0:
        return pl.DataFrame()
    pidx = c["person_id"].to_numpy() - 1
    decom = c["decom"].to_numpy()
    view = person_view(pop, pidx, decom)
    # the UPN is known once the child has one (allocated at school entry, about September)
    first_school = pop.schooling.group_by("person_id").agg(pl.col("census_day").min().alias("first_census"))
    known = c.select("person_id").join(first_school, on="person_id", how="left", maintain_order="left")["first_census"]
    upn_known = (known.fill_null(2**31 - 1).to_numpy() - 140) <= decom
    upn = pop.persons["upn"].gather(pl.Series(pidx))
    upn = pl.select(pl.when(pl.Series(upn_known)).then(upn)).to_series()
    # the LA's own child id: one per child and LA
    pairs = c.select("person_id", "la_code").unique(maintain_order=True)
    pairs = pairs.with_columns(record_ids(rng, "", pairs.height, width=7).alias("child_id"))
    child_id = c.join(pairs, on=["person_id", "la_code"], how="left", maintain_order="left")["child_id"]
    pc = pop.geo.postcodes["postcode"]
    return pl.DataFrame({
        "record_id": record_ids(rng, "CLA", n, width=9), "la_code": c["la_code"],
        "child_id": pl.Series(c["la_code"] + "-" + child_id), "upn": upn, "nhs_number": view["nhs_number"],
        "sex": view["sex"].cast(pl.Utf8), "dob": view["dob"], "ethnic": npd_ethnicity(view["ethnicity"], rng, 0.03),
        "decom": dates("decom", decom), "rne": c["rne"], "ls": c["ls"], "cin": c["cin"], "place": c["place"],
        "home_post": view["_postcode"], "_home_post_prev": view["_postcode_prev"],
        "pl_post": gather(pc, c["placement_postcode"].to_numpy(), "pl_post"),
        "dec": dates("dec", c["dec"].to_numpy()), "rec": c["rec"],
        "person_id": view["person_id"], "role": view["role"],
        "_file": file_names("cla_{:03d}.csv", c["la_code"].cast(pl.Int64).to_numpy()),
    })

