"""The request deadline over real HTTP: past it the work is cancelled, not left running, and a
long synchronous step does not keep other requests waiting."""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.app import create_app
from gateway.http import GRAPHQL_RESPONSE
from gateway.settings import Settings
from policies.store import ensure_seed
from resolvers.graph import plan
from resolvers.loaders import BatchLoader
from sources.base import Condition, Connector, Page, PageRequest, Row
from sources.database import create_engine
from sources.guard import Sources, connect
from standard.source_names import SOURCE_NAMES
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
    connectors = {name: connect(settings, name) for name in SOURCE_NAMES}
    stalled = StalledLookups(connectors["supervision"])
    connectors["supervision"] = stalled
    app = create_app(settings, sources=Sources(settings, connectors))
    async with LiveServer(app) as server, httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            f"{server.url}/graphql", json={"query": NESTED}, headers={"accept": GRAPHQL_RESPONSE}
        )
        assert response.status_code == 504, response.text
        assert response.headers["content-type"] == f"{GRAPHQL_RESPONSE}; charset=utf-8"
        assert response.json()["errors"][0]["extensions"]["code"] == "REQUEST_TIMEOUT"
        assert stalled.waiting.is_set()
        # The wait has a timeout only so that a read left running fails the test.
        assert await asyncio.to_thread(stalled.cancelled.wait, 30), "the read was left running"


class Probe:
    """A name that says when it is written out: graphql-core turns it into a string."""

    def __init__(self, text: str, seen: Callable[[], None]) -> None:
        self.text = text
        self.seen = seen

    def __str__(self) -> str:
        self.seen()
        return self.text


class WideAndSlow(StalledLookups):
    """The real supervision connector with far more inspection items than the demo data (100
    per matter, copies of a real one), and a departments page that waits for a signal."""

    def __init__(self, inner: Connector, answered: threading.Event) -> None:
        super().__init__(inner)
        self.answered = answered
        self.answered_before_the_end: bool | None = None
        self.release: asyncio.Event | None = None

    def _release(self) -> None:
        assert self.release is not None
        self.release.set()

    def _end(self) -> None:
        self.answered_before_the_end = self.answered.is_set()

    async def lookup(
        self,
        table: str,
        column: str,
        keys: Sequence[Hashable],
        *,
        where: Sequence[Condition] = (),
        per_key: int | None = None,
    ) -> list[Row]:
        found = await self.inner.lookup(table, column, keys, where=where, per_key=per_key)
        if table != "inspection_items" or not found:
            return found
        rows = [
            {**found[0], column: key, "id": 1_000_000 + n, "item_code": f"X{n:08d}"}
            for n, key in enumerate(k for k in keys for _ in range(per_key or 1))
        ]
        rows[0]["name"] = Probe("first", self._release)
        rows[-1]["name"] = Probe("last", self._end)
        return rows

    async def page(self, table: str, request: PageRequest) -> Page:
        # Read first, then wait: once released, B needs only turns of the event loop (no
        # database thread that a busy machine could hold back), so the race is loop turns alone.
        page = await self.inner.page(table, request)
        if table == "departments":
            self.release = asyncio.Event()
            self.waiting.set()
            await self.release.wait()
        return page


def recording(app: ASGIApp, marker: bytes, answered: threading.Event) -> ASGIApp:
    """``app``, noting when the request that carries ``x-probe: <marker>`` has its answer."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        mine = (b"x-probe", marker) in scope.get("headers", ())

        async def noting(message: Message) -> None:
            await send(message)
            if mine and message["type"] == "http.response.body" and not message.get("more_body"):
                answered.set()

        await app(scope, receive, noting)

    return wrapped


async def test_a_long_completion_lets_other_requests_through(
    seeded_sqlite: Settings,
    gateway_template: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Every object waits for a turn of the event loop: what a long completion does past its
    # first slice, here from the start, so that nothing depends on this machine's speed.
    monkeypatch.setattr(plan, "SLICE_SECONDS", 0.0, raising=False)
    settings = await _settings(seeded_sqlite, gateway_template, tmp_path)
    connectors = {name: connect(settings, name) for name in SOURCE_NAMES}
    answered = threading.Event()
    wide = WideAndSlow(connectors["supervision"], answered)
    connectors["supervision"] = wide
    app = recording(create_app(settings, sources=Sources(settings, connectors)), b"b", answered)
    small = "{ departments(first: 1) { edges { node { name } } } }"
    large = """{ matters(first: 100) { edges { node { matterCode
      inspectionItems(first: 100) { itemCode name } } } } }"""
    async with LiveServer(app) as server, httpx.AsyncClient(timeout=60) as client:
        # B waits in its source until A has begun writing out its 10,000 inspection items.
        other = asyncio.create_task(
            client.post(f"{server.url}/graphql", json={"query": small}, headers={"x-probe": "b"})
        )
        assert await asyncio.to_thread(wide.waiting.wait, 30)
        response = await client.post(f"{server.url}/graphql", json={"query": large})
        assert response.status_code == 200, response.text
        edges = response.json()["data"]["matters"]["edges"]
        items = [i for e in edges for i in e["node"]["inspectionItems"]]
        assert len(items) == 100 * 100 and items[0]["name"] == "first"
        assert items[-1]["name"] == "last"
        assert (await other).status_code == 200
    assert wide.answered_before_the_end, "B waited for all of A's completion"


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
    await asyncio.wait_for(stopped.wait(), 30)  # its only reader gone, the read is cancelled
    release.set()
    assert await loader.load("c") == [{"key": "c"}]  # and a later reader reads it afresh
    assert calls == [["a", "b"], ["c"], ["c"]]
