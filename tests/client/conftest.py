"""Fixtures: real gateway processes over seeded SQLite demo data, and the generated client."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "client"
# The generated package is a project of its own (client/pyproject.toml), not installed in .venv.
if str(CLIENT) not in sys.path:
    sys.path.insert(0, str(CLIENT))

from jianguan_client import JianguanClient  # noqa: E402  # needs client/ on sys.path

from tests.conftest import TEST_TIMEOUTS  # noqa: E402

START_TIMEOUT = 30.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cli(*args: str, env: Mapping[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        cwd=ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"jianguan {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")


@contextmanager
def _gateway(env: Mapping[str, str], log: Path) -> Iterator[str]:
    """`python -m gateway.cli serve` on a free port until /healthz answers; its URL."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "serve", "--port", str(port)],
            cwd=ROOT,
            env=dict(env),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the gateway did not start:\n{log.read_text(errors='replace')}")
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            yield f"{url}/graphql"
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An environment whose four sources are SQLite files holding the small demo data set."""
    var_dir = tmp_path_factory.mktemp("client-var")
    env = {k: v for k, v in os.environ.items() if not k.startswith("JIANGUAN_")}
    env["JIANGUAN_VAR_DIR"] = str(var_dir)
    # Generous timeouts: production's are settings, not assertions (tests/conftest.py).
    env["JIANGUAN_SOURCE_TIMEOUT"] = str(TEST_TIMEOUTS["source_timeout"])
    env["JIANGUAN_REQUEST_TIMEOUT"] = str(TEST_TIMEOUTS["request_timeout"])
    _cli("db", "upgrade", env=env)
    _cli("seed", "--scale", "small", env=env)
    _cli("demo-credentials", "--output", str(var_dir / "credentials.json"), env=env)
    return env


@pytest.fixture(scope="module")
def tokens(demo_env: dict[str, str]) -> dict[str, str]:
    """The demo principals' bearer tokens, by name (city.office, p-12345, …)."""
    path = Path(demo_env["JIANGUAN_VAR_DIR"]) / "credentials.json"
    return {c["name"]: c["token"] for c in json.loads(path.read_text(encoding="utf-8"))}


@pytest.fixture(scope="module")
def gateway_url(
    demo_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A gateway that runs only allow-listed documents: those the generated client sends."""
    env = demo_env | {
        "JIANGUAN_PERSISTED_QUERIES": str(CLIENT / "persisted"),
        "JIANGUAN_PERSISTED_ONLY": "true",
    }
    with _gateway(env, tmp_path_factory.mktemp("gateway") / "gateway.log") as url:
        yield url


@pytest.fixture(scope="module")
def degraded_gateway_url(
    demo_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A gateway whose complaints source is read over HTTP from a port nobody listens on."""
    with socket.socket() as closed:  # bound, never listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        env = demo_env | {
            "JIANGUAN_COMPLAINTS_URL": f"http://127.0.0.1:{closed.getsockname()[1]}",
            "JIANGUAN_SOURCE_API_TOKEN": "test-token-unused",
        }
        with _gateway(env, tmp_path_factory.mktemp("degraded") / "gateway.log") as url:
            yield url


def bearer(token: str) -> dict[str, str]:
    """The header a signed-in caller sends."""
    return {"Authorization": f"Bearer {token}"}


@pytest_asyncio.fixture
async def client(gateway_url: str, tokens: dict[str, str]) -> AsyncIterator[JianguanClient]:
    """The generated client, signed in as the city office (sees everything, masked)."""
    async with JianguanClient(url=gateway_url, headers=bearer(tokens["city.office"])) as jianguan:
        yield jianguan


@pytest_asyncio.fixture
async def degraded_client(
    degraded_gateway_url: str, tokens: dict[str, str]
) -> AsyncIterator[JianguanClient]:
    """The generated client against the gateway whose complaints source is down."""
    headers = bearer(tokens["city.office"])
    async with JianguanClient(url=degraded_gateway_url, headers=headers) as jianguan:
        yield jianguan
