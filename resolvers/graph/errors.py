"""Errors the schema returns on purpose, each with its ``extensions.code``; which errors are bugs.

GraphQLError
 ├── GatewayError                 code passes through to clients
 │    ├── SourceFailed            SOURCE_UNAVAILABLE: a source is down, slow or garbled
 │    ├── InvalidArgument         BAD_USER_INPUT: paging or filter arguments
 │    ├── NotFoundError           NOT_FOUND: an ID that names nothing
 │    ├── ForbiddenError          FORBIDDEN: the caller's role or party may not (graph/admin.py)
 │    └── Unauthenticated         UNAUTHENTICATED: sign in first (graph/admin.py)
 └── request errors (graphql-core's own, coded by ``classify``)
      ├── GRAPHQL_PARSE_FAILED        the document is not GraphQL, or past the length limits
      ├── GRAPHQL_VALIDATION_FAILED   it asks for what the schema has not, or past the limits
      └── BAD_USER_INPUT              a variable's value is missing or of the wrong type

Request errors are the client's: logged as one line, never masked. Anything else a resolver
raises is a bug (``is_bug``): masked as INTERNAL and logged with its traceback.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable
from typing import Any, TypeVar

from graphql import GraphQLError
from strawberry.types import ExecutionContext

from sources.base import SourceUnavailable

T = TypeVar("T")


class GatewayError(GraphQLError):
    """An expected error: its message and code are meant for the client."""

    code = "INTERNAL"

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message, extensions={"code": self.code, **extensions})


class SourceFailed(GatewayError):
    """A source could not answer; the fields that needed it are null."""

    code = "SOURCE_UNAVAILABLE"

    def __init__(self, source: str) -> None:
        super().__init__(f"The {source} source is unavailable.", source=source)


async def reached(call: Awaitable[T]) -> T:
    """What a source answered; one that cannot answer becomes the field's SOURCE_UNAVAILABLE."""
    try:
        return await call
    except SourceUnavailable as exc:
        raise SourceFailed(exc.source) from None


class InvalidArgument(GatewayError):
    """An argument out of range or malformed."""

    code = "BAD_USER_INPUT"


class NotFoundError(GatewayError):
    """Nothing has that ID."""

    code = "NOT_FOUND"


PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
BAD_USER_INPUT = InvalidArgument.code


def classify(errors: Iterable[GraphQLError], context: ExecutionContext) -> None:
    """Give each request error its code, by the step that found it; errors with a code keep it.

    Called with every list of errors before they are logged (``Schema.process_errors``). Only
    errors without a path can be request errors: an error raised while running a field has one.
    """
    if context.graphql_document is None:
        code = PARSE_FAILED
    elif context.result is None:  # set once execution ran; variables are coerced in it
        code = VALIDATION_FAILED
    else:
        code = BAD_USER_INPUT
    for error in errors:
        original = error.original_error
        if original is not None and not isinstance(original, GraphQLError):
            continue  # an exception outside any field: a bug, masked as INTERNAL
        if error.path is None and not (error.extensions or {}).get("code"):
            error.extensions = {**(error.extensions or {}), "code": code}


def is_bug(error: GraphQLError) -> bool:
    """Whether an error is a bug: anything but our own errors and request errors (syntax,
    validation, variables). The one rule both the masking and the error log follow."""
    original = error.original_error
    if original is None or isinstance(original, GatewayError):
        return False
    # A variable graphql-core could not coerce: its scalar said why.
    return not (isinstance(original, GraphQLError) and error.path is None)


def is_unexpected(error: GraphQLError) -> bool:
    """Mask bugs as INTERNAL. Their traceback is logged once, on Strawberry's error log line
    (``gateway.observability.ClientErrors`` keeps it for bugs only)."""
    return is_bug(error)
