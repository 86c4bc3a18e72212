"""A request may carry at most so many bytes: its body, and a GET's query string.

Refused with ``413`` before the body is read whole: by ``Content-Length`` when the client
declares one, else as soon as the bytes streamed in pass the limit (a chunked body). The answer
is GraphQL-shaped, in the media type the client accepts, so a partner's client can read it:

    {"errors": [{"message": "...", "extensions": {"code": "PAYLOAD_TOO_LARGE", "limit": ...}}]}

Before this, a 20 MB body was read, decoded and parsed whole while every other request waited.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.http import refusal as graphql_refusal


class _TooLarge(Exception):  # a signal inside this module: the app's own answer is dropped
    """The body streamed in passed the limit."""


def refusal(scope: Scope, message: str, limit: int) -> tuple[bytes, bytes]:
    """The body and content type of a ``413`` answer in the media type ``scope`` accepts."""
    accept = Headers(scope=scope).get("accept")
    response = graphql_refusal(accept, 413, "PAYLOAD_TOO_LARGE", message, limit=limit)
    return bytes(response.body), response.headers["content-type"].encode()


class BodyLimit:
    """ASGI middleware: refuse a request whose body or query string passes ``max_bytes``."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        query = len(scope.get("query_string", b""))
        if query > limit:
            await self._refuse(scope, send, f"The query string is {query:,} bytes")
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, send, f"The body is {int(declared):,} bytes")
            return

        received = 0
        over = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if over:
                return  # whatever the app made of the cut-off body, the answer is ours
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not over:
                raise
        if over and not started:
            await self._refuse(scope, send, f"The body is more than {limit:,} bytes")

    async def _refuse(self, scope: Scope, send: Send, what: str) -> None:
        limit = self.max_bytes
        body, content_type = refusal(
            scope,
            f"{what}; the limit is {limit:,} bytes. Send less in one request.",
            limit,
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", content_type),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
