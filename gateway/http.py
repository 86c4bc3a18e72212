"""GraphQL over HTTP as the specification asks: media types, status codes, a request deadline.

With ``Accept: application/graphql-response+json`` a request that could not run (syntax,
validation or variable errors) answers 400 in that media type, without a ``data`` entry; with
``application/json`` (the legacy type) it answers 200 with ``"data": null``, as the
GraphQL-over-HTTP specification says.

A request refused before GraphQL runs is GraphQL-shaped too, in the negotiated media type, so a
partner's client reads every answer the same way (``refusal``)::

    {"errors": [{"message": "...", "extensions": {"code": "BAD_REQUEST"}}]}

=== ============================ =====================================================
400 ``BAD_REQUEST``              the body is not JSON (UTF-8) or not one operation's object,
                                 a field of it has the wrong type, no query, a batch
400 ``PERSISTED_QUERY_*``        see ``gateway.persisted``
404 ``NOT_FOUND``                GraphiQL where it is not served
405 ``METHOD_NOT_ALLOWED``       neither GET nor POST; a mutation sent with GET
413 ``PAYLOAD_TOO_LARGE``        ``gateway.body_limit``
415 ``UNSUPPORTED_MEDIA_TYPE``   a POST body that is not ``application/json``
=== ============================ =====================================================
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLRequestData
from strawberry.http.parse_content_type import parse_content_type
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult

from gateway.persisted import NotPersisted, PersistedQueries
from policies.principal import caller

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
_media: ContextVar[str] = ContextVar("media", default=JSON)
# Strawberry's own refusals carry only a status: the code each status stands for.
_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 415: "UNSUPPORTED_MEDIA_TYPE"}


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


def refusal(
    accept: str | None,
    status: int,
    code: str,
    message: str,
    *,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> Response:
    """A request refused before GraphQL runs, GraphQL-shaped, in the media type ``accept``
    asks for: the one way every refusal of ``/graphql`` is written."""
    media = negotiate(accept)
    error = {"message": message, "extensions": {"code": code, **extensions}}
    content_type = f"{media}; charset=utf-8" if media == GRAPHQL_RESPONSE else media
    response = Response(orjson.dumps({"errors": [error]}), status_code=status, headers=headers)
    response.headers["content-type"] = content_type
    return response


class Refused(HTTPException):
    """A request refused before it runs, with the code ``refusal`` writes."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(status, message)
        self.code = code
        self.headers = dict(headers or {})


def _request_data(data: Any) -> GraphQLRequestData:
    """One operation's request, each member of the type the specification gives it."""
    if isinstance(data, list):
        raise Refused(400, "BAD_REQUEST", "Batched requests are not accepted; send one operation.")
    if not isinstance(data, dict):
        raise Refused(
            400,
            "BAD_REQUEST",
            'The body must be a JSON object: {"query": "...", "variables": {...}}.',
        )
    for name, kinds, what in (
        ("query", (str,), "a string"),
        ("operationName", (str,), "a string"),
        ("variables", (dict,), "an object"),
        ("extensions", (dict,), "an object"),
    ):
        value = data.get(name)
        if value is not None and not isinstance(value, kinds):
            raise Refused(400, "BAD_REQUEST", f"`{name}` must be {what} or null.")
    return GraphQLRequestData(
        query=data.get("query"),
        variables=data.get("variables"),
        operation_name=data.get("operationName"),
        extensions=data.get("extensions"),
    )


class GraphQLView(GraphQL[Any, None]):
    """Strawberry's ASGI view: persisted operations, the negotiated media type and its codes,
    and every refusal GraphQL-shaped (``refusal``) instead of Strawberry's plain text."""

    persisted: PersistedQueries = PersistedQueries({})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await self.run(request)
        except HTTPException as exc:
            response = refusal(
                request.headers.get("accept"),
                exc.status_code,
                getattr(exc, "code", None) or _CODES.get(exc.status_code, "BAD_REQUEST"),
                exc.reason,
                headers=getattr(exc, "headers", None),
            )
        await response(scope, receive, send)

    async def parse_http_body(self, request: Any) -> Any:
        if request.method == "GET":
            data: Any = dict(request.query_params)
            for name in ("variables", "extensions"):
                if data.get(name):
                    data[name] = self._json(data[name], f"The `{name}` parameter")
        else:
            media, _ = parse_content_type(request.content_type or "")
            if media != JSON:
                raise Refused(
                    415,
                    "UNSUPPORTED_MEDIA_TYPE",
                    f"Send the operation as {JSON} (got {media or 'no content type'}).",
                )
            data = self._json(await request.get_body(), "The body")
        try:
            return self.persisted.resolve(_request_data(data), only=caller.get().persisted_only)
        except NotPersisted as exc:
            raise Refused(400, exc.code, str(exc)) from None

    @staticmethod
    def _json(text: str | bytes, what: str) -> Any:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError as exc:  # invalid UTF-8 included
            raise Refused(400, "BAD_REQUEST", f"{what} is not JSON (UTF-8): {exc}") from None

    async def execute_single(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        try:
            return await super().execute_single(*args, **kwargs)
        except HTTPException as exc:
            if isinstance(exc.__cause__, InvalidOperationTypeError):
                # GraphQL over HTTP: a mutation over GET is 405, and halts.
                raise Refused(
                    405,
                    "METHOD_NOT_ALLOWED",
                    "Mutations are sent with POST, never GET.",
                    {"Allow": "POST"},
                ) from None
            raise

    async def process_result(self, request: Request, result: ExecutionResult) -> Any:
        media = negotiate(request.headers.get("accept"))
        _media.set(media)
        data = await super().process_result(request, result)
        # A request error (parse, validation, variables: no error has a path) ran nothing:
        # graphql-response+json then has no `data` entry at all.
        if (
            media == GRAPHQL_RESPONSE
            and result.data is None
            and result.errors
            and not any(e.path for e in result.errors)
        ):
            data.pop("data", None)
        return data

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        response = super().create_response(response_data, sub_response)
        if _media.get() == GRAPHQL_RESPONSE:
            response.headers["content-type"] = f"{GRAPHQL_RESPONSE}; charset=utf-8"
            # Without a `data` entry the request did not run: 4xx. `"data": null` after a
            # field error ran it, and is 2xx.
            ran = isinstance(response_data, dict) and "data" in response_data
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
            response = refusal(
                Request(scope).headers.get("accept"),
                504,
                "REQUEST_TIMEOUT",
                f"The request took longer than {self.seconds:g} s.",
            )
            await response(scope, receive, send)
