"""Query limits and hardening: depth, aliases, tokens, node budget, production settings."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.context import Context
from gateway.limits import MAX_ALIASES, MAX_DEPTH, NODE_BUDGET
from gateway.settings import Settings
from gateway.sources import Sources
from resolvers.schema import build_schema
from tests.scopes import oversight

development = build_schema()
production = build_schema(production=True)


async def run(schema: Any, query: str, settings: Settings, **variables: Any) -> Any:
    sources = Sources(settings)
    try:
        context = Context.new(sources, scope=oversight())
        return await schema.execute(query, variable_values=variables, context_value=context)
    finally:
        await sources.close()


def message(result: Any) -> str:
    assert result.errors, result.data
    return str(result.errors[0].message)


async def test_depth_limit(sqlite_settings: Settings) -> None:
    chain = "matter { " * (MAX_DEPTH + 1) + "matterCode" + " }" * (MAX_DEPTH + 1)
    query = f"{{ inspectionItems(first: 1) {{ edges {{ node {{ {chain} }} }} }} }}"
    result = await run(development, query, sqlite_settings)
    assert "exceeds maximum operation depth" in message(result)


async def test_alias_limit(sqlite_settings: Settings) -> None:
    fields = " ".join(f"a{i}: matters(first: 1) {{ totalCount }}" for i in range(MAX_ALIASES + 1))
    result = await run(development, f"{{ {fields} }}", sqlite_settings)
    assert "aliases found" in message(result)


async def test_token_limit(sqlite_settings: Settings) -> None:
    fields = " ".join("edges { cursor }" for _ in range(700))
    result = await run(development, f"{{ matters(first: 1) {{ {fields} }} }}", sqlite_settings)
    assert "more than 2000 tokens" in message(result)


@pytest.mark.parametrize(("outer", "inner", "over"), [(100, 100, False), (100, 100, True)])
async def test_node_budget(sqlite_settings: Settings, outer: int, inner: int, over: bool) -> None:
    # 100 subjects x (4 lists of 100) = 40,100 nodes fits; 6 lists of 100 does not.
    lists = 6 if over else 4
    nested = " ".join(f"l{i}: complaints(first: $inner) {{ ticketNo }}" for i in range(lists))
    query = (
        "query Q($outer: Int!, $inner: Int!) { subjects(first: $outer) "
        f"{{ edges {{ node {{ {nested} }} }} }} }}"
    )
    result = await run(development, query, sqlite_settings, outer=outer, inner=inner)
    if over:
        text = message(result)
        assert f"node budget is {NODE_BUDGET:,}" in text and "60,100" in text
        assert result.errors[0].extensions["code"] == "NODE_BUDGET_EXCEEDED"
    else:
        assert not result.errors, result.errors


async def test_production_hides_introspection_and_suggestions(sqlite_settings: Settings) -> None:
    introspection = "{ __schema { queryType { name } } }"
    assert not (await run(development, introspection, sqlite_settings)).errors
    assert "introspection" in message(await run(production, introspection, sqlite_settings)).lower()
    typo = "{ matter(first: 1) { totalCount } }"
    assert "Did you mean" in message(await run(development, typo, sqlite_settings))
    assert "Did you mean" not in message(await run(production, typo, sqlite_settings))
