"""Benchmark CSV ingestion on a delivery from ingest_make_hes.py: wall and CPU per stage, rows per second.

    .venv/bin/python benchmarks/ingest_make_hes.py 2000000 /tmp/hesbench/raw
    .venv/bin/python benchmarks/ingest.py /tmp/hesbench/raw
"""
import time, datetime as dt, sys, resource, os
from pathlib import Path
from cohort_platform.contract.datasets import DATASETS
from cohort_platform.ingest.read import read_dataset
from cohort_platform.ingest.validate import validate
from cohort_platform.ingest.resolve import resolve_redeliveries
from cohort_platform.ingest.pipeline import ingest
def cpu(): r = resource.getrusage(resource.RUSAGE_SELF); return r.ru_utime + r.ru_stime
root = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/hesbench/raw")
ds = DATASETS["hes_apc"]; cutoff = dt.date(2025, 3, 31)
w, c = time.perf_counter(), cpu(); raw = read_dataset(root, ds); print(f"read     wall {time.perf_counter()-w:.2f}s cpu {cpu()-c:.2f}s")
w, c = time.perf_counter(), cpu(); v = validate(raw.rows, ds, cutoff); print(f"validate wall {time.perf_counter()-w:.2f}s cpu {cpu()-c:.2f}s")
w, c = time.perf_counter(), cpu(); kept, sup, stats = resolve_redeliveries(v.accepted, ds); print(f"resolve  wall {time.perf_counter()-w:.2f}s cpu {cpu()-c:.2f}s")
del raw, v, kept, sup
for _ in range(int(os.environ.get("REPEAT", "1"))):
    w, c = time.perf_counter(), cpu(); r = ingest(root, "hes_apc", cutoff); t = time.perf_counter() - w
    print(f"ingest: {r.rows_read:,} rows in {t:.2f}s wall ({cpu()-c:.2f}s cpu) = {r.rows_read/t:,.0f} rows/s; accepted {r.rows_accepted:,}, quarantined {r.rows_quarantined:,}, dup {r.duplicates}, conflicts {r.conflicts}, rules {r.rule_counts}, flagged {r.flagged}, reconciles {r.reconciles}")
print("load", os.getloadavg())
