"""Root fields: a Relay connection per table, filters, the subject dossier and ``node``."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import strawberry
from strawberry.types import Info

from resolvers.context import Context
from resolvers.graph import ids
from resolvers.graph.prefetch import Prefetcher, child
from resolvers.graph.relations import MAX_PAGE
from resolvers.graph.types import TableInfo, to_node
from sources.base import Filter, PageRequest
from standard.errors import InputError
from standard.registry import filters
from standard.workdays import SHANGHAI


# Columns a list can be filtered on (equality), where the table has them; never personal ones.
@strawberry.type(description="Relay page information.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More items after this page.")
    has_previous_page: bool = strawberry.field(description="More items before this page.")
    start_cursor: str | None = strawberry.field(description="Cursor of the first edge.")
    end_cursor: str | None = strawberry.field(description="Cursor of the last edge.")


def _connection(node: type, info: TableInfo) -> tuple[type, type]:
    name = info.type_name
    edge = strawberry.type(
        type(
            f"{name}Edge",
            (),
            {
                "__annotations__": {"node": node, "cursor": str},
                "node": strawberry.field(description="The item."),
                "cursor": strawberry.field(description="Opaque cursor for `after`/`before`."),
            },
        ),
        description=f"An edge in a {name} connection.",
    )

    async def total_count(self: Any, info_: Info[Context, None]) -> int | None:
        count: int = await info_.context.sources.count(info.source, info.table, self.where)
        return count

    total_count.__annotations__ = {"info_": Info, "return": int | None}
    connection = strawberry.type(
        type(
            f"{name}Connection",
            (),
            {
                "__annotations__": {
                    "edges": list[edge],  # type: ignore[valid-type]
                    "page_info": PageInfo,
                    "where": strawberry.Private[tuple[Filter, ...]],
                },
                "edges": strawberry.field(description="The page's items."),
                "page_info": strawberry.field(description="Where this page lies."),
                "total_count": strawberry.field(
                    resolver=total_count,
                    description="How many items match the filter (costs one count).",
                ),
            },
        ),
        description=f"A page of {name} items (Relay cursor connection), oldest first.",
    )
    return connection, edge


def _filter_input(info: TableInfo) -> type:
    core = info.model.__table__  # type: ignore[attr-defined]
    annotations: dict[str, Any] = {}
    namespace: dict[str, Any] = {}
    for name in filters(info.model):
        column = core.c[name]
        annotations[name] = (bool if name == "late" else str) | None
        namespace[name] = strawberry.field(
            default=None, description=f"{column.info.get('zh', name)} equals."
        )
    for name, description in (
        ("produced_from", "产生时间 on or after this day (Beijing time)."),
        ("produced_to", "产生时间 on or before this day (Beijing time)."),
    ):
        annotations[name] = date | None
        namespace[name] = strawberry.field(default=None, description=description)
    namespace["__annotations__"] = annotations
    return strawberry.input(
        type(f"{info.type_name}Filter", (), namespace),
        description=f"Filters for {info.type_name} lists; all given conditions must hold.",
    )


def _where(given: Any) -> tuple[Filter, ...]:
    if given is None:
        return ()
    where = []
    for name, value in vars(given).items():
        if value is None:
            continue
        if name == "produced_from":
            start = datetime.combine(value, time(), SHANGHAI)
            where.append(Filter("produced_at", "gte", start))
        elif name == "produced_to":
            end = datetime.combine(value + timedelta(days=1), time(), SHANGHAI)
            where.append(Filter("produced_at", "lte", end - timedelta(microseconds=1)))
        else:
            where.append(Filter(name, "eq", value))
    return tuple(where)


def _cursor(value: str | None, type_name: str, argument: str) -> int | None:
    if value is None:
        return None
    try:
        kind, pk = ids.decode(value)
    except ids.BadId as exc:
        raise ids.BadId(f"{argument}: {exc}") from None  # which argument
    if kind != type_name:
        raise ids.BadId(f"{argument} is a cursor of {kind}, not of {type_name}")
    return pk


def _page_request(
    info: TableInfo, where: tuple[Filter, ...], first: int | None, after: str | None,
    last: int | None, before: str | None,
) -> PageRequest:  # fmt: skip
    if (first is None) == (last is None):
        raise InputError("give either first or last (1-100)")
    size = first if first is not None else last
    assert size is not None  # noqa: S101  # one of them is set, checked above
    if not 1 <= size <= MAX_PAGE:
        raise InputError(f"first/last must be between 1 and {MAX_PAGE}, got {size}")
    return PageRequest(
        where=where,
        first=first,
        after=_cursor(after, info.type_name, "after"),
        last=last,
        before=_cursor(before, info.type_name, "before"),
    )


def connection_field(node: type, info: TableInfo, prefetcher: Prefetcher) -> Any:
    """The root field listing ``info.table`` as a connection."""
    connection, edge = _connection(node, info)
    filter_input = _filter_input(info)

    async def resolve(
        self: Any,
        info_: Info[Context, None],
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: Any = None,  # the argument's name in the schema
    ) -> Any:
        where = _where(filter)
        request = _page_request(info, where, first, after, last, before)
        page = await info_.context.sources.page(info.source, info.table, request)
        nodes = [to_node(node, info, row) for row in page.rows]
        edges = [edge(node=n, cursor=n.id) for n in nodes]  # a cursor is its node's global ID
        selected = child(child(info_.selected_fields[0].selections, "edges"), "node")
        await prefetcher.prefetch(info_, info.table, nodes, selected)
        return connection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next,
                has_previous_page=page.has_previous,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
            where=where,
        )

    resolve.__annotations__ = {
        "info_": Info,
        "first": int | None,
        "after": str | None,
        "last": int | None,
        "before": str | None,
        "filter": filter_input | None,
        "return": connection | None,
    }
    model_doc = getattr(info.model, "__doc_zh__", info.type_name)
    return strawberry.field(
        resolver=resolve,
        description=f"{model_doc}: {info.type_name} items, oldest first. Give `first` or `last`.",
    )


async def find_node(
    info_: Info[Context, None],
    id: str,  # the argument's name in the schema
    nodes: dict[str, tuple[type, TableInfo]],
    prefetcher: Prefetcher,
) -> Any:
    """``node(id:)``: any object by its global ID."""
    type_name, pk = ids.decode(id)
    if type_name not in nodes:
        raise ids.BadId(f"{id!r} is not an ID issued by this gateway")
    cls, info = nodes[type_name]
    loader = info_.context.loaders.by(info.source, info.table, "id")
    rows = await loader.load(pk)
    if not rows:
        return None
    found = to_node(cls, info, rows[0])
    await prefetcher.prefetch(info_, info.table, [found], info_.selected_fields[0].selections)
    return found


__all__ = ["PageInfo", "connection_field", "find_node"]
