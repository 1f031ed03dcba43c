"""End-to-end benchmark: one birth year generated, then every asset built as the headless build does.

    .venv/bin/python benchmarks/end_to_end.py --children 10000 50000 200000 [--year 2010] [--seed 1]
        [--work DIR] [--keep] [--markdown FILE] [--json FILE] [--rss-limit-gb 8] [--process-per-run]
    .venv/bin/python benchmarks/end_to_end.py --combine run1.json run2.json [--markdown FILE]

For each size, in order, and each in fresh processes so that their peaks are independent:

1. **generate** (own process): `cohort_platform.synth.generate.generate` writes one birth year of
   raw extracts (the children with their mothers and fathers, every record to the cut-off, at the
   contract's volumes) and the environmental grids and roads. Timed, but not part of the build.
2. **build** (own process): `cohort_platform.orchestration.build.run_build(settings, [year])`, the
   code path of `cohort-platform build`: the shared job (ingestion, reference, environment,
   identifier separation, spine, opt-outs, content, identifier values, and the checks on them), the
   birth-year job for that one partition (linkage, cohort link map, exposures, research tables and
   their leak scans), then the outputs job; in-process executor, a fresh `DAGSTER_HOME` and
   warehouse per size. With `--process-per-run`, the three runs each in a build process of its own
   (`run_build(..., stages=[stage])`, the same home): as the Dagster daemon or a cluster runs them,
   each run in a fresh process, so that no run's peak includes memory an earlier run left behind.

Per step (an asset, a multi-asset, or an asset check: the in-process executor runs steps one after
the other in the one process) the build process records wall time, CPU time (user + system of the
whole process, every thread), the resident set size (RSS) at the step's start and end, and the
**peak RSS during the step**: the kernel's high-water mark (`VmHWM`) is reset at each STEP_START by
writing "5" to `/proc/self/clear_refs` and read at the step's end. The peak is the whole process's
resident memory, so it includes what earlier steps left allocated (see "RSS at start"). Steps are
delimited by Dagster's own STEP_START / STEP_SUCCESS / STEP_FAILURE events, received synchronously
from the instance as they are stored. Time outside steps (Dagster's planning, event storage, hooks,
run start and end) is reported as "outside steps". Checks that an asset reports itself (the link map
completeness, the reconciliation, exposure ranges) are inside that asset's step; separate asset checks
(uniqueness, Great Expectations suites, value validity, grid checks, leak scans) are their own steps.

Then the harness prints, per size, the steps, totals and the generator's figures; a table across
sizes; and a growth table: the cost per 1,000 children at each size, the marginal cost per 1,000
children between consecutive sizes, and the growth exponent log(cost2 / cost1) / log(n2 / n1)
(1.0 = linear, below 1 = sub-linear: fixed costs being amortised). CPU time is the figure to trust
on a shared machine: wall time grows with other jobs' load (the load average is printed).

The harness itself holds no frames: it reads each worker's small JSON result. `--rss-limit-gb`
stops a build whose RSS passes the limit (the partial result is kept and marked). Data goes to a
temporary folder removed afterwards, unless `--work DIR --keep` (an existing generated size there is
reused, not regenerated).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

GB = 1024**3
KB = 1024


# ------------------------------------------------------------------------------ process memory
def _status() -> dict[str, int]:
    """VmRSS and VmHWM of this process, in bytes."""
    out: dict[str, int] = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) * KB
    return out


def _reset_peak() -> bool:
    """Reset the kernel's RSS high-water mark of this process (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


