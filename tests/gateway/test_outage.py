"""A source goes down, hangs or answers badly: the other sources still answer, in time."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import pytest
import pytest_asyncio
from sqlalchemy.engine import make_url
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.schema import build_schema
from gateway.settings import Settings
from policies.access import RequestSources
from resolvers.context import Context
from sources.guard import Sources
from tests.proxy import Proxy
from tests.scopes import oversight
from tests.servers import TOKEN, LiveServer, source_api

schema = build_schema()
TIMEOUT = 1.0
QUERY = """{ subjects(first: 20) { edges { node { uscc name
  complaints(first: 3) { ticketNo } creditRatings(first: 3) { rating } } } } }"""


@pytest_asyncio.fixture(loop_scope="session")
async def proxied(seeded_pg: Settings) -> AsyncIterator[tuple[Sources, Proxy]]:
    """Complaints read through a proxy we can stop; the other sources directly."""
    url = make_url(seeded_pg.database_url("complaints"))
    proxy = Proxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    through = url.set(port=proxy.port).render_as_string(hide_password=False)
    settings = dataclasses.replace(
        seeded_pg, read_urls={"complaints": through}, source_timeout=TIMEOUT
    )
    sources = Sources(settings)
    yield sources, proxy
    await proxy.stop()
    await sources.close()


async def run(sources: Sources) -> tuple[dict[str, Any], list[Any], float]:
    context = Context.new(sources, scope=oversight())
    start = time.monotonic()
    result = await schema.execute(QUERY, context_value=context)
    return result.data or {}, list(result.errors or []), time.monotonic() - start


async def test_a_stopped_source_nulls_only_its_fields(proxied: tuple[Sources, Proxy]) -> None:
    sources, proxy = proxied
    data, errors, _ = await run(sources)
    assert not errors and any(e["node"]["complaints"] for e in data["subjects"]["edges"])
    await proxy.stop()
    data, errors, _ = await run(sources)
    nodes = [e["node"] for e in data["subjects"]["edges"]]
    assert len(nodes) == 20 and all(n["name"] for n in nodes)
    assert all(n["complaints"] is None for n in nodes)
    assert any(n["creditRatings"] for n in nodes)  # the credit source still answers
    assert errors and {e.extensions["code"] for e in errors} == {"SOURCE_UNAVAILABLE"}
    assert {e.extensions["source"] for e in errors} == {"complaints"}
    assert "internal" not in errors[0].message.lower() and "asyncpg" not in errors[0].message


async def test_a_hung_source_costs_one_timeout(proxied: tuple[Sources, Proxy]) -> None:
    sources, proxy = proxied
    proxy.mode = "blackhole"
    await proxy.stop()  # drop pooled connections, then accept new ones and never answer
    await proxy.start()
    data, errors, elapsed = await run(sources)
    assert all(e["node"]["complaints"] is None for e in data["subjects"]["edges"])
    assert errors and errors[0].extensions == {"code": "SOURCE_UNAVAILABLE", "source": "complaints"}
    # It waited for the source's timeout, once: one connection, one read, no retry behind it.
    # (Counted, not timed from above: a loaded machine may take longer, never shorter.)
    assert elapsed > TIMEOUT * 0.9
    assert proxy.accepted == 1


async def test_the_breaker_opens_after_repeated_failures(proxied: tuple[Sources, Proxy]) -> None:
    sources, proxy = proxied
    await proxy.stop()
    for _ in range(6):  # threshold 5: the breaker opens
        await run(sources)
    proxy.mode = "blackhole"  # a connection now would be accepted, and hang
    await proxy.start()
    before = proxy.accepted
    _, errors, _ = await run(sources)
    assert errors[0].extensions["code"] == "SOURCE_UNAVAILABLE"
    assert proxy.accepted == before  # no connection attempt at all while the circuit is open


async def test_connections_the_database_dropped_are_replaced_without_failing_reads(
    pg_settings: Settings,
) -> None:
    """After a database restart (every session terminated), pooled connections are dead: reads
    retry on fresh ones and the broken ones are discarded, so callers see no error."""
    import asyncpg

    from sources.base import PageRequest
    from tests.conftest import ADMIN_DSN

    sources = Sources(pg_settings)
    try:
        for _ in range(3):
            await RequestSources(sources, oversight()).page(
                "complaints", "complaints", PageRequest(first=1)
            )
        database = make_url(pg_settings.database_url("complaints")).database
        admin = await asyncpg.connect(ADMIN_DSN)
        try:
            killed = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = $1 AND pid <> pg_backend_pid()",
                database,
            )
        finally:
            await admin.close()
        assert killed >= 1
        for _ in range(10):
            page = await RequestSources(sources, oversight()).page(
                "complaints", "complaints", PageRequest(first=1)
            )
            assert page.rows == []
    finally:
        await sources.close()


class Garbling:
    """The complaints source's real API, its answers to reads garbled as ``mode`` says: a real
    HTTP source answering badly (health stays sound, as a half-broken source's does)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.mode: str | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.mode is None or scope["path"] == "/v1/health":
            await self.app(scope, receive, send)
            return
        sent: list[Message] = []

        async def keep(message: Message) -> None:
            sent.append(message)

        await self.app(scope, receive, keep)
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        status, body = GARBLE[self.mode](body)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _rows(change: Callable[[dict[str, Any]], None]) -> Callable[[bytes], tuple[int, bytes]]:
    def garble(body: bytes) -> tuple[int, bytes]:
        payload = orjson.loads(body)
        for row in payload.get("rows", []):
            change(row)
        return 200, orjson.dumps(payload)

    return garble


GARBLE: dict[str, Callable[[bytes], tuple[int, bytes]]] = {
    "400": lambda _: (400, b'{"error": {"code": "BAD_REQUEST", "message": "no column"}}'),
    "404": lambda _: (404, b'{"error": {"code": "NOT_FOUND", "message": "no such path"}}'),
    "500": lambda _: (500, b"Internal Server Error"),
    "not json": lambda _: (200, b"<html>upgrading</html>"),
    "not an object": lambda _: (200, b"[1, 2, 3]"),
    "rows not a list": lambda _: (200, b'{"rows": {}, "has_next": false, "has_previous": false}'),
    "a column missing": _rows(lambda row: row.pop("ticket_no")),
    # nullable: a page without it is sound (null), a look-up by it answers rows for no key
    "the join key missing": _rows(lambda row: row.pop("subject_uscc")),
    "a null where NOT NULL": _rows(lambda row: row.update(status=None)),
    "a value of the wrong type": _rows(lambda row: row.update(late="no")),
    "an instant without offset": _rows(lambda row: row.update(produced_at="2026-10-14T09:30")),
}
BOTH = """{ complaints(first: 5) { edges { node { ticketNo } } }
  subjects(first: 20) { edges { node { uscc name
    complaints(first: 3) { ticketNo } creditRatings(first: 3) { rating } } } } }"""


@pytest_asyncio.fixture(loop_scope="session")
async def garbling(seeded_pg: Settings) -> AsyncIterator[tuple[Sources, Garbling]]:
    """Complaints read over HTTP from an API that garbles on cue; the others over SQL."""
    api = Garbling(source_api(seeded_pg, "complaints"))
    async with LiveServer(api) as server:
        settings = dataclasses.replace(
            seeded_pg, read_urls={"complaints": server.url}, source_api_token=TOKEN
        )
        sources = Sources(settings)
        try:
            yield sources, api
        finally:
            await sources.close()


@pytest.mark.parametrize("mode", GARBLE)
async def test_a_source_answering_badly_nulls_only_its_fields(
    garbling: tuple[Sources, Garbling], mode: str
) -> None:
    sources, api = garbling
    sound = await schema.execute(BOTH, context_value=Context.new(sources, scope=oversight()))
    assert not sound.errors and sound.data is not None and sound.data["complaints"]["edges"]
    api.mode = mode
    result = await schema.execute(BOTH, context_value=Context.new(sources, scope=oversight()))
    data = result.data or {}
    # The other sources' data is all there, as it was ...
    nodes = [e["node"] for e in data["subjects"]["edges"]]
    expected = [e["node"] for e in sound.data["subjects"]["edges"]]
    assert [(n["uscc"], n["name"], n["creditRatings"]) for n in nodes] == [
        (n["uscc"], n["name"], n["creditRatings"]) for n in expected
    ]
    assert any(n["creditRatings"] for n in nodes)
    # ... and every field that needed complaints is null, with SOURCE_UNAVAILABLE.
    assert all(n["complaints"] is None for n in nodes)
    if mode == "the join key missing":
        assert data["complaints"]["edges"] == sound.data["complaints"]["edges"]
    else:
        assert data["complaints"] is None
        assert ("complaints",) in {tuple(e.path or ()) for e in result.errors or []}
    assert result.errors
    for error in result.errors:
        assert error.extensions == {"code": "SOURCE_UNAVAILABLE", "source": "complaints"}
        assert error.message == "The complaints source is unavailable."
