"""Masked unexpected errors carry a request id; our own errors pass through."""

from __future__ import annotations

import strawberry

from gateway.observability import MaskUnexpected, request_id
from resolvers.graph.errors import InvalidArgument, is_unexpected


@strawberry.type
class Query:
    @strawberry.field
    def broken(self) -> str:
        raise RuntimeError("password=hunter2 at db-7.internal")

    @strawberry.field
    def refused(self) -> str:
        raise InvalidArgument("first must be between 1 and 100, got 0")


schema = strawberry.Schema(
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
