"""Completion plans (resolvers/graph/plan.py) answer exactly what graphql-core answers.

A small schema exercises the executor's rules one by one — aliases, fragments, directives,
variables, ``__typename``, null propagation, scalar refusals, awaitable values, interfaces,
resolvers with and without a plain read, field and schema extensions — each query run by the
planned executor and by Strawberry's own, results and errors compared. Then the gateway's schema
is compared the same way on the demo data, including a failing source.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import AsyncIterator, Hashable, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio
import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.types import Info

from gateway.schema import build_schema
from gateway.settings import Settings
from resolvers.context import Context
from resolvers.graph.plan import UNREAD, PlannedExecutor, plain_read
from sources.base import Condition, Connector, Page, PageRequest, Row
from sources.base import SourceUnavailable as Unavailable
from sources.guard import Sources, connect
from standard.source_names import SOURCE_NAMES
from tests.scopes import oversight

calls: Counter[str] = Counter()


def _scaled(item: Item, factor: int) -> Any:
    return UNREAD if factor == 0 else item.strict * factor


class Denied(BasePermission):
    message = "Not for you."

    def has_permission(self, source: Any, info: Info[Any, None], **kwargs: Any) -> bool:
        return False


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Item(Named):
    count: int | None
    strict: int
    tags: list[str]
    when: datetime | None
    parent: Item | None = None
    later: Item | None = None

    @strawberry.field
    def doubled(self) -> int:
        calls["doubled"] += 1
        return 2 * self.strict

    @strawberry.field
    @plain_read(_scaled)
    def scaled(self, factor: int) -> int | None:
        calls["scaled"] += 1
        if factor == 0:
            raise GraphQLError("factor 0 is not allowed")
        return self.strict * factor

    @strawberry.field(extensions=[PermissionExtension(permissions=[Denied()])])
    def secret(self) -> str:
        return "secret"


def _items(kind: str) -> list[Item]:
    when = datetime(2026, 11, 26, 8, 30, tzinfo=UTC)
    parent = Item(name="root", count=None, strict=0, tags=[], when=None)
    items = [
        Item(name=f"item {n}", count=n, strict=n, tags=["a", str(n)], when=when, parent=parent)
        for n in range(1, 4)
    ]
    if kind == "null-in-non-null":
        items[1].strict = None  # type: ignore[assignment]  # what a broken source could send
    elif kind == "bad-scalar":
        items[2].count = "many"  # type: ignore[assignment]
    elif kind == "awaitable":
        items[0].later = _later(parent)  # type: ignore[assignment]
    elif kind == "wrong-type":
        items[0].parent = "not an item"  # type: ignore[assignment]
    return items


async def _later(item: Item) -> Item:
    return item


@strawberry.type
class Query:
    @strawberry.field
    def items(self, kind: str = "plain") -> list[Item] | None:
        return _items(kind)

    @strawberry.field
    def strict_items(self, kind: str = "plain") -> list[Item]:
        return _items(kind)

    @strawberry.field
    def named(self) -> list[Named]:
        return list(_items("plain"))


class Hook(SchemaExtension):
    """An extension that hooks every field: plans must step aside for it."""

    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        calls["hook"] += 1
        return _next(root, info, *args, **kwargs)


def _schemas(*extensions: Any) -> tuple[strawberry.Schema, strawberry.Schema]:
    return (
        strawberry.Schema(
            Query, extensions=list(extensions), execution_context_class=PlannedExecutor
        ),
        strawberry.Schema(Query, extensions=list(extensions)),
    )


PLANNED, REFERENCE = _schemas()


def _body(result: Any) -> dict[str, Any]:
    errors = [(e.message, e.path, e.extensions) for e in result.errors or ()]
    return {"data": result.data, "errors": errors}


async def _both(
    query: str, variables: dict[str, Any] | None = None, schemas: Any = (PLANNED, REFERENCE)
) -> tuple[dict[str, Any], Counter[str], Counter[str]]:
    seen = []
    for schema in schemas:
        calls.clear()
        seen.append((_body(await schema.execute(query, variable_values=variables)), Counter(calls)))
    (planned, planned_calls), (reference, reference_calls) = seen
    assert planned == reference
    return planned, planned_calls, reference_calls


CASES = {
    "aliases, fragments, __typename": """
        { items { __typename name label: name ...Counts ... on Item { tags when }
                  parent { name kind: __typename } } }
        fragment Counts on Item { count strict }""",
    "a field selected twice, merged": "{ items { name ... on Item { name count } } }",
    "variables in directives": """
        query Q($with: Boolean!, $without: Boolean!) {
          items { name count @include(if: $with) tags @skip(if: $without)
                  parent @include(if: $without) { name } } }""",
    "a null in a non-null field": '{ items(kind: "null-in-non-null") { name strict } }',
    "the null propagating to the root": """
        { strictItems(kind: "null-in-non-null") { name strict } }""",
    "a scalar that refuses a value": '{ items(kind: "bad-scalar") { name count } }',
    "an awaitable value": '{ items(kind: "awaitable") { name later { name } } }',
    "an awaitable value, only its type name": (
        '{ items(kind: "awaitable") { later { __typename } } }'
    ),
    "a value of the wrong type": '{ items(kind: "wrong-type") { name parent { name } } }',
    "an interface": "{ named { __typename name ... on Item { count } } }",
    "a resolver without a plain read": "{ items { name doubled } }",
    "a field extension (permission)": "{ items { name secret } }",
    "a plain read that answers": "{ items { name scaled(factor: 3) } }",
    "a plain read that leaves it to the resolver": "{ items { name scaled(factor: 0) } }",
    "a plain read with a variable": "query Q($f: Int!) { items { scaled(factor: $f) } }",
}
VARIABLES = {"with": True, "without": False, "f": 2}


@pytest.mark.parametrize("query", CASES.values(), ids=CASES.keys())
async def test_the_planned_executor_answers_as_graphql_core(query: str) -> None:
    body, _, _ = await _both(query, VARIABLES)
    assert body["data"] is not None or body["errors"]


async def test_every_rule_was_met_on_the_way() -> None:
    body, _, _ = await _both(CASES["the null propagating to the root"])
    assert body["data"] is None
    assert body["errors"][0][:2] == (
        "Cannot return null for non-nullable field Item.strict.",
        ["strictItems", 1, "strict"],
    )
    body, _, _ = await _both(CASES["a null in a non-null field"])
    assert body["data"] == {"items": None}
    body, _, _ = await _both(CASES["an awaitable value"])
    assert body["data"]["items"][0]["later"] == {"name": "root"}
    body, _, _ = await _both(CASES["a field extension (permission)"])
    assert body["data"] == {"items": None}  # the first refusal nulls the list
    assert [e[:2] for e in body["errors"]] == [("Not for you.", ["items", 0, "secret"])]


async def test_plain_reads_replace_their_resolvers() -> None:
    _, planned, reference = await _both(CASES["a plain read that answers"])
    assert planned["scaled"] == 0 and reference["scaled"] == 3
    body, planned, reference = await _both(CASES["a plain read that leaves it to the resolver"])
    assert planned["scaled"] == reference["scaled"] == 3  # the resolver ran and reported
    assert [e[1] for e in body["errors"]] == [["items", n, "scaled"] for n in range(3)]


async def test_a_resolve_hook_sees_every_field() -> None:
    schemas = _schemas(Hook)
    _, planned, reference = await _both(CASES["aliases, fragments, __typename"], schemas=schemas)
    assert planned["hook"] == reference["hook"] > 20


# ------------------------------------------------------------------ the gateway's schema

GATEWAY_PLANNED, GATEWAY_REFERENCE = build_schema(), build_schema(planned=False)

DOSSIER = """
query Page($first: Int!, $full: Boolean!) {
  subjects(first: $first) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node {
      __typename id uscc name legalRepresentative status registeredOn
      licences(first: 5) { approvalNo itemCode outcome decidedOn item: licensingItem { name } }
      ratings: creditRatings(first: 5) { rating score ratedOn }
      recent: creditRatings(first: 1) { rating }
      complaints(first: 5) @include(if: $full) { ticketNo complaintType status receivedAt
                                                complainantName complainantPhone }
      actions(first: 5) { ...Act }
    } }
  }
}
fragment Act on Action { kind producedAt matter { matterCode name department { name } }
                         officers(first: 5) @skip(if: $full) { name } }
