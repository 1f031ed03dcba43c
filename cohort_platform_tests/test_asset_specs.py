"""A snapshot of every asset spec and check, so that a changed key, dependency, group or partitioning
shows up in review. After an intended change: `UPDATE_SNAPSHOTS=1 ./dev test cohort_platform_tests/test_asset_specs.py`."""

import json
import os
from pathlib import Path

from cohort_platform.definitions import build_defs

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_specs.json"


def spec_snapshot() -> dict:
    defs = build_defs()
    graph = defs.resolve_asset_graph()
    checks: dict[str, list[str]] = {}
    for check_key in graph.asset_check_keys:
        checks.setdefault(check_key.asset_key.to_user_string(), []).append(check_key.name)
    snapshot = {}
    for spec in sorted(defs.resolve_all_asset_specs(), key=lambda s: s.key.to_user_string()):
        name = spec.key.to_user_string()
        snapshot[name] = {
            "group": spec.group_name,
            "deps": sorted(d.asset_key.to_user_string() for d in spec.deps),
            "partitions": spec.partitions_def.__class__.__name__ if spec.partitions_def else None,
            "kinds": sorted(spec.kinds),
            "checks": sorted(checks.get(name, [])),
        }
    return snapshot


def test_asset_specs_match_the_snapshot():
    current = spec_snapshot()
    if os.environ.get("UPDATE_SNAPSHOTS") or not SNAPSHOT.exists():
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n")
    assert current == json.loads(SNAPSHOT.read_text())


def test_every_materialisable_asset_has_a_description_and_an_owner():
    for spec in build_defs().resolve_all_asset_specs():
        assert spec.description, spec.key
        assert spec.owners, spec.key


def test_definitions_load_with_jobs_for_the_headless_build():
    defs = build_defs()
    assert defs.resolve_job_def("build_shared_assets") is not None
