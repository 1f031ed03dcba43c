"""The headless build: materialise every asset and run every check, then summarise.

Runs are recorded in the local Dagster instance (`DAGSTER_HOME`), so whatever the build made is
visible afterwards in the UI (`dagster dev -w workspace.yaml`).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from cohort_platform.config import Settings
from cohort_platform.orchestration.jobs import BIRTH_YEAR_JOB, OUTPUTS_JOB, SHARED_JOB

REPO_ROOT = Path(__file__).resolve().parents[2]
# Dagster's own event log is in the instance (and the UI); the terminal shows progress lines only.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def ensure_dagster_home(default: Path | None = None) -> Path:
    """Use DAGSTER_HOME if set, else `<repo>/.dagster_home`, with the repo's dagster.yaml in it
    (Dagster reads dagster.yaml only from DAGSTER_HOME, never from the working folder)."""
    home = Path(os.environ.get("DAGSTER_HOME") or default or REPO_ROOT / ".dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    template = REPO_ROOT / "dagster.yaml"
    if template.exists() and not (home / "dagster.yaml").exists():
        shutil.copy(template, home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(home)
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
    return home


@dataclass
class RunDigest:
    """What the summary needs from one run, picklable so that a worker process can send it back."""

    run_id: str
    partition: str | None
    materializations: list[tuple[str, str, dict]] = field(default_factory=list)  # (asset, key's first part, metadata)
    checks: list[tuple[str, str, bool, str]] = field(default_factory=list)  # (asset, check, passed, severity)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (step, message)

    @classmethod
    def of(cls, result: dg.ExecutionResult, partition: str | None) -> "RunDigest":
        digest = cls(run_id=result.run_id, partition=partition)
        for event in result.get_asset_materialization_events():
            mat = event.event_specific_data.materialization
            meta = {k: _plain(getattr(v, "value", v)) for k, v in mat.metadata.items()}
            digest.materializations.append((mat.asset_key.to_user_string(), mat.asset_key.path[0], meta))
        for evaluation in result.get_asset_check_evaluations():
            digest.checks.append((evaluation.asset_key.to_user_string(), evaluation.check_name,
                                  evaluation.passed, evaluation.severity.value))
        for event in result.get_step_failure_events():
            error = event.step_failure_data.error
            message = (error.message.strip().splitlines() or [""])[-1] if error else ""
            digest.failures.append((event.step_key, message))
        return digest


def _plain(value):
    return value if isinstance(value, (int, float, str, bool, type(None))) else str(value)


@dataclass
class BuildSummary:
    rows: dict[str, int] = field(default_factory=dict)
    quarantined: dict[str, int] = field(default_factory=dict)
    checks_passed: list[str] = field(default_factory=list)
    checks_failed: list[tuple[str, str]] = field(default_factory=list)  # (check, severity)
    failed_steps: list[str] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)
    skipped_partitions: bool = False

    @property
    def blocking_failures(self) -> list[str]:
        return [c for c, severity in self.checks_failed if severity == "ERROR"]

    @property
    def ok(self) -> bool:
        return not self.failed_steps and not self.blocking_failures

    def add(self, digest: RunDigest) -> None:
        self.runs.append(digest.run_id)
        suffix = f"[{digest.partition}]" if digest.partition else ""
        for asset, first, meta in digest.materializations:
            name = asset + suffix
            rows = meta.get("rows_accepted", meta.get("row_count", meta.get("dagster/row_count")))
            if rows is not None:
                self.rows[name] = int(rows)
            if "rows_quarantined" in meta and first == "clean":
                self.quarantined[name] = int(meta["rows_quarantined"])
        for asset, check, passed, severity in digest.checks:
            name = f"{asset}{suffix}:{check}"
            if passed:
                self.checks_passed.append(name)
            else:
                self.checks_failed.append((name, severity))
        for step, message in digest.failures:
            self.failed_steps.append(f"{step}{suffix}: {message}")

    def render(self) -> str:
        lines = ["", "Build summary", "============="]
        lines.append(f"assets built: {len(self.rows)} in {len(self.runs)} run(s)")
        lines.append(f"checks: {len(self.checks_passed)} passed, {len(self.checks_failed)} failed "
                     f"({len(self.blocking_failures)} blocking)")
        if self.rows:
            lines.append("")
            lines.append(f"{'asset':48} {'rows':>10} {'quarantined':>12}")
            for name in sorted(self.rows):
                q = self.quarantined.get(name)
                lines.append(f"{name:48} {self.rows[name]:>10,} {'' if q is None else f'{q:,}':>12}")
        for name, severity in self.checks_failed:
            lines.append(f"check failed ({severity}): {name}")
        for step in self.failed_steps:
            lines.append(f"asset failed: {step}")
        if self.skipped_partitions:
            lines.append("birth-year partitions not built: an upstream asset failed")
        lines.append("")
        lines.append("BUILD OK" if self.ok else "BUILD FAILED")
        return "\n".join(lines)


STAGES = ("shared", "birth-years", "outputs")


def run_build(settings: Settings, birth_years: list[int] | None = None,
              instance: dg.DagsterInstance | None = None, parallel: int = 1,
              stages: Sequence[str] = STAGES) -> BuildSummary:
    """Materialise the shared assets once, then each requested birth-year partition, then the outputs.

    `parallel` > 1 builds that many birth years at once, each in a process of its own (a birth-year
    run writes only its own Parquet partitions and reads the warehouse, which many processes may
    read at once). `stages` limits the build to some of "shared", "birth-years" and "outputs"."""
    from cohort_platform.definitions import build_defs

    unknown = set(stages) - set(STAGES)
    if unknown:
        raise ValueError(f"unknown build stage(s) {sorted(unknown)}: choose from {', '.join(STAGES)}")
    if parallel < 1:
        raise ValueError(f"parallel must be at least 1, got {parallel}")
    if not settings.raw_dir.is_dir():
        raise FileNotFoundError(f"raw extract root {settings.raw_dir} does not exist (set --raw-dir or COHORT_RAW_DIR)")
    settings.home.mkdir(parents=True, exist_ok=True)
    if instance is None:
        ensure_dagster_home()
        instance = dg.DagsterInstance.get()
    defs = build_defs(settings)
    summary = BuildSummary()
    if "shared" in stages:
        print(f"Building shared assets (raw extracts from {settings.raw_dir})", file=sys.stderr, flush=True)
        summary.add(execute(SHARED_JOB, settings, instance))

    if summary.failed_steps:
        print("Skipping birth-year partitions: shared assets failed (see below)", file=sys.stderr, flush=True)
        summary.skipped_partitions = True
        return summary
    if BIRTH_YEAR_JOB not in {j.name for j in defs.resolve_all_job_defs()}:
        return summary
    if "birth-years" in stages:
        available = set(defs.resolve_job_def(BIRTH_YEAR_JOB).partitions_def.get_partition_keys())
        years = [str(y) for y in (birth_years or delivered_birth_years(settings))]
        for year in years:
            if year not in available:
                raise ValueError(f"birth year {year} is not a partition (have {min(available)}-{max(available)})")
        if parallel > 1 and len(years) > 1:
            for digest in build_birth_years_in_processes(settings, years, instance, parallel):
                summary.add(digest)
        else:
            for year in years:
                print(f"Building birth year {year}", file=sys.stderr, flush=True)
                summary.add(execute(BIRTH_YEAR_JOB, settings, instance, partition=year))
        refresh_warehouse_views(settings)
    if "outputs" in stages:
        if summary.failed_steps:
            print("Skipping outputs: a birth year failed (see below)", file=sys.stderr, flush=True)
        else:
            print("Building outputs across birth years", file=sys.stderr, flush=True)
            summary.add(execute(OUTPUTS_JOB, settings, instance))
    return summary


def build_birth_years_in_processes(settings: Settings, years: Sequence[str], instance: dg.DagsterInstance,
                                   parallel: int, worker=None) -> list[RunDigest]:
    """Each birth year in a fresh process (spawned: no state shared with this one), `parallel` at a
    time; a persistent instance records every run, an ephemeral one gives each worker its own.

    This process must hold no warehouse connection meanwhile: the workers open it read-only.
    `worker(settings, year, instance_ref) -> RunDigest` must be importable by name (default: the
    birth-year run, `build_birth_year_in_worker`)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    ref = None if instance.is_ephemeral else instance.get_ref()
    digests: list[RunDigest] = []
    print(f"Building birth years {', '.join(years)}, {parallel} at a time in separate processes",
          file=sys.stderr, flush=True)
    with ProcessPoolExecutor(max_workers=min(parallel, len(years)), mp_context=multiprocessing.get_context("spawn"),
                             max_tasks_per_child=1) as pool:
        futures = {pool.submit(worker or build_birth_year_in_worker, settings, year, ref): year for year in years}
        for future in as_completed(futures):
            year = futures[future]
            try:
                digests.append(future.result())
            except Exception as error:  # a worker that died (e.g. out of memory) fails its birth year only
                digests.append(RunDigest(run_id=f"worker-{year}", partition=year,
                                         failures=[(BIRTH_YEAR_JOB, f"worker process failed: {type(error).__name__}: {error}")]))
    return sorted(digests, key=lambda d: d.partition or "")


