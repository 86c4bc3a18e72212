"""Extract: stream a spec's rows from its source, a page at a time, in ``id`` order.

Rows come as the source holds them (the publisher desensitises them next), and only from the
providers whose administrators approved the spec, as a condition the source applies.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Collection
from dataclasses import replace
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
) -> AsyncGenerator[Row, None]:
    """Every live row the spec selects; with ``providers``, only theirs (none: no rows)."""
    where: tuple[Condition, ...] = spec.where
    if providers is not None:
        where = (*where, AnyOf(((Filter("provider", "in", tuple(sorted(providers))),),)))
    request = PageRequest(where=where, first=page)
    # The next page is asked for before this one's rows are handed out, so the source
    # database finds it while the publisher works on these (keyset paging: the last id is
    # all the next request needs).
    pending: asyncio.Future[Page] | None = asyncio.ensure_future(
        connector.page(spec.table, request)
    )
    try:
        while pending is not None:
            found = await pending
            pending = None
            if found.has_next and found.rows:
                following = replace(request, after=found.rows[-1]["id"])
                pending = asyncio.ensure_future(connector.page(spec.table, following))
            for row in found.rows:
                yield row
    finally:
        if pending is not None:  # the reader stopped early, or failed
            pending.cancel()
            # Its outcome is nobody's now: retrieved, so asyncio does not log it as lost.
            pending.add_done_callback(lambda done: done.cancelled() or done.exception())
