"""The body-size limit over real HTTP: refused by Content-Length, while streaming, and for GET."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
import orjson
import pytest
import pytest_asyncio

from gateway.http import GRAPHQL_RESPONSE
from gateway.settings import Settings, SettingsError
from tests.servers import live_gateway

LIMIT = 20_000
QUERY = "{ matters(first: 1) { totalCount } }"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def gateway(
    sqlite_settings: Settings,
    gateway_template: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[str]:
    folder = tmp_path_factory.mktemp("body-limit")
    template = gateway_template["sqlite"]
    async with live_gateway(sqlite_settings, template, folder, max_body_bytes=LIMIT) as url:
        yield url


def refused(response: httpx.Response, media: str = "application/json") -> str:
    assert response.status_code == 413, response.text
    assert response.headers["content-type"].split(";")[0] == media
    (error,) = response.json()["errors"]
    assert error["extensions"] == {"code": "PAYLOAD_TOO_LARGE", "limit": LIMIT}
    assert f"the limit is {LIMIT:,} bytes" in error["message"]
    return str(error["message"])


async def test_a_body_within_the_limit_runs(gateway: str) -> None:
    body = orjson.dumps({"query": QUERY, "variables": {"pad": ""}})
    padded = orjson.dumps({"query": QUERY, "variables": {"pad": "x" * (LIMIT - len(body))}})
    assert len(padded) == LIMIT
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{gateway}/graphql", content=padded, headers={"content-type": "application/json"}
        )
    assert response.status_code == 200 and response.json() == {
        "data": {"matters": {"totalCount": 0}}
    }


@pytest.mark.parametrize("accept", [None, "application/json", GRAPHQL_RESPONSE])
async def test_a_declared_length_over_the_limit_is_refused(
    gateway: str, accept: str | None
) -> None:
    body = orjson.dumps({"query": QUERY, "variables": {"pad": "x" * LIMIT}})
    headers = {"content-type": "application/json", **({"accept": accept} if accept else {})}
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{gateway}/graphql", content=body, headers=headers)
    message = refused(
        response, GRAPHQL_RESPONSE if accept == GRAPHQL_RESPONSE else "application/json"
    )
    assert f"The body is {len(body):,} bytes" in message


async def _exchange(gateway: str, head: bytes, body: bytes) -> bytes:
    """Send a request's head and only part of its body, then read the answer to the end.

    A server that waited for the rest of the body would never answer: the wait has a
    timeout only so that such a server fails the test instead of hanging it."""
    address = urlsplit(gateway)
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    try:
        writer.write(head + body)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout=30)
    finally:
        writer.close()


def _parse(raw: bytes) -> httpx.Response:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = [tuple(line.split(": ", 1)) for line in lines[1:]]
    return httpx.Response(status, headers=headers, content=body)


async def test_refused_by_content_length_before_the_body_is_read(gateway: str) -> None:
    head = (
        b"POST /graphql HTTP/1.1\r\nhost: gateway\r\ncontent-type: application/json\r\n"
        b"content-length: 20000000\r\n\r\n"
    )
    response = _parse(await _exchange(gateway, head, b'{"query": "'))
    assert "The body is 20,000,000 bytes" in refused(response)


async def test_a_chunked_body_is_refused_once_it_passes_the_limit(gateway: str) -> None:
    head = (
        b"POST /graphql HTTP/1.1\r\nhost: gateway\r\ncontent-type: application/json\r\n"
        b"transfer-encoding: chunked\r\n\r\n"
    )
    chunk = b" " * 4096
    # A little over the limit, and the body never ends: only the limit can answer it.
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(LIMIT // 4096 + 1))
    response = _parse(await _exchange(gateway, head, chunks))
    assert f"The body is more than {LIMIT:,} bytes" in refused(response)


async def test_a_long_query_string_is_refused(gateway: str) -> None:
    # Comments make it long; the limit counts every byte of the query string.
    query = QUERY + "\n#" + "x" * LIMIT
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{gateway}/graphql", params={"query": query})
    assert "The query string is" in refused(response)
    async with httpx.AsyncClient() as client:
        ok = await client.get(f"{gateway}/graphql", params={"query": QUERY})
    assert ok.status_code == 200


def test_the_limit_is_a_setting() -> None:
    assert Settings.from_env({}).max_body_bytes == 1_048_576
    assert Settings.from_env({"JIANGUAN_MAX_BODY_BYTES": "262144"}).max_body_bytes == 262_144
    with pytest.raises(SettingsError, match="JIANGUAN_MAX_BODY_BYTES must be a whole number"):
        Settings.from_env({"JIANGUAN_MAX_BODY_BYTES": "256k"})
    with pytest.raises(SettingsError, match="JIANGUAN_MAX_BODY_BYTES must be at least 16384"):
        Settings.from_env({"JIANGUAN_MAX_BODY_BYTES": "100"})
