"""Appending an audit entry inside the caller's own transaction, for a change that must be
kept together with its audit entry or not at all (a task's move and the receipt that names the
entry's position in the chain).

The group-committing ``AuditLog.append`` writes in a transaction of its own, after the caller's
has committed or not; here the entry is chained under the same writer lock, taken inside the
caller's transaction and held until it ends, so entries from both paths form one chain.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from audit.log import ENTRIES, AuditEvent, chain_head, entry_fields, seal, take_writer_lock


@dataclass(frozen=True, slots=True)
class Position:
    """Where an entry sits in the chain: its seq and its hash."""

    seq: int
    hash: str


async def append_within(conn: AsyncConnection, event: AuditEvent) -> Position:
    """Chain ``event`` in ``conn``'s open transaction; committed (or rolled back) with it.

    PostgreSQL: takes the log's advisory lock for the rest of the transaction (read committed,
    so the head read after it is the last holder's). SQLite: the caller's transaction must hold
    the database's write lock already (``BEGIN IMMEDIATE``, as ``audit.log.write_transaction``
    opens it), which also keeps every other writer of the log out until it ends.
    """
    if not conn.in_transaction():
        raise RuntimeError("append_within needs the caller's open transaction")
    await take_writer_lock(conn)
    seq, prev_hash = await chain_head(conn)
    row = seal(entry_fields(event), seq=seq + 1, prev_hash=prev_hash)
    await conn.execute(insert(ENTRIES), row)
    return Position(row["seq"], row["hash"])
