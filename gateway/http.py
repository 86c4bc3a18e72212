"""GraphQL over HTTP as the specification asks: media types, status codes, a request deadline.

With ``Accept: application/graphql-response+json`` a request that could not run (syntax or
validation errors: no ``data``) answers 400 in that media type; with ``application/json``
(the legacy type) it answers 200, as the GraphQL-over-HTTP specification says.
"""

from __future__ import annotations

import asyncio
from contextvars import ContextVar
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.types import ExecutionResult

from gateway.persisted import PersistedQueries
from gateway.principal import caller

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
_media: ContextVar[str] = ContextVar("media", default=JSON)


def negotiate(accept: str | None) -> str:
    """The response media type: graphql-response+json when the client accepts it first."""
    if not accept:
        return JSON
    for part in accept.split(","):
        media = part.split(";", 1)[0].strip().lower()
        if media == GRAPHQL_RESPONSE:
            return GRAPHQL_RESPONSE
        if media in (JSON, "application/*", "*/*"):
            return JSON
    return JSON


class GraphQLView(GraphQL[Any, None]):
    """Strawberry's ASGI view: persisted operations, the negotiated media type and its codes."""

    persisted: PersistedQueries = PersistedQueries({})

    async def parse_http_body(self, request: Any) -> Any:
        data = await super().parse_http_body(request)
        if isinstance(data, list):
            raise HTTPException(400, "Batched requests are not accepted; send one operation.")
        return self.persisted.resolve(data, only=caller.get().persisted_only)

    async def process_result(self, request: Request, result: ExecutionResult) -> Any:
        _media.set(negotiate(request.headers.get("accept")))
        return await super().process_result(request, result)

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        response = super().create_response(response_data, sub_response)
        media = _media.get()
        if media == GRAPHQL_RESPONSE:
            response.headers["content-type"] = f"{GRAPHQL_RESPONSE}; charset=utf-8"
            ran = isinstance(response_data, dict) and response_data.get("data") is not None
            if not ran and response.status_code == 200:
                response.status_code = 400
        return response

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)


class Deadline:
    """ASGI middleware: a request that runs past ``seconds`` answers 504 and is cancelled."""

    def __init__(self, app: ASGIApp, *, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            async with asyncio.timeout(self.seconds):
                await self.app(scope, receive, tracking_send)
        except TimeoutError:
            if started:
                raise
            body = orjson.dumps(
                {
                    "errors": [
                        {
                            "message": f"The request took longer than {self.seconds:g} s.",
                            "extensions": {"code": "REQUEST_TIMEOUT"},
                        }
                    ]
                }
            )
            media = negotiate(Request(scope).headers.get("accept"))
            content_type = f"{media}; charset=utf-8" if media == GRAPHQL_RESPONSE else media
            await send(
                {
                    "type": "http.response.start",
                    "status": 504,
                    "headers": [(b"content-type", content_type.encode())],
                }
            )
            await send({"type": "http.response.body", "body": body})
