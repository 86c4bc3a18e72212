"""Batched look-ups, made per request: one source round trip per relation, whatever the rows.

A ``BatchLoader`` does what a DataLoader does for the gateway — keys asked for while the event
loop turns are read together, and every key's rows are kept for the rest of the request — with
one future per batch instead of a future, a task record and a gathering future per key (a page
of 100 subjects asks for about 500 keys; their futures were a tenth of a request's CPU, and
garbage the collector had to find in cycles).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from typing import Any

from policies.access import RequestSources
from sources.base import Filter, Row

LoaderKey = tuple[str, str, str, int | None, tuple[Filter, ...]]
Fetch = Callable[[list[Hashable]], Awaitable[list[list[Row]]]]


class _Batch:
    """Keys waiting to be read in one round trip, and the future their readers wait on."""

    __slots__ = ("dispatched", "done", "keys", "readers", "task")

    def __init__(self, done: asyncio.Future[None]) -> None:
        self.keys: list[Hashable] = []
        self.done = done
        self.dispatched = False
        self.readers = 0  # load_many calls waiting on it
        self.task: asyncio.Task[None] | None = None


class BatchLoader:
    """``load_many(keys)``: each key's rows, read with the other keys asked for meanwhile.

    Like Strawberry's DataLoader, a batch is sent two turns of the event loop after its first
    key (a callback, then a task), so every resolver that runs in between joins it; a key's
    rows, or the error that reading them raised, are kept for the rest of the request.
    """

    def __init__(self, fetch: Fetch) -> None:
        self._fetch = fetch
        self._found: dict[Hashable, list[Row] | Exception] = {}
        self._pending: dict[Hashable, _Batch] = {}
        self._batch: _Batch | None = None
        self._running: set[asyncio.Task[None]] = set()

    async def load(self, key: Hashable) -> list[Row]:
        """One key's rows."""
        (rows,) = await self.load_many((key,))
        return rows

    async def load_many(self, keys: Iterable[Hashable]) -> list[list[Row]]:
        """Each key's rows, in the order of ``keys``."""
        keys = list(keys)
        waits: dict[_Batch, None] = {}
        found, pending = self._found, self._pending
        for key in keys:
            if key not in found:
                waiting = pending.get(key)
                waits[self._enqueue(key) if waiting is None else waiting] = None
        for batch in waits:
            batch.readers += 1
        try:
            for batch in waits:
                # Shielded: a reader that is cancelled must not cancel the batch for the others.
                await asyncio.shield(batch.done)
        finally:
            for batch in waits:
                batch.readers -= 1
                if not batch.readers and not batch.done.done():
                    self._abandon(batch)  # nobody waits for it any more (a request cancelled)
        return [self._rows(key) for key in keys]

    def _abandon(self, batch: _Batch) -> None:
        batch.dispatched = True  # takes no more keys; a new reader starts a new batch
        batch.done.cancel()
        for key in batch.keys:
            if self._pending.get(key) is batch:
                del self._pending[key]
        if batch.task is not None:
            batch.task.cancel()  # its source read stops

    def _rows(self, key: Hashable) -> list[Row]:
        found = self._found[key]
        if isinstance(found, Exception):
            raise found
        return found

    def _enqueue(self, key: Hashable) -> _Batch:
        batch = self._batch
        if batch is None or batch.dispatched:
            loop = asyncio.get_running_loop()
            batch = self._batch = _Batch(loop.create_future())
            loop.call_soon(self._schedule, batch)
        batch.keys.append(key)
        self._pending[key] = batch
        return batch

    def _schedule(self, batch: _Batch) -> None:
        if batch.done.done():  # abandoned before it was sent
            return
        task = batch.task = asyncio.get_running_loop().create_task(self._dispatch(batch))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _dispatch(self, batch: _Batch) -> None:
        batch.dispatched = True
        try:
            groups = await self._fetch(batch.keys)
            if len(groups) != len(batch.keys):
                raise ValueError(f"{len(batch.keys)} keys read, {len(groups)} results")
            self._found.update(zip(batch.keys, groups, strict=True))
        except Exception as exc:  # every reader of these keys sees it, as with a DataLoader
            self._found.update(dict.fromkeys(batch.keys, exc))
        except BaseException:
            batch.done.cancel()
            raise
        finally:
            for key in batch.keys:
                if self._pending.get(key) is batch:
                    del self._pending[key]
        if not batch.done.done():
            batch.done.set_result(None)


class Loaders:
    """One loader per (source, table, column, cap, filters) in one request."""

    def __init__(self, sources: RequestSources) -> None:
        self.sources = sources
        self._loaders: dict[LoaderKey, BatchLoader] = {}
        self._own: dict[str, BatchLoader] = {}

    def by(
        self,
        source: str,
        table: str,
        column: str,
        *,
        per_key: int | None = None,
        where: Sequence[Filter] = (),
    ) -> BatchLoader:
        """The loader of ``table`` rows by ``column``: ``load(key)`` gives that key's rows."""
        key: LoaderKey = (source, table, column, per_key, tuple(where))
        loader = self._loaders.get(key)
        if loader is None:
            loader = BatchLoader(self._batch(key))
            self._loaders[key] = loader
        return loader

    def of(self, name: str, fetch: Fetch) -> BatchLoader:
        """A loader of the gateway's own rows (a task's history …) under ``name``: ``fetch``
        reads a batch of keys in one round trip, once per request."""
        loader = self._own.get(name)
        if loader is None:
            loader = self._own[name] = BatchLoader(fetch)
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
