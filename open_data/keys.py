"""The managed pseudonym key: pseudonyms stay the same across releases only with the same key."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Protocol

from open_data.errors import SpecError

KEY_FILE = "pseudonym-key"


class KeySettings(Protocol):
    """The settings the key needs (the gateway's ``Settings`` has them)."""

    @property
    def pseudonym_key_file(self) -> Path | None: ...
    @property
    def environment(self) -> str: ...
    @property
    def var_dir(self) -> Path: ...


def pseudonym_key(settings: KeySettings) -> bytes:
    """``JIANGUAN_PSEUDONYM_KEY_FILE``; in development a key made once under var/."""
    if settings.pseudonym_key_file is not None:
        path = settings.pseudonym_key_file
        if not path.exists():
            raise SpecError("*", f"the pseudonym key file {path} does not exist")
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    if settings.environment == "production":
        raise SpecError("*", "set JIANGUAN_PSEUDONYM_KEY_FILE: production keeps its key managed")
    path = settings.var_dir / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32), encoding="ascii")
        path.chmod(0o600)
    return bytes.fromhex(path.read_text(encoding="ascii").strip())
