"""Look-ahead: fetch the relations a query selects for a whole page before fields resolve.

A page of nodes is followed by one batched look-up per selected relation (the same round trips
the batch loaders would make), and the related nodes are attached to their parents. The relation
fields then resolve synchronously, without a coroutine and a loader future per parent and
field, and completion plans (plan.py) read them without resolving at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Iterable, Iterator, Sequence
from typing import Any

from strawberry.types import Info
from strawberry.types.nodes import SelectedField, Selection

from resolvers.context import Context
from resolvers.graph.relations import MAX_PAGE, RELATIONS, Relation, keys_of, related
from resolvers.graph.types import TableInfo
from sources.base import SourceUnavailable

PREFETCHED = "_prefetched"


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


BY_FIELD = {(rel.table, camel(rel.field)): rel for rel in RELATIONS}


def fields_of(selections: Iterable[Selection]) -> Iterator[SelectedField]:
    """The fields of a selection, fragments flattened."""
    for selection in selections:
        if isinstance(selection, SelectedField):
            yield selection
        else:
            yield from fields_of(selection.selections)


def child(selections: Iterable[Selection], name: str) -> list[Selection]:
    """The selections under every field called ``name``."""
    return [s for f in fields_of(selections) if f.name == name for s in f.selections]


def _page(value: Any) -> int | None:
    # Strawberry hands literal arguments over as their source text ("5"), variables as values.
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


class Prefetcher:
    """Knows every type, so it can turn related rows into nodes at any depth."""

    def __init__(self, classes: dict[str, type], infos: dict[str, TableInfo]) -> None:
        self.classes = classes
        self.infos = infos

    async def prefetch(
        self,
        info: Info[Context, None],
        table: str,
        nodes: Sequence[Any],
        selections: list[Selection],
    ) -> None:
        """Attach every selected relation of ``nodes`` (rows of ``table``), recursively."""
        if not nodes or not selections:
            return
        wanted: dict[tuple[Relation, int | None], list[SelectedField]] = {}
        for field in fields_of(selections):
            rel = BY_FIELD.get((table, field.name))
            if rel is None:
                continue
            first = _page(field.arguments.get("first")) if rel.many else None
            if rel.many and not (first is not None and 1 <= first <= MAX_PAGE):
                continue  # the field's own resolver reports the bad argument
            wanted.setdefault((rel, first), []).append(field)
        await asyncio.gather(
            *(
                self._fetch(info, rel, first, fields, nodes)
                for (rel, first), fields in wanted.items()
            )
        )

    async def _fetch(
        self,
        info: Info[Context, None],
        rel: Relation,
        first: int | None,
        fields: list[SelectedField],
        nodes: Sequence[Any],
    ) -> None:
        target = self.infos[rel.target]
        keys: list[Hashable] = list(
            dict.fromkeys(k for node in nodes for k in keys_of(getattr(node, rel.local)))
        )
        slot = (rel.field, first)
        loader = info.context.loaders.by(target.source, rel.target, rel.remote, per_key=first)
        try:
            groups = await loader.load_many(keys) if keys else []
        except SourceUnavailable as exc:
            for node in nodes:
                node.__dict__.setdefault(PREFETCHED, {})[slot] = exc
            return
        by_key = dict(zip(keys, groups, strict=True))
        cls = self.classes[rel.target]
        children: list[Any] = []
        for node in nodes:
            rows = [row for k in keys_of(getattr(node, rel.local)) for row in by_key[k]]
            value = related(rel, cls, target, rows, first)
            if value is not None:
                children.extend(value if rel.many else [value])
            node.__dict__.setdefault(PREFETCHED, {})[slot] = value
        nested = [s for field in fields for s in field.selections]
        await self.prefetch(info, rel.target, children, nested)
