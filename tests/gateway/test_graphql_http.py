"""Answers a client can read: every refusal GraphQL-shaped in the negotiated media type, request
errors coded as the client's, never as crashes; no suggestions in production."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import orjson
import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.http import GRAPHQL_RESPONSE
from gateway.observability import ClientErrors
from gateway.schema import build_schema
from gateway.settings import Settings
from tests.servers import live_gateway

QUERY = "{ matters(first: 1) { totalCount } }"
MEDIA = ["application/json", GRAPHQL_RESPONSE]
# Hypothesis examples share one live server: each is one real HTTP request.
EXAMPLES = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def gateway(
    sqlite_settings: Settings,
    gateway_template: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[str]:
    folder = tmp_path_factory.mktemp("graphql-http")
    template = gateway_template["sqlite"]
    async with live_gateway(sqlite_settings, template, folder, max_body_bytes=20_000) as url:
        yield f"{url}/graphql"


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Records as ``jianguan serve`` logs them: Strawberry's lines through the gateway's filter."""
    strawberry = logging.getLogger("strawberry.execution")
    client_errors = ClientErrors()
    strawberry.addFilter(client_errors)
    with caplog.at_level(logging.INFO):
        yield caplog
    strawberry.removeFilter(client_errors)


def crashes(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """Lines logged as bugs: at ERROR, or with a traceback."""
    return [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


def refused(response: httpx.Response, status: int, code: str, media: str) -> str:
    """The answer is ``status`` with one error of ``code``, GraphQL-shaped, in ``media``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0] == media
    body = response.json()
    assert set(body) == {"errors"}
    (error,) = body["errors"]
    assert error["extensions"]["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    return str(error["message"])


def _not_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


@EXAMPLES
@given(body=st.binary(min_size=1, max_size=200).filter(_not_utf8), media=st.sampled_from(MEDIA))
async def test_a_body_that_is_not_utf8_is_a_400(gateway: str, body: bytes, media: str) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(
            gateway, content=body, headers={"content-type": "application/json", "accept": media}
        )
    assert "not JSON" in refused(response, 400, "BAD_REQUEST", media)


async def test_a_json_body_in_invalid_utf8_is_a_400(gateway: str) -> None:
    body = b'{"query": "{ matters(first: 1) { totalCount } }", "operationName": "\xff"}'
    async with httpx.AsyncClient() as client:
        response = await client.post(
            gateway, content=body, headers={"content-type": "application/json"}
        )
    assert "UTF-8" in refused(response, 400, "BAD_REQUEST", "application/json")


INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
JSON_SCALARS = (
    st.none() | st.booleans() | INT64 | st.floats(allow_nan=False, allow_infinity=False) | st.text()
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@EXAMPLES
@given(value=JSON_SCALARS | st.lists(JSON_VALUES, max_size=3), media=st.sampled_from(MEDIA))
async def test_a_json_body_that_is_not_an_object_is_a_400(
    gateway: str, value: Any, media: str
) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(
            gateway,
            content=orjson.dumps(value),
            headers={"content-type": "application/json", "accept": media},
        )
    message = refused(response, 400, "BAD_REQUEST", media)
    assert ("Batched" in message) if isinstance(value, list) else ("JSON object" in message)


@pytest.mark.parametrize(
    ("member", "value", "what"),
    [
        ("query", 1, "`query` must be a string"),
        ("operationName", ["Q"], "`operationName` must be a string"),
        ("variables", "n=1", "`variables` must be an object"),
        ("extensions", [1], "`extensions` must be an object"),
    ],
)
async def test_members_of_the_wrong_type_are_named(
    gateway: str, member: str, value: Any, what: str
) -> None:
    body = {"query": QUERY, member: value}
    async with httpx.AsyncClient() as client:
        response = await client.post(gateway, json=body)
    assert what in refused(response, 400, "BAD_REQUEST", "application/json")


@pytest.mark.parametrize("media", MEDIA)
async def test_every_refusal_before_execution_is_graphql_shaped(gateway: str, media: str) -> None:
    accept = {"accept": media}
    async with httpx.AsyncClient() as client:
        form = await client.post(
            gateway,
            content="query={matters}",
            headers={**accept, "content-type": "application/x-www-form-urlencoded"},
        )
        assert "application/json" in refused(form, 415, "UNSUPPORTED_MEDIA_TYPE", media)
        none = await client.post(gateway, content=b"{}", headers=accept)
        refused(none, 415, "UNSUPPORTED_MEDIA_TYPE", media)
        batch = await client.post(gateway, json=[{"query": QUERY}] * 2, headers=accept)
        assert "Batched" in refused(batch, 400, "BAD_REQUEST", media)
        mutation = await client.get(
            gateway,
            params={"query": 'mutation { revokeGrant(id: "x") { id } }'},
            headers=accept,
        )
        assert "POST" in refused(mutation, 405, "METHOD_NOT_ALLOWED", media)
        assert mutation.headers["allow"] == "POST"
        put = await client.put(gateway, json={"query": QUERY}, headers=accept)
        assert put.status_code == 405  # Starlette's router refuses it before the view
        unknown = await client.post(
            gateway,
            json={"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}},
            headers=accept,
        )
        message = refused(unknown, 400, "PERSISTED_QUERY_NOT_FOUND", media)
        assert message.startswith("PersistedQueryNotFound")
        bad_hash = await client.post(
            gateway,
            json={"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "abc"}}},
            headers=accept,
        )
        refused(bad_hash, 400, "BAD_REQUEST", media)
        no_query = await client.post(gateway, json={"variables": {}}, headers=accept)
        refused(no_query, 400, "BAD_REQUEST", media)
        variables = await client.get(
            gateway, params={"query": QUERY, "variables": "{n:1}"}, headers=accept
        )
        assert "`variables` parameter" in refused(variables, 400, "BAD_REQUEST", media)
        large = await client.post(
            gateway, json={"query": QUERY, "variables": {"pad": "x" * 30_000}}, headers=accept
        )
        refused(large, 413, "PAYLOAD_TOO_LARGE", media)


VARIABLE_ERRORS = [
    ({"n": "abc"}, "Int cannot represent non-integer value"),
    ({}, "non-null type 'Int!' to be provided"),
    ({"n": 2**40}, "non 32-bit signed integer"),
]


@pytest.mark.parametrize(("variables", "why"), VARIABLE_ERRORS)
async def test_a_variable_of_the_wrong_type_is_bad_user_input_not_a_crash(
    gateway: str, variables: dict[str, Any], why: str, logs: pytest.LogCaptureFixture
) -> None:
    body = {"query": "query Q($n: Int!) { matters(first: $n) { totalCount } }"}
    async with httpx.AsyncClient() as client:
        legacy = await client.post(gateway, json={**body, "variables": variables})
        modern = await client.post(
            gateway, json={**body, "variables": variables}, headers={"accept": GRAPHQL_RESPONSE}
        )
    assert legacy.status_code == 200 and legacy.json()["data"] is None
    (error,) = legacy.json()["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT"}
    assert error["message"].startswith("Variable '$n'") and why in error["message"]
    # A request error: 400 and no `data` entry in graphql-response+json
    assert modern.status_code == 400 and set(modern.json()) == {"errors"}
    assert modern.json()["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT"}
    # Logged as the client's mistake: one INFO line with its code, no traceback.
    assert not crashes(logs)
    lines = [r for r in logs.records if r.name == "strawberry.execution"]
    assert len(lines) == 2 and {getattr(r, "code", None) for r in lines} == {"BAD_USER_INPUT"}


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("{ matters(first: 1) { totalCount }", "GRAPHQL_PARSE_FAILED"),
        ("{ nothing }", "GRAPHQL_VALIDATION_FAILED"),
        ("{ matters(first: 1, colour: 2) { totalCount } }", "GRAPHQL_VALIDATION_FAILED"),
    ],
)
async def test_parse_and_validation_failures_have_no_data_entry(
    gateway: str, query: str, code: str, logs: pytest.LogCaptureFixture
) -> None:
    async with httpx.AsyncClient() as client:
        modern = await client.post(
            gateway, json={"query": query}, headers={"accept": GRAPHQL_RESPONSE}
        )
        legacy = await client.post(
            gateway, json={"query": query}, headers={"accept": "application/json"}
        )
    assert modern.status_code == 400
    assert modern.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert "data" not in modern.json()
    assert {e["extensions"]["code"] for e in modern.json()["errors"]} == {code}
    assert legacy.status_code == 200 and legacy.json()["data"] is None
    assert {e["extensions"]["code"] for e in legacy.json()["errors"]} == {code}
    assert not crashes(logs)


async def test_a_field_error_that_nulls_data_still_ran(gateway: str) -> None:
    """``"data": null`` after a field error is a 2xx with graphql-response+json (it ran)."""
    async with httpx.AsyncClient() as client:
        response = await client.post(
            gateway,
            json={"query": "{ matters(first: 1000) { totalCount } }"},
            headers={"accept": GRAPHQL_RESPONSE},
        )
    assert response.status_code == 200
    assert response.json()["data"] == {"matters": None}
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


# A query with each kind of typo GraphQL would suggest a correction for, and what it names.
TYPOS = [
    ("{ matters(first: 1) { totalCont } }", None, "totalCount"),  # a field
    ("{ matters(firs: 1) { totalCount } }", None, "'first'"),  # an argument
    ('{ matters(first: 1, filter: {statu: "x"}) { totalCount } }', None, "'status'"),  # input
    ("query Q($f: MatterFilte) { matters(first: 1, filter: $f) { totalCount } }", None, "Filter"),
    (
        "query Q($f: MatterFilter) { matters(first: 1, filter: $f) { totalCount } }",
        {"f": {"statu": "x"}},
        "'status'",
    ),  # an input field in a variable
    ("{ matters(first: 1) @include(iff: true) { totalCount } }", None, "'if'"),  # directive arg
    ("{ matters(first: 1) { totalCount } } fragment F on Matte { name }", None, "Matter"),
]


@pytest.mark.parametrize(("query", "variables", "named"), TYPOS)
async def test_production_suggests_nothing(
    query: str, variables: dict[str, Any] | None, named: str
) -> None:
    development = await build_schema().execute(query, variable_values=variables)
    suggested = " ".join(e.message for e in development.errors or [])
    assert "Did you mean" in suggested and named in suggested  # what production must not say
    production = await build_schema(production=True).execute(query, variable_values=variables)
    assert production.errors
    for error in production.errors:
        assert "Did you mean" not in error.message and named not in error.message
        assert error.extensions is not None
        assert error.extensions["code"] in ("GRAPHQL_VALIDATION_FAILED", "BAD_USER_INPUT")


@pytest.mark.parametrize("media", MEDIA)
async def test_the_guards_refusals_come_in_the_negotiated_media_type(
    gateway: str, media: str
) -> None:
    """The sign-in guard in front of GraphQL refuses as the client asked too."""
    async with httpx.AsyncClient() as client:
        response = await client.post(
            gateway,
            json={"query": QUERY},
            headers={"authorization": "Bearer not-a-token", "accept": media},
        )
    refused(response, 401, "UNAUTHENTICATED", media)