class StepRecorder:
    """Wall, CPU and peak RSS per Dagster step, delimited by the step events of the instance."""

    def __init__(self, labels: dict[str, tuple[str, list[str]]], sink: Path | None = None):
        self.labels = labels
        self.sink = sink
        self.steps: list[dict] = []
        self.runs: list[dict] = []
        self._open: dict[tuple[str, str], dict] = {}
        self._run_open: dict[str, dict] = {}
        self.peak = _status()["VmHWM"]
        self.can_reset = _reset_peak()
        self.peak_after_reset = _status()["VmHWM"]

    def _hwm(self) -> int:
        hwm = _status()["VmHWM"]
        self.peak = max(self.peak, hwm)
        return hwm

    def on_event(self, entry) -> None:
        event = entry.dagster_event
        if event is None:
            return
        from dagster import DagsterEventType as T

        kind = event.event_type
        if kind == T.RUN_START:
            self._run_open[entry.run_id] = {"job": event.job_name, "t": time.perf_counter(), "cpu": _cpu()}
        elif kind in (T.RUN_SUCCESS, T.RUN_FAILURE) and entry.run_id in self._run_open:
            start = self._run_open.pop(entry.run_id)
            self.runs.append({"job": start["job"], "ok": kind == T.RUN_SUCCESS,
                              "wall": time.perf_counter() - start["t"], "cpu": _cpu() - start["cpu"]})
        elif kind == T.STEP_START:
            self._hwm()  # the peak since the last reset belongs to the whole build
            if self.can_reset:
                _reset_peak()
            status = _status()
            self._open[(entry.run_id, event.step_key)] = {
                "t": time.perf_counter(), "cpu": _cpu(), "rss_start": status["VmRSS"],
                "load1": os.getloadavg()[0],
            }
        elif kind in (T.STEP_SUCCESS, T.STEP_FAILURE) and (entry.run_id, event.step_key) in self._open:
            start = self._open.pop((entry.run_id, event.step_key))
            wall, cpu = time.perf_counter() - start["t"], _cpu() - start["cpu"]
            hwm = self._hwm()
            op = event.step_key.split("[")[0]
            what, keys = self.labels.get(op, ("other", [op]))
            self.steps.append({
                "job": event.job_name, "step": event.step_key, "kind": what, "label": _label(op, keys),
                "ok": kind == T.STEP_SUCCESS, "wall": round(wall, 3), "cpu": round(cpu, 3),
                "rss_start": start["rss_start"], "rss_end": _status()["VmRSS"], "peak": hwm,
                "load1": start["load1"],
            })
            print(f"    {event.step_key:<58} {wall:8.1f} s wall {cpu:8.1f} s CPU  peak {hwm / GB:5.2f} GB",
                  file=sys.stderr, flush=True)
            self.flush()

    def flush(self, **extra) -> None:
        if self.sink is not None:
            self.sink.write_text(json.dumps({"steps": self.steps, "runs": self.runs, "peak": self.peak, **extra}))


def _label(op: str, keys: list[str]) -> str:
    if len(keys) == 1:
        return keys[0]
    return f"{op} ({len(keys)} assets)"


def step_labels() -> dict[str, tuple[str, list[str]]]:
    """op name -> ("asset" | "check", the asset keys or check names it computes)."""
    import dagster as dg

    from cohort_platform import definitions

    labels: dict[str, tuple[str, list[str]]] = {}
    for a in definitions.ASSETS:
        if isinstance(a, dg.AssetsDefinition) and a.is_executable:
            labels[a.node_def.name] = ("asset", [k.to_user_string() for k in a.keys])
    for c in definitions.CHECKS + [x for x in definitions.ASSETS if isinstance(x, dg.AssetChecksDefinition)]:
        labels[c.node_def.name] = ("check", [f"{k.asset_key.to_user_string()}:{k.name}" for k in c.check_keys])
    return labels


def _watchdog(limit_bytes: int, recorder: StepRecorder) -> None:
    while True:
        time.sleep(0.5)
        rss = _status()["VmRSS"]
        if rss > limit_bytes:
            print(f"RSS {rss / GB:.2f} GB passed the limit {limit_bytes / GB:.2f} GB: stopping the build",
                  file=sys.stderr, flush=True)
            recorder.flush(stopped=f"RSS passed {limit_bytes / GB:.2f} GB", peak_at_stop=rss)
            os._exit(3)


# ------------------------------------------------------------------------------ workers
def work_generate(base: Path, children: int, year: int, seed: int, cutoff: dt.date, out: Path) -> None:
    import resource

    from cohort_platform.synth.generate import generate

    load = os.getloadavg()[0]
    t, cpu = time.perf_counter(), _cpu()
    summary = generate(base / "raw", base / "truth", [year], children, seed, cutoff, environment=True)
    wall, cpu = time.perf_counter() - t, _cpu() - cpu
    size = sum(p.stat().st_size for p in (base / "raw").rglob("*") if p.is_file())
    out.write_text(json.dumps({
        "wall": wall, "cpu": cpu, "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * KB,
        "raw_bytes": size, "children": summary.children, "mothers": summary.mothers, "fathers": summary.fathers,
        "rows": summary.rows, "load1_start": load, "load1_end": os.getloadavg()[0],
        "parameters": {"children": children, "year": year, "seed": seed, "cutoff": cutoff.isoformat()},
    }))


