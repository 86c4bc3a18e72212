"""Persisted operations: by hash, checked against their hash, and persisted-only mode."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from strawberry.http import GraphQLRequestData

from gateway.persisted import NotPersisted, PersistedQueries, document_hash
from tests.servers import jianguan, serve

MATTERS = "query Matters { matters(first: 1) { totalCount } }\n"


def request(query: str | None, sha: str | None = None) -> GraphQLRequestData:
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha}} if sha else None
    return GraphQLRequestData(
        query=query, variables=None, operation_name=None, extensions=extensions
    )


def test_allow_list_from_files(tmp_path: Path) -> None:
    (tmp_path / "ops").mkdir()
    (tmp_path / "ops" / "matters.graphql").write_text(MATTERS, encoding="utf-8")
    persisted = PersistedQueries.from_paths([tmp_path / "ops", tmp_path / "missing"])
    assert persisted.documents == {document_hash(MATTERS): MATTERS}
    assert persisted.resolve(request(None, document_hash(MATTERS))).query == MATTERS


@pytest.mark.parametrize(
    ("query", "sha", "only", "code", "message"),
    [
        (None, "0" * 64, False, "PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound"),
        ("{ other }", document_hash(MATTERS), False, "PERSISTED_QUERY_MISMATCH", "does not match"),
        (None, "xyz", False, "BAD_REQUEST", "64 hex digits"),
        (
            "{ matters(first: 1) { totalCount } }",
            None,
            True,
            "PERSISTED_QUERY_REQUIRED",
            "Only persisted operations",
        ),
    ],
)
def test_refusals(query: str | None, sha: str | None, only: bool, code: str, message: str) -> None:
    persisted = PersistedQueries({document_hash(MATTERS): MATTERS}, only=only)
    with pytest.raises(NotPersisted) as caught:
        persisted.resolve(request(query, sha))
    assert caught.value.code == code and message in str(caught.value)


def test_persisted_only_accepts_registered_text() -> None:
    persisted = PersistedQueries({document_hash(MATTERS): MATTERS}, only=True)
    assert persisted.resolve(request(MATTERS)).query == MATTERS


@pytest.fixture(scope="module")
def strict_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("persisted")
    (tmp / "ops").mkdir()
    (tmp / "ops" / "matters.graphql").write_text(MATTERS, encoding="utf-8")
    env = {
        **os.environ,
        "JIANGUAN_VAR_DIR": str(tmp / "var"),
        "JIANGUAN_PERSISTED_QUERIES": str(tmp / "ops"),
        "JIANGUAN_PERSISTED_ONLY": "true",
    }
    assert jianguan("db", "upgrade", env=env).returncode == 0
    with serve(env) as url:
        yield url


def test_persisted_only_over_http(strict_gateway: str) -> None:
    url = f"{strict_gateway}/graphql"
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": document_hash(MATTERS)}}
    by_hash = httpx.post(url, json={"extensions": extensions})
    assert by_hash.json() == {"data": {"matters": {"totalCount": 0}}}
    refused = httpx.post(url, json={"query": "{ matters(first: 2) { totalCount } }"})
    assert refused.status_code == 400
    (error,) = refused.json()["errors"]
    assert error["extensions"] == {"code": "PERSISTED_QUERY_REQUIRED"}
    assert error["message"].startswith("Only persisted operations")
    via_get = httpx.get(
        url,
        params={"extensions": orjson.dumps(extensions).decode()},
        headers={"accept": "application/json"},
    )
    assert via_get.status_code == 200 and via_get.json()["data"]["matters"]["totalCount"] == 0
