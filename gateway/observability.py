"""Request ids, JSON logs and Prometheus metrics.

Every request gets an id (the caller's ``X-Request-ID`` when it is a sane token, else a new
one), echoed in the response and carried by every log line and every masked error, so an
operator can find what went wrong without the client seeing internals.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from contextvars import ContextVar

import orjson
from graphql import GraphQLError
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import MaskErrors

request_id: ContextVar[str] = ContextVar("request_id", default="-")
SANE_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")

REGISTRY = CollectorRegistry()
REQUESTS = Counter(
    "jianguan_http_requests_total", "HTTP requests", ["path", "status"], registry=REGISTRY
)
LATENCY = Histogram(
    "jianguan_http_request_seconds", "HTTP request latency", ["path"], registry=REGISTRY
)
SOURCE_CALLS = Histogram(
    "jianguan_source_call_seconds", "Source round trips", ["source", "outcome"], registry=REGISTRY
)
BREAKER_OPEN = Gauge(
    "jianguan_source_breaker_open", "1 while a source's circuit is open", ["source"],
    registry=REGISTRY,
)  # fmt: skip


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the request id."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id.get(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


def configure_logging(level: int = logging.INFO) -> None:
    """JSON lines on stderr for the ``jianguan`` loggers (called by ``jianguan serve``)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("jianguan")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


class RequestIds:
    """ASGI middleware: assigns the request id, times the request, counts it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        rid = given if SANE_ID.fullmatch(given) else uuid.uuid4().hex
        token = request_id.set(rid)
        path = scope["path"] if scope["path"] in ("/graphql", "/healthz", "/readyz") else "other"
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            LATENCY.labels(path).observe(time.perf_counter() - started)
            REQUESTS.labels(path, str(status)).inc()
            request_id.reset(token)


class MaskUnexpected(MaskErrors):
    """ "Unexpected error." for clients, with the request id to quote to an operator."""

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL", "requestId": request_id.get()}
        return masked


async def metrics(request: Request) -> Response:
    """Prometheus text exposition."""
    return Response(generate_latest(REGISTRY), media_type="text/plain; version=0.0.4")
