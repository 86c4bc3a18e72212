"""Reading the audit log for the city office, auditors and department administrators."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, exists, func, literal_column, or_, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from standard.tables.gateway import AuditEntry

FIELDS = (
    "seq", "at", "actor", "party_code", "event", "operation", "resources", "providers", "rows",
    "variables_hash", "outcome", "detail", "request_id", "hash",
)  # fmt: skip


class AuditReader:
    """Pages of the audit log, newest first, limited to what the reader's scope covers."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    def _concerns(self, parties: frozenset[str]) -> ColumnElement[bool]:
        """Entries by one of ``parties``, or touching their records."""
        listed = sorted(parties)
        touched: ColumnElement[bool]
        if self.engine.dialect.name == "postgresql":
            touched = text("audit_log.providers::jsonb ?| :parties").bindparams(  # type: ignore[assignment]
                parties=listed
            )
        else:
            each = func.json_each(AuditEntry.providers).table_valued("value")
            touched = exists(
                select(literal_column("1")).select_from(each).where(each.c.value.in_(listed))
            )
        return or_(AuditEntry.party_code.in_(listed), touched)

    async def page(
        self,
        *,
        parties: frozenset[str] | None,
        first: int,
        before: int | None = None,
        actor: str | None = None,
        event: str | None = None,
    ) -> list[dict[str, Any]]:
        """Up to ``first`` entries older than ``before``; ``parties`` None means all."""
        columns = [getattr(AuditEntry, name) for name in FIELDS]
        stmt = select(*columns).order_by(AuditEntry.seq.desc()).limit(first)
        if parties is not None:
            stmt = stmt.where(self._concerns(parties))
        if before is not None:
            stmt = stmt.where(AuditEntry.seq < before)
        if actor is not None:
            stmt = stmt.where(AuditEntry.actor == actor)
        if event is not None:
            stmt = stmt.where(AuditEntry.event == event)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(stmt)).all()
        return [dict(zip(FIELDS, row, strict=True)) for row in rows]
