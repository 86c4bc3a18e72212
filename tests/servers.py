"""Real servers for tests: an ASGI app under uvicorn on a free port, a source's API, and
``jianguan serve`` in a child process (started and stopped by the benchmarks' harness,
``benchmarks.harness.servers``: one way to serve on a free port, wait and stop)."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.types import ASGIApp

from benchmarks.harness.servers import ROOT, ChildServer, bound_socket, free_port, module_command
from gateway.settings import Settings
from sources.api import create_source_api
from sources.database import SourceDatabases
from sources.sql import SqlConnector

TOKEN = "test-token-7f3c9a1e5b2d4c6f"


__all__ = [
    "ROOT",
    "TOKEN",
    "LiveServer",
    "free_port",
    "jianguan",
    "live_gateway",
    "serve",
    "source_api",
]


class LiveServer:
    """An ASGI app under uvicorn on a free 127.0.0.1 port, in a thread with its own event loop."""

    def __init__(self, app: ASGIApp) -> None:
        # Bound before uvicorn starts: no window for another process to take the port.
        self._socket = bound_socket()
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        config = uvicorn.Config(
            app, lifespan="on", log_config=None, access_log=False, ws="none", http="h11"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    async def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self._thread.is_alive():
            self._server.should_exit = True
            await asyncio.to_thread(self._thread.join, 10)
        self._socket.close()

    async def __aenter__(self) -> LiveServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()


def source_api(settings: Settings, source: str) -> Starlette:
    """The API of ``source`` over its own engine, which lives in the server's event loop."""
    engine = SourceDatabases(settings).engine(source)
    return create_source_api(source, SqlConnector(source, engine), token=TOKEN)


def jianguan(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the ``jianguan`` command line in a child process."""
    return subprocess.run(
        module_command("gateway.cli", *args),
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=300,
    )


@contextmanager
def serve(env: dict[str, str]) -> Iterator[str]:
    """``jianguan serve`` in a child process on a free port; yields its base URL."""
    server = ChildServer(
        "gateway",
        lambda listen: module_command("gateway.cli", "serve", "--port", str(listen.port)),
        env=env,
        inherit=False,  # it takes a port number, not a socket
        timeout=15,
        stop_signal=signal.SIGTERM,
        stop_timeout=10,
    )
    with server:
        yield server.url


@asynccontextmanager
async def live_gateway(
    settings: Settings, template: str, folder: Path, **changes: Any
) -> AsyncIterator[str]:
    """The whole gateway over real HTTP on its own copy of the migrated SQLite gateway
    database (``template``, from the ``gateway_template`` fixture); ``changes`` to settings."""
    from gateway.app import create_app

    copy = folder / "gateway.db"
    shutil.copyfile(template, copy)
    changed = dataclasses.replace(settings, gateway_url=f"sqlite+aiosqlite:///{copy}", **changes)
    async with LiveServer(create_app(changed)) as server:
        yield server.url
