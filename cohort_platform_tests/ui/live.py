"""A live Dagster for the UI tests: a server process on 127.0.0.1 and a free port, its GraphQL API, and
a stop that kills its whole process group (webserver, daemon, code server and the runs they launched).

Used by `test_asset_graph.py` (`dagster-webserver` alone) and `test_backfill_and_delivery.py` (`dagster dev`:
webserver and daemon).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = REPO / ".venv" / "bin"
STARTUP_SECONDS = 120
ASSET_NODES = "{ assetNodes { assetKey { path } dependencyKeys { path } groupName } }"


@dataclass(frozen=True)
class Server:
    url: str
    log: Path
    process: subprocess.Popen


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def graphql(url: str, query: str, variables: Mapping | None = None, timeout: float = 30) -> dict:
    """The `data` of a GraphQL answer; fails the test on a GraphQL error."""
    body = {"query": query, "variables": dict(variables or {})}
    request = urllib.request.Request(f"{url}/graphql", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        answer = json.load(response)
    assert "errors" not in answer, answer["errors"]
    return answer["data"]


def wait_until_serving(url: str, process: subprocess.Popen, log: Path, seconds: float = STARTUP_SECONDS) -> None:
    """Until the code location has loaded: GraphQL answers with asset nodes (bounded)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{process.args[0]} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if graphql(url, ASSET_NODES, timeout=5)["assetNodes"]:
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError, AssertionError):
            pass
        time.sleep(1)
    pytest.fail(f"{process.args[0]} did not serve the asset graph within {seconds:g} s:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    """SIGTERM the server's process group (it has children: the code server, the daemon, runs), SIGKILL
    after 10 s."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


@contextmanager
def serve(command: list[str], env: Mapping[str, str], log: Path) -> Iterator[Server]:
    """`command -w workspace.yaml -h 127.0.0.1 -p PORT` (e.g. `["dagster", "dev"]`, from the venv) in its
    own session, until it serves the asset graph; stopped, with everything it started, on exit."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(BIN / command[0]), *command[1:], "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
            cwd=REPO, env=dict(env), stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        wait_until_serving(url, process, log)
        graphql(url, "mutation { setNuxSeen }")  # else a "join the community" dialog covers the pages
        yield Server(url=url, log=log, process=process)
    finally:
        stop(process)
