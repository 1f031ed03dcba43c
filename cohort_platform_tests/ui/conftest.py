"""Registers the `ui` marker: tests that start the Dagster web server (`test_asset_graph.py`, with headless
Chromium) or `dagster dev` with its daemon (`test_backfill_and_delivery.py`) on loopback.

They run by default, in CI too: `./dev test` installs Debian's chromium when it is missing. Deselect
them locally with `-m "not ui"`. Helpers shared by both modules live in `live.py`.
"""


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "ui: starts dagster-webserver or dagster dev on loopback (and drives headless Chromium)")
