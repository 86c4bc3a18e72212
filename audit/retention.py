"""Pruning the audit log past its retention, up to a checkpoint that vouches for what is kept.

Entries are kept at least six months (Cybersecurity Law art. 21). The log is append-only in
the database (triggers of gateway_0001): the pruner lifts that for its own transaction only.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from audit.keys import verify_signature
from audit.log import CHECKPOINTS, ENTRIES, Checkpoint, writer_lock
from standard.errors import JianguanError

MIN_RETENTION_DAYS = 180  # Cybersecurity Law art. 21: network logs are kept at least six months
# Copied from the migration (gateway_0001): the pruner restores exactly what it dropped.
_SQLITE_NO_DELETE = (
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: DELETE refused'); END"
)


class PruneRefused(JianguanError):
    """Pruning would delete entries the retention keeps, or keep a chain that its checkpoint
    does not vouch for; nothing was deleted."""


async def prune(engine: AsyncEngine, *, retention_days: int, now: datetime) -> int:
    """Delete entries older than the retention, up to a checkpoint; how many were deleted."""
    if retention_days < MIN_RETENTION_DAYS:
        raise PruneRefused(f"audit entries are kept at least {MIN_RETENTION_DAYS} days")
    if now.tzinfo is None:
        raise ValueError("prune needs a timezone-aware `now`")
    cutoff = now - timedelta(days=retention_days)
    seq = ENTRIES.c.seq
    async with writer_lock(engine) as conn:
        young = await conn.scalar(select(func.min(seq)).where(ENTRIES.c.at >= cutoff))
        # The newest checkpoint on a remaining entry with no younger entry at or before it:
        # the kept chain then starts right after a signed head, so it still verifies.
        boundary = (
            select(CHECKPOINTS)
            .join(ENTRIES, ENTRIES.c.seq == CHECKPOINTS.c.seq)
            .order_by(CHECKPOINTS.c.seq.desc())
            .limit(1)
        )
        if young is not None:
            boundary = boundary.where(CHECKPOINTS.c.seq < young)
        found = (await conn.execute(boundary)).mappings().first()
        if found is None:
            return 0
        checkpoint = Checkpoint(**found)
        head_hash = await conn.scalar(select(ENTRIES.c.hash).where(seq == checkpoint.seq))
        if head_hash != checkpoint.head_hash or not verify_signature(
            checkpoint.public_key, checkpoint.head_hash, checkpoint.signature
        ):
            raise PruneRefused(
                f"checkpoint at {checkpoint.seq} does not vouch for the chain; "
                "run `jianguan audit verify` before pruning"
            )
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SET LOCAL jianguan.audit_prune = 'on'"))
        else:
            await conn.execute(text("DROP TRIGGER audit_log_no_delete"))
        result = await conn.execute(delete(ENTRIES).where(seq <= checkpoint.seq))
        if conn.dialect.name == "sqlite":
            await conn.execute(text(_SQLITE_NO_DELETE))
        return int(result.rowcount)
