"""Writing validated rows of one table for one provider: look-up, upsert, delete.

PostgreSQL gets a bulk path: rows are copied into a temporary staging table (binary COPY) and
merged with one ``INSERT … SELECT … ON CONFLICT``; SQLite takes the same upsert row by row.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import JSON, String, Table, any_, bindparam, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from resolvers.exchange import UTCDateTime

ANALYZE_AFTER = 20_000
KEY = ("provider", "cd_id")


class Store:
    """The rows of one provider in one table."""

    def __init__(self, core: Table, provider: str) -> None:
        self.core = core
        self.provider = provider
        self.columns = [c for c in core.columns if c.name != "id"]
        self.names = [c.name for c in self.columns]
        self.stage = f"jianguan_stage_{core.name}"
        # binary COPY bypasses SQLAlchemy's type processing: convert those columns ourselves
        self.convert = [
            (i, f) for i, f in enumerate(_to_copy(c) for c in self.columns) if f is not None
        ]
        # Identifiers below come from our own table definitions, never from input.
        quoted = ", ".join(f'"{n}"' for n in self.names)
        updates = ", ".join(f'"{n}" = excluded."{n}"' for n in self.names if n not in KEY)
        self.create_stage = text(
            f'CREATE TEMPORARY TABLE IF NOT EXISTS "{self.stage}" ON COMMIT DELETE ROWS AS '  # noqa: S608
            f'SELECT {quoted} FROM "{core.name}" WITH NO DATA'
        )
        self.merge_stage = text(
            f'INSERT INTO "{core.name}" ({quoted}) SELECT {quoted} FROM "{self.stage}" '  # noqa: S608
            f"ON CONFLICT (provider, cd_id) DO UPDATE SET {updates}"
        )
        self.analysed_rows = 0
        self.unanalysed = 0

    async def state(
        self, connection: AsyncConnection, ids: list[str]
    ) -> dict[str, tuple[str, str]]:
        """``cd_id -> (content_hash, cd_operation)`` of the stored records among ``ids``."""
        core = self.core
        if connection.dialect.name == "postgresql":
            # one array parameter, not a 2,000-value IN list: one plan for every batch
            among = core.c.cd_id == any_(bindparam("ids", ids, type_=postgresql.ARRAY(String)))
        else:
            among = core.c.cd_id.in_(ids)
        result = await connection.execute(
            select(core.c.cd_id, core.c.content_hash, core.c.cd_operation).where(
                core.c.provider == self.provider, among
            )
        )
        return {cd_id: (digest, operation) for cd_id, digest, operation in result}

    async def upsert(self, connection: AsyncConnection, rows: list[dict[str, Any]]) -> None:
        """Insert new records and overwrite changed ones."""
        if not rows:
            return
        if connection.dialect.name == "postgresql":
            await self._copy_upsert(connection, rows)
        else:
            stmt = sqlite.insert(self.core)
            await connection.execute(
                stmt.on_conflict_do_update(
                    index_elements=list(KEY),
                    set_={n: stmt.excluded[n] for n in self.names if n not in KEY},
                ),
                rows,
            )
        await self._keep_statistics(connection, len(rows))

    async def _copy_upsert(self, connection: AsyncConnection, rows: list[dict[str, Any]]) -> None:
        names = self.names
        await connection.execute(self.create_stage)
        convert = self.convert
        records = []
        for row in rows:
            values = [row[n] for n in names]
            for index, function in convert:
                if values[index] is not None:
                    values[index] = function(values[index])
            records.append(values)
        raw = await connection.get_raw_connection()
        await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
            self.stage, records=records, columns=names
        )
        await connection.execute(self.merge_stage)  # the stage empties itself on commit

    async def delete(self, connection: AsyncConnection, rows: list[dict[str, Any]]) -> None:
        """Mark records deleted (``cd_operation = 'd'``); the row and its history stay."""
        if not rows:
            return
        core = self.core
        await connection.execute(
            update(core)
            .where(core.c.provider == self.provider, core.c.cd_id == bindparam("b_cd_id"))
            .values(
                cd_operation="d",
                cd_batch=bindparam("b_cd_batch"),
                cd_time=bindparam("b_cd_time"),
            ),
            rows,
        )

    async def _keep_statistics(self, connection: AsyncConnection, written: int) -> None:
        """ANALYZE a PostgreSQL table that has outgrown its statistics during this run.

        Without statistics the planner takes a provider's rows for a handful and filters the
        key look-up row by row: a full scan per batch once the table is large.
        """
        if connection.dialect.name != "postgresql":
            return
        self.unanalysed += written
        if self.unanalysed < max(ANALYZE_AFTER, self.analysed_rows):
            return
        await connection.execute(text(f'ANALYZE "{self.core.name}"'))
        self.analysed_rows += self.unanalysed
        self.unanalysed = 0


def _naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)


def _json_text(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def _to_copy(column: Any) -> Any:
    """How a value is handed to binary COPY, where SQLAlchemy's type processing is bypassed."""
    if isinstance(column.type, UTCDateTime):
        return _naive_utc
    if isinstance(column.type, JSON):
        return _json_text
    return None
