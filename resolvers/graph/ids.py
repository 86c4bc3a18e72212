"""Global object IDs: ``base64url("Type:row id")``, opaque to clients."""

from __future__ import annotations

import base64
import binascii

from standard.errors import InputError


class BadId(InputError):
    """An ID or cursor the gateway did not issue."""


def encode(type_name: str, pk: int) -> str:
    """The global ID of row ``pk`` shown as ``type_name``."""
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


def decode(value: str) -> tuple[str, int]:
    """``(type name, row id)`` of a global ID or cursor; ``BadId`` for anything else."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        type_name, pk = raw.split(":", 1)
        number = int(pk)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadId(f"{value!r} is not an ID issued by this gateway") from None
    if number < 1 or not type_name:
        raise BadId(f"{value!r} is not an ID issued by this gateway")
    return type_name, number
