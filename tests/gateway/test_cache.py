"""Public answers are cached (in process, or in the real Redis); personal ones never."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from graphql import parse
from redis.asyncio import Redis

from gateway.cache import MemoryStore, RedisStore, Store, cache_extension, is_public
from gateway.schema import build_schema
from gateway.settings import Settings
from resolvers.context import Context
from sources.guard import Sources
from tests.scopes import oversight

PUBLIC = "query M($n: Int!) { matters(first: $n) { edges { node { matterCode name "
PUBLIC += "department { name } licensingItem { name } inspectionItems(first: 2) { name } } } } }"
PERSONAL = "{ complaints(first: 2) { edges { node { ticketNo complainantName } } } }"
MIXED = "{ matters(first: 1) { totalCount } complaints(first: 1) { totalCount } }"
REDIS = "redis://127.0.0.1:6379/0"


@pytest.mark.parametrize(
    ("query", "public"),
    [
        (PUBLIC, True),
        (PERSONAL, False),
        (MIXED, False),
        ("{ __schema { types { name } } }", False),
        ('{ subject(uscc: "x") { name } }', False),
        ("{ officers(first: 1) { totalCount } }", True),
    ],
)
def test_which_queries_are_public(query: str, public: bool) -> None:
    schema = build_schema()
    assert is_public(schema._schema, parse(query)) is public


@pytest_asyncio.fixture(loop_scope="session", params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
        return
    client = Redis.from_url(REDIS)
    for key in await client.keys("jianguan:public:*"):
        await client.delete(key)
    await client.aclose()
    redis_store = RedisStore(REDIS)
    yield redis_store
    await redis_store.client.aclose()


async def run(schema: Any, sources: Sources, query: str, **variables: Any) -> tuple[Any, int]:
    context = Context.new(sources, scope=oversight())
    result = await schema.execute(query, variable_values=variables, context_value=context)
    assert not result.errors, result.errors
    return result.data, sum(context.sources.calls.values())


async def test_public_answers_are_served_from_the_cache(
    seeded_sqlite: Settings, store: Store
) -> None:
    schema = build_schema(cache=cache_extension(store, 60))
    sources = Sources(seeded_sqlite)
    try:
        first, calls = await run(schema, sources, PUBLIC, n=5)
        again, cached_calls = await run(schema, sources, PUBLIC, n=5)
        other, other_calls = await run(schema, sources, PUBLIC, n=6)
        assert calls > 0 and cached_calls == 0 and again == first
        assert other_calls > 0 and len(other["matters"]["edges"]) == 6  # variables are in the key
        _, personal_calls = await run(schema, sources, PERSONAL)
        _, personal_again = await run(schema, sources, PERSONAL)
        assert personal_calls > 0 and personal_again > 0
    finally:
        await sources.close()
    if isinstance(store, RedisStore):
        keys = await store.client.keys("jianguan:public:*")
        assert len(keys) == 2 and 0 < await store.client.ttl(keys[0]) <= 60


async def test_a_redis_outage_only_means_no_cache(seeded_sqlite: Settings) -> None:
    schema = build_schema(cache=cache_extension(RedisStore("redis://127.0.0.1:1/0"), 60))
    sources = Sources(seeded_sqlite)
    try:
        data, calls = await run(schema, sources, PUBLIC, n=2)
        assert calls > 0 and len(data["matters"]["edges"]) == 2
    finally:
        await sources.close()


def test_the_public_part_of_the_schema_is_what_the_public_role_may_read() -> None:
    """Cached answers cover exactly the tables of the seed policy's role:public read lines."""
    from gateway.cache import PUBLIC_ROOTS, PUBLIC_TABLES, PUBLIC_TYPES

    seed = (Path(__file__).parents[2] / "policies" / "seed.csv").read_text(encoding="utf-8")
    public = {
        cells[2]
        for line in seed.splitlines()
        if (cells := [c.strip() for c in line.split(",")])[:2] == ["p", "role:public"]
        and cells[4] == "read"
    }
    assert set(PUBLIC_TABLES) == public and len(public) >= 5
    query = build_schema()._schema.query_type
    assert query is not None
    for root in PUBLIC_ROOTS:
        connection = query.fields[root].type
        while hasattr(connection, "of_type"):
            connection = connection.of_type
        assert connection.name.removesuffix("Connection") in PUBLIC_TYPES, root
    assert len(PUBLIC_ROOTS) == len(PUBLIC_TYPES) == len(public)
