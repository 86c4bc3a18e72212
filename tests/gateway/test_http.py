"""The gateway over real HTTP: a `jianguan serve` process on a free port."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from gateway.http import GRAPHQL_RESPONSE, Deadline
from resolvers.schema import schema_sdl
from tests.ingest.factory import Factory
from tests.servers import LiveServer, free_port, jianguan, serve

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("http")
    env = {
        **os.environ,
        "JIANGUAN_VAR_DIR": str(tmp / "var"),
        "JIANGUAN_REDIS_URL": "redis://127.0.0.1:6379/0",
    }
    assert jianguan("db", "upgrade", env=env).returncode == 0
    added = jianguan(
        "party", "add", "XA-SCJG", "--name", "市场监管局", "--kind", "department", env=env
    )
    assert added.returncode == 0, added.stdout + added.stderr
    factory = Factory()
    matters = [factory.matter("61010000000002"), factory.matter("61010000000001", name="乙")]
    path = tmp / "matters.ndjson"
    path.write_bytes(b"".join(orjson.dumps(m) + b"\n" for m in matters))
    done = jianguan(
        "ingest",
        str(path),
        "--source",
        "supervision",
        "--table",
        "matters",
        "--provider",
        "XA-SCJG",
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    with serve(env) as url:
        yield url


def test_health(gateway: str) -> None:
    response = httpx.get(f"{gateway}/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_ready_when_every_source_answers(gateway: str) -> None:
    response = httpx.get(f"{gateway}/readyz")
    assert response.status_code == 200
    assert response.json()["sources"] == {
        "supervision": "ok",
        "complaints": "ok",
        "credit": "ok",
        "gov_services": "ok",
        "redis": "ok",
    }


def test_not_ready_when_redis_is_down(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "JIANGUAN_VAR_DIR": str(tmp_path / "var"),
        "JIANGUAN_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",  # nobody listens there
    }
    assert jianguan("db", "upgrade", env=env).returncode == 0
    with serve(env) as url:
        response = httpx.get(f"{url}/readyz")
    assert response.status_code == 503
    assert response.json()["sources"]["redis"] == "unavailable"
    assert response.json()["sources"]["supervision"] == "ok"


def test_matters_query(gateway: str) -> None:
    query = "{ matters(first: 10) { edges { node { matterCode name status validFrom } } } }"
    response = httpx.post(f"{gateway}/graphql", json={"query": query})
    assert response.status_code == 200
    nodes = [
        {"matterCode": "61010000000002", "name": "食品生产经营监督检查"},
        {"matterCode": "61010000000001", "name": "乙"},
    ]
    expected = [{"node": {**n, "status": "in_use", "validFrom": "2025-01-01"}} for n in nodes]
    assert response.json() == {"data": {"matters": {"edges": expected}}}


def test_page_size_is_capped(gateway: str) -> None:
    query = "{ matters(first: 1000) { edges { cursor } } }"
    body = httpx.post(f"{gateway}/graphql", json={"query": query}).json()
    assert body["data"] == {"matters": None}
    assert "between 1 and 100" in body["errors"][0]["message"]
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_committed_schema_matches_the_code() -> None:
    assert (ROOT / "schema.graphql").read_text(encoding="utf-8") == schema_sdl(), (
        "schema.graphql is out of date: run `jianguan export-schema`"
    )


def post(gateway: str, query: str, accept: str | None = None) -> httpx.Response:
    headers = {"accept": accept} if accept else {}
    return httpx.post(f"{gateway}/graphql", json={"query": query}, headers=headers)


def test_graphql_response_media_type(gateway: str) -> None:
    ok = post(gateway, "{ matters(first: 1) { totalCount } }", GRAPHQL_RESPONSE)
    assert ok.status_code == 200
    assert ok.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    broken = post(gateway, "{ matters(first: 1) { totalCount }", GRAPHQL_RESPONSE)
    assert broken.status_code == 400 and "Syntax Error" in broken.json()["errors"][0]["message"]
    invalid = post(gateway, "{ nothing }", GRAPHQL_RESPONSE)
    assert invalid.status_code == 400
    legacy = post(gateway, "{ nothing }", "application/json")
    assert legacy.status_code == 200 and legacy.headers["content-type"].startswith(
        "application/json"
    )
    assert legacy.json()["errors"]


def test_only_json_bodies_and_get_or_post(gateway: str) -> None:
    form = httpx.post(
        f"{gateway}/graphql",
        content="query={matters}",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert form.status_code == 415
    assert form.json()["errors"][0]["extensions"] == {"code": "UNSUPPORTED_MEDIA_TYPE"}
    assert httpx.put(f"{gateway}/graphql", json={"query": "{ __typename }"}).status_code == 405
    get = httpx.get(f"{gateway}/graphql", params={"query": "{ matters(first: 1) { totalCount } }"})
    assert get.status_code == 200 and get.json()["data"]["matters"]["totalCount"] == 2


async def test_a_request_past_its_deadline_answers_504() -> None:
    async def slow(scope: Any, receive: Any, send: Any) -> None:
        await asyncio.sleep(5)

    async with LiveServer(Deadline(slow, seconds=0.2)) as server, httpx.AsyncClient() as client:
        response = await client.get(server.url)
    assert response.status_code == 504
    assert response.json()["errors"][0]["extensions"]["code"] == "REQUEST_TIMEOUT"


def test_request_ids_and_metrics(gateway: str) -> None:
    mine = httpx.get(f"{gateway}/healthz", headers={"x-request-id": "partner-req-0001"})
    assert mine.headers["x-request-id"] == "partner-req-0001"
    odd = httpx.get(f"{gateway}/healthz", headers={"x-request-id": "<script>"})
    assert odd.headers["x-request-id"] != "<script>" and len(odd.headers["x-request-id"]) == 32
    post(gateway, "{ matters(first: 1) { totalCount } }")
    text = httpx.get(f"{gateway}/metrics").text
    assert 'jianguan_http_requests_total{path="/graphql",status="200"}' in text
    assert 'jianguan_source_call_seconds_count{outcome="ok",source="supervision"}' in text
