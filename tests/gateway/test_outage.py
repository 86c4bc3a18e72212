"""A source goes down or hangs: the other sources still answer, within the timeout."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from sqlalchemy.engine import make_url

from gateway.context import Context
from gateway.settings import Settings
from gateway.sources import Sources
from resolvers.schema import build_schema
from tests.proxy import Proxy
from tests.scopes import oversight

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

    from resolvers.connectors.base import PageRequest
    from tests.conftest import ADMIN_DSN

    sources = Sources(pg_settings)
    try:
        for _ in range(3):
            await sources.for_request(oversight()).page(
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
            page = await sources.for_request(oversight()).page(
                "complaints", "complaints", PageRequest(first=1)
            )
            assert page.rows == []
    finally:
        await sources.close()