def build_birth_year_in_worker(settings: Settings, year: str, instance_ref) -> RunDigest:
    """One birth-year run, in a worker process of `build_birth_years_in_processes`."""
    os.environ.update({"COHORT_HOME": str(settings.home), "COHORT_RAW_DIR": str(settings.raw_dir),
                       "COHORT_CUTOFF": settings.cutoff.isoformat()})
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
    instance = dg.DagsterInstance.from_ref(instance_ref) if instance_ref is not None else dg.DagsterInstance.ephemeral()
    print(f"Building birth year {year} (process {os.getpid()})", file=sys.stderr, flush=True)
    return execute(BIRTH_YEAR_JOB, settings, instance, partition=year)


def job_for(name: str, home: str, raw_dir: str, cutoff: str) -> dg.JobDefinition:
    """Job `name` of the definitions for these settings: what `execute` reconstructs."""
    from cohort_platform.definitions import build_defs

    settings = Settings(home=Path(home), raw_dir=Path(raw_dir), cutoff=dt.date.fromisoformat(cutoff))
    return build_defs(settings).resolve_job_def(name)


def execute(name: str, settings: Settings, instance: dg.DagsterInstance, partition: str | None = None) -> RunDigest:
    """Run job `name` (of partition `partition`) in this process and digest the result.

    `execute_in_process` keeps every step's output in memory until the run ends (for
    `output_for_node`): at 50,000 children that alone held 0.9 GB of a 3.7 GB peak. `execute_job`
    keeps none; it needs a persistent instance and a job it can rebuild by name (`job_for`), so an
    ephemeral instance (tests) still runs in process."""
    args = (name, str(settings.home.resolve()), str(settings.raw_dir.resolve()), settings.cutoff.isoformat())
    if instance.is_ephemeral:
        result = job_for(*args).execute_in_process(run_config=QUIET, instance=instance, partition_key=partition,
                                                   raise_on_error=False)
        return RunDigest.of(result, partition)
    job = dg.build_reconstructable_job(__name__, job_for.__name__, reconstructable_args=args)
    tags = {"dagster/partition": partition} if partition else None
    with dg.execute_job(job, instance, run_config=QUIET, tags=tags) as result:
        return RunDigest.of(result, partition)


def refresh_warehouse_views(settings: Settings) -> list[str]:
    """(Re)create the warehouse's views over the Parquet partitions (needs the write lock)."""
    from cohort_platform.defs.resources import open_warehouse
    from cohort_platform.orchestration.storage import refresh_partition_views

    if not settings.warehouse_path.exists():
        return []
    con = open_warehouse(settings.warehouse_path, views=False)
    try:
        return refresh_partition_views(con, settings.home)
    finally:
        con.close()


def delivered_birth_years(settings: Settings) -> list[int]:
    """The birth years present in the ingested births: the default partitions to build."""
    import duckdb

    from cohort_platform.defs.resources import open_warehouse

    if not settings.warehouse_path.exists():
        return []
    con = open_warehouse(settings.warehouse_path, read_only=True)
    try:
        rows = con.execute("select distinct year(dob) from clean.births where dob is not null order by 1").fetchall()
    except duckdb.CatalogException:
        return []
    finally:
        con.close()
    return [int(r[0]) for r in rows]