def work_build(base: Path, year: int, cutoff: dt.date, out: Path, rss_limit_gb: float,
               stages: tuple[str, ...] | None = None) -> None:
    """Build in this process: every stage, or only `stages` (then the home of the earlier stages is kept)."""
    home = base / "home"
    if home.exists() and (stages is None or "shared" in stages):
        shutil.rmtree(home)  # a fresh warehouse and instance for every build
    home.mkdir(parents=True, exist_ok=True)
    os.environ["COHORT_HOME"] = str(home)
    os.environ["COHORT_RAW_DIR"] = str(base / "raw")
    os.environ["COHORT_CUTOFF"] = cutoff.isoformat()
    os.environ["DAGSTER_HOME"] = str(home / "dagster_home")

    t0, cpu0 = time.perf_counter(), _cpu()
    import dagster as dg

    from cohort_platform.config import Settings
    from cohort_platform.orchestration.build import STAGES, ensure_dagster_home, run_build

    ensure_dagster_home()
    recorder = StepRecorder(step_labels(), sink=out)
    import_wall, import_cpu = time.perf_counter() - t0, _cpu() - cpu0
    if rss_limit_gb:
        threading.Thread(target=_watchdog, args=(int(rss_limit_gb * GB), recorder), daemon=True).start()

    instance = dg.DagsterInstance.get()
    # Every event of every run passes through the instance, synchronously, in the thread that runs
    # the step (in-process executor): wrap its handler to see STEP_START / STEP_SUCCESS as they happen.
    handle = instance.handle_new_event

    def handle_and_record(event, *args, **kwargs):
        handle(event, *args, **kwargs)
        recorder.on_event(event)

    instance.handle_new_event = handle_and_record
    settings = Settings(home=home, raw_dir=base / "raw", cutoff=cutoff)
    load = os.getloadavg()
    t, cpu = time.perf_counter(), _cpu()
    summary = run_build(settings, [year], instance=instance, stages=stages or STAGES)
    wall, cpu = time.perf_counter() - t, _cpu() - cpu
    recorder._hwm()
    warehouse = settings.warehouse_path.stat().st_size if settings.warehouse_path.exists() else 0
    recorder.flush(
        wall=wall, cpu=cpu, import_wall=import_wall, import_cpu=import_cpu, ok=summary.ok,
        peak_reset_works=recorder.can_reset and recorder.peak_after_reset < recorder.peak,
        checks_passed=len(summary.checks_passed), checks_failed=summary.checks_failed,
        failed_steps=summary.failed_steps, load_start=load, load_end=os.getloadavg(),
        warehouse_bytes=warehouse, rows={k: v for k, v in summary.rows.items()},
        package=str(Path(sys.modules["cohort_platform"].__file__).parent),
    )
    print(summary.render(), file=sys.stderr, flush=True)
    if not summary.ok:
        raise SystemExit(1)


# ------------------------------------------------------------------------------ harness
def _run_worker(args: list[str]) -> int:
    cmd = [sys.executable, str(Path(__file__).resolve()), *args]
    return subprocess.run(cmd, check=False).returncode


