"""Bulk writing of generated rows in chunks: COPY on PostgreSQL, executemany on SQLite.

Rows arrive as an iterator and leave in chunks of ``CHUNK``, so memory stays flat however
large the table. One table is written in one transaction.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import JSON, Column, Table, insert, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from resolvers.exchange import ExchangeRecord, UTCDateTime

CHUNK: Final = 5_000

Row = dict[str, Any]
Progress = Callable[[int], None]
Convert = Callable[[Any], Any]


def chunks(rows: Iterable[Row], size: int = CHUNK) -> Iterator[list[Row]]:
    """``rows`` in lists of at most ``size``."""
    iterator = iter(rows)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


async def write_rows(
    engine: AsyncEngine,
    model: type[ExchangeRecord],
    rows: Iterable[Row],
    *,
    chunk: int = CHUNK,
    progress: Progress | None = None,
) -> int:
    """Insert ``rows`` into ``model``'s table; ``progress`` hears the running count."""
    core: Table = model.__table__  # type: ignore[attr-defined]
    columns = [c for c in core.columns if c.name != "id"]  # ids come from the sequence, in order
    written = 0
    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            write = await _copier(connection, core, columns)
        else:
            write = _inserter(connection, core, columns)
        for part in chunks(rows, chunk):
            await write(part)
            written += len(part)
            if progress is not None:
                progress(written)
    return written


Writer = Callable[[list[Row]], Any]


def _inserter(connection: AsyncConnection, core: Table, columns: list[Column[Any]]) -> Writer:
    names = [c.name for c in columns]
    statement = insert(core)

    async def write(part: list[Row]) -> None:
        await connection.execute(statement, [{n: row.get(n) for n in names} for row in part])

    return write


async def _copier(connection: AsyncConnection, core: Table, columns: list[Column[Any]]) -> Writer:
    # The first statement opens the driver's transaction, so the COPYs commit with the table;
    # losing the last commits on a crash is harmless for demo data, and loading gets faster.
    await connection.execute(text("SET LOCAL synchronous_commit TO off"))
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None  # noqa: S101  # an open connection always has its driver
    names = [c.name for c in columns]
    converters = [(c.name, _converter(c)) for c in columns]

    async def write(part: list[Row]) -> None:
        records = [tuple(convert(row.get(name)) for name, convert in converters) for row in part]
        await driver.copy_records_to_table(core.name, records=records, columns=names)

    return write


def _same(value: Any) -> Any:
    return value


def _naive_utc(value: datetime | None) -> datetime | None:
    # UTCDateTime columns are "timestamp without time zone" holding UTC.
    return None if value is None else value.astimezone(UTC).replace(tzinfo=None)


def _json_text(value: Any) -> str:
    # Exactly what SQLAlchemy's JSON type would bind, None included (JSON null, not SQL NULL),
    # so COPY stores the same text as ingest does.
    return json.dumps(value)


def _converter(column: Column[Any]) -> Convert:
    """How a Python value becomes what asyncpg's COPY expects for ``column``."""
    if isinstance(column.type, UTCDateTime):
        return _naive_utc
    if isinstance(column.type, JSON):
        return _json_text
    return _same
