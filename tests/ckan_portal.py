"""A real CKAN 2.12 for tests: the portal in CKAN_URL/CKAN_API_TOKEN, or one run by devtools/ckan.

Import the fixture where it is needed (``from tests.ckan_portal import ckan_portal``). Without
the two variables it installs CKAN into its own virtual environment when needed, sets it up,
starts it, and stops it at the end of the session if it was not running before. CKAN never
enters this project's virtual environment (its pytest plugin would load itself into our runs).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import ckanapi
import pytest

RUN = Path(__file__).resolve().parents[1] / "devtools" / "ckan" / "run.py"
HINT = (
    "Start a development CKAN: devtools/ckan/run.py install setup start (docs/ckan-dev.md), "
    "or point the tests at a portal: export CKAN_URL=... CKAN_API_TOKEN=... (a sysadmin's token)."
)


@dataclass(frozen=True)
class Portal:
    """A running CKAN and a sysadmin's API token."""

    url: str
    token: str
    local: bool  # run by devtools/ckan/run.py on this machine: its CKAN CLI can be used
    datastore_url: str | None = None  # its DataStore database, for loading with COPY

    def copy_url(self) -> str:
        """The DataStore database URL, for tests of the COPY loader."""
        if not self.datastore_url:
            pytest.fail(
                "COPY loading needs the portal's DataStore database: export "
                "CKAN_DATASTORE_WRITE_URL=... (its ckan.datastore.write_url).",
                pytrace=False,
            )
        return self.datastore_url

    def client(self) -> ckanapi.RemoteCKAN:
        """A ckanapi client; use it as a context manager so its HTTP session is closed."""
        return ckanapi.RemoteCKAN(self.url, apikey=self.token, user_agent="jianguan-tests")

    def purge(self, *names: str) -> None:
        """Remove datasets (names or ids) for good, their DataStore tables too."""
        from open_data.ckan import CkanPortal

        publisher = CkanPortal(self.url, self.token)
        for name in names:
            publisher.purge(name)

    def cli(self, *args: str) -> str:
        """Run a CKAN CLI command (``search-index rebuild``) against the local portal."""
        if not self.local:
            raise RuntimeError("the CKAN CLI is only available for the portal run by devtools/ckan")
        return _run("ckan", *args).stdout


def _run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, str(RUN), *args], capture_output=True, text=True, check=False
    )
    if check and result.returncode != 0:
        output = (result.stdout + result.stderr).strip()
        pytest.fail(
            f"`devtools/ckan/run.py {' '.join(args)}` failed:\n{output}\n\n{HINT}", pytrace=False
        )
    return result


def _exported(text: str) -> dict[str, str]:
    """``export NAME='value'`` lines, as ``run.py env`` prints them."""
    values = {}
    for line in text.splitlines():
        words = shlex.split(line)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            name, value = words[1].split("=", 1)
            values[name] = value
    return values


@pytest.fixture(scope="session")
def ckan_portal() -> Iterator[Portal]:
    """The CKAN the tests publish into (session-wide; each test names its objects uniquely)."""
    url, token = os.environ.get("CKAN_URL"), os.environ.get("CKAN_API_TOKEN")
    if url and token:
        write_url = os.environ.get("CKAN_DATASTORE_WRITE_URL") or None
        portal = Portal(url.rstrip("/"), token, local=False, datastore_url=write_url)
        with portal.client() as ckan:
            try:
                ckan.action.status_show()
            except Exception as exc:  # any failure here means the same thing: no portal
                pytest.fail(f"CKAN_URL={url} does not answer ({exc!r}).\n{HINT}", pytrace=False)
        yield portal
        return
    was_running = _run("status", check=False).returncode == 0
    for step in ("install", "setup", "start"):
        _run(step)
    values = _exported(_run("env").stdout)
    try:
        yield Portal(
            values["CKAN_URL"],
            values["CKAN_API_TOKEN"],
            local=True,
            datastore_url=values.get("CKAN_DATASTORE_WRITE_URL"),
        )
    finally:
        if not was_running:
            _run("stop", check=False)
