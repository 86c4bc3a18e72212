"""Errors the schema returns on purpose, each with its ``extensions.code``.

GraphQLError
 └── GatewayError                 code passes through to clients
      ├── SourceFailed            SOURCE_UNAVAILABLE: a source is down, slow or garbled
      ├── InvalidArgument         BAD_USER_INPUT: paging or filter arguments
      ├── NotFoundError           NOT_FOUND: an ID that names nothing
      ├── ForbiddenError          FORBIDDEN: the caller's role or party may not (graph/admin.py)
      └── Unauthenticated         UNAUTHENTICATED: sign in first (graph/admin.py)
"""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError

log = logging.getLogger("jianguan.graphql")  # its lines carry the request id


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


class InvalidArgument(GatewayError):
    """An argument out of range or malformed."""

    code = "BAD_USER_INPUT"


class NotFoundError(GatewayError):
    """Nothing has that ID."""

    code = "NOT_FOUND"


def is_unexpected(error: GraphQLError) -> bool:
    """Mask everything but our own errors and GraphQL's own (syntax, validation) errors."""
    original = error.original_error
    if original is None or isinstance(original, GatewayError):
        return False
    log.error("unexpected error in %s", error.path, exc_info=original)
    return True
