"""Masked unexpected errors carry a request id; our own errors pass through; logs are JSON
lines, with a traceback only for a bug."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import strawberry

from gateway.observability import ClientErrors, JsonFormatter, MaskUnexpected, request_id
from resolvers.graph.errors import is_unexpected
from resolvers.schema import CodedSchema
from standard.errors import InputError
from tests.servers import ROOT, free_port, jianguan


@strawberry.type
class Query:
    @strawberry.field
    def broken(self) -> str:
        raise RuntimeError("password=hunter2 at db-7.internal")

    @strawberry.field
    def refused(self) -> str:
        raise InputError("first must be between 1 and 100, got 0")


schema = CodedSchema(
    query=Query,
    extensions=[
        lambda: MaskUnexpected(should_mask_error=is_unexpected, error_message="Unexpected error.")
    ],
)


async def test_unexpected_errors_are_masked_with_the_request_id() -> None:
    token = request_id.set("req-12345678")
    try:
        result = await schema.execute("{ broken }")
    finally:
        request_id.reset(token)
    (error,) = result.errors or []
    assert error.message == "Unexpected error."
    assert error.extensions == {"code": "INTERNAL", "requestId": "req-12345678"}
    assert "hunter2" not in str(error.formatted)


async def test_our_own_errors_pass_through() -> None:
    result = await schema.execute("{ refused }")
    (error,) = result.errors or []
    assert error.message == "first must be between 1 and 100, got 0"
    assert error.extensions == {"code": "BAD_USER_INPUT"}


async def test_syntax_errors_pass_through() -> None:
    result = await schema.execute("{ refused")
    assert result.errors and "Syntax Error" in result.errors[0].message


# -- logs: one JSON line per event, tracebacks only for bugs -----------------------------------


@contextmanager
def strawberry_log() -> Iterator[io.StringIO]:
    """Strawberry's error logger as ``jianguan serve`` configures it, into a buffer."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("strawberry.execution")
    ours = logging.getLogger("jianguan")  # anything the gateway adds about the same error
    saved = (logger.handlers[:], logger.filters[:], logger.propagate)
    logger.handlers[:], logger.filters[:], logger.propagate = [handler], [ClientErrors()], False
    ours.addHandler(handler)
    try:
        yield buffer
    finally:
        logger.handlers[:], logger.filters[:], logger.propagate = saved
        ours.removeHandler(handler)


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("{ refused }", "BAD_USER_INPUT"),
        ("{ nope }", "GRAPHQL_VALIDATION_FAILED"),
        ("{ refused", "GRAPHQL_PARSE_FAILED"),
    ],
)
async def test_a_client_error_is_one_line_without_a_traceback(query: str, code: str | None) -> None:
    token = request_id.set("req-client-0001")
    try:
        with strawberry_log() as buffer:
            await schema.execute(query)
    finally:
        request_id.reset(token)
    (line,) = buffer.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["level"] == "info" and "exception" not in entry
    assert entry["request_id"] == "req-client-0001"
    assert entry["code"] == code
    assert "\n" not in entry["message"]


async def test_a_bug_keeps_its_traceback() -> None:
    with strawberry_log() as buffer:
        await schema.execute("{ broken }")
    (line,) = buffer.getvalue().splitlines()  # one line, one traceback: not one per logger
    entry = json.loads(line)
    assert entry["level"] == "error" and entry["path"] == "broken"
    assert "RuntimeError" in entry["exception"] and "Traceback" in entry["exception"]


def test_served_logs_are_json_lines_with_the_request_id(tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("JIANGUAN_")},
        "JIANGUAN_VAR_DIR": str(tmp_path / "var"),
    }
    assert jianguan("db", "upgrade", env=env).returncode == 0
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "serve", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    httpx.get(f"{url}/healthz")
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            sent = {
                "req-valid-00001": {"query": "{ matters(first: 1) { totalCount } }"},
                "req-input-00001": {"query": "{ matters(first: 0) { totalCount } }"},
                "req-field-00001": {"query": "{ nope }"},
                "req-syntax-0001": {"query": "{ matters("},
            }
            for rid, body in sent.items():
                httpx.post(f"{url}/graphql?secret=x", json=body, headers={"x-request-id": rid})
            httpx.post(
                f"{url}/graphql",
                json={"query": "{ me { id } }"},
                headers={"x-request-id": "req-token-00001", "authorization": "Bearer nope"},
            )
        finally:
            process.terminate()
            process.wait(timeout=10)
    lines = log.read_text(encoding="utf-8").splitlines()
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    assert not [e for e in entries if "exception" in e]  # no bug here: no traceback
    access = [e for e in entries if e["logger"] == "uvicorn.access"]
    by_id = {e["request_id"]: e for e in access}
    assert set(sent) | {"req-token-00001"} <= set(by_id)
    assert by_id["req-token-00001"]["status"] == 401
    assert all(e["path"] == "/graphql" for e in access if e["request_id"] in sent)
    assert "secret=x" not in log.read_text(encoding="utf-8")  # query strings stay out
    started = [e for e in entries if e["logger"] == "uvicorn.error"]  # "Started server process"
    assert started and not [e for e in started if "color_message" in e]
    errors = [e for e in entries if e["logger"] == "strawberry.execution"]
    assert {e["request_id"] for e in errors} >= {"req-input-00001", "req-field-00001"}
    assert {e["level"] for e in errors} == {"info"}
    # Casbin's policy dump (every line, grants included) is not an event worth a line each.
    assert not [e for e in entries if e["logger"].startswith("casbin") and e["level"] == "info"]
