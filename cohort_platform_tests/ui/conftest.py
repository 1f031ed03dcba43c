"""Registers the `ui` marker (tests that start the Dagster webserver and drive headless Chromium).

They run by default, in CI too: `./dev test` installs Debian's chromium when it is missing. Deselect
them locally with `-m "not ui"`.
"""


def pytest_configure(config):
    config.addinivalue_line("markers", "ui: starts dagster-webserver on loopback and drives headless Chromium")
