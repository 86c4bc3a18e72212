"""Writing validated rows of one table for one provider: look-up, upsert, delete.

PostgreSQL gets a bulk path: rows are copied into a temporary staging table (binary COPY) and
merged with one ``INSERT … SELECT … ON CONFLICT``; SQLite takes the same upsert row by row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson
from sqlalchemy import JSON, Column, String, Table, bindparam, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

KEY = ("provider", "cd_id")


class Store:
    """The rows of one provider in one table."""

    def __init__(self, core: Table, provider: str, dialect: str) -> None:
        self.core = core
        self.provider = provider
        self.copy = dialect == "postgresql"
        self.columns = [c for c in core.columns if c.name != "id"]
        self.names = [c.name for c in self.columns]
        self.stage = f"jianguan_stage_{core.name}"
        self.encode = copy_encoder(self.columns)
        # Identifiers below come from our own table definitions, never from input.
        quoted = ", ".join(f'"{n}"' for n in self.names)
        updates = ", ".join(f'"{n}" = excluded."{n}"' for n in self.names if n not in KEY)
        self.create_stage = text(
            f'CREATE TEMPORARY TABLE IF NOT EXISTS "{self.stage}" ON COMMIT DELETE ROWS AS '  # noqa: S608
            f'SELECT {quoted} FROM "{core.name}" WITH NO DATA'
        )
        # One index probe per key, whatever the statistics say: the LIMIT keeps PostgreSQL from
        # flattening the lateral subquery into a hash join that reads the provider's whole
        # table, which it chooses for a table that is filling up before it is analysed.
        self.lookup = text(
            "SELECT k.cd_id, x.content_hash, x.cd_operation "  # noqa: S608
            "FROM unnest(CAST(:ids AS VARCHAR[])) AS k(cd_id) CROSS JOIN LATERAL ("
            f'SELECT t.content_hash, t.cd_operation FROM "{core.name}" AS t '
            "WHERE t.provider = :provider AND t.cd_id = k.cd_id LIMIT 1) AS x"
        ).bindparams(bindparam("ids", type_=postgresql.ARRAY(String)))
        self.merge_stage = text(
            f'INSERT INTO "{core.name}" ({quoted}) SELECT {quoted} FROM "{self.stage}" '  # noqa: S608
            f"ON CONFLICT (provider, cd_id) DO UPDATE SET {updates}"
        )

    async def state(
        self, connection: AsyncConnection, ids: list[str]
    ) -> dict[str, tuple[str, str]]:
        """``cd_id -> (content_hash, cd_operation)`` of the stored records among ``ids``."""
        if connection.dialect.name == "postgresql":
            result = await connection.execute(self.lookup, {"provider": self.provider, "ids": ids})
        else:
            core = self.core
            result = await connection.execute(
                select(core.c.cd_id, core.c.content_hash, core.c.cd_operation).where(
                    core.c.provider == self.provider, core.c.cd_id.in_(ids)
                )
            )
        return {cd_id: (digest, operation) for cd_id, digest, operation in result}

    def prepare(self, row: dict[str, Any]) -> Any:
        """Encode a row for binary COPY (PostgreSQL); SQLite needs nothing."""
        return self.encode(row) if self.copy else None

    async def upsert(
        self, connection: AsyncConnection, rows: list[tuple[dict[str, Any], Any]]
    ) -> None:
        """Insert new records and overwrite changed ones; ``rows`` pairs each with ``prepare``."""
        if not rows:
            return
        if self.copy:
            records = [p if p is not None else self.prepare(row) for row, p in rows]
            await connection.execute(self.create_stage)
            raw = await connection.get_raw_connection()
            await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
                self.stage, records=records, columns=self.names
            )
            await connection.execute(self.merge_stage)  # the stage empties itself on commit
        else:
            stmt = sqlite.insert(self.core)
            await connection.execute(
                stmt.on_conflict_do_update(
                    index_elements=list(KEY),
                    set_={n: stmt.excluded[n] for n in self.names if n not in KEY},
                ),
                [row for row, _ in rows],
            )

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


def _json_text(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def copy_encoder(columns: list[Column[Any]]) -> Callable[[Mapping[str, Any]], list[Any]]:
    """Encode rows for asyncpg's binary COPY, which bypasses SQLAlchemy's type processing.

    Instants go as they are (``timestamptz``); JSON columns need their text; None is NULL.
    """
    names = [c.name for c in columns]
    json_at = [i for i, c in enumerate(columns) if isinstance(c.type, JSON)]

    def encode(row: Mapping[str, Any]) -> list[Any]:
        values = [row.get(n) for n in names]
        for index in json_at:
            if values[index] is not None:
                values[index] = _json_text(values[index])
        return values

    return encode
