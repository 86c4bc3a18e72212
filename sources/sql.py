"""The SQL connector: a source's exchange database through SQLAlchemy (PostgreSQL or SQLite)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # no stubs
import orjson
from sqlalchemy import (
    ColumnElement,
    Integer,
    Table,
    and_,
    any_,
    bindparam,
    false,
    func,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from sources.base import (
    AnyOf,
    BadSourceRequest,
    Condition,
    Filter,
    Page,
    PageRequest,
    Row,
    SourceUnavailable,
    check_request,
)
from standard.exchange import column_kind
from standard.registry import source as source_named

COMPILED_SHAPES = 1_000
"""Compiled statements kept per connector: one per query shape, a few dozen in practice."""
DELETED = "d"  # cd_operation of records marked deleted: never returned
POOL_SIZE = 20  # connections per source at most, as SQLAlchemy's pool had (15 + 5 overflow)
_SQLALCHEMY_ONLY = ("prepared_statement_cache_size", "prepared_statement_name_func")

Shape = tuple[Any, ...]
Values = dict[str, Any]


def _walk(where: Sequence[Condition]) -> Iterator[Filter]:
    """The filters of ``where`` in the order a statement binds their values."""
    for item in where:
        if isinstance(item, AnyOf):
            for alternative in item.alternatives:
                yield from alternative
        else:
            yield item


def _shape(where: Sequence[Condition]) -> Shape:
    """What decides a statement's text: columns, operators and nesting, never values."""
    return tuple(
        tuple(tuple((f.column, f.op) for f in alt) for alt in item.alternatives)
        if isinstance(item, AnyOf)
        else (item.column, item.op)
        for item in where
    )


def _bound(f: Filter) -> Any:
    """The value a filter binds: a list for ``in``, an escaped pattern for ``prefix``."""
    if f.op == "in":
        return list(f.value)
    if f.op == "prefix":  # as SQLAlchemy's startswith(autoescape=True) escapes it
        text = str(f.value).replace("/", "//")
        return text.replace("%", "/%").replace("_", "/_")
    return f.value


def _values(where: Sequence[Condition], **more: Any) -> Values:
    values = {f"w{n}": _bound(f) for n, f in enumerate(_walk(where))}
    values["deleted"] = DELETED
    values.update(more)
    return values


@dataclass(frozen=True, slots=True)
class Template:
    """A statement of one shape, compiled once: its SQL and how to order its values."""

    sql: str
    names: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]

    def arguments(self, values: Mapping[str, Any]) -> list[Any]:
        """The values in the statement's order, through the column types' bind processing."""
        arguments = []
        for name, process in zip(self.names, self.processors, strict=True):
            value = values[name]
            arguments.append(process(value) if process is not None and value is not None else value)
        return arguments


async def _codecs(connection: Any) -> None:
    """JSON values decoded as SQLAlchemy's asyncpg dialect decodes them, straight from bytes."""
    await connection.set_type_codec(
        "json", encoder=str.encode, decoder=orjson.loads, schema="pg_catalog", format="binary"
    )
    await connection.set_type_codec(
        "jsonb",
        encoder=lambda text: b"\x01" + text.encode(),  # binary jsonb: a version byte first
        decoder=lambda raw: orjson.loads(raw[1:]),
        schema="pg_catalog",
        format="binary",
    )


async def _unchanged(connection: Any) -> None:
    """Reads leave a connection as they found it (no transaction, setting or listener), so
    asyncpg's reset query, a round trip per release, is skipped."""


