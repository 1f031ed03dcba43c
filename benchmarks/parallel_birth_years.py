"""Several birth years at once on one machine: wall time, CPU, peak memory and speed-up.

    .venv/bin/python benchmarks/parallel_birth_years.py [--children 20000] [--years 2006-2009]
        [--parallel 1,2,3] [--work DIR]

1. Writes synthetic raw extracts for the birth years (`cohort-platform synth`, with the
   environmental grids), once per work folder (never more than 200,000 children in all).
2. Builds the shared assets once (`cohort-platform build --only shared`): ingestion, reference,
   environment, identifier separation. Timed, but not part of the comparison.
3. For each degree of parallelism P: a fresh copy of that home, then
   `cohort-platform build --only birth-years --parallel P` (P = 1: the birth years one after the
   other in one process, as before issue 7; P > 1: P worker processes at a time, each birth year in
   a fresh process), with a Dagster instance of its own.

It measures from outside: wall time; CPU (user + system of the build and every process it waited
for, from `wait4`); peak memory as the largest sum of RSS over the build's process tree (sampled
every 0.25 s from /proc) and the largest RSS of one process (memory per birth year); each birth
year's run time from the Dagster instance. It checks that every configuration wrote the same rows.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cohort_platform.orchestration.partitions import parse_birth_years  # noqa: E402

MAX_CHILDREN = 200_000
PAGE = os.sysconf("SC_PAGE_SIZE")


def _children_of() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE
    except OSError:
        return 0


def tree_rss(root: int) -> tuple[int, int]:
    """(sum of RSS over `root` and its descendants, largest RSS of one of them), in bytes."""
    tree = _children_of()
    stack, sizes = [root], []
    while stack:
        pid = stack.pop()
        sizes.append(_rss(pid))
        stack.extend(tree.get(pid, []))
    return sum(sizes), max(sizes, default=0)


class Sampler(threading.Thread):
    def __init__(self, pid: int, every: float = 0.25):
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.peak_total = self.peak_one = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            total, one = tree_rss(self.pid)
            self.peak_total, self.peak_one = max(self.peak_total, total), max(self.peak_one, one)
            self.done.wait(self.every)


def measured(command: list[str], env: dict[str, str], log: Path) -> dict:
    """Run `command`, measuring wall, CPU of it and its descendants, and peak memory."""
    load = os.getloadavg()[0]
    started = time.perf_counter()
    with open(log, "w") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        sampler = Sampler(process.pid)
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        sampler.done.set()
        sampler.join()
        process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}); see {log}")
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_total_gb": sampler.peak_total / 1e9,
            "peak_one_process_gb": max(sampler.peak_one, usage.ru_maxrss * 1024) / 1e9,
            "load_before": load, "load_after": os.getloadavg()[0]}


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "cohort_platform.cli", *args]


def environment(dagster_home: Path) -> dict[str, str]:
    dagster_home.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "dagster.yaml", dagster_home / "dagster.yaml")
    return {**os.environ, "DAGSTER_HOME": str(dagster_home), "DAGSTER_DISABLE_TELEMETRY": "1",
            "COHORT_PSEUDONYM_KEY": os.environ.get("COHORT_PSEUDONYM_KEY", "5e" * 32)}


def partition_run_times(dagster_home: Path) -> tuple[dict[str, float], dict[str, float]]:
    """Each birth-year run's duration, and each step's mean duration over the runs, from the Dagster
    instance the build recorded its runs in."""
    code = ("import json, dagster as dg\n"
            "i = dg.DagsterInstance.get()\n"
            "runs, steps = {}, {}\n"
            "for r in i.get_run_records(dg.RunsFilter(job_name='build_birth_year')):\n"
            "    runs[r.dagster_run.tags.get('dagster/partition')] = (r.end_time or 0) - (r.start_time or 0)\n"
            "    for s in i.get_run_step_stats(r.dagster_run.run_id):\n"
            "        steps.setdefault(s.step_key, []).append((s.end_time or 0) - (s.start_time or 0))\n"
            "print(json.dumps([runs, {k: sum(v) / len(v) for k, v in steps.items()}]))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environment(dagster_home), capture_output=True,
                          text=True, check=True)
    runs, steps = json.loads(done.stdout.strip().splitlines()[-1])
    return {k: round(v, 1) for k, v in runs.items()}, {k: round(v, 1) for k, v in sorted(steps.items(), key=lambda kv: -kv[1])}


def partition_rows(home: Path) -> dict[str, int]:
    """Rows per partition file (from the Parquet footers): every configuration must write the same."""
    import pyarrow.parquet as pq

    return {str(p.relative_to(home)): pq.ParquetFile(p).metadata.num_rows
            for p in sorted(home.glob("*/*/birth_year=*/part-0.parquet"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, default=20_000, help="children per birth year")
    parser.add_argument("--years", default="2006-2009")
    parser.add_argument("--parallel", default="1,2,3", help="degrees of parallelism to compare, e.g. 1,2,3")
    parser.add_argument("--work", type=Path, default=Path("/tmp/cohort_bench_parallel"))
    parser.add_argument("--seed", type=int, default=2006)
    args = parser.parse_args()
    years = parse_birth_years(args.years)
    if args.children * len(years) > MAX_CHILDREN:
        raise SystemExit(f"{args.children} x {len(years)} birth years is over {MAX_CHILDREN:,} children")
    degrees = [int(p) for p in args.parallel.split(",")]
    work = args.work / f"children_{args.children}_{years[0]}-{years[-1]}_seed{args.seed}"
    raw, base = work / "raw", work / "base_home"
    work.mkdir(parents=True, exist_ok=True)
    results: dict[str, object] = {"children_per_year": args.children, "years": years, "cpus": os.cpu_count()}

    if not (raw / "births").is_dir():
        print(f"generating {len(years)} x {args.children:,} children", flush=True)
        results["synth"] = measured(cli("synth", "--raw-dir", str(raw), "--truth-dir", str(work / "truth"),
                                        "--birth-years", args.years, "--children-per-year", str(args.children),
                                        "--seed", str(args.seed)), environment(work / "dagster_synth"), work / "synth.log")
    if not (base / "warehouse.duckdb").is_file():
        print("building the shared assets once", flush=True)
        shutil.rmtree(base, ignore_errors=True)
        results["shared"] = measured(cli("build", "--only", "shared", "--raw-dir", str(raw), "--home", str(base)),
                                     environment(work / "dagster_shared"), work / "shared.log")
        print(f"  shared: {results['shared']['wall_s']:.0f} s wall", flush=True)

    runs: dict[int, dict] = {}
    reference_rows = None
    for p in degrees:
        home, dagster_home = work / f"home_p{p}", work / f"dagster_p{p}"
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(dagster_home, ignore_errors=True)
        shutil.copytree(base, home)
        print(f"birth years {args.years} with --parallel {p}", flush=True)
        run = measured(cli("build", "--only", "birth-years", "--birth-years", args.years, "--parallel", str(p),
                           "--raw-dir", str(raw), "--home", str(home)),
                       environment(dagster_home), work / f"birth_years_p{p}.log")
        run["partition_run_s"], run["mean_step_s"] = partition_run_times(dagster_home)
        rows = partition_rows(home)
        reference_rows = reference_rows or rows
        run["same_rows_as_first"] = rows == reference_rows
        run["partition_files"] = len(rows)
        runs[p] = run
        print(f"  wall {run['wall_s']:.0f} s, CPU {run['cpu_s']:.0f} s, peak {run['peak_total_gb']:.2f} GB "
              f"(one process {run['peak_one_process_gb']:.2f} GB), load {run['load_before']:.1f}->{run['load_after']:.1f}",
              flush=True)

    base_wall = runs[degrees[0]]["wall_s"]
    print()
    print(f"{len(years)} birth years x {args.children:,} children, {os.cpu_count()} CPUs")
    print("| processes | wall | CPU | cores busy (CPU/wall) | peak RSS, all processes | peak RSS, one process "
          "| speed-up | mean birth-year run | same rows | load before/after |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for p, r in runs.items():
        mean_run = sum(r["partition_run_s"].values()) / max(len(r["partition_run_s"]), 1)
        print(f"| {p} | {r['wall_s']:.0f} s | {r['cpu_s']:.0f} s | {r['cpu_s'] / r['wall_s']:.2f} "
              f"| {r['peak_total_gb']:.2f} GB | {r['peak_one_process_gb']:.2f} GB | {base_wall / r['wall_s']:.2f}x "
              f"| {mean_run:.0f} s | {'yes' if r['same_rows_as_first'] else 'NO'} "
              f"| {r['load_before']:.1f} / {r['load_after']:.1f} |")
    first = runs[degrees[0]]
    print(f"\nmean step time in a birth-year run (--parallel {degrees[0]}): "
          + ", ".join(f"{k} {v:.0f} s" for k, v in list(first["mean_step_s"].items())[:8]))
    results["birth_years"] = {str(p): r for p, r in runs.items()}
    (work / "results.json").write_text(json.dumps(results, indent=1))
    print(f"\nresults: {work / 'results.json'}")


if __name__ == "__main__":
    main()
