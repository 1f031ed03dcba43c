"""Write a HES-like delivery for the ingestion benchmark: N rows in two files, ~1% bad dates, some re-delivered rows.

    .venv/bin/python benchmarks/ingest_make_hes.py 2000000 /tmp/hesbench/raw
"""
"""Synthetic hes_apc-like CSV for an ingest throughput measurement (not project code)."""
import sys, numpy as np, polars as pl
from pathlib import Path

n = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000_000
out = Path(sys.argv[2] if len(sys.argv) > 2 else "/tmp/hesbench/raw")
(out / "hes_apc").mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(7)

def nhs(k):
    d = rng.integers(0, 10, size=(k, 9))
    total = (d * np.arange(10, 1, -1)).sum(1)
    check = 11 - total % 11
    check = np.where(check == 11, 0, check)
    d[check == 10, 8] = (d[check == 10, 8] + 1) % 10  # cheap: re-draw not needed for a benchmark
    total = (d * np.arange(10, 1, -1)).sum(1); check = 11 - total % 11; check = np.where(check == 11, 0, check)
    number = (d * (10 ** np.arange(8, -1, -1))).sum(1) * 10 + np.where(check == 10, 0, check)
    return pl.Series(number).cast(pl.String).str.zfill(10)

dob = np.datetime64("2006-01-01") + rng.integers(0, 365 * 14, n)
start = dob + rng.integers(0, 365 * 5, n)
end = start + rng.integers(0, 20, n)
letters = np.array(list("ABCDEFGHJKLMNPRSTUWY"))
pc = pl.Series(letters[rng.integers(0, 20, n)]) + pl.Series(rng.integers(1, 99, n).astype(str)) + " " + pl.Series(rng.integers(0, 9, n).astype(str)) + pl.Series(letters[rng.integers(0, 20, n)]) + pl.Series(letters[rng.integers(0, 20, n)])
icd = lambda: pl.Series(letters[rng.integers(0, 20, n)]) + pl.Series(rng.integers(100, 999, n).astype(str))
epitype = rng.choice(["1", "2", "3", "4"], n, p=[0.7, 0.1, 0.1, 0.1])
deliv = np.isin(epitype, ["2", "3"])
only_delivery = lambda values: pl.select(pl.when(pl.Series(deliv)).then(values)).to_series()
df = pl.DataFrame({
    "record_id": pl.select(pl.format("E{}", pl.int_range(n).cast(pl.String).str.zfill(9))).to_series(),
    "newnhsno": nhs(n),
    "dob": pl.Series(dob).cast(pl.String),
    "sex": rng.choice(["1", "2", "9", "0"], n, p=[0.49, 0.49, 0.01, 0.01]),
    "homeadd": pc,
    "ethnos": rng.choice(list("ABCDEFGHJKLMNPRSZ") + ["99"], n),
    "admidate": pl.Series(start).cast(pl.String),
    "epistart": pl.Series(start).cast(pl.String),
    "epiend": pl.Series(end).cast(pl.String),
    "epiorder": rng.integers(1, 5, n).astype(str),
    "epitype": epitype,
    "admimeth": rng.choice(["11", "21", "22", "31", "82"], n),
    "procode3": rng.choice(["RJ1", "RXH", "R0A", "RTH"], n),
    **{f"diag_4_0{i}": icd() for i in range(1, 6)},
    **{f"opertn_4_0{i}": pl.select(pl.when(pl.Series(rng.random(n) < 0.3)).then(pl.lit("-")).otherwise(icd())).to_series() for i in range(1, 4)},
    "numbaby": only_delivery(pl.Series(["1"] * n)),
    "gestat_1": only_delivery(pl.Series(rng.integers(30, 42, n).astype(str))),
    "birweit_1": only_delivery(pl.Series(rng.integers(1500, 4500, n).astype(str))),
    "sexbaby_1": only_delivery(pl.Series(rng.choice(["1", "2"], n))),
    "delmeth_1": only_delivery(pl.Series(rng.choice(list("0123459X"), n))),
})
# ~1% damaged values, some formatted NHS numbers and lower-case postcodes, 0.1% re-deliveries
bad = rng.random(n) < 0.01
df = df.with_columns(
    pl.when(pl.Series(bad)).then(pl.lit("2010-02-30")).otherwise(pl.col("dob")).alias("dob"),
    pl.when(pl.Series(rng.random(n) < 0.05)).then(pl.col("homeadd").str.to_lowercase().str.replace(" ", "")).otherwise(pl.col("homeadd")).alias("homeadd"),
    pl.when(pl.Series(rng.random(n) < 0.05)).then(pl.concat_str([pl.col("newnhsno").str.slice(0, 3), pl.col("newnhsno").str.slice(3, 3), pl.col("newnhsno").str.slice(6)], separator=" ")).otherwise(pl.col("newnhsno")).alias("newnhsno"),
)
half = n // 2
df.slice(0, half).write_csv(out / "hes_apc" / "hes_apc_2019.csv")
redeliver = df.slice(half - 2000, 2000)
pl.concat([redeliver, df.slice(half, n - half - 2000)]).write_csv(out / "hes_apc" / "hes_apc_2020.csv")
print("rows", n, "bytes", sum(p.stat().st_size for p in (out / "hes_apc").glob("*.csv")))