class SqlConnector:
    """Reads one source database; every driver error becomes ``SourceUnavailable``.

    Statements bind every value by name (``deleted``, ``w0``… for filters in ``_walk`` order,
    ``keys``, ``per_key``, ``after``, ``before``, ``limit``). On PostgreSQL a statement of a
    shape already seen is not built at all: its compiled text is reused with the new values and
    sent through an asyncpg pool of the connector's own (building and compiling statements, and
    SQLAlchemy's async connection wrapper, were most of SQLAlchemy's cost in the gateway); the
    engine only compiles. SQLite runs the built statement through SQLAlchemy.
    """

    def __init__(self, source: str, engine: AsyncEngine) -> None:
        self.source = source
        self.engine = engine
        self._postgresql = engine.dialect.name == "postgresql"
        self._templates: dict[Shape, Template] = {}
        self._pool: Any = None  # asyncpg.Pool, opened on the first read
        self._opening = asyncio.Lock()
        self.tables: dict[str, Table] = {
            name: model.__table__  # type: ignore[attr-defined]
            for name, model in source_named(source).tables.items()
        }
        # Columns whose values the database does not hold to their type: any value in SQLite's
        # INTEGER columns, any JSON in a list column (a text[] stored as JSON) on both.
        self._loose: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
            name: (
                tuple(c.name for c in table.columns if column_kind(c) == "integer")
                if not self._postgresql
                else (),
                tuple(c.name for c in table.columns if column_kind(c) == "list"),
            )
            for name, table in self.tables.items()
        }

    def _table(self, name: str) -> Table:
        try:
            return self.tables[name]
        except KeyError:
            raise BadSourceRequest(f"source {self.source!r} has no table {name!r}") from None

    def _where(self, table: Table, where: Sequence[Condition]) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = [
            table.c.cd_operation != bindparam("deleted", DELETED, type_=table.c.cd_operation.type)
        ]
        names = (f"w{n}" for n in itertools.count())  # as _values numbers them
        for item in where:
            if isinstance(item, AnyOf):
                conditions.append(
                    or_(
                        false(),
                        *(
                            and_(*(self._condition(table, f, next(names)) for f in alternative))
                            for alternative in item.alternatives
                        ),
                    )
                )
            else:
                conditions.append(self._condition(table, item, next(names)))
        return conditions

    def _condition(self, table: Table, f: Filter, name: str) -> ColumnElement[bool]:
        column = table.c[f.column]
        if f.op == "in":
            return self._among(column, name, _bound(f))
        value = bindparam(name, _bound(f), type_=column.type)
        if f.op == "eq":
            return column == value
        if f.op == "gte":
            return column >= value
        if f.op == "lte":
            return column <= value
        return column.startswith(value, escape="/")

    def _among(self, column: Any, name: str, values: list[Any]) -> ColumnElement[bool]:
        """``column IN values``; on PostgreSQL one array parameter, so a look-up of 500 keys
        compiles as fast as one of 5 (compiling expanded IN lists was the gateway's top cost)."""
        if self._postgresql:
            return column == any_(bindparam(name, values, type_=ARRAY(column.type)))  # type: ignore[no-any-return]
        return column.in_(bindparam(name, values, expanding=True, type_=column.type))  # type: ignore[no-any-return]

    async def _rows(self, shape: Shape, build: Callable[[], Any], values: Values) -> list[Row]:
        """Run the statement ``build`` makes, or the compiled one of the same ``shape``."""
        try:
            if self._postgresql:
                template = self._templates.get(shape) or self._compile(shape, build())
                return await self._asyncpg_rows(template, values)
            async with self.engine.connect() as connection:
                result = await connection.execute(build())
                names = [str(name) for name in result.keys()]  # noqa: SIM118  # a Result, not a dict
                try:
                    return [dict(zip(names, row, strict=True)) for row in result]
                except (ValueError, TypeError, ArithmeticError) as exc:
                    # SQLite keeps any value in any column: a date or decimal that is not one
                    # fails as the row is read.
                    raise SourceUnavailable(self.source, "a value of the wrong type") from exc
        except (
            DBAPIError,
            SQLAlchemyError,
            OSError,
            asyncpg.PostgresError,
            asyncpg.InterfaceError,
            asyncpg.InternalClientError,  # a connection the server dropped mid-protocol
        ) as exc:
            raise SourceUnavailable(self.source, type(exc).__name__) from exc

    def _compile(self, shape: Shape, stmt: Any) -> Template:
        compiled = stmt.compile(
            dialect=self.engine.dialect, compile_kwargs={"render_postcompile": True}
        )
        names = tuple(compiled.positiontup or ())
        processors = compiled._bind_processors
        template = Template(str(compiled), names, tuple(processors.get(n) for n in names))
        if len(self._templates) >= COMPILED_SHAPES:
            self._templates.pop(next(iter(self._templates)))
        self._templates[shape] = template
        return template

    async def _driver(self) -> Any:
        """The connector's asyncpg pool, opened with the engine's connection arguments."""
        if self._pool is None:
            async with self._opening:
                if self._pool is None:
                    _, options = self.engine.dialect.create_connect_args(self.engine.url)
                    for name in _SQLALCHEMY_ONLY:
                        options.pop(name, None)
                    self._pool = await asyncpg.create_pool(
                        **options,
                        min_size=0,
                        max_size=POOL_SIZE,
                        init=_codecs,
                        reset=_unchanged,
                    )
        return self._pool

    async def _asyncpg_rows(self, template: Template, values: Values) -> list[Row]:
        """Read through asyncpg directly: SQLAlchemy's result processing was a fifth of the
        gateway's time on a nested page. Bind values go through the column types as usual."""
        pool = await self._driver()
        async with pool.acquire() as connection:
            try:
                records = await connection.fetch(template.sql, *template.arguments(values))
            except BaseException:
                # A connection that failed mid-read is not reused; nor are the others opened
                # before it (after a database restart they are all dead), as SQLAlchemy's
                # pool does on an invalidation.
                connection.terminate()
                await pool.expire_connections()
                raise
        return [dict(record) for record in records]

    def _checked(self, table: str, rows: list[Row]) -> list[Row]:
        """``rows``, unless a value the database let through is not of its column's type."""
        integers, lists = self._loose[table]
        for row in rows:
            for name in integers:
                value = row[name]
                if value is not None and (type(value) is not int):
                    raise SourceUnavailable(self.source, "a value of the wrong type")
            for name in lists:
                value = row[name]
                if value is not None and not (
                    isinstance(value, list) and all(isinstance(item, str) for item in value)
                ):
                    raise SourceUnavailable(self.source, "a value of the wrong type")
        return rows

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
        check_request(core.c.keys(), table, (column,), where)
        if not keys:
            return []
        values = _values(where, keys=list(keys), per_key=per_key)

        def build() -> Any:
            conditions = [
                *self._where(core, where),
                self._among(core.c[column], "keys", values["keys"]),
            ]
            if per_key is None:
                return select(core).where(*conditions).order_by(core.c.id)
            # Both backends have window functions: the cap is applied in one statement.
            rank = (
                func.row_number()
                .over(partition_by=core.c[column], order_by=core.c.id)
                .label("_rank")
            )
            ranked = select(core, rank).where(*conditions).subquery()
            return (
                select(*[ranked.c[c.name] for c in core.columns])
                .where(ranked.c._rank <= bindparam("per_key", per_key, type_=Integer))
                .order_by(ranked.c.id)
            )

        shape = ("lookup", table, column, per_key is None, _shape(where))
        return self._checked(table, await self._rows(shape, build, values))

    async def page(self, table: str, request: PageRequest) -> Page:
        """A keyset page: ``first`` rows after ``after``, or ``last`` rows before ``before``."""
        core = self._table(table)
        check_request(core.c.keys(), table, (), request.where)
        backwards = request.last is not None and request.first is None
        size = (request.last if backwards else request.first) or 0
        values = _values(request.where, after=request.after, before=request.before, limit=size + 1)

        def build() -> Any:
            conditions = self._where(core, request.where)
            if request.after is not None:
                conditions.append(
                    core.c.id > bindparam("after", request.after, type_=core.c.id.type)
                )
            if request.before is not None:
                conditions.append(
                    core.c.id < bindparam("before", request.before, type_=core.c.id.type)
                )
            order = core.c.id.desc() if backwards else core.c.id
            limit = bindparam("limit", size + 1, type_=Integer)
            return select(core).where(*conditions).order_by(order).limit(limit)

        shape = (
            "page", table, _shape(request.where), backwards,
            request.after is not None, request.before is not None,
        )  # fmt: skip
        rows = self._checked(table, await self._rows(shape, build, values))
        more = len(rows) > size
        rows = rows[:size]
        if backwards:
            rows.reverse()
            return Page(rows, has_next=request.before is not None, has_previous=more)
        return Page(rows, has_next=more, has_previous=request.after is not None)

    async def count(self, table: str, where: Sequence[Condition] = ()) -> int:
        """How many live rows match."""
        core = self._table(table)
        check_request(core.c.keys(), table, (), where)

        def build() -> Any:
            return select(func.count()).select_from(core).where(*self._where(core, where))

        rows = await self._rows(("count", table, _shape(where)), build, _values(where))
        return int(next(iter(rows[0].values())))

    async def ping(self) -> None:
        """A trivial statement."""
        await self._rows(("ping",), lambda: select(1), {})

    async def close(self) -> None:
        """Close the pools."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()
        await self.engine.dispose()
