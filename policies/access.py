"""A request's reads, within what its caller may see: the scope applied to every read.

The one place where the scope meets the sources, so lists, ``node``, nested joins and counts
agree on what a caller may see and which fields are masked.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from policies.masking import MASKED, mask_row
from policies.scope import DENY, Scope
from sources.base import Condition, Page, PageRequest, Row
from sources.guard import Guarded, Sources


class RequestSources:
    """The sources as one request may see them.

    Every read carries the caller's scope as a condition, so rows outside it never leave the
    source, and every row's personal fields are masked here unless the scope shows them: one
    place, so lists, ``node``, nested joins and counts agree. A table the caller may not see
    costs no round trip. ``calls`` counts round trips per source; ``reads`` records the tables,
    providers and rows read, for the audit log.
    """

    def __init__(self, sources: Sources, scope: Scope = DENY) -> None:
        self.sources = sources
        self.scope = scope
        self.calls: Counter[str] = Counter()
        self.reads: dict[str, Read] = {}

    def _guarded(self, source: str) -> Guarded:
        self.calls[source] += 1
        return self.sources.guarded[source]

    def _scoped(self, table: str, where: Sequence[Condition]) -> tuple[Condition, ...] | None:
        self.reads.setdefault(table, Read())  # asked for, even when nothing may be seen
        seen = self.scope.table(table)
        if not seen.visible:
            return None
        condition = seen.condition
        return (*where, condition) if condition is not None else tuple(where)

    def _release(self, table: str, rows: list[Row]) -> list[Row]:
        seen = self.scope.table(table)
        read = self.reads.setdefault(table, Read())
        read.rows += len(rows)
        read.providers.update(row.get("provider") for row in rows)
        if MASKED.get(table):
            per_row = seen.shows_any  # decided once per read, not per row
            for row in rows:
                mask_row(table, row, seen.clear_for(row) if per_row else ())
        return rows

    def note(self, resource: str, rows: int, providers: Iterable[str]) -> None:
        """Record a read that did not go through a source (the audit log), for auditing."""
        read = self.reads.setdefault(resource, Read())
        read.rows += rows
        read.providers.update(providers)

    async def lookup(
        self,
        source: str,
        table: str,
        column: str,
        keys: Sequence[Hashable],
        *,
        where: Sequence[Condition] = (),
        per_key: int | None = None,
    ) -> list[Row]:
        """Batch look-up by key (what the batch loaders call)."""
        scoped = self._scoped(table, where)
        if scoped is None or not keys:
            return []
        guarded = self._guarded(source)
        rows = await guarded.call(
            lambda: guarded.inner.lookup(table, column, keys, where=scoped, per_key=per_key),
            operation="lookup",
            table=table,
        )
        return self._release(table, rows)

    async def page(self, source: str, table: str, request: PageRequest) -> Page:
        """One keyset page."""
        scoped = self._scoped(table, request.where)
        if scoped is None:
            return Page([], has_next=False, has_previous=False)
        guarded = self._guarded(source)
        page = await guarded.call(
            lambda: guarded.inner.page(table, dataclasses.replace(request, where=scoped)),
            operation="page",
            table=table,
        )
        self._release(table, page.rows)
        return page

    async def count(self, source: str, table: str, where: Sequence[Condition] = ()) -> int:
        """How many rows match, of those the caller may see."""
        scoped = self._scoped(table, where)
        if scoped is None:
            return 0
        guarded = self._guarded(source)
        return await guarded.call(
            lambda: guarded.inner.count(table, scoped), operation="count", table=table
        )

    async def ping(self, source: str) -> None:
        """Whether a source answers (for /readyz)."""
        guarded = self._guarded(source)
        await guarded.call(guarded.inner.ping, operation="ping")


@dataclass(slots=True)
class Read:
    """What one request read from one table."""

    rows: int = 0
    providers: set[Any] = field(default_factory=set)
