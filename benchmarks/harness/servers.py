"""Servers in child processes on free 127.0.0.1 ports: started, ready, stopped.

The parent binds the listening socket and hands it to the child (``Listen.fd``), so no other
process can take the port between choosing it and serving on it; a command that only takes a
port number (``jianguan serve --port``) gets a free one instead (``inherit=False``).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Self

import httpx

from benchmarks.harness.timing import process_cpu

ROOT = Path(__file__).resolve().parents[2]
"""The repository's root: children run there, so ``-m benchmarks.…`` and ``-m gateway.cli``
import this checkout."""


def module_command(module: str, *args: str) -> list[str]:
    """``python -m module args…`` with this interpreter (run it with ``cwd=ROOT``)."""
    return [sys.executable, "-m", module, *args]


def bound_socket(*, inheritable: bool = False) -> socket.socket:
    """A socket bound to a free 127.0.0.1 port, not yet listening."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.set_inheritable(inheritable)
    return sock


def free_port() -> int:
    """A port free a moment ago (another process may take it before it is used)."""
    with bound_socket() as sock:
        return int(sock.getsockname()[1])


@dataclass(frozen=True, slots=True)
class Listen:
    """Where the child serves: the port, and the inherited socket's descriptor (or None)."""

    port: int
    fd: int | None


class ServerError(RuntimeError):
    """The server exited, or did not answer ``/healthz`` in time."""


class ChildServer:
    """A server in a child process, ready once ``GET /healthz`` answers 200.

    ``command`` makes the child's command line from where it is to listen. Its output goes to
    ``log`` (appended) or nowhere. Stopped by ``stop_signal`` (SIGINT: uvicorn shuts down
    cleanly and the child's ``finally`` runs), killed if it is not gone in ``stop_timeout``.
    Use ``with`` or ``async with`` (the waiting then happens in a thread)."""

    def __init__(
        self,
        name: str,
        command: Callable[[Listen], Sequence[str]],
        *,
        log: Path | None = None,
        env: Mapping[str, str] | None = None,
        inherit: bool = True,
        timeout: float = 30.0,
        stop_signal: int = signal.SIGINT,
        stop_timeout: float = 30.0,
    ) -> None:
        self.name, self.command, self.log, self.env = name, command, log, env
        self.inherit, self.timeout = inherit, timeout
        self.stop_signal, self.stop_timeout = stop_signal, stop_timeout
        self.url = ""
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the child and wait until it answers; stop it and raise if it does not."""
        if self.inherit:
            sock = bound_socket(inheritable=True)
            listen = Listen(int(sock.getsockname()[1]), sock.fileno())
        else:
            sock, listen = None, Listen(free_port(), None)
        self.url = f"http://127.0.0.1:{listen.port}"
        output: IO[bytes] | int = self.log.open("ab") if self.log else subprocess.DEVNULL
        try:
            self.process = subprocess.Popen(
                list(self.command(listen)),
                cwd=ROOT,
                env=None if self.env is None else dict(self.env),
                pass_fds=() if listen.fd is None else (listen.fd,),
                stdout=output,
                stderr=output,
            )
        finally:
            if not isinstance(output, int):
                output.close()
            if sock is not None:
                sock.close()  # the child holds its own copy
        try:
            self._wait()
        except BaseException:
            self.stop()
            raise

    def _wait(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.timeout
        with httpx.Client(timeout=5) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    tail = self.log.read_text()[-3000:] if self.log and self.log.exists() else ""
                    raise ServerError(
                        f"the {self.name} server exited ({self.process.returncode})"
                        + (f"; its log:\n{tail}" if tail else "")
                    )
                with contextlib.suppress(httpx.TransportError):
                    if client.get(f"{self.url}/healthz").status_code == 200:
                        return
                time.sleep(0.1)
        raise ServerError(f"the {self.name} server did not start within {self.timeout:g} s")

    def stop(self) -> None:
        """Signal the child and wait for it; kill it if it takes too long."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(self.stop_signal)
        try:
            self.process.wait(self.stop_timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def cpu(self) -> float:
        """Seconds of CPU the child's threads have used so far."""
        assert self.process is not None
        return process_cpu(self.process.pid)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(self, *_: object) -> None:
        await asyncio.to_thread(self.stop)


def run_uvicorn(app: Any, fd: int) -> None:
    """In the child: one uvicorn worker (asyncio loop, h11, no access log) serving ``app`` on
    the socket the parent bound, until SIGINT stops it."""
    import uvicorn

    config = uvicorn.Config(
        app, lifespan="on", log_level="warning", access_log=False, loop="asyncio", http="h11"
    )
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises the SIGINT that stopped it
        uvicorn.Server(config).run(sockets=[socket.socket(fileno=fd)])
