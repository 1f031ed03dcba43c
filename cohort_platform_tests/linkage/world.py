"""A small hand-built world for linkage tests: a few hundred children with known truth.

Not a data generator for the platform (that is `cohort_platform.synth`): frames come out in the shape
ingestion gives (clean tables: typed, canonical, `<identifier>_valid` flags), only with the columns
linkage reads, so tests can plant exactly the imperfections they are about.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from cohort_platform.contract.identifiers import nhs_check_digit, upn_check_letter

FORENAMES = ["OLIVIA", "AMELIA", "ISLA", "AVA", "MIA", "IVY", "LILY", "ISABELLA", "ROSIE", "SOPHIA", "GRACE",
             "FREYA", "EVIE", "ELLA", "POPPY", "NOAH", "OLIVER", "GEORGE", "LEO", "ARTHUR", "MUHAMMAD", "HARRY",
             "OSCAR", "ARCHIE", "HENRY", "THEODORE", "JACK", "FREDDIE", "CHARLIE", "THOMAS", "JACOB", "ALFIE",
             "FINLEY", "ISAAC", "JOSHUA", "LUCAS", "EDWARD", "MAX", "JAMES", "ETHAN", "ZARA", "AISHA", "PRIYA",
             "KAMIL", "ZOFIA", "DANIEL", "SAMUEL", "MASON", "LOGAN", "RUBY"]
SURNAMES = ["SMITH", "JONES", "TAYLOR", "BROWN", "WILLIAMS", "WILSON", "JOHNSON", "DAVIES", "ROBINSON", "WRIGHT",
            "THOMPSON", "EVANS", "WALKER", "WHITE", "ROBERTS", "GREEN", "HALL", "WOOD", "JACKSON", "CLARKE",
            "PATEL", "KHAN", "LEWIS", "JAMES", "PHILLIPS", "MASON", "MITCHELL", "ROSE", "DAVIS", "RODRIGUEZ",
            "COX", "ALEXANDER", "MORGAN", "MOORE", "MILLS", "KING", "BAKER", "HARRIS", "SCOTT", "ALI", "HUSSAIN",
            "BEGUM", "NOWAK", "KOWALSKI", "OBRIEN", "MURPHY", "KELLY", "CAMPBELL", "STEWART", "ANDERSON",
            "OKAFOR", "ADEYEMI", "NGUYEN", "CHEN", "WANG", "SINGH", "KAUR", "SHAH", "AHMED", "RAHMAN"]


def valid_nhs(rng: np.random.Generator) -> str:
    while True:
        body = "".join(str(d) for d in rng.integers(0, 10, 9))
        check = nhs_check_digit(body)
        if check is not None:
            return body + str(check)


def typo_digit(value: str, rng: np.random.Generator) -> str:
    """One digit changed (fails Modulus 11 by construction of the check)."""
    i = int(rng.integers(0, len(value)))
    new = str((int(value[i]) + 1 + int(rng.integers(0, 8))) % 10)
    return value[:i] + new + value[i + 1:]


def valid_upn(rng: np.random.Generator) -> str:
    body = "".join(str(d) for d in rng.integers(0, 10, 12))
    return upn_check_letter(body) + body


def postcode(district: int, unit: int) -> str:
    letters = "ABDEFGHJLNPQRSTUWXYZ"
    return f"TS{district} {unit % 10}{letters[unit % 20]}{letters[(unit // 20) % 20]}"


@dataclass
class World:
    children: pl.DataFrame  # person_id (= births record_id) and true identifiers
    clean: dict[str, pl.DataFrame]
    truth: dict[str, pl.DataFrame]  # dataset -> record_id, person_id


def make_world(n_children: int = 300, n_twin_pairs: int = 20, year: int = 2010, seed: int = 7) -> World:
    rng = np.random.default_rng(seed)
    singletons = n_children - 2 * n_twin_pairs
    rows = []
    pid = 0

    def child(dob, sex, surname, pc, mother_nhs, mother_dob, order, mult):
        nonlocal pid
        pid += 1
        return {
            "person_id": f"B{pid:05d}", "nhs_number": valid_nhs(rng), "forename": str(rng.choice(FORENAMES)),
            "surname": surname, "dob": dob, "sex": sex, "postcode": pc, "mother_nhs_number": mother_nhs,
            "mother_dob": mother_dob, "birth_order": order, "multiplicity": mult,
            "birthweight_g": int(rng.integers(2200, 4300)), "gestation_weeks": int(rng.integers(35, 42)),
        }

    def family():
        dob = dt.date(year, 1, 1) + dt.timedelta(days=int(rng.integers(0, 365)))
        pc = postcode(int(rng.integers(1, 9)), int(rng.integers(0, 400)))
        mdob = dob - dt.timedelta(days=int(rng.integers(18 * 365, 40 * 365)))
        return dob, str(rng.choice(SURNAMES)), pc, valid_nhs(rng), mdob

    for _ in range(singletons):
        dob, sn, pc, mnhs, mdob = family()
        rows.append(child(dob, str(rng.choice(["1", "2"])), sn, pc, mnhs, mdob, 1, 1))
    for _ in range(n_twin_pairs):
        dob, sn, pc, mnhs, mdob = family()
        a = child(dob, str(rng.choice(["1", "2"])), sn, pc, mnhs, mdob, 1, 2)
        b = child(dob, str(rng.choice(["1", "2"])), sn, pc, mnhs, mdob, 2, 2)
        while b["forename"] == a["forename"]:
            b["forename"] = str(rng.choice(FORENAMES))
        rows += [a, b]
    children = pl.DataFrame(rows).with_columns(pl.col("dob").cast(pl.Date), pl.col("mother_dob").cast(pl.Date))
    children = children.with_columns(
        pl.Series("upn", [valid_upn(rng) for _ in range(children.height)]),
        pl.Series("mother_forename", [str(rng.choice(FORENAMES[:20])) for _ in range(children.height)]),
    )
    births = children.select(
        pl.col("person_id").alias("record_id"), "nhs_number", pl.lit(True).alias("nhs_number_valid"), "forename",
        "surname", "dob", "sex", "birthweight_g", "gestation_weeks", "multiplicity", "birth_order",
        "mother_nhs_number", pl.lit(True).alias("mother_nhs_number_valid"), "mother_forename",
        pl.col("surname").alias("mother_surname"), "mother_dob", "postcode", pl.lit(True).alias("postcode_valid"),
    )
    clean = {"births": births}
    truth = {"births": births.select("record_id", pl.col("record_id").alias("person_id"))}
    clean["census_2021"], truth["census_2021"] = _census(children, rng)
    clean["hes_apc"], truth["hes_apc"] = _hes(children, rng)
    clean["npd_census"], truth["npd_census"] = _npd_census(children, rng, year)
    clean["npd_ks2"], truth["npd_ks2"] = _ks2(children, rng, year)
    return World(children=children, clean=clean, truth=truth)


def _census(children: pl.DataFrame, rng: np.random.Generator):
    c = children.sample(fraction=0.9, seed=int(rng.integers(1 << 30)))
    n = c.height
    u = rng.random((n, 5))
    forename = [f if u[i, 0] > 0.05 else f[:-1] + ("A" if f[-1] != "A" else "E") for i, f in enumerate(c["forename"])]
    surname = [s if u[i, 1] > 0.06 else str(rng.choice(SURNAMES)) for i, s in enumerate(c["surname"])]
    pcs = [p if u[i, 2] > 0.25 else postcode(int(rng.integers(1, 9)), int(rng.integers(0, 400))) for i, p in enumerate(c["postcode"])]
    dobs = [
        dt.date(d.year, d.day, d.month) if (u[i, 3] < 0.04 and d.day <= 12 and d.day != d.month) else d
        for i, d in enumerate(c["dob"])
    ]
    frame = pl.DataFrame({
        "record_id": [f"C{i:05d}" for i in range(n)], "household_id": [f"H{i:05d}" for i in range(n)],
        "forename": forename, "surname": surname, "dob": dobs, "sex": c["sex"], "postcode": pcs,
        "postcode_valid": [True] * n, "ethnic_group": ["1"] * n,
    }).with_columns(pl.col("dob").cast(pl.Date))
    return frame, pl.DataFrame({"record_id": frame["record_id"], "person_id": c["person_id"]})


def _hes(children: pl.DataFrame, rng: np.random.Generator):
    rows, truth = [], []
    k = 0
    for ch in children.iter_rows(named=True):
        episodes = int(rng.integers(0, 4))
        r = rng.random()
        nhs, valid = (ch["nhs_number"], True) if r < 0.8 else ((None, None) if r < 0.9 else (typo_digit(ch["nhs_number"], rng), False))
        pc = ch["postcode"] if rng.random() > 0.15 else None
        for _ in range(episodes):
            k += 1
            start = ch["dob"] + dt.timedelta(days=int(rng.integers(1, 3000)))
            rows.append({"record_id": f"E{k:06d}", "newnhsno": nhs, "newnhsno_valid": valid, "dob": ch["dob"],
                         "sex": ch["sex"], "homeadd": pc, "homeadd_valid": pc is not None if pc else None,
                         "ethnos": "A", "admidate": start, "epistart": start, "epiend": start, "epitype": "1",
                         "numbaby": None, "gestat_1": None, "birweit_1": None, "sexbaby_1": None})
            truth.append({"record_id": f"E{k:06d}", "person_id": ch["person_id"], "role": "child"})
    # each birth's delivery episode, in the mother's name
    delivery_of: dict = {}
    for ch in children.sort("birth_order").iter_rows(named=True):
        key = (ch["mother_nhs_number"], ch["dob"])
        if key in delivery_of:
            truth.append({"record_id": delivery_of[key], "person_id": ch["person_id"], "role": "mother"})
            continue
        k += 1
        rid = f"E{k:06d}"
        delivery_of[key] = rid
        rows.append({"record_id": rid, "newnhsno": ch["mother_nhs_number"], "newnhsno_valid": True,
                     "dob": ch["mother_dob"], "sex": "2", "homeadd": ch["postcode"], "homeadd_valid": True,
                     "ethnos": "A", "admidate": ch["dob"], "epistart": ch["dob"], "epiend": ch["dob"] + dt.timedelta(days=2),
                     "epitype": "2", "numbaby": ch["multiplicity"], "gestat_1": ch["gestation_weeks"],
                     "birweit_1": ch["birthweight_g"], "sexbaby_1": ch["sex"]})
        truth.append({"record_id": rid, "person_id": ch["person_id"], "role": "mother"})
    frame = pl.DataFrame(rows, schema={
        "record_id": pl.String, "newnhsno": pl.String, "newnhsno_valid": pl.Boolean, "dob": pl.Date, "sex": pl.String,
        "homeadd": pl.String, "homeadd_valid": pl.Boolean, "ethnos": pl.String, "admidate": pl.Date, "epistart": pl.Date,
        "epiend": pl.Date, "epitype": pl.String, "numbaby": pl.Int64, "gestat_1": pl.Int64, "birweit_1": pl.Int64,
        "sexbaby_1": pl.String})
    return frame, pl.DataFrame(truth)


def _npd_census(children: pl.DataFrame, rng: np.random.Generator, year: int):
    rows, truth = [], []
    k = 0
    for ch in children.iter_rows(named=True):
        if rng.random() < 0.1:
            continue
        for ay in (year + 6, year + 8):
            k += 1
            sn = ch["surname"] if rng.random() > 0.05 else str(rng.choice(SURNAMES))
            rows.append({"record_id": f"P{k:06d}", "upn": ch["upn"], "upn_valid": True, "forename": ch["forename"],
                         "surname": sn, "dob": ch["dob"], "sex": {"1": "M", "2": "F"}[ch["sex"]],
                         "postcode": ch["postcode"] if rng.random() > 0.3 else None,
                         "postcode_valid": True, "academic_year": ay, "la_code": "201", "ethnicity": "WBRI"})
            truth.append({"record_id": f"P{k:06d}", "person_id": ch["person_id"]})
    return pl.DataFrame(rows).with_columns(pl.col("dob").cast(pl.Date)), pl.DataFrame(truth)


def _ks2(children: pl.DataFrame, rng: np.random.Generator, year: int):
    c = children.sample(fraction=0.8, seed=int(rng.integers(1 << 30)))
    frame = c.select(
        pl.format("K{}", pl.col("person_id")).alias("record_id"), "upn", pl.lit(True).alias("upn_valid"), "dob",
        pl.col("sex").replace({"1": "M", "2": "F"}), pl.lit(year + 11).alias("academic_year"),
    )
    return frame, frame.select("record_id", pl.col("record_id").str.slice(1).alias("person_id"))
