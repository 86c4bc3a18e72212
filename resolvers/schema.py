"""The GraphQL schema: one graph over the four sources, assembled from the table definitions."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import strawberry
from graphql import GraphQLError, validate
from strawberry.extensions import SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext as StrawberryExecutor
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule
from strawberry.types import ExecutionContext, Info

from resolvers.context import Context
from resolvers.graph import (
    admin,
    ingest,
    inspection_approval,
    inspections,
    published_results,
    tasks,
    webhooks,
)
from resolvers.graph.errors import classify
from resolvers.graph.plan import PlannedExecutor
from resolvers.graph.prefetch import Prefetcher
from resolvers.graph.relations import attach, newest
from resolvers.graph.root import connection_field, find_node
from resolvers.graph.types import Node, decorate, plain_classes, to_node
from standard.codes import check_uscc
from standard.errors import InputError

QUERY_DOC = (
    "Root of every query: lists of every table, the subject dossier, node(id), and "
    "administration. What each caller sees is limited by their scope (provider-owns-data)."
)
MUTATION_DOC = (
    "Pushing records (R4), administration (grants, accounts), regulatory tasks (R11), "
    "random-inspection draws and their results, and webhook subscriptions."
)


class CodedSchema(strawberry.Schema):
    """A Strawberry schema whose errors get their ``extensions.code`` (``classify``) before they
    are logged or masked: the graph's, and any test schema that must answer as it does."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Strawberry's hook for every error list, before it logs them: request errors get
        # their code here, so the log line carries it.
        if execution_context is not None:
            classify(errors, execution_context)
        super().process_errors(errors, execution_context)


class HideSuggestions(SchemaExtension):
    """No "Did you mean …?" in production, for types, arguments, enum values and input fields
    as for fields: each names a part of the schema that introspection, off there, would not.

    Validation runs here, as Strawberry would run it (its own two rules added), with
    graphql-core's ``hide_suggestions``; a document cached as validated is not validated again.
    """

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if context.pre_execution_errors is None and context.graphql_document is not None:
            context.pre_execution_errors = validate(
                context.schema._schema,
                context.graphql_document,
                (*context.validation_rules, MaybeNullValidationRule, OneOfInputValidationRule),
                hide_suggestions=True,
            )
        yield


def _quiet(executor: type[Any]) -> type[Any]:
    """``executor``, coercing variables without suggestions (an enum value, an input field)."""

    class Quiet(executor):  # type: ignore[misc]  # a base chosen at build time
        @classmethod
        def build(cls, *args: Any, **kwargs: Any) -> Any:
            return super().build(*args, **{**kwargs, "hide_suggestions": True})

    return Quiet


Extension = type[SchemaExtension] | Callable[[], SchemaExtension]


def build_graph(
    *,
    extensions: Sequence[Extension] = (),
    production: bool = False,
    planned: bool = True,
) -> strawberry.Schema:
    """Build the types from the tables, join them, and put a root over them.

    ``extensions`` are the web service's (limits, caches, audit, tracing: ``gateway.schema``
    chooses them); ``production`` hides suggestions from variable coercion and field names.
    ``planned=False`` leaves every field to graphql-core (tests compare the two executors).
    """
    classes, infos = plain_classes()
    attach(classes, infos)
    decorate(classes, infos)
    nodes = {infos[t].type_name: (classes[t], infos[t]) for t in classes}
    prefetcher = Prefetcher(classes, infos)
    subject_cls, subject_info = classes["subjects"], infos["subjects"]

    async def subject(self: Any, info: Info[Context, None], uscc: str) -> Any:
        uscc = uscc.strip().upper()
        finding = check_uscc(uscc, legacy="warn")
        if finding is not None and not finding.warning:
            raise InputError(f"uscc: {finding.reason}")
        loader = info.context.loaders.by("supervision", "subjects", "uscc")
        rows = await loader.load(uscc)
        if not rows:
            return None
        found = to_node(subject_cls, subject_info, newest(rows))
        # the dossier's relations are fetched ahead, one look-up each, like a page's
        await prefetcher.prefetch(info, "subjects", [found], info.selected_fields[0].selections)
        return found

    subject.__annotations__ = {"info": Info, "uscc": str, "return": subject_cls | None}

    async def node(self: Any, info: Info[Context, None], id: strawberry.ID) -> Node | None:
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
    task_queries, task_mutations = tasks.fields()
    webhook_queries, webhook_mutations = webhooks.fields()
    namespace.update(admin_queries)
    inspection_queries, inspection_mutations = inspections.fields()
    namespace.update(task_queries)
    namespace.update(webhook_queries)
    namespace.update(inspection_queries)
    namespace.update(published_results.fields())
    query = strawberry.type(type("Query", (), namespace), description=QUERY_DOC)
    mutation = strawberry.type(
        type(
            "Mutation",
            (),
            {
                **ingest.fields(),
                **admin_mutations,
                **task_mutations,
                **webhook_mutations,
                **inspection_mutations,
                **inspection_approval.fields(),
            },
        ),
        description=MUTATION_DOC,
    )
    executor: type[Any] = PlannedExecutor if planned else StrawberryExecutor
    return CodedSchema(
        query=query,
        mutation=mutation,
        types=[c for c, _ in nodes.values()],
        extensions=list(extensions),
        config=StrawberryConfig(disable_field_suggestions=production),
        # plain objects completed in one pass (plan.py); Strawberry's own executor otherwise
        execution_context_class=_quiet(executor) if production else executor,
    )


def schema_sdl() -> str:
    """The schema in SDL, as committed in ``schema.graphql``."""
    return build_graph().as_str() + "\n"


__all__ = ["CodedSchema", "Extension", "HideSuggestions", "build_graph", "schema_sdl"]
