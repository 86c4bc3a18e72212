"""Bounds on what one query may ask: depth, aliases, tokens, and a node budget.

The node budget follows GitHub's: along every path the page sizes (``first``/``last``) of the
list fields multiply, and the sum over all lists must stay within the budget, so a query cannot
fan out to millions of rows however innocent it looks.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    value_from_ast_untyped,
)
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)

from resolvers.graph.errors import GatewayError

MAX_DEPTH = 10
MAX_ALIASES = 30
MAX_TOKENS = 2_000
NODE_BUDGET = 50_000


class OverBudget(GatewayError):
    """A query that could return more nodes than the budget allows."""

    code = "NODE_BUDGET_EXCEEDED"


def _page_size(field: FieldNode, variables: Mapping[str, Any]) -> int | None:
    for argument in field.arguments or ():
        if argument.name.value in ("first", "last"):
            node = argument.value
            value = (
                variables.get(node.name.value)
                if isinstance(node, VariableNode)
                else value_from_ast_untyped(node, dict(variables))
            )
            if isinstance(value, int):
                return value
    return None


def _fields(
    selection_set: SelectionSetNode | None, fragments: Mapping[str, FragmentDefinitionNode]
) -> Iterator[FieldNode]:
    if selection_set is None:
        return
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from _fields(selection.selection_set, fragments)
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is not None:
                yield from _fields(fragment.selection_set, fragments)


def node_count(
    selection_set: SelectionSetNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
    multiplier: int = 1,
    depth: int = 0,
) -> int:
    """The most nodes a selection can return: page sizes multiply along each path."""
    if depth > MAX_DEPTH * 2:  # fragments cycling; validation rejects them anyway
        return 0
    total = 0
    for field in _fields(selection_set, fragments):
        size = _page_size(field, variables)
        inner = multiplier * size if size is not None else multiplier
        if size is not None:
            total += inner
        if field.selection_set is not None:
            total += node_count(field.selection_set, fragments, variables, inner, depth + 1)
    return total


class NodeBudget(SchemaExtension):
    """Refuse, before running it, a query whose worst case exceeds ``NODE_BUDGET`` nodes."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None:
            fragments = {
                d.name.value: d for d in document.definitions
                if isinstance(d, FragmentDefinitionNode)
            }  # fmt: skip
            variables = context.variables or {}
            for definition in document.definitions:
                if not isinstance(definition, OperationDefinitionNode):
                    continue
                name = definition.name.value if definition.name is not None else None
                if context.operation_name and name != context.operation_name:
                    continue
                count = node_count(definition.selection_set, fragments, variables)
                if count > NODE_BUDGET:
                    raise OverBudget(
                        f"This query could return up to {count:,} nodes; the node budget is "
                        f"{NODE_BUDGET:,}. Ask for smaller pages (first/last) or fewer nested "
                        "lists."
                    )
        yield


def extensions() -> list[Any]:
    """The limit extensions every schema gets (factories: one instance per request).

    The depth and alias rules are built once and shared: the validation cache is keyed by the
    rule classes, and fresh classes per request would make every request miss it.
    """
    rules = [
        *QueryDepthLimiter(max_depth=MAX_DEPTH).validation_rules,
        *MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules,
    ]
    return [
        lambda: AddValidationRules(rules),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: ParserCache(maxsize=1_000),
        lambda: ValidationCache(maxsize=1_000),
        NodeBudget,
    ]
