"""Benchmark the synthetic generator: wall time, peak RSS and rows per dataset.

    .venv/bin/python benchmarks/synth.py --children 650000 [--years 2010] [--seed 1] [--environment]

Writes to a temporary folder (removed afterwards unless --keep DIR is given). The target is one
England-size birth year (650,000 children, every record to the cut-off) in at most 4 minutes and 8 GB.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--children", type=int, default=650_000, help="children per birth year")
    parser.add_argument("--years", default="2010", help="birth years, e.g. 2010 or 2006-2010")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cutoff", default="2025-03-31")
    parser.add_argument("--environment", action="store_true", help="also write the environmental grids")
    parser.add_argument("--keep", default=None, help="write here and keep the output")
    args = parser.parse_args(argv)

    from cohort_platform.orchestration.partitions import parse_birth_years
    from cohort_platform.synth.generate import generate

    years = parse_birth_years(args.years)
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="synth_bench_"))
    try:
        started = time.perf_counter()
        summary = generate(base / "raw", base / "truth", years, args.children, args.seed,
                           dt.date.fromisoformat(args.cutoff), environment=args.environment)
        wall = time.perf_counter() - started
        usage = resource.getrusage(resource.RUSAGE_SELF)
        peak_kb = usage.ru_maxrss  # kilobytes on Linux
        size = sum(p.stat().st_size for p in (base / "raw").rglob("*") if p.is_file())
        print(f"children per year: {args.children:,}  birth years: {years[0]}-{years[-1]}  seed: {args.seed}")
        print(f"wall time: {wall:.1f} s  (CPU: {usage.ru_utime:.1f} s user + {usage.ru_stime:.1f} s system; other jobs on the machine slow the wall time)")
        print(f"peak RSS: {peak_kb / 1024 ** 2:.2f} GB")
        print(f"raw size: {size / 1024 ** 2:.0f} MB")
        print(f"persons: {summary.children:,} children, {summary.mothers:,} mothers, {summary.fathers:,} fathers")
        print(f"malformed rows: {summary.malformed:,}")
        print("rows per dataset (data lines written, re-delivered and malformed copies included):")
        for name, rows in summary.rows.items():
            print(f"  {name:<12} {rows:>12,}")
        print("seconds per stage (wall, CPU of all threads):")
        for stage, seconds in sorted(summary.stage_seconds.items(), key=lambda kv: -kv[1])[:15]:
            print(f"  {stage:<22} {seconds:>7.1f} {summary.stage_cpu_seconds.get(stage, 0.0):>7.1f}")
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
