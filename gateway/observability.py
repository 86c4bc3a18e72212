"""Request ids, JSON logs and Prometheus metrics.

Every request gets an id (the caller's ``X-Request-ID`` when it is a sane token, else a new
one), echoed in the response and carried by every log line and every masked error, so an
operator can find what went wrong without the client seeing internals.
"""

from __future__ import annotations

import logging
import logging.config
import re
import time
import uuid
from contextvars import ContextVar

import orjson
from graphql import GraphQLError
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import MaskErrors

from resolvers.graph.errors import is_bug
from sources.telemetry import BREAKER_OPEN, SOURCE_CALLS

request_id: ContextVar[str] = ContextVar("request_id", default="-")
SANE_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")

REGISTRY = CollectorRegistry()
REQUESTS = Counter(
    "jianguan_http_requests_total", "HTTP requests", ["path", "status"], registry=REGISTRY
)
LATENCY = Histogram(
    "jianguan_http_request_seconds", "HTTP request latency", ["path"], registry=REGISTRY
)
for _metric in (SOURCE_CALLS, BREAKER_OPEN):  # defined beside the source calls they measure
    REGISTRY.register(_metric)


# uvicorn's color_message repeats the message with terminal colours
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "color_message",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the request id; a traceback only when the record has one.

    Extra attributes of a record (``logger.info(..., extra={"code": ...})``) become fields.
    """

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": self.formatTime(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id.get(),
        }
        entry.update((k, v) for k, v in vars(record).items() if k not in _RECORD_FIELDS)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class ClientErrors(logging.Filter):
    """Strawberry logs every GraphQL error at ERROR, with a traceback and the query text.

    An error meant for the client (syntax, validation, variables, our own errors coded by
    ``resolvers.graph.errors.CODES`` such as ``BAD_USER_INPUT`` or ``FORBIDDEN``; ``is_bug``
    decides, as for masking) is an
    ordinary event: one INFO line with its code and path, no traceback. A bug keeps its
    traceback, on this one line. 8,075 fuzzed requests made 59,752 lines before this.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.msg
        if not isinstance(error, GraphQLError):
            return True
        record.msg, record.args = error.message, None
        record.path = ".".join(str(p) for p in error.path) if error.path else None
        record.code = (error.extensions or {}).get("code")
        if not is_bug(error):
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.exc_info = None
        return True


class AccessLine(logging.Filter):
    """Uvicorn's access line as fields; the path without its query string, which may carry a
    GraphQL document with personal data in its variables."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) == 5:
            client, method, path, _version, status = record.args
            bare = str(path).split("?", 1)[0]
            record.client, record.method, record.path, record.status = client, method, bare, status
            record.msg, record.args = "%s %s %s", (method, bare, status)
        return True


LOG_CONFIG: dict[str, object] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": JsonFormatter}},
    "filters": {"client_errors": {"()": ClientErrors}, "access": {"()": AccessLine}},
    "handlers": {
        "json": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stderr",
        }
    },
    "loggers": {
        # Every logger, uvicorn's and Strawberry's too, reaches the one JSON handler at the root.
        "uvicorn": {"handlers": [], "level": "INFO", "propagate": True},
        "uvicorn.error": {"handlers": [], "level": "INFO", "propagate": True},
        "uvicorn.access": {
            "handlers": [],
            "level": "INFO",
            "propagate": True,
            "filters": ["access"],
        },
        "strawberry.execution": {"handlers": [], "propagate": True, "filters": ["client_errors"]},
        "jianguan": {"handlers": [], "propagate": True},
        # Casbin logs every policy line at INFO on each load (grants included): warnings only.
        "casbin": {"handlers": [], "level": "WARNING", "propagate": True},
        # procrastinate tells of every job at INFO: four lines each 5 s delivery round, about
        # 70,000 a day; its warnings and failed jobs still come through.
        "procrastinate": {"handlers": [], "level": "WARNING", "propagate": True},
    },
    "root": {"handlers": ["json"], "level": "INFO"},
}
"""The logging of ``jianguan serve``, given to uvicorn as its ``log_config``."""


def configure_logging(level: int = logging.INFO) -> None:
    """JSON lines on stderr from every logger (called by ``jianguan serve``)."""
    logging.config.dictConfig(LOG_CONFIG)
    logging.getLogger().setLevel(level)


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
