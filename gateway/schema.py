"""The schema the gateway serves: the graph with the web service's extensions, in their order."""

from __future__ import annotations

from collections.abc import Callable

import strawberry
from strawberry.extensions import DisableIntrospection, MaskErrors, SchemaExtension

from gateway.deliver_after import DeliverAfterMutations
from gateway.limits import extensions
from gateway.observability import MaskUnexpected
from gateway.operation_audit import AuditOperations
from gateway.tracing import OperationSpan
from resolvers.graph.errors import is_unexpected
from resolvers.schema import Extension, HideSuggestions, build_graph


def _mask_errors() -> MaskErrors:
    return MaskUnexpected(should_mask_error=is_unexpected, error_message="Unexpected error.")


def build_schema(
    *,
    production: bool = False,
    cache: Callable[[], SchemaExtension] | None = None,
    tracing: bool = False,
    planned: bool = True,
) -> strawberry.Schema:
    """The graph with limits, production hardening, the public cache, audit, a delivery
    round after each mutation, and masking.

    ``planned=False`` leaves every field to graphql-core (tests compare the two executors).
    """
    chosen: list[Extension] = [
        *([OperationSpan] if tracing else []),  # first: its span encloses the others
        *extensions(),
        *([DisableIntrospection, HideSuggestions] if production else []),
        *([cache] if cache is not None else []),
        AuditOperations,
        DeliverAfterMutations,  # after the audit entry: the change is committed and recorded
        _mask_errors,
    ]
    return build_graph(extensions=chosen, production=production, planned=planned)
