"""The GraphQL schema: one graph over the four sources, assembled from the table definitions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry
from strawberry.extensions import DisableIntrospection, MaskErrors, SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.types import Info

from gateway.limits import extensions
from gateway.observability import MaskUnexpected
from gateway.operation_audit import AuditOperations
from gateway.tracing import OperationSpan
from resolvers.connectors.base import SourceUnavailable
from resolvers.graph import admin, ingest
from resolvers.graph.errors import InvalidArgument, SourceFailed, is_unexpected
from resolvers.graph.plan import PlannedExecutor
from resolvers.graph.prefetch import Prefetcher
from resolvers.graph.relations import attach, newest
from resolvers.graph.root import connection_field, find_node
from resolvers.graph.types import Node, decorate, plain_classes, to_node
from standard.codes import check_uscc

QUERY_DOC = (
    "Root of every query: lists of every table, the subject dossier, node(id), and "
    "administration. What each caller sees is limited by their scope (provider-owns-data)."
)
MUTATION_DOC = "Pushing records (R4) and administration: grants, accounts."


def _mask_errors() -> MaskErrors:
    return MaskUnexpected(should_mask_error=is_unexpected, error_message="Unexpected error.")


def build_schema(
    *,
    production: bool = False,
    cache: Callable[[], SchemaExtension] | None = None,
    tracing: bool = False,
    planned: bool = True,
) -> strawberry.Schema:
    """Build the types from the tables, join them, and put a root over them.

    ``planned=False`` leaves every field to graphql-core (tests compare the two executors).
    """
    classes, infos = plain_classes()
    attach(classes, infos)
    decorate(classes, infos)
    nodes = {infos[t].type_name: (classes[t], infos[t]) for t in classes}
    prefetcher = Prefetcher(classes, infos)
    subject_cls, subject_info = classes["subjects"], infos["subjects"]

    async def subject(self: Any, info: Info[Any, None], uscc: str) -> Any:
        uscc = uscc.strip().upper()
        finding = check_uscc(uscc, legacy="warn")
        if finding is not None and not finding.warning:
            raise InvalidArgument(f"uscc: {finding.reason}")
        loader = info.context.loaders.by("supervision", "subjects", "uscc")
        try:
            rows = await loader.load(uscc)
        except SourceUnavailable as exc:
            raise SourceFailed(exc.source) from None
        if not rows:
            return None
        found = to_node(subject_cls, subject_info, newest(rows))
        # the dossier's relations are fetched ahead, one look-up each, like a page's
        await prefetcher.prefetch(info, "subjects", [found], info.selected_fields[0].selections)
        return found

    subject.__annotations__ = {"info": Info, "uscc": str, "return": subject_cls | None}

    async def node(self: Any, info: Info[Any, None], id: strawberry.ID) -> Node | None:
        return await find_node(info, str(id), nodes, prefetcher)  # type: ignore[no-any-return]

    namespace: dict[str, Any] = {
        table: connection_field(classes[table], infos[table], prefetcher) for table in classes
    }
    namespace["subject"] = strawberry.field(
        resolver=subject,
        description="监管对象档案: one regulated subject by USCC, with everything every source "
        "holds about it.",
    )
    namespace["node"] = strawberry.field(resolver=node, description="Any object by its global ID.")
    admin_queries, admin_mutations = admin.fields()
    namespace.update(admin_queries)
    query = strawberry.type(type("Query", (), namespace), description=QUERY_DOC)
    mutation = strawberry.type(
        type("Mutation", (), {**ingest.fields(), **admin_mutations}), description=MUTATION_DOC
    )
    return strawberry.Schema(
        query=query,
        mutation=mutation,
        types=[c for c, _ in nodes.values()],
        extensions=[
            *([OperationSpan] if tracing else []),  # first: its span encloses the others
            *extensions(),
            *([DisableIntrospection] if production else []),
            *([cache] if cache is not None else []),
            AuditOperations,
            _mask_errors,
        ],
        config=StrawberryConfig(disable_field_suggestions=production),
        # plain objects completed in one pass (plan.py); Strawberry's own executor otherwise
        execution_context_class=PlannedExecutor if planned else None,
    )


def schema_sdl() -> str:
    """The schema in SDL, as committed in ``schema.graphql``."""
    return build_schema().as_str() + "\n"


__all__ = ["build_schema", "schema_sdl"]