"""
GATEWAY_CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "the dossier page": (DOSSIER, {"first": 30, "full": True}),
    "the dossier page, other directives": (DOSSIER, {"first": 7, "full": False}),
    "the benchmark's nested page": (
        "{ subjects(first: 100) { edges { node { id uscc name legalRepresentative status "
        "registeredOn licences(first: 5) { approvalNo itemCode outcome decidedOn } "
        "creditRatings(first: 5) { rating score ratedOn } "
        "complaints(first: 5) { ticketNo complaintType status receivedAt } "
        "actions(first: 5) { kind matter { matterCode name } } } } } }",
        {},
    ),
    "a nested page size out of range": (
        "{ subjects(first: 3) { edges { node { uscc complaints(first: 0) { ticketNo } "
        "licences(first: 101) { approvalNo } creditRatings(first: 2) { rating } } } } }",
        {},
    ),
    "matters with their links": (
        "{ matters(first: 20) { edges { node { matterCode inspectionItems(first: 3) { name } "
        "licensingItem { name } department { name code } } } } }",
        {},
    ),
    "complaints, masked, with their subject": (
        "{ complaints(first: 25) { edges { node { ticketNo complainantName complainantIdNumber "
        "complainantAddress content subject { uscc name } } } } }",
        {},
    ),
}


async def _gateway(sources: Sources, query: str, variables: dict[str, Any]) -> list[Any]:
    bodies = []
    for schema in (GATEWAY_PLANNED, GATEWAY_REFERENCE):
        context = Context.new(sources, scope=oversight())
        result = await schema.execute(query, variable_values=variables, context_value=context)
        bodies.append(_body(result))
    return bodies


@pytest_asyncio.fixture(loop_scope="session")
async def sources(seeded_settings: Settings) -> AsyncIterator[Sources]:
    live = Sources(seeded_settings)
    yield live
    await live.close()


@pytest.mark.parametrize("case", GATEWAY_CASES.values(), ids=GATEWAY_CASES.keys())
async def test_the_gateway_answers_as_graphql_core(
    sources: Sources, case: tuple[str, dict[str, Any]]
) -> None:
    planned, reference = await _gateway(sources, *case)
    assert planned == reference
    assert planned["data"] is not None


async def test_node_and_subject_answer_as_graphql_core(sources: Sources) -> None:
    first, _ = await _gateway(sources, "{ subjects(first: 5) { edges { node { id uscc } } } }", {})
    nodes = [e["node"] for e in first["data"]["subjects"]["edges"]]
    query = """query Q($id: ID!, $uscc: String!) {
      node(id: $id) { __typename id ... on Subject { name complaints(first: 2) { ticketNo } } }
      subject(uscc: $uscc) { name actions(first: 3) { kind subject { uscc } } } }"""
    for node in nodes:
        planned, reference = await _gateway(
            sources, query, {"id": node["id"], "uscc": node["uscc"]}
        )
        assert planned == reference and not planned["errors"]


class Failing:
    """A connector whose every read fails, as a source that is down."""

    def __init__(self, inner: Connector) -> None:
        self.source = inner.source
        self.inner = inner

    async def lookup(
        self,
        table: str,
        column: str,
        keys: Sequence[Hashable],
        *,
        where: Sequence[Condition] = (),
        per_key: int | None = None,
    ) -> list[Row]:
        raise Unavailable(self.source, "down")

    async def page(self, table: str, request: PageRequest) -> Page:
        raise Unavailable(self.source, "down")

    async def count(self, table: str, where: Sequence[Condition] = ()) -> int:
        raise Unavailable(self.source, "down")

    async def ping(self) -> None:
        raise Unavailable(self.source, "down")

    async def close(self) -> None:
        await self.inner.close()


async def test_a_failing_source_answers_as_graphql_core(seeded_settings: Settings) -> None:
    settings = dataclasses.replace(seeded_settings, source_timeout=1.0)
    connectors: dict[str, Any] = {s: connect(settings, s) for s in SOURCE_NAMES}
    connectors["complaints"] = Failing(connectors["complaints"])
    sources = Sources(settings, connectors)
    try:
        planned, reference = await _gateway(sources, *GATEWAY_CASES["the dossier page"])
    finally:
        await sources.close()
    assert planned == reference
    codes = {e[2]["code"] for e in planned["errors"]}
    assert codes == {"SOURCE_UNAVAILABLE"}
    paths = [e[1] for e in planned["errors"]]
    assert all(p[-1] == "complaints" for p in paths) and len(paths) == 30
