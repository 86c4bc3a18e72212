"""The four sources as the gateway sees them: a connector each, chosen by URL, and guarded.

Guarding means a timeout on every call, retries with backoff for reads that failed for a
passing reason, and a circuit breaker per source, so a source that is down costs one timeout,
not one per field. Counting wraps the guarded connectors per request, for tests and metrics.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    retry_if_not_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from gateway.observability import BREAKER_OPEN, SOURCE_CALLS
from gateway.scope import DENY, Scope
from gateway.settings import SOURCES, Settings
from gateway.tracing import source_span
from resolvers.connectors.base import (
    BadRequest,
    Condition,
    Connector,
    Page,
    PageRequest,
    Row,
    SourceRefused,
    SourceUnavailable,
)
from resolvers.connectors.sql import SqlConnector
from resolvers.database import create_engine
from resolvers.masking import MASKED, mask_row

T = TypeVar("T")
RETRIES = 2


def connect(settings: Settings, source: str) -> Connector:
    """The connector for ``source``: HTTP for an ``http(s)://`` URL, SQL otherwise."""
    url = settings.read_url(source)
    if url.startswith(("http://", "https://")):
        from resolvers.connectors.http import HttpConnector

        if not settings.source_api_token:
            raise ValueError(f"{source} is read over HTTP ({url}); set JIANGUAN_SOURCE_API_TOKEN")
        return HttpConnector(
            source, url, token=settings.source_api_token, timeout=settings.source_timeout
        )
    return SqlConnector(source, create_engine(url, pre_ping=False))


class Guarded:
    """A connector behind a timeout, retries and a circuit breaker."""

    def __init__(
        self, inner: Connector, *, timeout: float, breakers: AsyncCircuitBreakerFactory
    ) -> None:
        self.inner = inner
        self.source = inner.source
        self.timeout = timeout
        self.breakers = breakers

    async def call(
        self,
        make: Callable[[], Awaitable[T]],
        *,
        operation: str = "read",
        table: str | None = None,
    ) -> T:
        """Run one read through the breaker; retries share one deadline, never exceed it."""
        with source_span(self.source, operation, table=table):
            started = time.perf_counter()
            outcome = "error"
            try:
                breaker = await self.breakers.get_breaker(self.source)
                async with breaker, asyncio.timeout(self.timeout):
                    async for attempt in AsyncRetrying(
                        # a refusal would be refused again: not retried
                        retry=retry_if_exception_type(SourceUnavailable)
                        & retry_if_not_exception_type(SourceRefused),
                        stop=stop_after_attempt(RETRIES + 1),
                        wait=wait_exponential(multiplier=0.05, max=0.5),
                        reraise=True,
                    ):
                        with attempt:
                            result = await make()
                            outcome = "ok"
                            BREAKER_OPEN.labels(self.source).set(0)
                            return result
            except OpenedState:
                outcome = "breaker_open"
                BREAKER_OPEN.labels(self.source).set(1)
                raise SourceUnavailable(
                    self.source, "circuit open after repeated failures"
                ) from None
            except TimeoutError:
                outcome = "timeout"
                raise SourceUnavailable(
                    self.source, f"no answer within {self.timeout:g} s"
                ) from None
            finally:
                SOURCE_CALLS.labels(self.source, outcome).observe(time.perf_counter() - started)
            raise AssertionError("unreachable")  # pragma: no cover  # AsyncRetrying re-raises


class Sources:
    """The guarded connectors of one process, shared by every request."""

    def __init__(self, settings: Settings, connectors: dict[str, Connector] | None = None) -> None:
        self.settings = settings
        made = connectors if connectors is not None else {s: connect(settings, s) for s in SOURCES}
        breakers = AsyncCircuitBreakerFactory(
            # One refused request says nothing of the source's other answers.
            default_threshold=5,
            default_ttl=10,
            exclude=[BadRequest, SourceRefused],
        )
        self.guarded = {
            name: Guarded(c, timeout=settings.source_timeout, breakers=breakers)
            for name, c in made.items()
        }

    def for_request(self, scope: Scope = DENY) -> RequestSources:
        """A per-request view that applies the caller's scope and counts round trips."""
        return RequestSources(self, scope)

    async def close(self) -> None:
        """Close every connector."""
        for guarded in self.guarded.values():
            await guarded.inner.close()


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
