"""The four sources as the gateway reaches them: a connector each, chosen by URL, and guarded.

Guarding means a timeout on every call, retries with backoff for reads that failed for a
passing reason, and a circuit breaker per source, so a source that is down costs one timeout,
not one per field. Counting wraps the guarded connectors per request, for tests and metrics.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    retry_if_not_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from sources.base import (
    BadSourceRequest,
    Connector,
    SourceRefused,
    SourceUnavailable,
)
from sources.database import create_engine
from sources.sql import SqlConnector
from sources.telemetry import BREAKER_OPEN, SOURCE_CALLS, source_span
from standard.source_names import SOURCE_NAMES

T = TypeVar("T")
RETRIES = 2


class SourceSettings(Protocol):
    """What reaching the sources needs of the settings (the gateway's ``Settings`` has it)."""

    @property
    def source_api_token(self) -> str | None: ...
    @property
    def source_timeout(self) -> float: ...
    @property
    def gateway_url(self) -> str:
        """The gateway's own database, read by datasets about the gateway (audit chain heads)."""
        ...

    def read_url(self, source: str) -> str: ...


def connect(settings: SourceSettings, source: str) -> Connector:
    """The connector for ``source``: HTTP for an ``http(s)://`` URL, SQL otherwise."""
    url = settings.read_url(source)
    if url.startswith(("http://", "https://")):
        from sources.http import HttpConnector

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

    def __init__(
        self, settings: SourceSettings, connectors: dict[str, Connector] | None = None
    ) -> None:
        self.settings = settings
        made = (
            connectors
            if connectors is not None
            else {s: connect(settings, s) for s in SOURCE_NAMES}
        )
        breakers = AsyncCircuitBreakerFactory(
            # One refused request says nothing of the source's other answers.
            default_threshold=5,
            default_ttl=10,
            exclude=[BadSourceRequest, SourceRefused],
        )
        self.guarded = {
            name: Guarded(c, timeout=settings.source_timeout, breakers=breakers)
            for name, c in made.items()
        }

    async def close(self) -> None:
        """Close every connector."""
        for guarded in self.guarded.values():
            await guarded.inner.close()