def measure(size: int, args: argparse.Namespace, base: Path) -> dict:
    base.mkdir(parents=True, exist_ok=True)
    common = ["--year", str(args.year), "--seed", str(args.seed), "--cutoff", args.cutoff]
    gen_json = base / "generate.json"
    marker = base / "truth" / "summary.json"
    wanted = {"children": size, "year": args.year, "seed": args.seed, "cutoff": args.cutoff}
    previous = json.loads(gen_json.read_text()) if gen_json.is_file() and marker.is_file() else {}
    if previous.get("parameters") == wanted:
        generation = previous
        generation["reused"] = True
        print(f"[{size:,}] reusing generated data in {base}", file=sys.stderr, flush=True)
    else:
        print(f"[{size:,}] generating one birth year ({args.year}) in {base}", file=sys.stderr, flush=True)
        code = _run_worker(["--worker", "generate", "--dir", str(base), "--children", str(size), *common,
                            "--out", str(gen_json)])
        if code:
            raise SystemExit(f"the generator failed for {size:,} children (exit {code})")
        generation = json.loads(gen_json.read_text())
    print(f"[{size:,}] building every asset of birth year {args.year}", file=sys.stderr, flush=True)
    started = time.perf_counter()
    if not args.process_per_run:
        build_json = base / "build.json"
        build_json.unlink(missing_ok=True)
        code = _run_worker(["--worker", "build", "--dir", str(base), *common, "--out", str(build_json),
                            "--rss-limit-gb", str(args.rss_limit_gb)])
        build = json.loads(build_json.read_text()) if build_json.is_file() else {"steps": [], "runs": [], "peak": 0}
    else:  # each run in a process of its own, as the Dagster daemon or `cohort-platform build --only` runs them
        from cohort_platform.orchestration.build import STAGES

        parts, code = [], 0
        for stage in STAGES:
            build_json = base / f"build_{stage}.json"
            build_json.unlink(missing_ok=True)
            code = _run_worker(["--worker", "build", "--dir", str(base), *common, "--out", str(build_json),
                                "--rss-limit-gb", str(args.rss_limit_gb), "--stages", stage])
            parts.append({"stage": stage, **(json.loads(build_json.read_text()) if build_json.is_file() else
                                            {"steps": [], "runs": [], "peak": 0, "ok": False})})
            if code:
                break
        build = merge_stage_builds(parts)
    build["process_wall"] = time.perf_counter() - started
    build["exit_code"] = code
    return {"children": size, "generate": generation, "build": build}


def merge_stage_builds(parts: list[dict]) -> dict:
    """One build record from the records of its stages, each measured in its own process: steps and
    runs in order, times summed, the peak the largest of the processes' peaks (they never overlap),
    and each stage's own peak kept under `stage_peaks`."""
    merged: dict = {"steps": [], "runs": [], "peak": 0, "wall": 0.0, "cpu": 0.0, "ok": bool(parts),
                    "checks_passed": 0, "checks_failed": [], "failed_steps": [], "rows": {},
                    "stage_peaks": {}, "process_per_run": True}
    for part in parts:
        merged["steps"] += part.get("steps", [])
        merged["runs"] += part.get("runs", [])
        merged["peak"] = max(merged["peak"], part.get("peak", 0))
        merged["stage_peaks"][part["stage"]] = part.get("peak", 0)
        for key in ("wall", "cpu", "import_wall", "import_cpu", "checks_passed"):
            merged[key] = merged.get(key, 0) + part.get(key, 0)
        merged["checks_failed"] += part.get("checks_failed", [])
        merged["failed_steps"] += part.get("failed_steps", [])
        merged["rows"].update(part.get("rows", {}))
        merged["ok"] = merged["ok"] and bool(part.get("ok"))
        for key in ("package", "load_start", "load_end", "peak_reset_works", "stopped", "warehouse_bytes"):
            if key in part:
                merged[key] = part[key]
    return merged


# ------------------------------------------------------------------------------ reporting
STAGES = {"build_shared_assets": "shared", "build_birth_year": "birth year", "build_cohort_outputs": "outputs"}


def _gb(b: float) -> str:
    return f"{b / GB:.2f}"


def _s(x: float) -> str:
    return f"{x:,.1f}" if x < 100 else f"{x:,.0f}"


def totals(result: dict) -> dict:
    b = result["build"]
    steps = b["steps"]
    asset = [s for s in steps if s["kind"] != "check"]
    checks = [s for s in steps if s["kind"] == "check"]
    out = {
        "wall": b.get("wall", sum(s["wall"] for s in steps)), "cpu": b.get("cpu", sum(s["cpu"] for s in steps)),
        "peak": b.get("peak", 0), "asset_wall": sum(s["wall"] for s in asset), "asset_cpu": sum(s["cpu"] for s in asset),
        "check_wall": sum(s["wall"] for s in checks), "check_cpu": sum(s["cpu"] for s in checks),
        "n_steps": len(steps), "n_checks": len(checks),
    }
    out["outside_wall"] = out["wall"] - out["asset_wall"] - out["check_wall"]
    out["outside_cpu"] = out["cpu"] - out["asset_cpu"] - out["check_cpu"]
    for stage_job, stage in STAGES.items():
        part = [s for s in steps if s["job"] == stage_job]
        out[f"{stage}_wall"] = sum(s["wall"] for s in part)
        out[f"{stage}_cpu"] = sum(s["cpu"] for s in part)
        out[f"{stage}_peak"] = max((s["peak"] for s in part), default=0)
    return out


