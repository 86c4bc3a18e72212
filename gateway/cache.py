"""A cache of answers to public queries (the matter catalogue, officers, …).

Only a query whose every field belongs to public data is cached, keyed by its document,
operation name and variables, for ``JIANGUAN_PUBLIC_CACHE_SECONDS``. The answer is the same for
every caller, so caching cannot leak anything; Redis holds it when configured (shared by the
replicas), otherwise a small in-process map does.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

import orjson
from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    GraphQLSchema,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    visit,
)
from redis.asyncio import Redis
from redis.exceptions import RedisError
from strawberry.extensions import SchemaExtension
from strawberry.utils.str_converters import to_camel_case

from policies.scope import seed_lines
from standard.registry import TABLES


def _public_tables() -> tuple[str, ...]:
    """The tables anyone may read: the seed policy's ``role:public`` read lines, the one list."""
    return tuple(
        line[2] for line in seed_lines() if line[:2] == ["p", "role:public"] and line[4] == "read"
    )


PUBLIC_TABLES = _public_tables()
PUBLIC_TYPES = frozenset(TABLES[t].__name__ for t in PUBLIC_TABLES)  # the graph names types so
PUBLIC_ROOTS = frozenset(to_camel_case(t) for t in PUBLIC_TABLES)  # and root fields so
ALLOWED_PARENTS = frozenset(
    {"PageInfo"}
    | PUBLIC_TYPES
    | {f"{name}Connection" for name in PUBLIC_TYPES}
    | {f"{name}Edge" for name in PUBLIC_TYPES}
)
MAX_ENTRIES = 1_000


class Store(Protocol):
    """Where cached answers live."""

    async def get(self, key: str) -> bytes | None: ...
    async def put(self, key: str, value: bytes, seconds: int) -> None: ...


class MemoryStore:
    """The embedded default: a bounded map with expiry, in this process only."""

    def __init__(self) -> None:
        self.entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    async def get(self, key: str) -> bytes | None:
        entry = self.entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            self.entries.pop(key, None)
            return None
        return entry[1]

    async def put(self, key: str, value: bytes, seconds: int) -> None:
        self.entries[key] = (time.monotonic() + seconds, value)
        self.entries.move_to_end(key)
        while len(self.entries) > MAX_ENTRIES:
            self.entries.popitem(last=False)


class RedisStore:
    """Shared by every replica; a Redis outage only means no caching."""

    def __init__(self, url: str) -> None:
        self.client = Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)

    async def get(self, key: str) -> bytes | None:
        try:
            value = await self.client.get(key)
        except RedisError:
            return None
        return value if isinstance(value, bytes) else None

    async def put(self, key: str, value: bytes, seconds: int) -> None:
        try:
            await self.client.set(key, value, ex=seconds)
        except RedisError:
            return


def is_public(schema: GraphQLSchema, document: DocumentNode) -> bool:
    """Whether every field the document selects lies in public data."""
    type_info = TypeInfo(schema)
    public = True

    class Check(Visitor):
        def enter_field(self, node: FieldNode, *_: Any) -> None:
            nonlocal public
            parent = type_info.get_parent_type()
            name = node.name.value
            if name == "__typename":
                return
            if (
                parent is None
                or (parent.name != "Query" and parent.name not in ALLOWED_PARENTS)
                or (parent.name == "Query" and name not in PUBLIC_ROOTS)
            ):
                public = False

    visit(document, TypeInfoVisitor(type_info, Check()))
    return public


def cache_extension(
    store: Store, seconds: int, *, namespace: str = ""
) -> Callable[[], SchemaExtension]:
    """A factory for the extension, sharing one store across requests.

    ``namespace`` tells apart deployments that share a Redis but read different sources.
    """

    verdicts: OrderedDict[str, bool] = OrderedDict()  # query text -> is_public, remembered

    def public(schema: GraphQLSchema, query: str, document: DocumentNode) -> bool:
        verdict = verdicts.get(query)
        if verdict is None:
            verdict = verdicts[query] = is_public(schema, document)
            while len(verdicts) > MAX_ENTRIES:
                verdicts.popitem(last=False)
        return verdict

    class PublicCache(SchemaExtension):
        async def on_execute(self) -> AsyncIterator[None]:
            context = self.execution_context
            document = context.graphql_document
            key = hit = None
            # Strawberry keeps graphql-core's schema in ``_schema``; TypeInfo needs that one.
            query = context.query
            if document is not None and query and public(context.schema._schema, query, document):
                # What the caller may see of the public tables is part of the key: a policy
                # that narrowed them for someone must not let them read another's answer.
                seen = getattr(context.context, "scope", None)
                visible = "" if seen is None else repr([seen.table(t) for t in PUBLIC_TABLES])
                key = _key(namespace + visible, query, context.operation_name, context.variables)
                hit = await store.get(key)
            if hit is not None:
                context.result = ExecutionResult(data=orjson.loads(hit))
            yield
            result = context.result
            fresh = key is not None and hit is None and isinstance(result, ExecutionResult)
            if fresh and result is not None and not result.errors and result.data is not None:
                await store.put(key, orjson.dumps(result.data, default=str), seconds)  # type: ignore[arg-type]

    return PublicCache


def _key(
    namespace: str, query: str, operation: str | None, variables: dict[str, Any] | None
) -> str:
    payload = orjson.dumps(
        [namespace, query, operation, variables], option=orjson.OPT_SORT_KEYS, default=str
    )
    return "jianguan:public:" + hashlib.sha256(payload).hexdigest()
