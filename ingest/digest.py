"""The content digest that tells an unchanged re-sent record from an update."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Table

UNHASHED = frozenset({"cd_batch", "cd_time", "cd_operation"})


def hashed_columns(core: Table) -> list[str]:
    """The columns whose values make up a record's content, in a fixed order."""
    return [c.name for c in core.columns if c.info.get("ingest", True) and c.name not in UNHASHED]


def content_hash(row: Mapping[str, Any], columns: list[str]) -> str:
    """A 128-bit BLAKE2b digest of the row's content columns.

    Instants are hashed in UTC, so the same instant sent with another offset is unchanged.
    """
    values = [row.get(name) for name in columns]
    for index, value in enumerate(values):
        if isinstance(value, datetime):
            values[index] = value.astimezone(UTC)
    payload = orjson.dumps(values, default=str)
    return hashlib.blake2b(payload, digest_size=16).hexdigest()
