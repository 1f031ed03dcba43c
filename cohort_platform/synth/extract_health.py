"""NHS and ONS extracts: births, deaths, HES admitted patient care, MHSDS referrals, opt-out snapshots.

Health events are drawn here rather than in the population because only these providers see them:

- HES: a birth episode (epitype 3) for every baby, a delivery episode (epitype 2) for every maternity,
  antenatal admissions for ~20% of pregnancies in the nine months before birth, and child admissions
  at age-specific rates (about 0.3 a year in infancy, 0.06-0.1 later; more in deprived areas), each
  with a plausible ICD-10 diagnosis for the age and sometimes an OPCS-4 procedure.
- MHSDS (from 2016, when it began): referrals at rates rising with age (~8% of children referred by
  18), three times higher for looked-after children, plus perinatal referrals of ~4% of mothers.
- Opt-outs: families (and some individuals) opt out from May 2018, some opt back in; three snapshots.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from cohort_platform.synth import vocab
from cohort_platform.synth.days import DAYS_PER_YEAR, NEVER, add_years, day, ymd
from cohort_platform.synth.extracts import (dates, file_names, la_trust_codes, map_codes, person_view, record_ids,
                                            sort_by_days, weighted_codes, where)
from cohort_platform.synth.population import Population, categorical, labels

HES_RATES = {"antenatal": 0.2, "ethnos_unknown": 0.07, "ethnos_not_stated": 0.03,
             "child_admissions_by_age": (0.30, 0.14, 0.09, 0.09, 0.09, 0.06, 0.06, 0.06, 0.06, 0.06,
                                         0.06, 0.06, 0.06, 0.07, 0.08, 0.08, 0.09, 0.09)}
MHSDS_START = dt.date(2016, 1, 1)
MHSDS_RATES_BY_AGE = (0.0008,) * 5 + (0.003,) * 5 + (0.006,) * 2 + (0.011,) * 4 + (0.013,) * 2
NDOP_START = dt.date(2018, 5, 25)


def _financial_year(days: np.ndarray) -> np.ndarray:
    y, m, _ = ymd(days)
    return np.where(m >= 4, y, y - 1)


def _fy_files(prefix: str, days: np.ndarray) -> pl.Series:
    fy = _financial_year(days)
    distinct, inverse = np.unique(fy, return_inverse=True)
    return labels([f"{prefix}_{y}-{(y + 1) % 100:02d}.csv" for y in distinct], inverse, "_file")


# ---------------------------------------------------------------------------------------- births
def births(pop: Population, rng: np.random.Generator) -> pl.DataFrame:
    ch = pop.persons.with_row_index("i").filter((pl.col("role") == "child") & (pl.col("registration") <= pop.cutoff_day))
    i = ch["i"].to_numpy()
    dob = ch["dob"].to_numpy()
    child = person_view(pop, i, dob)
    mother_i = ch["mother_id"].to_numpy() - 1
    mother = person_view(pop, mother_i, dob)
    return pl.DataFrame({
        "record_id": record_ids(rng, "BR", len(i)),
        "nhs_number": child["nhs_number"], "forename": child["forename"], "surname": child["surname"],
        "dob": child["dob"], "sex": child["sex"].cast(pl.Utf8),
        "birthweight_g": ch["birthweight_g"], "gestation_weeks": ch["gestation_weeks"],
        "multiplicity": ch["multiplicity"], "birth_order": ch["birth_order"],
        "mother_nhs_number": mother["nhs_number"], "mother_forename": mother["forename"],
        "mother_surname": mother["surname"], "mother_dob": mother["dob"],
        "postcode": child["_postcode"], "place_of_birth": ch["place_of_birth"],
        "registration_date": dates("registration_date", ch["registration"].to_numpy()),
        "person_id": child["person_id"], "role": child["role"],
        "_file": file_names("births_{}.csv", ch["birth_year"].to_numpy()),
    })


# ---------------------------------------------------------------------------------------- deaths
def deaths(pop: Population, rng: np.random.Generator) -> pl.DataFrame:
    dead = pop.persons.with_row_index("i").filter(pl.col("dod") != int(NEVER))
    i = dead["i"].to_numpy()
    dod = dead["dod"].to_numpy().astype(np.int64)
    n = len(i)
    delay = np.where(rng.random(n) < 0.06, rng.integers(40, 300, n), np.round(rng.gamma(2.0, 3.0, n)) + 1)
    reg = dod + delay.astype(np.int64)
    keep = np.flatnonzero(reg <= pop.cutoff_day)
    keep = keep[np.argsort(reg[keep], kind="stable")]  # in registration order (one file a year)
    i, dod, reg = i[keep], dod[keep], reg[keep]
    n = len(i)
    if n == 0:
        return pl.DataFrame()
    view = person_view(pop, i, dod)
    age_days = dod - dead["dob"].to_numpy()[keep]  # keep: positions in `dead`
    role = view["role"].to_numpy()
    cause = where(role != "child", weighted_codes(rng, vocab.ADULT_DEATH_CAUSES, n),
                  where(age_days < 365, weighted_codes(rng, vocab.INFANT_DEATH_CAUSES, n),
                        weighted_codes(rng, vocab.CHILD_DEATH_CAUSES, n)))
    return pl.DataFrame({
        "record_id": record_ids(rng, "DR", n),
        "nhs_number": view["nhs_number"], "forename": view["forename"], "_known_as": view["_known_as"],
        "surname": view["surname"], "_surname_prev": view["_surname_prev"], "dob": view["dob"],
        "sex": view["sex"].cast(pl.Utf8), "dod": dates("dod", dod), "underlying_cause": cause,
        "postcode": view["_postcode"], "_postcode_prev": view["_postcode_prev"],
        "registration_date": dates("registration_date", reg),
        "person_id": view["person_id"], "role": view["role"],
        "_file": file_names("deaths_{}.csv", ymd(reg)[0]),
    })


# ---------------------------------------------------------------------------------------- HES APC
def _hes_rows(pop: Population, rng: np.random.Generator, person_index: np.ndarray, admidate: np.ndarray,
              epistart: np.ndarray, epiend: np.ndarray, epitype: str, admimeth: pl.Series,
              diags: list[pl.Series | None], opers: list[pl.Series | None], delivery: dict | None,
              epiorder: np.ndarray | None = None) -> pl.DataFrame:
    n = len(person_index)
    view = person_view(pop, person_index, epistart)
    ethnos = map_codes(view["ethnicity"], vocab.HES_ETHNOS, "ethnos")
    u = rng.random(n)
    ethnos = pl.select(pl.when(pl.Series(u < HES_RATES["ethnos_unknown"])).then(pl.lit("99"))
                       .when(pl.Series(u < HES_RATES["ethnos_unknown"] + HES_RATES["ethnos_not_stated"])).then(pl.lit("Z"))
                       .otherwise(ethnos)).to_series()
    cols: dict[str, pl.Series | np.ndarray] = {
        "newnhsno": view["nhs_number"], "dob": view["dob"], "sex": view["sex"].cast(pl.Utf8),
        "homeadd": view["_postcode"], "_homeadd_prev": view["_postcode_prev"], "ethnos": ethnos,
        "admidate": dates("admidate", admidate), "epistart": dates("epistart", epistart),
        "epiend": dates("epiend", np.where(epiend > pop.cutoff_day, NEVER, epiend)),
        "epiorder": pl.Series(np.ones(n, dtype=np.int64) if epiorder is None else epiorder.astype(np.int64)),
        "epitype": labels([epitype], np.zeros(n, dtype=np.int64)),
        "admimeth": admimeth, "procode3": la_trust_codes(pop, view["_pc_index"].to_numpy()),
    }
    for k in range(5):
        v = diags[k] if k < len(diags) else None
        cols[f"diag_4_0{k + 1}"] = _text_or_null(v, n)
    for k in range(3):
        v = opers[k] if k < len(opers) else None
        cols[f"opertn_4_0{k + 1}"] = _text_or_null(v, n)
    for name in ("numbaby", "gestat_1", "birweit_1", "sexbaby_1", "delmeth_1"):
        v = None if delivery is None else delivery[name]
        if name in ("sexbaby_1", "delmeth_1"):
            cols[name] = _text_or_null(v, n)
        else:
            cols[name] = pl.Series(name, np.zeros(n, dtype=np.int64) if v is None else v, dtype=pl.Int64)
            if v is None:
                cols[name] = cols[name].clear(n)
    cols["person_id"] = view["person_id"]
    cols["role"] = view["role"]
    return pl.DataFrame(cols)


def _text_or_null(v: pl.Series | None, n: int) -> pl.Series:
    return pl.Series([None], dtype=pl.Utf8).gather(np.zeros(n, dtype=np.int64)) if v is None else v.cast(pl.Utf8)


def _nothing_or_dash(rng: np.random.Generator, n: int) -> pl.Series:
    """No operation: HES writes "-" in the first operation field, or leaves it empty."""
    return labels(["-", None], (rng.random(n) >= 0.7).astype(np.int64))


def _birth_episodes(pop: Population, rng: np.random.Generator) -> pl.DataFrame:
    p = pop.persons.with_row_index("i").filter(pl.col("role") == "child")
    i, dob = p["i"].to_numpy(), p["dob"].to_numpy().astype(np.int64)
    gest = p["gestation_weeks"].to_numpy()
    n = len(i)
    los = np.where(gest >= 37, categorical(rng, n, [0.3, 0.5, 0.2]),
                   np.where(gest >= 34, rng.integers(2, 11, n), rng.integers(10, 80, n)))
    end = np.minimum(dob + los, p["dod"].to_numpy())
    mult = p["multiplicity"].to_numpy()
    mat = pop.maternities
    delmeth = mat["delmeth"].gather(p["maternity"])
    admimeth = labels(["82", "83"], (p["place_of_birth"] != "hospital").to_numpy().astype(np.int64))
    diag1 = labels([vocab.BIRTH_DIAGNOSIS[m] for m in (1, 2, 3)], np.minimum(mult, 3) - 1)
    diag2 = labels(["P072", "P073", None], np.where(gest < 28, 0, np.where(gest < 37, 1, 2)))
    diag3 = labels(["P599", None], (rng.random(n) >= 0.12).astype(np.int64))
    delivery = {"numbaby": mult.astype(np.int64), "gestat_1": gest.astype(np.int64),
                "birweit_1": p["birthweight_g"].to_numpy().astype(np.int64),
                "sexbaby_1": p["sex"].cast(pl.Utf8), "delmeth_1": delmeth}
    return _hes_rows(pop, rng, i, dob, dob, end, "3", admimeth, [diag1, diag2, diag3],
                     [_nothing_or_dash(rng, n)], delivery)


def _delivery_episodes(pop: Population, rng: np.random.Generator) -> pl.DataFrame:
    mat = pop.maternities
    n = mat.height
    mother_i = mat["mother_id"].to_numpy() - 1
    dob = mat["dob"].to_numpy().astype(np.int64)
    delmeth_s = mat["delmeth"]
    delmeth = delmeth_s.to_numpy()
    caesarean = np.isin(delmeth, ["7", "8"])
    before = np.where(rng.random(n) < 0.2, 1, 0)
    start = dob - before
    los = np.where(caesarean, rng.integers(2, 5, n), rng.integers(0, 3, n))
    end = np.minimum(dob + los, pop.persons["dod"].to_numpy()[mother_i])
    end = np.maximum(end, start)
    admimeth = labels(["12", "31", "21"], np.where(delmeth == "7", 0, np.where(rng.random(n) < 0.88, 1, 2)))
    method = vocab.DELIVERY_METHODS
    diag1 = delmeth_s.replace_strict({d: v[1] for d, v in method.items()}, return_dtype=pl.Utf8)
    oper1 = delmeth_s.replace_strict({d: v[2] for d, v in method.items()}, return_dtype=pl.Utf8)
    mult = mat["multiplicity"].to_numpy()
    m3 = np.minimum(mult, 3) - 1
    diag2 = labels(["Z370", "Z372", "Z375"], m3)
    diag3 = labels([None, "O300", "O301"], m3)
    first = pl.Series(mat["first_child_id"].to_numpy() - 1)
    p = pop.persons
    delivery = {"numbaby": mult.astype(np.int64), "gestat_1": mat["gestation_weeks"].to_numpy().astype(np.int64),
                "birweit_1": p["birthweight_g"].gather(first).to_numpy().astype(np.int64),
                "sexbaby_1": p["sex"].gather(first).cast(pl.Utf8), "delmeth_1": delmeth_s}
    return _hes_rows(pop, rng, mother_i, start, start, end, "2", admimeth, [diag1, diag2, diag3], [oper1], delivery)


def _antenatal_episodes(pop: Population, rng: np.random.Generator) -> pl.DataFrame:
    mat = pop.maternities
    has = rng.random(mat.height) < HES_RATES["antenatal"]
    count = np.where(has, 1 + (rng.random(mat.height) < 0.3), 0)
    rows = np.repeat(np.arange(mat.height), count)
    n = len(rows)
    dob = mat["dob"].to_numpy()[rows].astype(np.int64)
    start = dob - rng.integers(7, 270, n)
    end = np.minimum(start + categorical(rng, n, [0.5, 0.3, 0.15, 0.05]), dob - 1)
    mother_i = mat["mother_id"].to_numpy()[rows] - 1
    diag = weighted_codes(rng, vocab.HES_ANTENATAL, n)
    admimeth = labels(["31", "21"], (rng.random(n) >= 0.8).astype(np.int64))
    return _hes_rows(pop, rng, mother_i, start, start, end, "1", admimeth, [diag], [_nothing_or_dash(rng, n)], None)


def _child_admissions(pop: Population, rng: np.random.Generator) -> pl.DataFrame:
    """Poisson admissions per child and year of age, at age-specific rates, more in deprived areas."""
    p = pop.persons.with_row_index("i").filter(pl.col("role") == "child")
    i, dob, dod = p["i"].to_numpy(), p["dob"].to_numpy().astype(np.int64), p["dod"].to_numpy().astype(np.int64)
    family = p["family"].to_numpy()
    rates = np.array(HES_RATES["child_admissions_by_age"])
    birth_pc = pop.residence.postcode_at(family, dob)
    imd = pop.geo.lsoas["imd_decile"].to_numpy()[pop.geo.postcode_lsoa[birth_pc]]
    frailty = rng.gamma(2.0, 0.5, len(i)) * (1 + 0.04 * (10 - imd))
    ages = len(rates)
    lam = frailty[:, None] * rates[None, :]
    counts = rng.poisson(lam)
    child_row, age = np.nonzero(counts)
    reps = counts[child_row, age]
    child_row, age = np.repeat(child_row, reps), np.repeat(age, reps)
    n = len(child_row)
    start = dob[child_row] + ((age + rng.random(n)) * DAYS_PER_YEAR).astype(np.int64)
    start = np.where(age == 0, np.maximum(start, dob[child_row] + 3), start)
    los = np.where(rng.random(n) < 0.4, 0, 1 + rng.geometric(0.45, n) - 1)
    end = start + los
    keep = (end <= pop.cutoff_day) & (end <= dod[child_row]) & (start < add_years(dob[child_row], 18))
    child_row, age, start, end = child_row[keep], age[keep], start[keep], end[keep]
    n = len(child_row)
    band = np.where(age == 0, 0, np.where(age < 5, 1, 2))
    codes = list(vocab.HES_CHILD_DIAGNOSES)
    diag_idx = np.empty(n, dtype=np.int64)
    for b in range(3):
        rows = np.flatnonzero(band == b)
        w = np.array([v[b] for v in vocab.HES_CHILD_DIAGNOSES.values()])
        diag_idx[rows] = categorical(rng, len(rows), w)
    diag = labels(codes, diag_idx)
    second_idx = np.where(rng.random(n) < 0.25, rng.integers(0, len(vocab.HES_SECONDARY_DIAGNOSES), n),
                          len(vocab.HES_SECONDARY_DIAGNOSES))
    second = labels(list(vocab.HES_SECONDARY_DIAGNOSES) + [None], second_idx)
    oper = diag.replace_strict(vocab.HES_CHILD_PROCEDURES, default=None, return_dtype=pl.Utf8)
    oper = pl.select(pl.coalesce(oper, _nothing_or_dash(rng, n))).to_series()
    elective = np.isin(diag_idx, [codes.index("J350"), codes.index("E109")]) & (rng.random(n) < 0.7)
    admimeth = labels(["11", "12", "21", "22", "23", "24", "28"],
                      np.where(elective, (rng.random(n) >= 0.5).astype(np.int64),
                               2 + categorical(rng, n, [0.55, 0.3, 0.05, 0.05, 0.05])))
    # a consultant transfer splits ~8% of multi-day stays into two episodes of one spell
    split = (end > start) & (rng.random(n) < 0.08)
    at = start + np.floor(rng.random(n) * (end - start)).astype(np.int64)
    first_end = np.where(split, at, end)
    rows = np.concatenate([np.arange(n), np.flatnonzero(split)])
    second_part = np.concatenate([np.zeros(n, dtype=bool), np.ones(split.sum(), dtype=bool)])
    ep_start = np.where(second_part, at[rows], start[rows])
    ep_end = np.where(second_part, end[rows], first_end[rows])
    order = np.argsort(rows, kind="stable")  # each spell's episodes together, in order
    rows, second_part, ep_start, ep_end = rows[order], second_part[order], ep_start[order], ep_end[order]
    take = pl.Series(rows)
    return _hes_rows(pop, rng, i[child_row][rows], start[rows], ep_start, ep_end, "1", admimeth.gather(take),
                     [diag.gather(take), second.gather(take)], [oper.gather(take)], None,
                     epiorder=1 + second_part.astype(np.int64))


def hes_apc(pop: Population, rng: np.random.Generator) -> pl.DataFrame:
    parts = [_birth_episodes(pop, rng), _delivery_episodes(pop, rng), _antenatal_episodes(pop, rng),
             _child_admissions(pop, rng)]
    frame = pl.concat(parts, how="vertical_relaxed")
    frame = frame.filter(pl.col("epistart") <= pl.lit(pop.cutoff))
    frame = frame.with_columns(record_ids(rng, "", frame.height, width=12).alias("record_id"))
    start_days = frame["epistart"].cast(pl.Int32).to_numpy()
    return sort_by_days(frame.with_columns(_fy_files("hes_apc", start_days)), "epistart")


# ---------------------------------------------------------------------------------------- MHSDS
def mhsds(pop: Population, rng: np.random.Generator) -> pl.DataFrame:
    p = pop.persons.with_row_index("i").filter(pl.col("role") == "child")
    i, dob, dod = p["i"].to_numpy(), p["dob"].to_numpy().astype(np.int64), p["dod"].to_numpy().astype(np.int64)
    rates = np.array(MHSDS_RATES_BY_AGE)
    frailty = rng.gamma(0.6, 1 / 0.6, len(i)) * np.where(p["ever_in_care"].to_numpy(), 3.0, 1.0)
    counts = rng.poisson(frailty[:, None] * rates[None, :])
    row, age = np.nonzero(counts)
    reps = counts[row, age]
    row, age = np.repeat(row, reps), np.repeat(age, reps)
    n = len(row)
    referral = dob[row] + ((age + rng.random(n)) * DAYS_PER_YEAR).astype(np.int64)
    person = i[row]
    dead_by = dod[row]
    # perinatal referrals of mothers
    mat = pop.maternities
    has = rng.random(mat.height) < 0.04
    m_i = mat["mother_id"].to_numpy()[has] - 1
    m_ref = mat["dob"].to_numpy()[has].astype(np.int64) + rng.integers(14, 365, has.sum())
    person = np.concatenate([person, m_i])
    referral = np.concatenate([referral, m_ref])
    dead_by = np.concatenate([dead_by, pop.persons["dod"].to_numpy()[m_i].astype(np.int64)])
    keep = (referral >= day(MHSDS_START)) & (referral <= pop.cutoff_day) & (referral < dead_by)
    person, referral, dead_by = person[keep], referral[keep], dead_by[keep]
    n = len(person)
    if n == 0:
        return pl.DataFrame()
    discharge = referral + 7 + rng.exponential(200, n).astype(np.int64)
    discharge = np.where((discharge > pop.cutoff_day) | (discharge > dead_by), NEVER, discharge)
    view = person_view(pop, person, referral)
    la = pop.geo.postcode_la[np.maximum(view["_pc_index"].to_numpy(), 0)]
    # a mental health trust serves ~3 LAs
    mother = view["role"].to_numpy() == "mother"
    service = labels(list(vocab.MHSDS_SERVICES) + ["C05"], np.where(mother, len(vocab.MHSDS_SERVICES), rng.integers(0, 7, n)))
    frame = pl.DataFrame({
        "record_id": record_ids(rng, "MH", n, width=10),
        "nhs_number": view["nhs_number"], "dob": view["dob"], "sex": view["sex"].cast(pl.Utf8),
        "postcode": view["_postcode"], "_postcode_prev": view["_postcode_prev"],
        "referral_date": dates("referral_date", referral),
        "source_of_referral": labels(vocab.MHSDS_SOURCES, categorical(rng, n, vocab.MHSDS_SOURCE_SHARE)),
        "primary_reason": labels(vocab.MHSDS_REASONS, rng.integers(0, len(vocab.MHSDS_REASONS), n)),
        "service_type": service,
        "discharge_date": dates("discharge_date", discharge),
        "provider_code": labels(pop.geo.las["mh_provider"].to_list(), (la // 3) * 3),
        "person_id": view["person_id"], "role": view["role"],
        "_file": _fy_files("mhsds", referral),
    })
    return sort_by_days(frame, "referral_date")


# ---------------------------------------------------------------------------------------- opt-outs
def snapshot_dates(cutoff: dt.date) -> list[dt.date]:
    """Three snapshots: two years, one year and a month before the cut-off (none before the NDOP)."""
    candidates = [cutoff.replace(day=1) - dt.timedelta(days=d) for d in (730, 365, 30)]
    out = sorted({max(c.replace(day=1), NDOP_START.replace(day=1, month=6)) for c in candidates})
    return [d for d in out if d <= cutoff]


def opt_outs(pop: Population, rng: np.random.Generator) -> pl.DataFrame:
    """One row per person on each snapshot; `_file` names the snapshot."""
    p = pop.persons.filter(pl.col("role").is_in(["child", "mother"]))
    n = p.height
    family = p["family"].to_numpy()
    fam_out = rng.random(pop.families.height) < 0.02
    out = fam_out[family] | (rng.random(n) < 0.012)
    start, cut = day(NDOP_START), pop.cutoff_day
    fam_when = start + (rng.random(pop.families.height) * max(cut - start, 1)).astype(np.int64)
    when = np.where(fam_out[family], fam_when[family], start + (rng.random(n) * max(cut - start, 1)).astype(np.int64))
    back = rng.random(n) < 0.12
    back_when = when + (rng.random(n) * 3 * 365).astype(np.int64)
    back_when = np.where(back, back_when, NEVER)
    dob, dod = p["dob"].to_numpy(), p["dod"].to_numpy()
    frames = []
    for snap in snapshot_dates(pop.cutoff):
        s = day(snap)
        on = out & (when <= s) & (back_when > s) & (dob <= s) & (dod > s)
        frames.append(pl.DataFrame({"nhs_number": p["nhs_number"].filter(pl.Series(on)),
                                    "person_id": p["person_id"].filter(pl.Series(on)),
                                    "role": p["role"].filter(pl.Series(on))})
                      .with_columns(pl.lit(f"ndop_{snap.isoformat()}.csv").alias("_file")))
    if not frames:
        return pl.DataFrame()
    frame = pl.concat(frames)
    return frame.with_columns(pl.Series("record_id", np.arange(frame.height).astype(str)))
