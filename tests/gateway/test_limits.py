"""Query limits and hardening: depth, aliases, tokens, node budget, production settings."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from gateway.limits import (
    DOCUMENT_CACHE_CHARS,
    MAX_ALIASES,
    MAX_DEPTH,
    MAX_DOCUMENT_CHARS,
    MAX_TOKENS,
    NODE_BUDGET,
    documents,
)
from gateway.schema import build_schema
from gateway.settings import Settings
from resolvers.context import Context
from sources.guard import Sources
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


async def test_comments_count_towards_the_limits(sqlite_settings: Settings) -> None:
    # A document of one long comment: refused before the lexer reads it (a 20 MB one took 8 s).
    long = "{ matters(first: 1) { totalCount } }\n#" + "x" * MAX_DOCUMENT_CHARS
    result = await run(development, long, sqlite_settings)
    assert f"the limit is {MAX_DOCUMENT_CHARS:,}" in message(result)
    assert f"{len(long):,} characters" in message(result)
    assert result.data is None and not result.errors[0].locations  # nothing of it quoted
    assert result.errors[0].extensions["code"] == "GRAPHQL_PARSE_FAILED"
    # Many short comments count as tokens.
    many = "{ matters(first: 1) { totalCount } }" + "\n#" * (MAX_TOKENS + 1)
    assert "more than 2000 tokens" in message(await run(development, many, sqlite_settings))


async def test_the_document_cache_is_bounded_by_length(sqlite_settings: Settings) -> None:
    # Distinct documents just under the length limit, twice what the cache may hold in all.
    padding = MAX_DOCUMENT_CHARS - 100
    for n in range(2 * DOCUMENT_CACHE_CHARS // padding + 1):
        query = f"{{ matters(first: {n % 100 + 1}) {{ totalCount }} }}\n# {n} " + "x" * padding
        assert not (await run(development, query, sqlite_settings)).errors
    assert 0 < documents.chars <= DOCUMENT_CACHE_CHARS
    assert documents.chars == sum(len(q) for q in documents._entries)
    small = "{ matters(first: 2) { totalCount } }"
    await run(development, small, sqlite_settings)
    entry = documents.get(small)
    assert entry is not None and entry.validated  # parsed and validated once, then reused
    assert documents.get(query) is not None  # the newest large one is still there


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


# --- the node budget counts what execution will use: coerced variables, defaults applied ---

SIX_LISTS = " ".join(f"l{i}: complaints(first: 100) {{ ticketNo }}" for i in range(6))


@pytest.mark.parametrize(
    ("definition", "variables"),
    [
        ("$n: Int = 100", {}),  # the page size is the variable's default
        ("$n: Int!", {"n": 100.0}),  # a float GraphQL coerces to the Int 100
        ("$n: Int = 1", {"n": 100.0}),  # the value sent wins over the default
    ],
    ids=["default", "float", "float-over-default"],
)
async def test_node_budget_counts_coerced_variables(
    sqlite_settings: Settings, definition: str, variables: dict[str, Any]
) -> None:
    # 100 subjects x (1 + 6 lists of 100): 60,100 nodes whatever way the 100 arrives.
    nodes = f"subjects(first: $n) {{ edges {{ node {{ {SIX_LISTS} }} }} }}"
    query = f"query Q({definition}) {{ {nodes} }}"
    result = await run(development, query, sqlite_settings, **variables)
    assert result.errors and result.errors[0].extensions["code"] == "NODE_BUDGET_EXCEEDED"
    assert "60,100" in result.errors[0].message


async def test_thirty_aliases_of_a_defaulted_dossier_are_refused(sqlite_settings: Settings) -> None:
    # The attack of the issue: 10 aliases x (subjects + 2 nested lists) = 30 aliases, each
    # page 100 by a defaulted variable: 10 x (100 + 2 x 100 x 100) = 201,000 nodes.
    dossier = "a: complaints(first: $n) { ticketNo } b: creditRatings(first: $n) { rating }"
    roots = " ".join(
        f"s{i}: subjects(first: $n) {{ edges {{ node {{ {dossier} }} }} }}" for i in range(10)
    )
    result = await run(development, f"query Q($n: Int = 100) {{ {roots} }}", sqlite_settings)
    assert result.errors and result.errors[0].extensions["code"] == "NODE_BUDGET_EXCEEDED"
    assert "201,000" in result.errors[0].message and result.data is None


# A page size in the query, and how it reaches graphql-core.
Size = tuple[int, str]
HOW = ("literal", "int", "float", "default", "default-overridden")
# Skewed to large pages, so that about half the queries are over the budget.
size_strategy = st.tuples(st.integers(1, 100) | st.integers(70, 100), st.sampled_from(HOW))
root_strategy = st.tuples(
    size_strategy,
    st.lists(size_strategy, min_size=2, max_size=6),
    st.sampled_from(("direct", "inline", "fragment")),
)


class _Query:
    """Builds a query from page sizes; the expected count is written from the rule."""

    def __init__(self) -> None:
        self.definitions: list[str] = []
        self.variables: dict[str, Any] = {}
        self.fragments: list[str] = []

    def argument(self, size: Size) -> str:
        value, how = size
        if how == "literal":
            return str(value)
        name = f"v{len(self.definitions)}"
        if how == "int":
            self.definitions.append(f"${name}: Int!")
            self.variables[name] = value
        elif how == "float":
            self.definitions.append(f"${name}: Int!")
            self.variables[name] = float(value)
        elif how == "default":
            self.definitions.append(f"${name}: Int = {value}")
        else:
            self.definitions.append(f"${name}: Int = {101 - value}")
            self.variables[name] = value
        return f"${name}"

    def root(self, index: int, outer: Size, inner: list[Size], placement: str) -> str:
        lists = " ".join(
            f"l{j}: complaints(first: {self.argument(size)}) {{ ticketNo }}"
            for j, size in enumerate(inner)
        )
        if placement == "inline":
            lists = f"... on Subject {{ uscc {lists} }}"
        elif placement == "fragment":
            self.fragments.append(f"fragment F{index} on Subject {{ uscc {lists} }}")
            lists = f"...F{index}"
        page = self.argument(outer)
        return f"r{index}: subjects(first: {page}) {{ edges {{ node {{ uscc {lists} }} }} }}"

    def text(self, roots: list[str]) -> str:
        head = f"query Q({', '.join(self.definitions)})" if self.definitions else "query Q"
        return f"{head} {{ {' '.join(roots)} }} {' '.join(self.fragments)}"


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(roots=st.lists(root_strategy, min_size=1, max_size=4))
def test_node_budget_over_aliases_fragments_and_variables(
    sqlite_settings: Settings, roots: list[tuple[Size, list[Size], str]]
) -> None:
    builder = _Query()
    parts = [builder.root(i, outer, inner, where) for i, (outer, inner, where) in enumerate(roots)]
    query = builder.text(parts)
    # Each root list counts its page; each nested list counts its page once per parent.
    expected = sum(outer[0] * (1 + sum(size for size, _ in inner)) for outer, inner, _ in roots)

    result = asyncio.run(run(development, query, sqlite_settings, **builder.variables))
    event("over the budget" if expected > NODE_BUDGET else "within the budget")
    if expected > NODE_BUDGET:
        assert [e.extensions["code"] for e in result.errors or []] == ["NODE_BUDGET_EXCEEDED"]
        assert f"up to {expected:,} nodes" in result.errors[0].message
    else:
        assert not result.errors, (query, builder.variables, result.errors)
