"""Every root field and every join answers over the demo data, on both backends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from gateway.schema import build_schema
from gateway.settings import Settings
from resolvers.context import Context
from resolvers.graph.prefetch import camel
from resolvers.graph.relations import RELATIONS
from sources.guard import Sources
from standard.exchange import EXCHANGE_COLUMNS
from standard.registry import SOURCES
from tests.scopes import oversight

schema = build_schema()
TABLES = [table for source in SOURCES.values() for table in source.tables]


@pytest_asyncio.fixture(loop_scope="session")
async def sources(seeded_settings: Settings) -> AsyncIterator[Sources]:
    live = Sources(seeded_settings)
    yield live
    await live.close()


async def run(sources: Sources, query: str) -> dict[str, Any]:
    context = Context.new(sources, scope=oversight())
    result = await schema.execute(query, context_value=context)
    assert not result.errors, result.errors
    assert result.data is not None
    return result.data


@pytest.mark.parametrize("table", TABLES)
async def test_root_field_and_its_joins(sources: Sources, table: str) -> None:
    model = next(s.tables[table] for s in SOURCES.values() if table in s.tables)
    columns = [
        camel(c.key)
        for c in model.__table__.columns  # type: ignore[attr-defined]
        if c.key not in ("id", "content_hash", "cd_operation")
    ]
    joins = [r for r in RELATIONS if r.table == table]
    selections = " ".join(
        f"{camel(r.field)}{'(first: 3)' if r.many else ''} {{ id }}" for r in joins
    )
    field = camel(table)
    node = f"id {' '.join(columns)} {selections}"
    query = f"{{ {field}(first: 100) {{ totalCount edges {{ node {{ {node} }} }} }} }}"
    data = (await run(sources, query))[field]
    nodes = [edge["node"] for edge in data["edges"]]
    assert nodes and data["totalCount"] >= len(nodes)
    assert all(set(columns) <= set(node) for node in nodes)
    assert {camel(c) for c in EXCHANGE_COLUMNS if c != "id"} - {
        "contentHash",
        "cdOperation",
    } <= set(nodes[0])
    for relation in joins:
        values = [node[camel(relation.field)] for node in nodes]
        assert any(values), f"{table}.{relation.field} is empty for all of 100 {table}"
