"""Engines and sessions for the four source databases, created on demand, never at import."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import orjson
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


class DatabaseUrls(Protocol):
    """Where each source's database is: the only setting this layer needs (the gateway's
    ``Settings`` is one), so settings are read at the entry points and passed down."""

    def database_url(self, source: str) -> str: ...


def create_engine(url: str, *, pre_ping: bool = True) -> AsyncEngine:
    """An async engine; SQLite files get their folder, WAL and a busy timeout.

    ``pre_ping`` tests each pooled connection before use (a round trip per checkout); the
    gateway's read engines turn it off, because their reads are retried on a broken connection.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # A gateway under load runs a handful of look-ups per request concurrently: keep enough
        # connections open that they are reused rather than reopened for every burst.
        return create_async_engine(
            url,
            pool_pre_ping=pre_ping,
            pool_size=15,
            max_overflow=5,
            json_deserializer=orjson.loads,  # the stdlib decoder showed in the gateway's profile
        )
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine.sync_engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine


class SourceDatabases:
    """One engine and session factory per source, shared by everything in one process."""

    def __init__(self, settings: DatabaseUrls) -> None:
        self._settings = settings
        self._engines: dict[str, AsyncEngine] = {}
        self._sessions: dict[str, async_sessionmaker[AsyncSession]] = {}

    def engine(self, source: str) -> AsyncEngine:
        """The engine of ``source``, created on first use."""
        if source not in self._engines:
            self._engines[source] = create_engine(self._settings.database_url(source))
        return self._engines[source]

    def sessions(self, source: str) -> async_sessionmaker[AsyncSession]:
        """A session factory for ``source``."""
        if source not in self._sessions:
            self._sessions[source] = async_sessionmaker(self.engine(source), expire_on_commit=False)
        return self._sessions[source]

    async def dispose(self) -> None:
        """Close every pool."""
        for engine in self._engines.values():
            await engine.dispose()
        self._engines.clear()
        self._sessions.clear()
