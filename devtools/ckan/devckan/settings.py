"""Settings read from the environment once, and the small helpers every step uses."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CKAN_VERSION = "2.12.0"
ROOT = Path(__file__).resolve().parents[3]
PLUGIN_SOURCE = Path(__file__).resolve().parents[1] / "ckanext-pgsearch"
ADMIN = "jg_admin"


class Failed(Exception):
    """A step cannot be done; the message says what to do."""


@dataclass(frozen=True)
class Settings:
    venv: Path
    dir: Path
    host: str
    port: int
    postgres: str
    db: str
    redis_url: str
    python: str

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ.get
        db = env("JIANGUAN_CKAN_DB") or "jg_ckan"
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,40}", db):  # it goes into SQL as a name
            raise Failed(f"JIANGUAN_CKAN_DB must be a lower-case SQL name, not {db!r}")
        port = env("JIANGUAN_CKAN_PORT") or "5055"
        if not port.isdigit():
            raise Failed(f"JIANGUAN_CKAN_PORT must be a port number, not {port!r}")
        return cls(
            venv=Path(env("JIANGUAN_CKAN_VENV") or ROOT / ".venv-ckan").absolute(),
            dir=Path(env("JIANGUAN_CKAN_DIR") or ROOT / "var" / "ckan").absolute(),
            host=env("JIANGUAN_CKAN_HOST") or "127.0.0.1",
            port=int(port),
            postgres=env("JIANGUAN_CKAN_POSTGRES")
            or "postgresql://postgres@127.0.0.1:5432/postgres",
            db=db,
            redis_url=env("JIANGUAN_CKAN_REDIS_URL") or "redis://127.0.0.1:6379/5",
            python=env("JIANGUAN_CKAN_PYTHON") or shutil.which("python3.11") or sys.executable,
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ini(self) -> Path:
        return self.dir / "ckan.ini"

    @property
    def token_file(self) -> Path:
        return self.dir / "api-token"

    @property
    def pid_file(self) -> Path:
        return self.dir / "ckan.pid"

    @property
    def log_file(self) -> Path:
        return self.dir / "ckan.log"

    @property
    def datastore_db(self) -> str:
        return f"{self.db}_datastore"

    @property
    def readonly_role(self) -> str:
        return f"{self.db}_datastore_ro"


def say(message: str) -> None:
    print(f"ckan: {message}", flush=True)


@contextlib.contextmanager
def locked(settings: Settings) -> Iterator[None]:
    """One run.py at a time per directory (two test sessions starting together)."""
    settings.dir.mkdir(parents=True, exist_ok=True)
    with open(settings.dir / "run.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def run(args: list[str], *, input_text: str | None = None) -> str:
    result = subprocess.run(args, input=input_text, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip()[-3000:]
        raise Failed(f"`{' '.join(args[:6])}` failed ({result.returncode}):\n{detail}")
    return result.stdout
