"""The joined graph over the four sources (SQL connectors), on PostgreSQL and SQLite demo data."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from gateway.schema import build_schema
from gateway.settings import Settings
from resolvers.context import Context
from sources.guard import Sources
from tests.scopes import oversight

schema = build_schema()

DOSSIER = """
query Page($first: Int!) {
  subjects(first: $first) {
    edges { node {
      uscc name
      licences(first: 5) { approvalNo item: licensingItem { name } }
      creditRatings(first: 5) { rating }
      complaints(first: 5) { ticketNo complainantName complainantPhone }
      actions(first: 5) { kind matter { matterCode name } officers(first: 5) { name } }
    } }
  }
}
"""


@pytest_asyncio.fixture(loop_scope="session")
async def sources(seeded_settings: Settings) -> AsyncIterator[Sources]:
    live = Sources(seeded_settings)
    yield live
    await live.close()


async def run(sources: Sources, query: str, **variables: Any) -> tuple[dict[str, Any], Context]:
    context = Context.new(sources, scope=oversight())
    result = await schema.execute(query, variable_values=variables, context_value=context)
    body: dict[str, Any] = {"data": result.data}
    if result.errors:
        body["errors"] = [
            {"message": e.message, "extensions": e.extensions, "path": e.path}
            for e in result.errors
        ]
    return body, context


async def test_round_trips_depend_on_the_query_not_the_rows(sources: Sources) -> None:
    small, small_context = await run(sources, DOSSIER, first=10)
    large, large_context = await run(sources, DOSSIER, first=100)
    assert "errors" not in small and "errors" not in large, small.get("errors")
    assert len(small["data"]["subjects"]["edges"]) == 10
    assert len(large["data"]["subjects"]["edges"]) == 100
    # one page + one look-up per nested relation, whatever the page size
    assert small_context.sources.calls == large_context.sources.calls
    # every relation was fetched ahead for the whole page, none parent by parent
    assert small_context.lazy_loads == large_context.lazy_loads == 0
    assert dict(large_context.sources.calls) == {
        "supervision": 4,  # subjects page, actions, their matters, their officers
        "gov_services": 2,  # licences, their licensing items
        "credit": 1,
        "complaints": 1,
    }
    nested = [e["node"] for e in large["data"]["subjects"]["edges"]]
    assert any(n["complaints"] for n in nested) and any(n["actions"] for n in nested)
    assert any(a["matter"] and a["officers"] for n in nested for a in n["actions"])


async def test_personal_data_is_masked(sources: Sources) -> None:
    body, _ = await run(
        sources,
        "{ complaints(first: 20) { edges { node { complainantName complainantPhone "
        "complainantIdNumber complainantAddress content } } } }",
    )
    nodes = [e["node"] for e in body["data"]["complaints"]["edges"]]
    assert nodes
    for node in nodes:
        assert node["complainantName"] is None or node["complainantName"].endswith("*")
        assert node["complainantPhone"] is None or "****" in node["complainantPhone"]
        number = node["complainantIdNumber"]
        assert number is None or number[6:17] == "*" * 11
        assert node["content"] == "***"


async def test_subject_dossier_joins_every_source(sources: Sources) -> None:
    first, _ = await run(sources, "{ subjects(first: 50) { edges { node { uscc } } } }")
    usccs = [e["node"]["uscc"] for e in first["data"]["subjects"]["edges"]]
    query = """query One($uscc: String!) { subject(uscc: $uscc) {
        uscc name licences(first: 10) { approvalNo } complaints(first: 10) { ticketNo }
        creditRatings(first: 10) { rating } actions(first: 10) { kind } } }"""
    found = []
    for uscc in usccs:
        body, context = await run(sources, query, uscc=uscc)
        assert "errors" not in body, body["errors"]
        assert context.lazy_loads == 0  # the dossier's relations are fetched ahead
        found.append(body["data"]["subject"])
    assert all(s["uscc"] in usccs for s in found)
    assert any(s["licences"] for s in found) and any(s["creditRatings"] for s in found)
    assert any(s["complaints"] for s in found) and any(s["actions"] for s in found)


async def test_paging_forwards_and_backwards(sources: Sources) -> None:
    query = """query P($first: Int, $after: String, $last: Int, $before: String) {
      matters(first: $first, after: $after, last: $last, before: $before) {
        totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges { cursor node { id matterCode } } } }"""
    page1, _ = await run(sources, query, first=3)
    info1 = page1["data"]["matters"]["pageInfo"]
    assert info1["hasNextPage"] and not info1["hasPreviousPage"]
    page2, _ = await run(sources, query, first=3, after=info1["endCursor"])
    ids1 = [e["node"]["id"] for e in page1["data"]["matters"]["edges"]]
    ids2 = [e["node"]["id"] for e in page2["data"]["matters"]["edges"]]
    assert not set(ids1) & set(ids2)
    back, _ = await run(
        sources, query, last=3, before=page2["data"]["matters"]["pageInfo"]["startCursor"]
    )
    assert [e["node"]["id"] for e in back["data"]["matters"]["edges"]] == ids1
    assert page1["data"]["matters"]["totalCount"] > 6


async def test_filters(sources: Sources) -> None:
    body, _ = await run(
        sources,
        '{ actions(first: 50, filter: {kind: "penalty", producedFrom: "2025-06-01"}) '
        "{ edges { node { kind producedAt } } } }",
    )
    nodes = [e["node"] for e in body["data"]["actions"]["edges"]]
    assert nodes and all(n["kind"] == "penalty" for n in nodes)
    assert all(n["producedAt"] >= "2025-05-31T16:00:00" for n in nodes)


async def test_relations_two_levels_down_are_prefetched_too(sources: Sources) -> None:
    # page size from a variable; relations of relations are fetched ahead as well
    query = """query Q($n: Int!) { matters(first: 5) { edges { node { matterCode
      inspectionItems(first: $n) { name matter { matterCode } } } } } }"""
    body, context = await run(sources, query, n=2)
    assert "errors" not in body
    nodes = [e["node"] for e in body["data"]["matters"]["edges"]]
    items = [i for n in nodes for i in n["inspectionItems"]]
    assert items and all(i["matter"]["matterCode"] for i in items)
    assert context.lazy_loads == 0


async def test_node_by_global_id(sources: Sources) -> None:
    body, _ = await run(sources, "{ officers(first: 1) { edges { node { id name } } } }")
    officer = body["data"]["officers"]["edges"][0]["node"]
    again, _ = await run(
        sources,
        "query N($id: ID!) { node(id: $id) { id ... on Officer { name } } }",
        id=officer["id"],
    )
    assert again["data"]["node"] == officer


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("{ matters { edges { cursor } } }", "either first or last"),
        ("{ matters(first: 101) { edges { cursor } } }", "between 1 and 100"),
        ('{ matters(first: 1, after: "nonsense") { edges { cursor } } }', "not an ID issued"),
        ('{ node(id: "bm9wZToy") { id } }', "not an ID issued"),
        ('{ subject(uscc: "123") { name } }', "18 characters"),
    ],
)
async def test_bad_arguments_name_the_problem(sources: Sources, query: str, message: str) -> None:
    body, _ = await run(sources, query)
    (error,) = body["errors"]
    assert message in error["message"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
