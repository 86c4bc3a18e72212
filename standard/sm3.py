"""SM3 (GB/T 32905) and HMAC-SM3: audit and file hashes, pseudonyms, draw commitments.

OpenSSL's, through hashlib and hmac, where this OpenSSL has SM3: it is faster and lets other
threads run while it hashes a large buffer. Otherwise the cryptography package's, which gives
the same digests (tested).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.hmac import HMAC


def _openssl_has_sm3() -> bool:
    try:
        hashlib.new("sm3")
    except ValueError:
        return False
    return True


OPENSSL = _openssl_has_sm3()


class CryptographySM3:
    """SM3 by the cryptography package, with hashlib's ``update`` and ``hexdigest``."""

    def __init__(self) -> None:
        self._hash = hashes.Hash(hashes.SM3())

    def update(self, data: bytes) -> None:
        self._hash.update(data)

    def hexdigest(self) -> str:
        return self._hash.finalize().hex()


def new_sm3() -> Any:
    """A fresh SM3 hash (``update``, ``hexdigest``)."""
    return hashlib.new("sm3") if OPENSSL else CryptographySM3()


def hmac_sm3(key: bytes) -> Callable[[bytes], bytes]:
    """HMAC-SM3 under ``key``, keyed once and copied for each message."""
    return openssl_hmac_sm3(key) if OPENSSL else cryptography_hmac_sm3(key)


def openssl_hmac_sm3(key: bytes) -> Callable[[bytes], bytes]:
    keyed = hmac.new(key, digestmod="sm3")

    def mac(data: bytes) -> bytes:
        one = keyed.copy()
        one.update(data)
        return one.digest()

    return mac


def cryptography_hmac_sm3(key: bytes) -> Callable[[bytes], bytes]:
    keyed = HMAC(key, hashes.SM3())

    def mac(data: bytes) -> bytes:
        one = keyed.copy()
        one.update(data)
        return one.finalize()

    return mac
