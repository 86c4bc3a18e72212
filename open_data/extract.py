"""Extract, the first stage: stream a spec's rows from its source, a page at a time, in ``id``
order, noting their providers and personal values (which the residual-PII scan looks for).

Rows come as the source holds them (the publisher desensitises them next), and only from the
providers whose administrators approved the spec, as a condition the source applies.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Collection
from dataclasses import replace

from open_data.release import Batches, Release, clock
from open_data.scan import personal_values_in
from open_data.spec import DatasetSpec, Pages
from sources.base import AnyOf, Condition, Filter, Page, PageRequest, Row

PAGE = 5_000


async def extract(release: Release) -> Release:
    """The stage: ``release.batches`` become the source pages that ``release.reader`` gives,
    each row's provider and personal values noted (``seen``, ``personal``) as it passes."""
    if release.reader is None:
        raise ValueError(f"{release.spec.name}: extract needs a reader")
    source = pages(release.spec, release.reader)
    values_in = personal_values_in(release.spec.table)
    seconds, seen, personal = release.seconds, release.seen, release.personal

    async def read() -> Batches:
        waited = clock()
        async for batch in source:
            release.rows_in += len(batch)
            for row in batch:
                seen.add(str(row["provider"]))
                personal.update(values_in(row))
            seconds["extract"] += clock() - waited
            yield batch
            waited = clock()

    release.batches = read()
    return release


async def pages(
    spec: DatasetSpec,
    connector: Pages,
    *,
    providers: Collection[str] | None = None,
    page: int = PAGE,
) -> AsyncGenerator[list[Row], None]:
    """Every live row the spec selects, a page at a time; with ``providers``, only theirs
    (none: no rows)."""
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
            yield found.rows
    finally:
        if pending is not None:  # the reader stopped early, or failed
            pending.cancel()
            # Its outcome is nobody's now: retrieved, so asyncio does not log it as lost.
            pending.add_done_callback(lambda done: done.cancelled() or done.exception())
