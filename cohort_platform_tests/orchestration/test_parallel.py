"""Birth years in parallel: job tags and executors, the run queue's limits in dagster.yaml, and the
headless build's worker processes (here with a stand-in worker: the real one is benchmarked in
benchmarks/parallel_birth_years.py)."""

import datetime as dt
import os
import time
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._utils.tags import TagConcurrencyLimitsCounter

from cohort_platform.config import Settings
from cohort_platform.orchestration.build import RunDigest, build_birth_years_in_processes, run_build
from cohort_platform.orchestration.jobs import (
    BIRTH_YEAR_JOB,
    OUTPUTS_JOB,
    SHARED_JOB,
    STAGE_TAGS,
    birth_year_executor,
    build_jobs,
)

REPO = Path(__file__).resolve().parents[2]
SETTINGS = Settings(home=Path("/nonexistent/home"), raw_dir=Path("/nonexistent/raw"), cutoff=dt.date(2025, 3, 31))


# --- jobs -------------------------------------------------------------------------------------------

def _jobs(env=None) -> dict:
    return {j.name: j for j in build_jobs([dg.AssetKey(["secure", "link_map"])], env=env)}


def test_each_job_tags_its_runs_with_its_stage_and_whether_it_writes_the_warehouse():
    jobs = _jobs()
    assert {name: job.tags for name, job in jobs.items()} == STAGE_TAGS
    assert STAGE_TAGS[BIRTH_YEAR_JOB]["cohort/warehouse"] == "read"
    assert STAGE_TAGS[SHARED_JOB]["cohort/warehouse"] == STAGE_TAGS[OUTPUTS_JOB]["cohort/warehouse"] == "write"


def test_the_jobs_that_write_the_warehouse_run_in_one_process_whatever_the_birth_year_executor():
    jobs = _jobs({"COHORT_BIRTH_YEAR_EXECUTOR": "multiprocess"})
    assert jobs[SHARED_JOB].executor_def is dg.in_process_executor
    assert jobs[OUTPUTS_JOB].executor_def is dg.in_process_executor
    assert jobs[BIRTH_YEAR_JOB].executor_def is dg.multiprocess_executor


def test_birth_year_runs_use_the_in_process_executor_by_default():
    assert birth_year_executor({}) is dg.in_process_executor


def test_an_unknown_birth_year_executor_is_refused():
    with pytest.raises(ValueError, match="COHORT_BIRTH_YEAR_EXECUTOR must be one of"):
        birth_year_executor({"COHORT_BIRTH_YEAR_EXECUTOR": "threads"})


# --- the run queue (dagster.yaml) ---------------------------------------------------------------------

class _Run:
    def __init__(self, tags: dict):
        self.tags = tags


def _birth_year(year: str) -> _Run:
    return _Run({**STAGE_TAGS[BIRTH_YEAR_JOB], "dagster/partition": year})


def _blocked(run: _Run, in_progress: list[_Run]) -> bool:
    config = yaml.safe_load((REPO / "dagster.yaml").read_text())["run_queue"]
    if len(in_progress) >= config["max_concurrent_runs"]:
        return True
    return TagConcurrencyLimitsCounter(config["tag_concurrency_limits"], in_progress).is_blocked(run)


def test_the_queue_runs_two_birth_years_at_once_but_not_three():
    assert not _blocked(_birth_year("2009"), [_birth_year("2008")])
    assert _blocked(_birth_year("2010"), [_birth_year("2008"), _birth_year("2009")])


def test_the_queue_never_runs_the_same_birth_year_twice_at_once():
    assert _blocked(_birth_year("2008"), [_birth_year("2008")])


def test_the_queue_runs_one_warehouse_writer_at_a_time():
    assert _blocked(_Run(STAGE_TAGS[OUTPUTS_JOB]), [_Run(STAGE_TAGS[SHARED_JOB])])
    assert not _blocked(_Run(STAGE_TAGS[SHARED_JOB]), [])


# --- the headless build's worker processes ----------------------------------------------------------

def stand_in_worker(settings: Settings, year: str, instance_ref) -> RunDigest:
    """Pretends to build a birth year: says it started (a file in the home), waits until a second
    birth year has started too (30 s at most), and records its process, when it ran and how many
    had started by then. 2011 dies."""
    if year == "2011":
        raise RuntimeError("out of memory")
    started = time.time()
    (settings.home / f"started-{year}").touch()
    while time.time() < started + 30 and len(list(settings.home.glob("started-*"))) < 2:
        time.sleep(0.05)
    seen = len(list(settings.home.glob("started-*")))
    time.sleep(0.5)
    return RunDigest(run_id=f"run-{year}", partition=year, materializations=[
        ("secure/link_map", "secure", {"row_count": 1, "pid": os.getpid(), "seen": seen, "start": started, "end": time.time()})])


@pytest.fixture(scope="module")
def worker_digests(tmp_path_factory):
    settings = Settings(home=tmp_path_factory.mktemp("rendezvous"), raw_dir=SETTINGS.raw_dir, cutoff=SETTINGS.cutoff)
    return build_birth_years_in_processes(settings, ["2008", "2009", "2010", "2011"], dg.DagsterInstance.ephemeral(),
                                          parallel=2, worker=stand_in_worker)


def _ran(digests) -> dict[str, dict]:
    return {d.partition: d.materializations[0][2] for d in digests if d.materializations}


def test_birth_years_are_built_in_separate_processes_two_at_a_time(worker_digests):
    ran = _ran(worker_digests)
    assert len({m["pid"] for m in ran.values()} | {os.getpid()}) == len(ran) + 1  # a fresh process each
    assert ran["2008"]["seen"] >= 2 and ran["2009"]["seen"] >= 2  # the first two ran at the same time
    events = sorted([(m["start"], 1) for m in ran.values()] + [(m["end"], -1) for m in ran.values()])
    running = [sum(step for _, step in events[: i + 1]) for i in range(len(events))]
    assert max(running) <= 2


def test_a_worker_that_dies_fails_its_birth_year_only(worker_digests):
    failed = {d.partition: d.failures for d in worker_digests if d.failures}
    assert list(failed) == ["2011"]
    assert "out of memory" in failed["2011"][0][1]
    assert sorted(_ran(worker_digests)) == ["2008", "2009", "2010"]


def test_a_failed_worker_fails_the_build_summary(worker_digests):
    from cohort_platform.orchestration.build import BuildSummary

    summary = BuildSummary()
    for digest in worker_digests:
        summary.add(digest)
    assert not summary.ok
    assert summary.rows["secure/link_map[2010]"] == 1
    assert summary.failed_steps == ["build_birth_year[2011]: worker process failed: RuntimeError: out of memory"]


def test_an_unknown_build_stage_is_refused():
    with pytest.raises(ValueError, match="unknown build stage"):
        run_build(SETTINGS, stages=("ingest",))
