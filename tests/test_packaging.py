"""The image is built from ``requirements.lock``: it must pin every runtime dependency that
pyproject.toml declares, at a version pyproject allows, each with its hashes; its command and
health check honour ``PORT``."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.servers import LiveServer, free_port

ROOT = Path(__file__).parents[1]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)")


def _pins() -> dict[str, tuple[Version, int]]:
    """name: (version, number of hashes) of each entry of the lock file."""
    pins: dict[str, tuple[Version, int]] = {}
    current = None
    for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines():
        if found := PIN.match(line):
            current = canonicalize_name(found[1])
            pins[current] = (Version(found[2]), 0)
        elif current is not None and "--hash=sha256:" in line:
            version, hashes = pins[current]
            pins[current] = (version, hashes + 1)
    return pins


def _runtime() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [Requirement(text) for text in project["dependencies"]]


def test_every_runtime_dependency_is_pinned_within_its_bounds() -> None:
    pins = _pins()
    runtime = _runtime()
    assert len(runtime) >= 20  # the list was read
    for requirement in runtime:
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is not in requirements.lock"
        version, _ = pins[name]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"requirements.lock pins {name}=={version}, pyproject asks {requirement.specifier}"
        )


def test_the_extras_runtime_needs_are_locked_too() -> None:
    # What the extras in pyproject bring: the async SQLAlchemy engine, the binary psycopg,
    # the async Redis client of the rate limiter.
    pins = _pins()
    extras = {"sqlalchemy": "greenlet", "psycopg": "psycopg-binary", "limits": "coredis"}
    for requirement in _runtime():
        name = canonicalize_name(requirement.name)
        if requirement.extras and name in extras:
            assert extras[name] in pins, f"{requirement} needs {extras[name]} in the lock"


def test_every_pin_has_a_hash_and_no_development_tool_is_locked() -> None:
    pins = _pins()
    assert all(hashes for _, hashes in pins.values()), [n for n, (_, h) in pins.items() if not h]
    assert not {"pytest", "ruff", "mypy", "hypothesis"} & set(pins)


# -- the Dockerfile --------------------------------------------------------------------------


def _instruction(name: str) -> str:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    (line,) = [line for line in text.splitlines() if line.startswith(f"{name} ")]
    return line


def test_the_image_installs_the_lock_with_hashes_then_the_project_alone() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    installs = [line for line in text.splitlines() if "pip install" in line]
    assert any("--require-hashes -r requirements.lock" in line for line in installs)
    (project,) = [line for line in installs if re.search(r"pip install[^&]* \.$", line)]
    assert "--no-deps" in project


def test_the_command_takes_its_port_from_PORT() -> None:
    command = json.loads(_instruction("CMD").removeprefix("CMD "))
    assert command[:2] == ["jianguan", "serve"] and "--port" not in command


async def test_the_health_check_asks_the_port_in_PORT() -> None:
    async def ok(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    healthz = Starlette(routes=[Route("/healthz", ok)])
    check = json.loads(_instruction("HEALTHCHECK").split(" CMD ", 1)[1])
    assert check[0] == "python"
    async with LiveServer(healthz) as server:
        port = server.url.rsplit(":", 1)[1]
        env = {**os.environ, "PORT": port}
        healthy = await asyncio.to_thread(
            subprocess.run, [sys.executable, *check[1:]], env=env, check=False, timeout=60
        )
    closed = {**os.environ, "PORT": str(free_port())}
    down = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, *check[1:]],
        env=closed,
        check=False,
        timeout=60,
        capture_output=True,
    )
    assert healthy.returncode == 0 and down.returncode != 0
