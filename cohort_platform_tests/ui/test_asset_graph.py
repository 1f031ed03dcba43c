"""Lineage in the UI: the real webserver, its GraphQL API and the asset graph page in headless Chromium.

One webserver serves the whole module (about 15-25 s to load the code location). It runs against
`workspace.yaml` with a throwaway DAGSTER_HOME and a temporary copy of the independent fixture, on
127.0.0.1 and a free port, in its own process group, which is killed whatever the tests do.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from cohort_platform_tests.sandbox import sandbox
from cohort_platform_tests.ui.live import ASSET_NODES, REPO, Server, graphql, serve

CHROMIUM = Path("/usr/bin/chromium")
# raw extract -> clean -> identifiers -> link map -> opt-outs applied -> research table
LINEAGE = ["raw/births", "clean/births", "secure/identifiers_births", "secure/link_map",
           "secure/cohort_link_map", "research/children"]

pytestmark = pytest.mark.ui


@pytest.fixture(scope="module")
def webserver(tmp_path_factory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("ui")
    raw, env = sandbox(tmp)
    env.update(COHORT_HOME=str(tmp / "home"), COHORT_RAW_DIR=str(raw))
    with serve(["dagster-webserver"], env, tmp / "webserver.log") as server:
        yield server


def chromium(*args: str, profile: Path, timeout: float = 90) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1600,1000",
             "--virtual-time-budget=20000"]
    return subprocess.run([str(CHROMIUM), *flags, *args], capture_output=True, text=True, timeout=timeout)


def global_lineage_page(url: str) -> str:
    """Every asset, folded into its groups: legible at 1600 x 1000, unlike 80 asset nodes."""
    return f"{url}/asset-groups"


def rendered_dom(url: str, tmp_path: Path, until: str, attempts: int = 3) -> str:
    """The DOM after the page's scripts ran; tried again (bounded) while `until` is missing, because
    on a loaded machine the graph's GraphQL answers can outlast Chromium's virtual-time budget."""
    dom = ""
    for attempt in range(attempts):
        result = chromium("--dump-dom", url, profile=tmp_path / f"profile{attempt}")
        assert result.returncode == 0, result.stderr[-2000:]
        dom = result.stdout
        if until in dom:
            break
    return dom


def lineage_page(url: str) -> str:
    """research/children's upstream lineage, deep enough to reach the raw extract."""
    return f"{url}/assets/research/children?view=lineage&lineageScope=upstream&lineageDepth={len(LINEAGE)}"


def test_the_lineage_path_exists_in_the_definitions():
    """The keys this module checks in the UI are the real ones (guards the test itself)."""
    from cohort_platform.definitions import build_defs

    graph = build_defs().resolve_asset_graph()
    keys = [dg.AssetKey.from_user_string(k) for k in LINEAGE]
    for parent, child in zip(keys, keys[1:]):
        assert child in graph.get(parent).child_keys, f"{parent.to_user_string()} -> {child.to_user_string()}"


def test_graphql_asset_graph_has_the_path_from_raw_births_to_research_children(webserver):
    nodes = graphql(webserver.url, ASSET_NODES)["assetNodes"]
    parents = {"/".join(n["assetKey"]["path"]): {"/".join(d["path"]) for d in n["dependencyKeys"]} for n in nodes}
    for parent, child in zip(LINEAGE, LINEAGE[1:]):
        assert parent in parents.get(child, set()), f"UI graph lacks {parent} -> {child}"


def test_graphql_asset_graph_shows_the_groups_of_the_lineage(webserver):
    nodes = graphql(webserver.url, ASSET_NODES)["assetNodes"]
    groups = {n["groupName"] for n in nodes}
    assert {"raw", "clean", "linkage", "privacy", "research", "outputs"} <= groups


@pytest.mark.skipif(not CHROMIUM.exists(), reason="never skipped in CI: ./dev test installs chromium")
def test_headless_chromium_renders_the_lineage_from_raw_births_to_research_children(webserver, tmp_path):
    dom = rendered_dom(lineage_page(webserver.url), tmp_path, until="cohort_link_map")
    assert "<svg" in dom, "no graph drawn"
    for name in ("identifiers_births", "link_map", "cohort_link_map", "children"):
        assert name in dom, f"asset node {name!r} not rendered"


@pytest.mark.skipif(not CHROMIUM.exists(), reason="never skipped in CI: ./dev test installs chromium")
def test_headless_chromium_screenshots_the_global_lineage(webserver, tmp_path):
    """A non-trivial PNG of the group-level lineage (raw -> clean -> ... -> research -> outputs); UPDATE_DOCS_SCREENSHOT=1 copies it to docs/img/asset_graph.png."""
    shot = tmp_path / "asset_graph.png"
    result = chromium(f"--screenshot={shot}", global_lineage_page(webserver.url), profile=tmp_path / "profile")
    assert result.returncode == 0, result.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000, "a blank page compresses to a few KB"
    if os.environ.get("UPDATE_DOCS_SCREENSHOT"):
        (REPO / "docs" / "img").mkdir(exist_ok=True)
        shutil.copy(shot, REPO / "docs" / "img" / "asset_graph.png")
