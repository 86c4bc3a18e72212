"""The SQL connector: a source's exchange database through SQLAlchemy (PostgreSQL or SQLite)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # no stubs; only its error class is used
from sqlalchemy import ColumnElement, Table, and_, any_, bindparam, false, func, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from resolvers.connectors.base import (
    AnyOf,
    BadRequest,
    Condition,
    Filter,
    Page,
    PageRequest,
    Row,
    SourceUnavailable,
    check_request,
)
from resolvers.registry import source as source_named

COMPILED_SHAPES = 1_000
"""Compiled statements kept per connector: one per query shape, a few dozen in practice."""


class SqlConnector:
    """Reads one source database; every driver error becomes ``SourceUnavailable``."""

    def __init__(self, source: str, engine: AsyncEngine) -> None:
        self.source = source
        self.engine = engine
        self._compiled: dict[Any, Any] = {}
        self.tables: dict[str, Table] = {
            name: model.__table__  # type: ignore[attr-defined]
            for name, model in source_named(source).tables.items()
        }

    def _table(self, name: str) -> Table:
        try:
            return self.tables[name]
        except KeyError:
            raise BadRequest(f"source {self.source!r} has no table {name!r}") from None

    def _where(self, table: Table, where: Sequence[Condition]) -> list[ColumnElement[bool]]:
        check_request(table.c.keys(), table.name, (), where)
        conditions: list[ColumnElement[bool]] = [table.c.cd_operation != "d"]
        for item in where:
            if isinstance(item, AnyOf):
                conditions.append(
                    or_(
                        false(),
                        *(
                            and_(*(self._condition(table, f) for f in alternative))
                            for alternative in item.alternatives
                        ),
                    )
                )
            else:
                conditions.append(self._condition(table, item))
        return conditions

    def _condition(self, table: Table, f: Filter) -> ColumnElement[bool]:
        column = table.c[f.column]
        if f.op == "eq":
            return column == f.value  # type: ignore[no-any-return]
        if f.op == "in":
            return self._among(column, list(f.value))
        if f.op == "gte":
            return column >= f.value  # type: ignore[no-any-return]
        if f.op == "lte":
            return column <= f.value  # type: ignore[no-any-return]
        return column.startswith(str(f.value), autoescape=True)

    def _among(self, column: Any, values: list[Any]) -> ColumnElement[bool]:
        """``column IN values``; on PostgreSQL one array parameter, so a look-up of 500 keys
        compiles as fast as one of 5 (compiling expanded IN lists was the gateway's top cost)."""
        if self.engine.dialect.name == "postgresql":
            return column == any_(bindparam(None, values, type_=ARRAY(column.type)))  # type: ignore[no-any-return]
        return column.in_(values)  # type: ignore[no-any-return]

    async def _rows(self, stmt: Any) -> list[Row]:
        try:
            async with self.engine.connect() as connection:
                if connection.dialect.name == "postgresql":
                    try:
                        return await self._asyncpg_rows(connection, stmt)
                    except BaseException:
                        # Read past SQLAlchemy, a broken connection would go back to the pool
                        # unnoticed (pools do not test connections first): discard it.
                        await connection.invalidate()
                        raise
                result = await connection.execute(stmt)
                names = [str(name) for name in result.keys()]  # noqa: SIM118  # a Result, not a dict
                return [dict(zip(names, row, strict=True)) for row in result]
        except (
            DBAPIError,
            SQLAlchemyError,
            OSError,
            asyncpg.PostgresError,
            asyncpg.InterfaceError,
            asyncpg.InternalClientError,  # a connection the server dropped mid-protocol
        ) as exc:
            raise SourceUnavailable(self.source, type(exc).__name__) from exc

    async def _asyncpg_rows(self, connection: AsyncConnection, stmt: Any) -> list[Row]:
        """Read through asyncpg directly: SQLAlchemy's result processing was a fifth of the
        gateway's time on a nested page. Bind values go through the column types as usual;
        only JSON columns need decoding on the way out (instants arrive as aware UTC)."""
        # Statements of one shape compile once: the cache key leaves out the values, which are
        # extracted from each statement (compiling was most of SQLAlchemy's cost per request).
        key = stmt._generate_cache_key()
        compiled = self._compiled.get(key.key) if key is not None else None
        if compiled is None:
            compiled = stmt.compile(
                dialect=connection.dialect,
                cache_key=key,
                compile_kwargs={"render_postcompile": True},
            )
            if key is not None:
                if len(self._compiled) >= COMPILED_SHAPES:
                    self._compiled.pop(next(iter(self._compiled)))
                self._compiled[key.key] = compiled
        values = (
            compiled.construct_params(extracted_parameters=key.bindparams)
            if key is not None
            else compiled.params
        )
        processors = compiled._bind_processors
        params = []
        for name in compiled.positiontup or ():
            value = values[name]
            process = processors.get(name)
            params.append(process(value) if process is not None and value is not None else value)
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection
        records = await driver.fetch(str(compiled), *params)
        return [dict(record) for record in records]

    async def lookup(
        self,
        table: str,
        column: str,
        keys: Sequence[Hashable],
        *,
        where: Sequence[Condition] = (),
        per_key: int | None = None,
    ) -> list[Row]:
        """Rows whose ``column`` is among ``keys``, in ``id`` order; ``per_key`` caps each key."""
        core = self._table(table)
        check_request(core.c.keys(), table, (column,), ())
        if not keys:
            return []
        conditions = [*self._where(core, where), self._among(core.c[column], list(keys))]
        if per_key is None:
            return await self._rows(select(core).where(*conditions).order_by(core.c.id))
        # Both backends have window functions: the cap is applied in one statement.
        rank = (
            func.row_number().over(partition_by=core.c[column], order_by=core.c.id).label("_rank")
        )
        ranked = select(core, rank).where(*conditions).subquery()
        stmt = (
            select(*[ranked.c[c.name] for c in core.columns])
            .where(ranked.c._rank <= per_key)
            .order_by(ranked.c.id)
        )
        return await self._rows(stmt)

    async def page(self, table: str, request: PageRequest) -> Page:
        """A keyset page: ``first`` rows after ``after``, or ``last`` rows before ``before``."""
        core = self._table(table)
        conditions = self._where(core, request.where)
        if request.after is not None:
            conditions.append(core.c.id > request.after)
        if request.before is not None:
            conditions.append(core.c.id < request.before)
        backwards = request.last is not None and request.first is None
        size = (request.last if backwards else request.first) or 0
        order = core.c.id.desc() if backwards else core.c.id
        rows = await self._rows(select(core).where(*conditions).order_by(order).limit(size + 1))
        more = len(rows) > size
        rows = rows[:size]
        if backwards:
            rows.reverse()
            return Page(rows, has_next=request.before is not None, has_previous=more)
        return Page(rows, has_next=more, has_previous=request.after is not None)

    async def count(self, table: str, where: Sequence[Condition] = ()) -> int:
        """How many live rows match."""
        core = self._table(table)
        stmt = select(func.count()).select_from(core).where(*self._where(core, where))
        rows = await self._rows(stmt)
        return int(next(iter(rows[0].values())))

    async def ping(self) -> None:
        """A trivial statement."""
        await self._rows(select(1))

    async def close(self) -> None:
        """Dispose of the pool."""
        await self.engine.dispose()
