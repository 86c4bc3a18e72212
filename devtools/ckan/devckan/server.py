"""The start, stop, status and env steps: one CKAN process per directory, known by its pid file."""

from __future__ import annotations

import configparser
import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from .provision import installed_version
from .settings import Failed, Settings, say

START_TIMEOUT = 120.0


def answers(settings: Settings, timeout: float = 2.0) -> dict[str, object] | None:
    """status_show's result when CKAN answers at the configured URL."""
    try:
        url = f"{settings.url}/api/3/action/status_show"
        with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - http:// we built
            body = json.loads(r.read())
    except (OSError, ValueError):
        return None
    return body.get("result") if body.get("success") else None


def our_pid(settings: Settings) -> int | None:
    """The pid in the pid file if that process lives and is our CKAN (its command has our ini)."""
    try:
        pid = int(settings.pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    return pid if str(settings.ini).encode() in cmdline else None


def start(settings: Settings) -> None:
    if not settings.token_file.exists():
        raise Failed("CKAN is not set up: run devtools/ckan/run.py install setup")
    pid = our_pid(settings)
    if pid is not None:
        if _wait_until_up(settings, pid, timeout=START_TIMEOUT):
            say(f"already running at {settings.url} (pid {pid})")
            return
        raise Failed(
            f"CKAN (pid {pid}) runs but does not answer at {settings.url}; see {settings.log_file}"
        )
    settings.pid_file.unlink(missing_ok=True)
    with socket.socket() as sock:
        if sock.connect_ex((settings.host, settings.port)) == 0:
            raise Failed(
                f"something else listens on {settings.host}:{settings.port}; set JIANGUAN_CKAN_PORT"
            )
    ckan = str(settings.venv / "bin" / "ckan")
    args = [
        ckan,
        "-c",
        str(settings.ini),
        "run",
        "--host",
        settings.host,
        "--port",
        str(settings.port),
        "--disable-reloader",
        "--threaded",
    ]
    began = time.monotonic()
    with open(settings.log_file, "ab") as log:
        process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=settings.dir,
            start_new_session=True,
        )
    settings.pid_file.write_text(f"{process.pid}\n")
    if not _wait_until_up(settings, process.pid, timeout=START_TIMEOUT):
        _terminate(process.pid)
        settings.pid_file.unlink(missing_ok=True)
        tail = settings.log_file.read_text(errors="replace").splitlines()[-30:]
        raise Failed("CKAN did not start:\n" + "\n".join(tail))
    took = time.monotonic() - began
    say(f"started at {settings.url} (pid {process.pid}) in {took:.1f} s; log {settings.log_file}")


def _wait_until_up(settings: Settings, pid: int, *, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if answers(settings) is not None:
            return True
        try:
            finished, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # not our child (an earlier run started it)
            finished = 0 if Path(f"/proc/{pid}").exists() else pid
        if finished:
            return False
        time.sleep(0.25)
    return False


def _terminate(pid: int) -> None:
    """SIGTERM to the server's process group (it leads its own session), SIGKILL after 15 s."""
    for sig, wait in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            if not Path(f"/proc/{pid}").exists() or _is_zombie(pid):
                return
            time.sleep(0.1)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return True


def stop(settings: Settings) -> None:
    pid = our_pid(settings)
    if pid is None:
        if settings.pid_file.exists():
            settings.pid_file.unlink()
            say("not running (removed a stale pid file)")
        else:
            say("not running")
        return
    _terminate(pid)
    settings.pid_file.unlink(missing_ok=True)
    say(f"stopped (pid {pid})")


def status(settings: Settings) -> int:
    pid = our_pid(settings)
    result = answers(settings)
    installed = installed_version(settings) or "not installed"
    if pid and result:
        version = result.get("ckan_version")
        say(f"running at {settings.url} (pid {pid}, CKAN {version}); log {settings.log_file}")
        return 0
    if result:
        say(f"a CKAN answers at {settings.url}, not started by this script (here: {installed})")
        return 0
    say(f"not running (CKAN {installed} in {settings.venv}; port {settings.port})")
    return 3


def env(settings: Settings) -> None:
    if not settings.token_file.exists():
        raise Failed("no API token yet: run devtools/ckan/run.py install setup start")
    token = settings.token_file.read_text().strip()
    print(f"export CKAN_URL='{settings.url}'")
    print(f"export CKAN_API_TOKEN='{token}'")
    # The DataStore's write connection, for the publisher's COPY loading (docs/open-data.md).
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(settings.ini, encoding="utf-8")
    write_url = ini.get("app:main", "ckan.datastore.write_url", fallback="")
    if write_url:
        print(f"export CKAN_DATASTORE_WRITE_URL='{write_url}'")
