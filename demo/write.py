"""Bulk writing of generated rows in chunks: COPY on PostgreSQL, executemany on SQLite.

Rows arrive as an iterator and leave in chunks of ``CHUNK``, so memory stays flat however
large the table. One table is written in one transaction.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final

from sqlalchemy import Column, Table, insert, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ingest.store import copy_encoder
from standard.exchange import ExchangeRecord

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
        if connection.dialect.name == "postgresql":
            # Bulk-loaded tables have no statistics until autovacuum gets to them; without
            # them the planner's look-ups on a million rows are ten times slower.
            await connection.execute(text(f'ANALYZE "{core.name}"'))
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
    encode = copy_encoder(columns)

    async def write(part: list[Row]) -> None:
        records = [encode(row) for row in part]
        await driver.copy_records_to_table(core.name, records=records, columns=names)

    return write
