"""The request deadline over real HTTP: past it the work is cancelled, not left running, and a
long synchronous step does not keep other requests waiting."""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Hashable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from gateway.app import create_app
from gateway.policies import ensure_seed
from gateway.settings import SOURCES, Settings
from gateway.sources import Sources, connect
from resolvers.connectors.base import Condition, Connector, Page, PageRequest, Row
from resolvers.database import create_engine
from resolvers.graph.loaders import BatchLoader
from tests.servers import LiveServer

NESTED = """{ matters(first: 5) { edges { node { matterCode
  inspectionItems(first: 3) { itemCode } } } } }"""


class StalledLookups:
    """The real supervision connector, except that a relation look-up waits until it is
    cancelled. A fake at the one point a real source cannot be made to hang on cue and say
    that it was told to stop."""

    def __init__(self, inner: Connector) -> None:
        self.inner = inner
        self.source = inner.source
        self.waiting = threading.Event()
        self.cancelled = threading.Event()

    async def lookup(
        self,
        table: str,
        column: str,
        keys: Sequence[Hashable],
        *,
        where: Sequence[Condition] = (),
        per_key: int | None = None,
    ) -> list[Row]:
        self.waiting.set()
        try:
            await asyncio.Event().wait()  # nobody sets it: only cancellation ends the wait
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        raise AssertionError("unreachable")

    async def page(self, table: str, request: PageRequest) -> Page:
        return await self.inner.page(table, request)

    async def count(self, table: str, where: Sequence[Condition] = ()) -> int:
        return await self.inner.count(table, where)

    async def ping(self) -> None:
        await self.inner.ping()

    async def close(self) -> None:
        await self.inner.close()


async def _settings(
    seeded: Settings, template: dict[str, str], tmp: Path, **changes: Any
) -> Settings:
    """The demo sources and a fresh gateway database with the seed policy (the public reads
    the matter catalogue)."""
    copy = tmp / "gateway.db"
    shutil.copyfile(template["sqlite"], copy)
    url = f"sqlite+aiosqlite:///{copy}"
    engine = create_engine(url)
    try:
        await ensure_seed(engine)
    finally:
        await engine.dispose()
    return replace(seeded, gateway_url=url, public_cache_seconds=0, **changes)


async def test_past_the_deadline_the_source_reads_are_cancelled(
    seeded_sqlite: Settings, gateway_template: dict[str, str], tmp_path: Path
) -> None:
    # The source's own timeout is out of the way: only the request deadline can stop the read.
    settings = await _settings(
        seeded_sqlite, gateway_template, tmp_path, request_timeout=0.5, source_timeout=600
    )
    connectors = {name: connect(settings, name) for name in SOURCES}
    stalled = StalledLookups(connectors["supervision"])
    connectors["supervision"] = stalled
    app = create_app(settings, sources=Sources(settings, connectors))
    async with LiveServer(app) as server, httpx.AsyncClient(timeout=30) as client:
        response = await client.post(f"{server.url}/graphql", json={"query": NESTED})
        assert response.status_code == 504, response.text
        assert response.json()["errors"][0]["extensions"]["code"] == "REQUEST_TIMEOUT"
        assert stalled.waiting.is_set()
        # The wait has a timeout only so that a read left running fails the test.
        assert await asyncio.to_thread(stalled.cancelled.wait, 30), "the read was left running"


async def test_a_batch_is_cancelled_only_when_no_reader_waits_for_it() -> None:
    calls: list[list[Hashable]] = []
    release = asyncio.Event()
    stopped = asyncio.Event()
    fetching = asyncio.Event()

    async def fetch(keys: list[Hashable]) -> list[list[Row]]:
        calls.append(keys)
        fetching.set()
        try:
            await release.wait()
        except asyncio.CancelledError:
            stopped.set()
            raise
        return [[{"key": k}] for k in keys]

    loader = BatchLoader(fetch)
    first = asyncio.create_task(loader.load("a"))
    second = asyncio.create_task(loader.load_many(["a", "b"]))
    await fetching.wait()  # the batch goes out two turns of the loop after its first key
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)
    release.set()  # the other reader still waits: the read goes on for it
    assert await second == [[{"key": "a"}], [{"key": "b"}]]
    assert calls == [["a", "b"]] and not stopped.is_set()

    release.clear()
    fetching.clear()
    lone = asyncio.create_task(loader.load("c"))
    await fetching.wait()
    lone.cancel()
    await asyncio.gather(lone, return_exceptions=True)
    await stopped.wait()  # its only reader gone, the read is cancelled
    release.set()
    assert await loader.load("c") == [{"key": "c"}]  # and a later reader reads it afresh
    assert calls == [["a", "b"], ["c"], ["c"]]
