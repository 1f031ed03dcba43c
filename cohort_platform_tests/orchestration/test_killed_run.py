"""A build killed midway (SIGKILL, no clean-up) leaves nothing that a second build does not repair.

One headless `cohort-platform build` on a temp copy of the independent fixture is killed right after
the birth-year run has written `secure/link_map`, `secure/cohort_link_map` and `research/children`
(the progress lines on stderr say so) and while it writes the other research tables. The same build
is then run again, with the same warehouse and Dagster instance. About 2 minutes in all (two builds).
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from cohort_platform.contract.datasets import DATASETS
from cohort_platform.ingest.pipeline import ingest
from cohort_platform_tests.sandbox import sandbox

REPO = Path(__file__).resolve().parents[2]
CUTOFF = "2025-03-31"
KILL_AFTER = "done   research__children"  # partition rows written, the partition run still going
BUILD_TIMEOUT = 600  # generous: about 75 s alone on 2 cores, much longer beside other heavy jobs
# partitioned tables and the key that identifies one row of them
PARTITION_KEYS = {
    # one record per person it is linked to: a mother's admission links to each of her twins
    "secure.link_map": "dataset, record_id, role, person_id",
    "secure.cohort_link_map": "dataset, record_id, role, person_id",
    "research.children": "research_id",
}


@dataclass(frozen=True)
class Workdir:
    raw: Path
    home: Path
    env: dict[str, str]

    @property
    def warehouse(self) -> Path:
        return self.home / "warehouse.duckdb"


def build_command(work: Workdir) -> list[str]:
    return [sys.executable, "-m", "cohort_platform.cli", "build", "--raw-dir", str(work.raw),
            "--home", str(work.home), "--cutoff", CUTOFF]


def start_build_and_kill_it_midway(work: Workdir) -> tuple[int, list[str]]:
    """SIGKILL the build's process group once the warehouse exists and KILL_AFTER was printed."""
    process = subprocess.Popen(build_command(work), cwd=REPO, env=work.env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    lines: list[str] = []
    # kills a build that hangs or never reaches KILL_AFTER, even when it prints nothing more
    watchdog = threading.Timer(BUILD_TIMEOUT, os.killpg, (process.pid, signal.SIGKILL))
    watchdog.start()
    try:
        for line in process.stderr:  # the build prints a line per finished step
            lines.append(line.rstrip())
            if KILL_AFTER in line and work.warehouse.exists():
                os.killpg(process.pid, signal.SIGKILL)
                break
    finally:
        watchdog.cancel()
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        process.stderr.close()
    return process.returncode, lines


@pytest.fixture(scope="module")
def killed_then_rebuilt(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("killed_run")
    raw, env = sandbox(tmp)
    env["COHORT_PSEUDONYM_KEY"] = "ab" * 32
    work = Workdir(raw=raw, home=tmp / "home", env=env)
    killed_rc, killed_lines = start_build_and_kill_it_midway(work)
    rebuilt = subprocess.run(build_command(work), cwd=REPO, env=env, capture_output=True, text=True,
                             timeout=BUILD_TIMEOUT)
    return work, killed_rc, killed_lines, rebuilt


def test_the_first_build_was_killed_inside_a_birth_year_run(killed_then_rebuilt):
    _, killed_rc, killed_lines, _ = killed_then_rebuilt
    assert killed_rc == -signal.SIGKILL, "\n".join(killed_lines[-20:])
    assert any(KILL_AFTER in line for line in killed_lines), "killed by the watchdog, not midway:\n" + "\n".join(killed_lines[-20:])
    assert not any("outputs" in line for line in killed_lines), "killed too late: the partition run had ended"


def test_the_build_after_the_kill_succeeds(killed_then_rebuilt):
    _, _, _, rebuilt = killed_then_rebuilt
    assert rebuilt.returncode == 0, rebuilt.stdout[-3000:] + rebuilt.stderr[-3000:]
    assert "BUILD OK" in rebuilt.stdout


@pytest.mark.parametrize("table", sorted(PARTITION_KEYS))
def test_partition_rows_are_replaced_not_duplicated(killed_then_rebuilt, table):
    work, *_ = killed_then_rebuilt
    key = PARTITION_KEYS[table]
    with duckdb.connect(str(work.warehouse), read_only=True) as con:
        rows, distinct = con.execute(f"select count(*), count(distinct ({key})) from {table}").fetchone()
    assert rows > 0, f"{table} is empty: nothing to compare"
    assert rows == distinct, f"{table}: {rows - distinct} duplicated rows after the rebuild"


def test_every_clean_table_reconciles_with_a_fresh_ingest_of_the_same_raw(killed_then_rebuilt):
    work, *_ = killed_then_rebuilt
    with duckdb.connect(str(work.warehouse), read_only=True) as con:
        tables = {r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'clean'").fetchall()}
        datasets = sorted(tables & set(DATASETS))
        assert datasets, "no clean table of a contract dataset"
        found = {
            d: (con.execute(f"select count(*) from clean.{d}").fetchone()[0],
                con.execute(f"select count(*) from (select distinct source_file, source_line from quarantine.{d})").fetchone()[0])
            for d in datasets
        }
    results = {d: ingest(work.raw, d, dt.date.fromisoformat(CUTOFF)) for d in datasets}
    fresh = {d: (r.rows_accepted, r.rows_quarantined) for d, r in results.items()}
    assert found == fresh
