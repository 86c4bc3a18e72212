"""Extract: stream a spec's rows from its source, a page at a time, in ``id`` order.

Rows come as the source holds them (the publisher desensitises them next), and only from the
providers whose administrators approved the spec, as a condition the source applies.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from typing import Protocol

from open_data.spec import DatasetSpec
from resolvers.connectors.base import AnyOf, Condition, Filter, Page, PageRequest, Row


class Pages(Protocol):
    """Anything that pages a table: a connector, or the request sources within a scope."""

    async def page(self, table: str, request: PageRequest) -> Page: ...


PAGE = 5_000


async def extract(
    spec: DatasetSpec,
    connector: Pages,
    *,
    providers: Collection[str] | None = None,
    page: int = PAGE,
) -> AsyncIterator[Row]:
    """Every live row the spec selects; with ``providers``, only theirs (none: no rows)."""
    where: tuple[Condition, ...] = spec.where
    if providers is not None:
        where = (*where, AnyOf(((Filter("provider", "in", tuple(sorted(providers))),),)))
    after: int | None = None
    while True:
        found = await connector.page(spec.table, PageRequest(where=where, first=page, after=after))
        for row in found.rows:
            yield row
        if not found.has_next or not found.rows:
            return
        after = found.rows[-1]["id"]