def step_groups(result: dict) -> dict[str, dict]:
    """Per step label (partition suffix dropped): wall, CPU, peak, RSS at start, stage, kind."""
    groups: dict[str, dict] = {}
    for s in result["build"]["steps"]:
        g = groups.setdefault(s["label"], {"wall": 0.0, "cpu": 0.0, "peak": 0, "rss_start": s["rss_start"],
                                           "stage": STAGES.get(s["job"], s["job"]), "kind": s["kind"],
                                           "ok": True})
        g["wall"] += s["wall"]
        g["cpu"] += s["cpu"]
        g["peak"] = max(g["peak"], s["peak"])
        g["ok"] = g["ok"] and s["ok"]
    return groups


GROUPS = (  # (name, test on a step's label and kind): the first that fits
    ("ingestion (`ingest_*`: clean + quarantine)", lambda label, kind: label.startswith("ingest_")),
    ("environment grids and roads", lambda label, kind: kind == "asset" and label.startswith("environment/")),
    ("content (`content/*`)", lambda label, kind: label.startswith("content/")),
    ("research tables (`research/*`)", lambda label, kind: kind == "asset" and label.startswith("research/")),
    ("leak scans (`*:no_identifiers`)", lambda label, kind: label.endswith(":no_identifiers")),
    ("GX suites (`*:contract_expectations`)", lambda label, kind: label.endswith(":contract_expectations")),
    ("other checks (uniqueness, validity, grids, roads)", lambda label, kind: kind == "check"),
)


def group_of(label: str, kind: str) -> str:
    return next((name for name, fits in GROUPS if fits(label, kind)), f"`{label}`")


