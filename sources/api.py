"""The source-exchange HTTP API: one source's exchange database, read over versioned JSON.

A department runs it next to its database (``jianguan source-api --source S``) and the gateway
reads the source through ``HttpConnector``. Every answer is JSON; errors are
``{"error": {"code", "message"}}`` and never carry a traceback or a driver's words.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import Headers, Secret
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from sources import wire
from sources.base import (
    BadSourceRequest,
    Condition,
    PageRequest,
    SourceUnavailable,
    check_request,
    flat,
)
from sources.database import DatabaseUrls, SourceDatabases
from sources.sql import SqlConnector
from standard.errors import Misconfigured

MAX_KEYS = 10_000
"""Keys in one look-up, and values in one ``in`` filter."""
MAX_PAGE = 1_000
"""Rows in one page."""
MAX_BODY = 4 * 1024 * 1024
"""Bytes in one request body: ample for ``MAX_KEYS`` codes."""

logger = logging.getLogger(__name__)
Handler = Callable[[Request], Awaitable[Response]]


def create_source_api(source: str, connector: SqlConnector, *, token: str) -> Starlette:
    """The API of ``source``; the app owns ``connector`` and closes it on shutdown."""
    if not token:
        raise Misconfigured("the source API refuses to run without a token")
    if not token.isascii():
        # Header values travel as ASCII; any other token could never match.
        raise Misconfigured("the source API token must be ASCII")
    if connector.source != source:
        raise ValueError(f"the connector reads {connector.source!r}, not {source!r}")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await connector.close()

    async def health(request: Request) -> Response:
        await connector.ping()
        return _json({"source": source, "status": "ok"})

    async def lookup(request: Request) -> Response:
        table = request.path_params["table"]
        codec = wire.codec(source, table)
        body = await _body(request, {"column", "keys", "where", "per_key"})
        column = body.get("column")
        if not isinstance(column, str):
            raise wire.Malformed("'column' must be a string")
        check_request(codec.kinds, table, (column,), ())
        keys = body.get("keys")
        if not isinstance(keys, list):
            raise wire.Malformed("'keys' must be a list")
        _cap("keys", len(keys))
        rows = await connector.lookup(
            table,
            column,
            [codec.value(column, key) for key in keys],
            where=_where(codec, body),
            per_key=_whole(body, "per_key", 0, wire.INT64[1]),
        )
        return _json({"rows": rows})

    async def page(request: Request) -> Response:
        table = request.path_params["table"]
        codec = wire.codec(source, table)
        body = await _body(request, {"where", "first", "after", "last", "before"})
        page = await connector.page(
            table,
            PageRequest(
                where=_where(codec, body),
                first=_whole(body, "first", 0, MAX_PAGE),
                after=_whole(body, "after", *wire.INT64),
                last=_whole(body, "last", 0, MAX_PAGE),
                before=_whole(body, "before", *wire.INT64),
            ),
        )
        return _json(
            {"rows": page.rows, "has_next": page.has_next, "has_previous": page.has_previous}
        )

    async def count(request: Request) -> Response:
        table = request.path_params["table"]
        codec = wire.codec(source, table)
        body = await _body(request, {"where"})
        return _json({"count": await connector.count(table, _where(codec, body))})

    def guarded(handler: Handler) -> Handler:
        """The one boundary where failures become error bodies."""

        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except BadSourceRequest as exc:
                return _error(400, "BAD_REQUEST", str(exc))
            except SourceUnavailable as exc:
                logger.warning("source %s unavailable: %s", source, exc.reason)
                return _error(503, "SOURCE_UNAVAILABLE", f"source {source!r} is unavailable")
            except Exception:
                logger.exception("source API %s %s failed", request.method, request.url.path)
                return _error(500, "INTERNAL", "Unexpected error.")

        return endpoint

    return Starlette(
        routes=[
            Route("/v1/health", guarded(health), methods=["GET"]),
            Route("/v1/tables/{table}/lookup", guarded(lookup), methods=["POST"]),
            Route("/v1/tables/{table}/page", guarded(page), methods=["POST"]),
            Route("/v1/tables/{table}/count", guarded(count), methods=["POST"]),
        ],
        # Secret keeps the token out of reprs of the middleware stack.
        middleware=[Middleware(_BearerAuth, token=Secret(token))],
        exception_handlers={HTTPException: _http_error},
        lifespan=lifespan,
    )


def serve_source_api(
    settings: DatabaseUrls, source: str, *, host: str, port: int, token: str
) -> None:
    """Serve ``source``'s exchange database over HTTP until interrupted."""
    databases = SourceDatabases(settings)
    connector = SqlConnector(source, databases.engine(source))
    app = create_source_api(source, connector, token=token)
    uvicorn.run(app, host=host, port=port, log_level="info", server_header=False)


class _BearerAuth:
    """Answers 401 to every HTTP request without the right bearer token."""

    def __init__(self, app: ASGIApp, *, token: Secret) -> None:
        self.app = app
        self._token = str(token).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self._authorised(Headers(scope=scope)):
            response = _error(401, "UNAUTHENTICATED", "a valid bearer token is required")
            response.headers["WWW-Authenticate"] = "Bearer"
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _authorised(self, headers: Headers) -> bool:
        scheme, _, given = headers.get("authorization", "").partition(" ")
        # Constant time, so the answer's timing does not reveal how much of a guess was right.
        return scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), self._token
        )


async def _body(request: Request, fields: set[str]) -> dict[str, Any]:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise BadSourceRequest(f"the body is larger than {MAX_BODY} bytes")
    content = bytearray()
    async for chunk in request.stream():
        content += chunk
        if len(content) > MAX_BODY:
            raise BadSourceRequest(f"the body is larger than {MAX_BODY} bytes")
    body = wire.loads(bytes(content))
    if not isinstance(body, dict):
        raise wire.Malformed("the body must be a JSON object")
    unknown = sorted(set(body) - fields)
    if unknown:
        raise wire.Malformed(f"unknown field(s) {', '.join(map(repr, unknown))}")
    return body


def _where(codec: wire.TableCodec, body: Mapping[str, Any]) -> tuple[Condition, ...]:
    where = codec.filters(body.get("where"))
    for f in flat(where):
        if f.op == "in":
            _cap(f"values of 'in' on {f.column!r}", len(f.value))
    return where


def _whole(body: Mapping[str, Any], name: str, low: int, high: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise wire.Malformed(f"{name!r} must be a whole number from {low} to {high}")
    return value


def _cap(what: str, size: int) -> None:
    if size > MAX_KEYS:
        raise BadSourceRequest(f"{what}: {size} given, at most {MAX_KEYS} allowed")


def _json(payload: Any, status: int = 200) -> Response:
    return Response(wire.dumps(payload), status_code=status, media_type="application/json")


def _error(status: int, code: str, message: str) -> Response:
    return _json({"error": {"code": code, "message": message}}, status)


HTTP_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}


async def _http_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, HTTPException):  # registered for HTTPException only
        raise exc
    response = _error(exc.status_code, HTTP_CODES.get(exc.status_code, "HTTP_ERROR"), exc.detail)
    response.headers.update(exc.headers or {})
    return response
