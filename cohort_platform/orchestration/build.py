"""The headless build: materialise every asset and run every check, then summarise.

Runs are recorded in the local Dagster instance (`DAGSTER_HOME`), so whatever the build made is
visible afterwards in the UI (`dagster dev -w workspace.yaml`).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections import defaultdict
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

    def absorb(self, result: dg.ExecuteInProcessResult, partition: str | None) -> None:
        self.runs.append(result.run_id)
        suffix = f"[{partition}]" if partition else ""
        for event in result.get_asset_materialization_events():
            mat = event.event_specific_data.materialization
            name = mat.asset_key.to_user_string() + suffix
            meta = {k: getattr(v, "value", v) for k, v in mat.metadata.items()}
            rows = meta.get("rows_accepted", meta.get("row_count", meta.get("dagster/row_count")))
            if rows is not None:
                self.rows[name] = int(rows)
            if "rows_quarantined" in meta and mat.asset_key.path[0] == "clean":
                self.quarantined[name] = int(meta["rows_quarantined"])
        for evaluation in result.get_asset_check_evaluations():
            name = f"{evaluation.asset_key.to_user_string()}{suffix}:{evaluation.check_name}"
            if evaluation.passed:
                self.checks_passed.append(name)
            else:
                self.checks_failed.append((name, evaluation.severity.value))
        for event in result.get_step_failure_events():
            error = event.step_failure_data.error
            message = (error.message.strip().splitlines() or [""])[-1] if error else ""
            self.failed_steps.append(f"{event.step_key}{suffix}: {message}")

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


def run_build(settings: Settings, birth_years: list[int] | None = None,
              instance: dg.DagsterInstance | None = None) -> BuildSummary:
    """Materialise the shared assets once, then each requested birth-year partition."""
    from cohort_platform.definitions import build_defs

    if not settings.raw_dir.is_dir():
        raise FileNotFoundError(f"raw extract root {settings.raw_dir} does not exist (set --raw-dir or COHORT_RAW_DIR)")
    settings.home.mkdir(parents=True, exist_ok=True)
    if instance is None:
        ensure_dagster_home()
        instance = dg.DagsterInstance.get()
    defs = build_defs(settings)
    summary = BuildSummary()
    print(f"Building shared assets (raw extracts from {settings.raw_dir})", file=sys.stderr, flush=True)
    shared = defs.resolve_job_def(SHARED_JOB).execute_in_process(run_config=QUIET, instance=instance, raise_on_error=False)
    summary.absorb(shared, None)

    if summary.failed_steps:
        print("Skipping birth-year partitions: shared assets failed (see below)", file=sys.stderr, flush=True)
        summary.skipped_partitions = True
    elif BIRTH_YEAR_JOB in {j.name for j in defs.resolve_all_job_defs()}:
        job = defs.resolve_job_def(BIRTH_YEAR_JOB)
        available = set(job.partitions_def.get_partition_keys())
        years = [str(y) for y in (birth_years or delivered_birth_years(settings))]
        for year in years:
            if year not in available:
                raise ValueError(f"birth year {year} is not a partition (have {min(available)}-{max(available)})")
            print(f"Building birth year {year}", file=sys.stderr, flush=True)
            summary.absorb(job.execute_in_process(run_config=QUIET, instance=instance, partition_key=year, raise_on_error=False), year)
        if summary.failed_steps:
            print("Skipping outputs: a birth year failed (see below)", file=sys.stderr, flush=True)
        else:
            print("Building outputs across birth years", file=sys.stderr, flush=True)
            summary.absorb(defs.resolve_job_def(OUTPUTS_JOB).execute_in_process(
                run_config=QUIET, instance=instance, raise_on_error=False), None)
    return summary


def delivered_birth_years(settings: Settings) -> list[int]:
    """The birth years present in the ingested births: the default partitions to build."""
    import duckdb

    from cohort_platform.defs.resources import open_warehouse

    if not settings.warehouse_path.exists():
        return []
    con = open_warehouse(settings.warehouse_path)
    try:
        rows = con.execute("select distinct year(dob) from clean.births where dob is not null order by 1").fetchall()
    except duckdb.CatalogException:
        return []
    finally:
        con.close()
    return [int(r[0]) for r in rows]
