"""DataLoaders, made per request: one source round trip per relation, whatever the rows."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence
from typing import Any

from strawberry.dataloader import DataLoader

from gateway.sources import RequestSources
from resolvers.connectors.base import Filter, Row

LoaderKey = tuple[str, str, str, int | None, tuple[Filter, ...]]


class Loaders:
    """One DataLoader per (source, table, column, cap, filters) in one request."""

    def __init__(self, sources: RequestSources) -> None:
        self.sources = sources
        self._loaders: dict[LoaderKey, DataLoader[Hashable, list[Row]]] = {}

    def by(
        self,
        source: str,
        table: str,
        column: str,
        *,
        per_key: int | None = None,
        where: Sequence[Filter] = (),
    ) -> DataLoader[Hashable, list[Row]]:
        """The loader of ``table`` rows by ``column``: ``load(key)`` gives that key's rows."""
        key: LoaderKey = (source, table, column, per_key, tuple(where))
        loader = self._loaders.get(key)
        if loader is None:
            loader = DataLoader(self._batch(key))
            self._loaders[key] = loader
        return loader

    def _batch(self, key: LoaderKey) -> Any:
        source, table, column, per_key, where = key

        async def load(keys: list[Hashable]) -> list[list[Row]]:
            rows = await self.sources.lookup(
                source, table, column, list(dict.fromkeys(keys)), where=where, per_key=per_key
            )
            grouped: dict[Hashable, list[Row]] = defaultdict(list)
            for row in rows:
                grouped[row[column]].append(row)
            return [grouped.get(k, []) for k in keys]

        return load