def render(results: list[dict], top: int) -> str:
    lines: list[str] = []
    sizes = [r["children"] for r in results]
    per_size = [step_groups(r) for r in results]
    lines.append("### Per group of steps")
    lines.append("")
    lines.append("CPU seconds (wall seconds) and the highest peak RSS (GB) of the group's steps; sorted by CPU at the "
                 "largest size.")
    lines.append("")
    lines.append("| group | " + " | ".join(f"{n:,}: CPU (wall) / peak" for n in sizes) + " |")
    lines.append("|---|" + "---|" * len(sizes))
    grouped = []
    for groups in per_size:
        g: dict[str, list[float]] = {}
        for label, step in groups.items():
            acc = g.setdefault(group_of(label, step["kind"]), [0.0, 0.0, 0])
            acc[0] += step["cpu"]
            acc[1] += step["wall"]
            acc[2] = max(acc[2], step["peak"])
        grouped.append(g)
    for name in sorted({k for g in grouped for k in g}, key=lambda k: -grouped[-1].get(k, [0])[0]):
        lines.append(f"| {name} | " + " | ".join(
            "–" if name not in g else f"{_s(g[name][0])} ({_s(g[name][1])}) / {_gb(g[name][2])}" for g in grouped) + " |")
    lines.append("")
    head = " | ".join(f"{n:,}: wall s / CPU s / peak GB" for n in sizes)
    lines.append("### Per step (assets and separate checks), every size")
    lines.append("")
    lines.append("Wall and CPU seconds and the process's peak RSS (GB) during the step; sorted by CPU at the "
                 "largest size. Checks that an asset reports itself are inside its step.")
    lines.append("")
    lines.append(f"| stage | step | kind | {head} |")
    lines.append("|---|---|---|" + "---|" * len(sizes))
    per_size = [step_groups(r) for r in results]
    last = per_size[-1]
    order = sorted({k for g in per_size for k in g}, key=lambda k: -max(last.get(k, {}).get("cpu", 0), 0))
    shown = order[:top] if top else order
    rest = [k for k in order if k not in shown]
    for key in shown:
        first = next(g[key] for g in per_size if key in g)
        cells = []
        for g in per_size:
            s = g.get(key)
            cells.append("–" if s is None else f"{_s(s['wall'])} / {_s(s['cpu'])} / {_gb(s['peak'])}"
                         + ("" if s["ok"] else " FAILED"))
        lines.append(f"| {first['stage']} | `{key}` | {first['kind']} | " + " | ".join(cells) + " |")
    if rest:
        cells = []
        for g in per_size:
            part = [g[k] for k in rest if k in g]
            cells.append(f"{_s(sum(p['wall'] for p in part))} / {_s(sum(p['cpu'] for p in part))} / "
                         f"{_gb(max((p['peak'] for p in part), default=0))}")
        lines.append(f"| | {len(rest)} other steps | | " + " | ".join(cells) + " |")
    tots = [totals(r) for r in results]
    for label, key in (("all separate checks", "check"), ("outside steps (Dagster, I/O of events, hooks)", "outside")):
        lines.append(f"| | {label} | | " + " | ".join(f"{_s(t[key + '_wall'])} / {_s(t[key + '_cpu'])} / –" for t in tots) + " |")
    for stage in STAGES.values():
        lines.append(f"| | **{stage} job (steps)** | | " + " | ".join(
            f"{_s(t[stage + '_wall'])} / {_s(t[stage + '_cpu'])} / {_gb(t[stage + '_peak'])}" for t in tots) + " |")
    lines.append("| | **whole build** | | " + " | ".join(
        f"**{_s(t['wall'])} / {_s(t['cpu'])} / {_gb(t['peak'])}**" for t in tots) + " |")
    lines.append("")

    lines.append("### Totals per size")
    lines.append("")
    lines.append("| children | generate: wall / CPU / peak | raw MB | build wall | build CPU | build peak RSS | "
                 "steps (checks) | checks failed | load average (1 min) during build | result |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|")
    for r, t in zip(results, tots):
        g, b = r["generate"], r["build"]
        loads = [s["load1"] for s in b["steps"]]
        load = f"{min(loads):.1f}-{max(loads):.1f}" if loads else "–"
        failed = b.get("checks_failed", [])
        state = "ok" if b.get("ok") else ("stopped: " + b["stopped"] if b.get("stopped") else
                                          f"FAILED (exit {b.get('exit_code')})")
        lines.append(
            f"| {r['children']:,} | {_s(g['wall'])} s / {_s(g['cpu'])} s / {_gb(g['peak'])} GB"
            f"{' (reused)' if g.get('reused') else ''} | {g['raw_bytes'] / 1024**2:,.0f} | {_s(t['wall'])} s | "
            f"{_s(t['cpu'])} s | {_gb(t['peak'])} GB | {t['n_steps']} ({t['n_checks']}) | "
            f"{len(failed)} | {load} | {state} |")
    lines.append("")
    for r in results:
        peaks = r["build"].get("stage_peaks")
        if peaks:
            lines.append(f"{r['children']:,} children, each run in a process of its own: peak RSS "
                         + ", ".join(f"{stage} {_gb(v)} GB" for stage, v in peaks.items()) + ".")
    if any(r["build"].get("stage_peaks") for r in results):
        lines.append("")

    if len(results) > 1:
        lines.append("### Growth")
        lines.append("")
        lines.append("Cost per 1,000 children at each size; between consecutive sizes the marginal cost per 1,000 "
                     "added children and the growth exponent k in cost ~ children^k (1 = linear; below 1: fixed "
                     "costs amortised; above 1: faster than linear).")
        lines.append("")
        rows = [("whole build, CPU s", lambda t, g: t["cpu"]), ("whole build, wall s", lambda t, g: t["wall"]),
                ("whole build, peak RSS GB", lambda t, g: t["peak"] / GB)]
        for stage in STAGES.values():
            rows.append((f"{stage} job, CPU s", lambda t, g, st=stage: t[st + "_cpu"]))
        big = sorted(last, key=lambda k: -last[k]["cpu"])[:min(top or 8, 8)]
        for key in big:
            rows.append((f"`{key}`, CPU s", lambda t, g, k=key: g.get(k, {}).get("cpu", float("nan"))))
            rows.append((f"`{key}`, peak RSS GB", lambda t, g, k=key: g.get(k, {}).get("peak", float("nan")) / GB))
        head = " | ".join(f"per 1,000 at {n:,}" for n in sizes)
        steps = " | ".join(f"{a:,}→{b:,}: per 1,000 added, k" for a, b in zip(sizes, sizes[1:]))
        lines.append(f"| cost | {head} | {steps} |")
        lines.append("|---|" + "---|" * (len(sizes) + len(sizes) - 1))
        for label, fn in rows:
            values = [fn(t, g) for t, g in zip(tots, per_size)]
            per = [f"{v / (n / 1000):.3g}" for v, n in zip(values, sizes)]
            growth = []
            for (n1, v1), (n2, v2) in zip(zip(sizes, values), zip(sizes[1:], values[1:])):
                marginal = (v2 - v1) / ((n2 - n1) / 1000)
                k = math.log(v2 / v1) / math.log(n2 / n1) if v1 > 0 and v2 > 0 and n2 != n1 else float("nan")
                growth.append(f"{marginal:.3g}, k={k:.2f}")
            lines.append(f"| {label} | " + " | ".join(per) + " | " + " | ".join(growth) + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--children", type=int, nargs="+", default=[10_000, 50_000, 200_000],
                        help="children in the birth year; several sizes, each measured in fresh processes")
    parser.add_argument("--year", type=int, default=2010, help="the birth year (partition) to generate and build")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cutoff", default="2025-03-31")
    parser.add_argument("--work", default=None, help="working folder (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the generated data and warehouses in --work")
    parser.add_argument("--markdown", default=None, help="also write the markdown tables to this file")
    parser.add_argument("--json", default=None, help="also write every measurement to this JSON file")
    parser.add_argument("--top", type=int, default=25, help="steps shown one by one (0: all)")
    parser.add_argument("--rss-limit-gb", type=float, default=0.0, help="stop a build whose RSS passes this (0: none)")
    parser.add_argument("--process-per-run", action="store_true",
                        help="build the shared, birth-year and outputs runs each in a process of its own (as deployed) "
                             "instead of all three in one process (as `cohort-platform build` does)")
    parser.add_argument("--stages", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--combine", nargs="+", default=None, metavar="JSON",
                        help="print the tables for the results saved by earlier runs (--json), all sizes together")
    parser.add_argument("--worker", choices=("generate", "build"), help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    cutoff = dt.date.fromisoformat(args.cutoff)

    if args.worker == "generate":
        work_generate(Path(args.dir), args.children[0], args.year, args.seed, cutoff, Path(args.out))
        return 0
    if args.worker == "build":
        work_build(Path(args.dir), args.year, cutoff, Path(args.out), args.rss_limit_gb,
                   tuple(args.stages.split(",")) if args.stages else None)
        return 0  # work_build exits 1 itself when the build failed

    if args.combine:
        saved = [json.loads(Path(p).read_text()) for p in args.combine]
        results = sorted((r for d in saved for r in d["results"]), key=lambda r: r["children"])
        header = "\n".join(f"- {d['header']}" for d in saved)
        text = "Combined from:\n" + header + "\n\n" + render(results, args.top)
        print(text)
        if args.markdown:
            Path(args.markdown).write_text(text + "\n")
        return 0
    if args.keep and not args.work:
        parser.error("--keep needs --work DIR")
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="e2e_bench_"))
    results = []
    try:
        for size in args.children:
            base = work / f"children_{size}_{args.year}_seed{args.seed}"
            try:
                results.append(measure(size, args, base))
            finally:
                if not args.keep:
                    shutil.rmtree(base, ignore_errors=True)
            t = totals(results[-1])
            print(f"[{size:,}] build: {t['wall']:.1f} s wall, {t['cpu']:.1f} s CPU, peak {t['peak'] / GB:.2f} GB",
                  file=sys.stderr, flush=True)
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    git = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip() or "unknown (not a git checkout)"
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    header = (f"End-to-end build of birth year {args.year} (seed {args.seed}, cut-off {args.cutoff}); code in {ROOT}, "
              f"commit {git}{' with uncommitted changes' if dirty else ''}; {os.cpu_count()} CPUs; "
              f"load average now {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    text = header + "\n\n" + render(results, args.top)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text + "\n")
    if args.json:
        Path(args.json).write_text(json.dumps({"header": header, "results": results}, indent=1))
    return 0 if all(r["build"].get("ok") for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
