"""The joins: how a row of one source leads to rows of the same or another source.

Declared on the tables (``__joins__``); each becomes a field whose resolver goes through a
per-request batch loader, so a page of any size costs one round trip per relation.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import strawberry
from strawberry.types import Info

from resolvers.context import Context
from resolvers.graph.plan import UNREAD, plain_read
from resolvers.graph.types import TableInfo, to_node
from sources.base import Row, SourceUnavailable
from standard.errors import InputError
from standard.exchange import Join
from standard.registry import TABLES

MAX_PAGE = 100


@dataclass(frozen=True, slots=True)
class Relation(Join):
    """A table's join as the graph serves it: a field on ``table``."""

    table: str


RELATIONS: tuple[Relation, ...] = tuple(
    Relation(j.field, j.target, j.local, j.remote, j.many, j.zh, j.en, table)
    for table, model in TABLES.items()
    for j in model.__joins__
)
"""Every table's joins (``__joins__`` on the table), in the registry's order."""


def check_first(first: int) -> None:
    """Lists are paged: 1 to 100 items."""
    if not 1 <= first <= MAX_PAGE:
        raise InputError(f"first must be between 1 and {MAX_PAGE}, got {first}")


def keys_of(value: Any) -> list[Hashable]:
    """The join keys a column holds: none, one, or a list of them."""
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def newest(rows: list[Row]) -> Row:
    """Several rows may share a key (versions, or several providers): the newest wins."""
    return max(rows, key=lambda r: r["id"])


def related(
    rel: Relation, target: type, info_of: TableInfo, rows: list[Row], first: int | None
) -> Any:
    """A relation field's value for one parent: its first rows, or its newest row."""
    if rel.many:
        return [to_node(target, info_of, row) for row in rows[:first]]
    return to_node(target, info_of, newest(rows)) if rows else None


def _prefetched(node: Any, slot: tuple[str, int | None]) -> Any:
    found = node.__dict__.get("_prefetched", {}).get(slot, _MISSING)
    if isinstance(found, SourceUnavailable):
        # the prefetch's failure, reported on this field (a new one: many fields may say it)
        raise SourceUnavailable(found.source, found.reason)
    return found


_MISSING = object()


def _ready(node: Any, slot: tuple[str, int | None]) -> Any:
    """The prefetched value, or ``UNREAD`` when the resolver must load it or report why not."""
    found = node.__dict__.get("_prefetched", _NONE).get(slot, UNREAD)
    return UNREAD if isinstance(found, SourceUnavailable) else found


_NONE: dict[Any, Any] = {}


def _resolver(rel: Relation, target: type, info_of: TableInfo) -> Any:
    source = info_of.source

    async def load(
        info: Info[Context, None], keys: list[Hashable], per_key: int | None
    ) -> list[Row]:
        info.context.lazy_loads += 1
        loader = info.context.loaders.by(source, rel.target, rel.remote, per_key=per_key)
        groups = await loader.load_many(keys)
        return [row for group in groups for row in group]

    # Sync resolvers: a page's relations are usually prefetched (see prefetch.py) and returned
    # as they are; otherwise they hand graphql-core a coroutine that loads them.
    if rel.many:

        async def load_many(self: Any, info: Info[Context, None], first: int) -> list[Any]:
            rows = await load(info, keys_of(getattr(self, rel.local)), first)
            return related(rel, target, info_of, rows, first)  # type: ignore[no-any-return]

        def read_many(self: Any, first: Any) -> Any:
            if type(first) is not int or not 1 <= first <= MAX_PAGE:
                return UNREAD
            return _ready(self, (rel.field, first))

        @plain_read(read_many)  # a page's completion plan reads prefetched values directly
        def many(self: Any, info: Info[Context, None], first: int) -> Any:
            check_first(first)
            found = _prefetched(self, (rel.field, first))
            return load_many(self, info, first) if found is _MISSING else found

        many.__annotations__ = {"info": Info, "first": int, "return": list[target] | None}  # type: ignore[valid-type]
        return many

    async def load_one(self: Any, info: Info[Context, None]) -> Any:
        rows = await load(info, keys_of(getattr(self, rel.local)), None)
        return related(rel, target, info_of, rows, None)

    @plain_read(lambda self: _ready(self, (rel.field, None)))
    def one(self: Any, info: Info[Context, None]) -> Any:
        found = _prefetched(self, (rel.field, None))
        return load_one(self, info) if found is _MISSING else found

    one.__annotations__ = {"info": Info, "return": target | None}
    return one


def attach(classes: dict[str, type], infos: dict[str, TableInfo]) -> None:
    """Add every relation field to the (not yet decorated) classes."""
    for rel in RELATIONS:
        target = classes[rel.target]
        resolver = _resolver(rel, target, infos[rel.target])
        description = f"{rel.zh}: {rel.en}."
        if rel.many:
            description += " At most `first` (1-100), oldest first."
        setattr(
            classes[rel.table],
            rel.field,
            strawberry.field(resolver=resolver, description=description),
        )
