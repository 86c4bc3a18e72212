"""SM2 signing keys for audit checkpoints: generate, store (JSON, mode 0600), load, sign, verify."""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import Protocol

import orjson
from gmssl import sm2  # type: ignore[import-untyped]  # pure Python, ships no type hints

from standard.errors import Misconfigured

KEY_FILE_NAME = "audit-signing-key.json"
_CURVE = sm2.default_ecc_table
_N = int(_CURVE["n"], 16)
_P = int(_CURVE["p"], 16)
_A = int(_CURVE["a"], 16)
_B = int(_CURVE["b"], 16)
_PRIVATE = re.compile(r"[0-9a-f]{64}")
_PUBLIC = re.compile(r"[0-9a-f]{128}")
_SIGNATURE = re.compile(r"[0-9a-f]{128}")


class AuditKeyError(Misconfigured):
    """A signing key file is missing, malformed, or would be overwritten."""


def _crypt(private_key: str, public_key: str) -> sm2.CryptSM2:
    crypt = sm2.CryptSM2(private_key=private_key, public_key="")
    # Set after construction: gmssl's constructor strips a "04" prefix with str.lstrip, which
    # also eats any leading 0s and 4s of the x coordinate.
    crypt.public_key = public_key
    return crypt


def _on_curve(public_key: str) -> bool:
    x, y = int(public_key[:64], 16), int(public_key[64:], 16)
    return x < _P and y < _P and (y * y - (x * x * x + _A * x + _B)) % _P == 0


def verify_signature(public_key: str, head_hash: str, signature: str) -> bool:
    """Whether ``signature`` is an SM2 (with SM3) signature of ``head_hash`` by ``public_key``."""
    if not (_PUBLIC.fullmatch(public_key) and _SIGNATURE.fullmatch(signature)):
        return False
    if not (_on_curve(public_key) and re.fullmatch(r"[0-9a-f]{64}", head_hash)):
        return False
    r, s = int(signature[:64], 16), int(signature[64:], 16)
    # gmssl does not check the ranges the standard requires (GB/T 32918.2 §7.1 B1, B2).
    if not (0 < r < _N and 0 < s < _N):
        return False
    try:
        return bool(_crypt("", public_key).verify_with_sm3(signature, bytes.fromhex(head_hash)))
    except (TypeError, ValueError):  # gmssl fails this way on points at infinity
        return False


def public_key_of(path: Path) -> str:
    """The public key in a key file; a file holding only ``public_key`` will do (for auditors)."""
    try:
        public_key = str(orjson.loads(path.read_bytes())["public_key"])
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise AuditKeyError(f"audit key file {path} cannot be read: {exc}") from None
    if not (_PUBLIC.fullmatch(public_key) and _on_curve(public_key)):
        raise AuditKeyError(f"audit key file {path} holds no valid SM2 public key")
    return public_key


class Signer:
    """An SM2 key pair that signs checkpoint head hashes."""

    def __init__(self, private_key: str, public_key: str) -> None:
        if not (_PRIVATE.fullmatch(private_key) and 0 < int(private_key, 16) < _N - 1):
            raise AuditKeyError("the private key must be 64 lower-case hex digits in [1, n-2]")
        if _crypt(private_key, "")._kg(int(private_key, 16), _CURVE["g"]) != public_key:
            raise AuditKeyError("the public key does not belong to the private key")
        self._private_key = private_key
        self.public_key = public_key

    def __repr__(self) -> str:
        return f"Signer(public_key={self.public_key[:16]}…)"  # never the private key

    @classmethod
    def new(cls) -> Signer:
        """A fresh random key pair, in memory only."""
        d = secrets.randbelow(_N - 2) + 1
        private_key = f"{d:064x}"
        return cls(private_key, _crypt(private_key, "")._kg(d, _CURVE["g"]))

    @classmethod
    def load(cls, path: Path) -> Signer:
        """Read a key file written by :meth:`generate`."""
        try:
            data = orjson.loads(path.read_bytes())
            return cls(str(data["private_key"]), str(data["public_key"]))
        except FileNotFoundError:
            raise AuditKeyError(f"audit signing key {path} does not exist") from None
        except AuditKeyError as exc:
            raise AuditKeyError(f"audit signing key {path}: {exc}") from None
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise AuditKeyError(f"audit signing key {path} cannot be read: {exc}") from None

    @classmethod
    def generate(cls, path: Path) -> Signer:
        """Create a key pair and store it at ``path`` (mode 0600); never overwrites a file."""
        signer = cls.new()
        if path.exists():
            raise AuditKeyError(f"{path} already exists; refusing to overwrite a signing key")
        path.parent.mkdir(parents=True, exist_ok=True)
        body = {"private_key": signer._private_key, "public_key": signer.public_key}
        draft = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(orjson.dumps(body, option=orjson.OPT_INDENT_2) + b"\n")
            # A hard link appears complete or not at all, and fails if the name is taken: two
            # processes creating the development key at once cannot overwrite or half-read it.
            os.link(draft, path)
        except FileExistsError:
            raise AuditKeyError(
                f"{path} already exists; refusing to overwrite a signing key"
            ) from None
        finally:
            draft.unlink(missing_ok=True)
        return signer

    def sign(self, head_hash: str) -> str:
        """The SM2 signature (r‖s, hex) of the 32 bytes of ``head_hash``, with the SM3 digest."""
        crypt = _crypt(self._private_key, self.public_key)
        while True:
            # gmssl's own nonce comes from `random`, which is predictable: draw it from secrets.
            nonce = f"{secrets.randbelow(_N - 1) + 1:064x}"
            signature = crypt.sign_with_sm3(bytes.fromhex(head_hash), nonce)
            if signature is not None:  # None for the rare nonce the standard says to redraw
                return str(signature)


class KeyFileSettings(Protocol):
    """Where the signing key is (the gateway's ``Settings`` has it)."""

    @property
    def audit_key_file(self) -> Path | None: ...
    @property
    def environment(self) -> str: ...
    @property
    def var_dir(self) -> Path: ...


def signer_for(settings: KeyFileSettings) -> Signer:
    """The gateway's checkpoint signer: the configured key file, or a development key in var/."""
    if settings.audit_key_file is not None:
        path = settings.audit_key_file
        if not path.exists():
            raise AuditKeyError(
                f"JIANGUAN_AUDIT_KEY_FILE names {path}, which does not exist; "
                f"create it with `jianguan audit keygen --output {path}`"
            )
        return Signer.load(path)
    if settings.environment != "development":
        raise AuditKeyError(
            "JIANGUAN_AUDIT_KEY_FILE must be set in production; "
            "create a key with `jianguan audit keygen --output PATH`"
        )
    path = settings.var_dir / KEY_FILE_NAME
    if path.exists():
        return Signer.load(path)
    try:
        return Signer.generate(path)
    except AuditKeyError:  # another process created it first
        return Signer.load(path)
