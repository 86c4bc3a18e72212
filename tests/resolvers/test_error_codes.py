"""Errors over GraphQL: a caller's mistake reaches the client with its code and message; a bug
stays one, masked as INTERNAL. Through a schema that codes and masks as the gateway's does."""

from __future__ import annotations

from typing import Any

import pytest
import strawberry
from strawberry.types import Info

from accounts.auth import InvalidToken
from accounts.passwords import PasswordRejected
from audit.log import AuditUnavailable
from gateway.limits import OverBudget
from gateway.observability import MaskUnexpected, request_id
from open_data.datasets import UnknownDataset
from policies.actor import ChangeRefused
from resolvers.graph.errors import is_unexpected
from resolvers.graph.ids import BadId
from resolvers.schema import CodedSchema
from sources.base import BadSourceRequest, SourceRefused, SourceUnavailable
from standard.errors import Forbidden, InputError, NotFound, Unauthenticated
from standard.registry import UnknownTable


@strawberry.type
class Query:
    @strawberry.field
    async def field(self, info: Info[Any, None]) -> str | None:
        raise info.context["raise"]


schema = CodedSchema(
    query=Query,
    extensions=[
        lambda: MaskUnexpected(should_mask_error=is_unexpected, error_message="Unexpected error.")
    ],
)


async def answer(raised: BaseException) -> dict[str, Any]:
    token = request_id.set("req-errors-001")
    try:
        result = await schema.execute("{ field }", context_value={"raise": raised})
    finally:
        request_id.reset(token)
    assert result.data == {"field": None}  # the field is null, the rest of the answer stands
    (error,) = result.errors or []
    assert error.path == ["field"]
    return {"message": error.message, "extensions": error.extensions}


@pytest.mark.parametrize(
    ("raised", "code"),
    [
        (PasswordRejected(("too short",)), "BAD_USER_INPUT"),
        (ChangeRefused("no party 'X'"), "BAD_USER_INPUT"),
        (BadId("'x' is not an ID issued by this gateway"), "BAD_USER_INPUT"),
        (UnknownTable("no table 'x'"), "BAD_USER_INPUT"),
        (UnknownDataset("complaints"), "BAD_USER_INPUT"),
        (InputError("first must be between 1 and 100, got 0"), "BAD_USER_INPUT"),
        (OverBudget("This query could return up to 60,000 nodes"), "NODE_BUDGET_EXCEEDED"),
        (Forbidden("may not"), "FORBIDDEN"),
        (Unauthenticated("Sign in to do this."), "UNAUTHENTICATED"),
        (InvalidToken(), "UNAUTHENTICATED"),
        (NotFound("no grant 7"), "NOT_FOUND"),
    ],
)
async def test_caller_mistakes_are_shown_with_their_code_and_message(
    raised: Exception, code: str
) -> None:
    assert await answer(raised) == {"message": str(raised), "extensions": {"code": code}}


@pytest.mark.parametrize(
    "raised",
    [SourceUnavailable("credit", "timed out"), SourceRefused("credit", "HTTP 400: no")],
)
async def test_an_unavailable_source_is_named_not_explained(raised: SourceUnavailable) -> None:
    assert await answer(raised) == {
        "message": "The credit source is unavailable.",
        "extensions": {"code": "SOURCE_UNAVAILABLE", "source": "credit"},
    }


@pytest.mark.parametrize(
    "raised",
    [
        ValueError("invalid literal"),
        KeyError("k"),
        TypeError(),
        AuditUnavailable("the audit log could not be written (OSError)"),  # ours, of no code
        BadSourceRequest("table 'x' has no column 'y'"),  # the gateway's own mistake
    ],
)
async def test_any_other_error_is_masked_not_passed_off_as_the_callers(
    raised: Exception,
) -> None:
    assert await answer(raised) == {
        "message": "Unexpected error.",
        "extensions": {"code": "INTERNAL", "requestId": "req-errors-001"},
    }
