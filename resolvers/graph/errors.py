"""The one place an error gets its GraphQL ``extensions.code``; which errors are bugs.

Resolvers raise the project's own errors (``standard.errors``, where the whole tree is drawn)
and let them propagate: graphql-core gives each one its path, and ``classify`` gives it its
code, from ``CODES``, before it is logged or masked. The most specific class in the table wins.

error raised                          extensions.code        message
 ├── InputError                       BAD_USER_INPUT         the error's own
 │    ├── OverLimit                   NODE_BUDGET_EXCEEDED   the error's own (gateway.limits)
 │    ├── TransitionRefused           TRANSITION_REFUSED     the error's own (tasks.errors), and
 │    │                                                      ``state``, ``action``, ``allowed``
 │    └── ConcurrentChange            CONCURRENT_CHANGE      the error's own (tasks.errors), and
 │                                                           ``expected`` and ``current`` versions
 ├── Forbidden                        FORBIDDEN              the error's own
 ├── Unauthenticated                  UNAUTHENTICATED        the error's own
 ├── NotFound                         NOT_FOUND              the error's own
 ├── SourceUnavailable                SOURCE_UNAVAILABLE     "The {source} source is unavailable."
 │                                                           (and ``source``); the fields that
 │                                                           needed it are null
 └── request errors (graphql-core's own, coded by the step that found them)
      ├── GRAPHQL_PARSE_FAILED        the document is not GraphQL, or past the length limits
      ├── GRAPHQL_VALIDATION_FAILED   it asks for what the schema has not, or past the limits
      └── BAD_USER_INPUT              a variable's value is missing or of the wrong type

Coded and request errors are the client's: logged as one line, never masked. Anything else a
resolver raises is a bug (``is_bug``), a ``JianguanError`` of no coded root among them (the
audit log unavailable, a source asked for a column it has not): masked as INTERNAL and logged
with its traceback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from graphql import GraphQLError
from strawberry.types import ExecutionContext

from sources.base import SourceUnavailable
from standard.errors import (
    Forbidden,
    InputError,
    JianguanError,
    NotFound,
    OverLimit,
    Unauthenticated,
)
from tasks.errors import ConcurrentChange, TransitionRefused

Shown = tuple[str, dict[str, Any]]  # the message and the extensions beside the code


def _own(error: Any) -> Shown:
    return str(error), {}


def _refused(error: Any) -> Shown:
    # A client can offer the allowed actions without parsing the message.
    return str(error), {
        "state": error.state,
        "action": error.action,
        "allowed": list(error.allowed),
    }


def _stale(error: Any) -> Shown:
    return str(error), {"expected": error.expected, "current": error.current}


def _source(error: Any) -> Shown:
    # The reason (a timeout, a refusal, garbage) is the operator's, logged by the connector.
    return f"The {error.source} source is unavailable.", {"source": error.source}


CODES: dict[type[JianguanError], tuple[str, Callable[[Any], Shown]]] = {
    InputError: ("BAD_USER_INPUT", _own),
    OverLimit: ("NODE_BUDGET_EXCEEDED", _own),
    TransitionRefused: ("TRANSITION_REFUSED", _refused),
    ConcurrentChange: ("CONCURRENT_CHANGE", _stale),
    Forbidden: ("FORBIDDEN", _own),
    Unauthenticated: ("UNAUTHENTICATED", _own),
    NotFound: ("NOT_FOUND", _own),
    SourceUnavailable: ("SOURCE_UNAVAILABLE", _source),
}
"""Root class → (``extensions.code``, how the client is shown it). Nothing else chooses codes."""

PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
BAD_USER_INPUT = CODES[InputError][0]


def coded(error: BaseException | None) -> tuple[str, str, dict[str, Any]] | None:
    """``(code, message, extensions)`` of an error the table codes; None for any other."""
    if not isinstance(error, JianguanError):
        return None
    for cls in type(error).__mro__:
        entry = CODES.get(cls)
        if entry is not None:
            code, show = entry
            message, extensions = show(error)
            return code, message, extensions
    return None


def classify(errors: Iterable[GraphQLError], context: ExecutionContext) -> None:
    """Give each error its code: ours from ``CODES``, request errors by the step that found
    them; errors with a code keep it.

    Called with every list of errors before they are logged (``Schema.process_errors``), so
    before the masking extension sees them too. Only errors without a path can be request
    errors: an error raised while running a field has one.
    """
    if context.graphql_document is None:
        code = PARSE_FAILED
    elif context.result is None:  # set once execution ran; variables are coerced in it
        code = VALIDATION_FAILED
    else:
        code = BAD_USER_INPUT
    for error in errors:
        original = error.original_error
        found = coded(original)
        if found is not None:
            error.message = found[1]
            error.extensions = {**(error.extensions or {}), "code": found[0], **found[2]}
            continue
        if original is not None and not isinstance(original, GraphQLError):
            continue  # an exception outside any field: a bug, masked as INTERNAL
        if error.path is None and not (error.extensions or {}).get("code"):
            error.extensions = {**(error.extensions or {}), "code": code}


def is_bug(error: GraphQLError) -> bool:
    """Whether an error is a bug: anything but our coded errors and request errors (syntax,
    validation, variables). The one rule both the masking and the error log follow."""
    original = error.original_error
    if original is None or coded(original) is not None:
        return False
    # A variable graphql-core could not coerce: its scalar said why.
    return not (isinstance(original, GraphQLError) and error.path is None)


def is_unexpected(error: GraphQLError) -> bool:
    """Mask bugs as INTERNAL. Their traceback is logged once, on Strawberry's error log line
    (``gateway.observability.ClientErrors`` keeps it for bugs only)."""
    return is_bug(error)
