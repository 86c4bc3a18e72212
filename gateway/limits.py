"""Bounds on what one query may ask: length, tokens, depth, aliases, and a node budget.

The node budget follows GitHub's: along every path the page sizes (``first``/``last``) of the
list fields multiply, and the sum over all lists must stay within the budget, so a query cannot
fan out to millions of rows however innocent it looks. It is counted on the variables as
execution will see them — coerced, defaults applied (``$n: Int = 100``, ``{"n": 100.0}``) —
not on what the client sent: thirty aliases of a nested dossier with a defaulted page size
went uncounted and ran 8.6 s.

Parsed and validated documents are kept in one cache bounded by the length of the documents it
holds, not by their number: a hundred distinct 1 MB documents pinned about 210 MB in two
caches of 1,000 entries each.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    SelectionSetNode,
    VariableNode,
    get_operation_ast,
    get_variable_values,
    value_from_ast_untyped,
)
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)

from standard.errors import OverLimit

MAX_DEPTH = 10
MAX_ALIASES = 30
MAX_TOKENS = 2_000
# The partner client's longest operation is 4,684 characters; 2,000 tokens, indented, fit in
# well under this. Longer text is refused before the lexer reads it (a 20 MB comment took 8 s).
MAX_DOCUMENT_CHARS = 50_000
NODE_BUDGET = 50_000
# A parsed document takes about 30 bytes per character of its text (SubjectDossier.graphql:
# 4,684 characters, 144 KB by tracemalloc), so this holds about 15 MB of documents.
DOCUMENT_CACHE_CHARS = 500_000


class OverBudget(OverLimit):
    """A query that could return more nodes than the budget allows."""


def _page_size(field: FieldNode, variables: Mapping[str, Any]) -> int | None:
    for argument in field.arguments or ():
        if argument.name.value in ("first", "last"):
            node = argument.value
            value = (
                variables.get(node.name.value)
                if isinstance(node, VariableNode)
                else value_from_ast_untyped(node, dict(variables))
            )
            if isinstance(value, int) and not isinstance(value, bool):
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
    """The most nodes a selection can return: page sizes multiply along each path.

    ``variables`` are the coerced values (see ``operation_cost``)."""
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


def operation_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
) -> int | None:
    """The node count of the operation that will run, on its coerced variables.

    None when there is no such operation or its variables do not coerce: execution then
    refuses the request itself, with graphql-core's error naming the variable."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return None
    coerced = get_variable_values(
        schema, operation.variable_definitions or (), dict(variables or {}), max_errors=1
    )
    if isinstance(coerced, list):
        return None
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    return node_count(operation.selection_set, fragments, coerced.coerced)


class NodeBudget(SchemaExtension):
    """Refuse, before running it, a query whose worst case exceeds ``NODE_BUDGET`` nodes."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None:
            count = operation_cost(
                context.schema._schema, document, context.operation_name, context.variables
            )
            if count is not None and count > NODE_BUDGET:
                raise OverBudget(
                    f"This query could return up to {count:,} nodes; the node budget is "
                    f"{NODE_BUDGET:,}. Ask for smaller pages (first/last) or fewer nested "
                    "lists."
                )
        yield


class _Cached:
    __slots__ = ("document", "validated")

    def __init__(self, document: DocumentNode) -> None:
        self.document = document
        # (schema, validation rules) -> the errors validating the document gave
        self.validated: dict[tuple[Any, ...], list[GraphQLError]] = {}


class DocumentCache:
    """Parsed documents and their validation errors by text, least recently used out first,
    holding at most ``max_chars`` characters of document text in all."""

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars
        self.chars = 0
        self._entries: OrderedDict[str, _Cached] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, query: str) -> _Cached | None:
        found = self._entries.get(query)
        if found is not None:
            self._entries.move_to_end(query)
        return found

    def put(self, query: str, document: DocumentNode) -> _Cached:
        if query in self._entries:
            return self._entries[query]
        entry = _Cached(document)
        if len(query) > self.max_chars:
            return entry  # used for this request only
        self._entries[query] = entry
        self.chars += len(query)
        while self.chars > self.max_chars:
            oldest, _ = self._entries.popitem(last=False)
            self.chars -= len(oldest)
        return entry


documents = DocumentCache(DOCUMENT_CACHE_CHARS)
"""The process's cache: every request and schema share it, as they share the rules."""


class DocumentLimits(SchemaExtension):
    """The length and token limits of a document, and the document cache.

    The limits are the parser's own (``max_source_length``, ``max_tokens``: comments count as
    tokens), so they apply before the document is kept anywhere."""

    def __init__(self, cache: DocumentCache = documents) -> None:
        self.cache = cache
        self._entry: _Cached | None = None

    def on_operation(self) -> Iterator[None]:
        options = self.execution_context.parse_options
        # graphql-core's parse takes it; Strawberry's ParseOptions names only max_tokens.
        options["max_source_length"] = MAX_DOCUMENT_CHARS  # type: ignore[typeddict-unknown-key]
        options["max_tokens"] = MAX_TOKENS
        yield

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        query = context.query
        if query is None or context.graphql_document is not None:
            yield
            return
        if len(query) > MAX_DOCUMENT_CHARS:
            # Refused here rather than by the parser: its error quotes the line it stopped on,
            # and the log line of a one-line 1 MB comment was 1 MB long.
            raise GraphQLError(
                f"Syntax Error: the document is {len(query):,} characters long; the limit is "
                f"{MAX_DOCUMENT_CHARS:,}."
            )
        self._entry = self.cache.get(query)
        if self._entry is not None:
            context.graphql_document = self._entry.document
        yield
        if self._entry is None and context.graphql_document is not None:
            self._entry = self.cache.put(query, context.graphql_document)

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        entry = self._entry
        if entry is None or context.pre_execution_errors is not None:
            yield
            return
        key = (context.schema._schema, *context.validation_rules)
        found = entry.validated.get(key)
        if found is not None:
            context.pre_execution_errors = found
        yield
        if found is None and context.pre_execution_errors is not None:
            entry.validated[key] = context.pre_execution_errors


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
        DocumentLimits,
        NodeBudget,
    ]
