"""The tamper-evident audit log (审计日志): an SM3 hash chain, group-committed, SM2 checkpoints.

R12 deems every operation of a logged-in account the holder's own, so each one is recorded
here. Exceptions::

    AuditUnavailable        the database failed a write; the whole batch was rolled back
    PruneRefused            (audit.retention) pruning would cut what the retention keeps
    AuditKeyError           (audit.keys) a signing key file is missing or malformed

(their place in the project's one tree: ``standard.errors``)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import orjson
from cryptography.hazmat.primitives import hashes
from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from audit.keys import Signer
from standard.errors import Unavailable
from standard.tables.gateway import AuditCheckpoint, AuditEntry

log = logging.getLogger("jianguan.audit")

GENESIS = "0" * 64
"""The ``prev_hash`` of entry 1."""

CHECKPOINT_INTERVAL = timedelta(minutes=1)
"""A running gateway signs the head this often when there are new entries (and at shutdown)."""
CHECKPOINT_GRACE = timedelta(minutes=4)
"""How late a checkpoint may be on top of the interval before verify calls it missing: covers a
slow database, replicas' clocks apart, and a replica restarted after a crash."""
MAX_BATCH = 500
"""The most entries one group commit writes: a count checkpoint can come this late."""
TRAIL_DIGITS = 16
"""Hex digits of each entry's hash kept in a checkpoint's trail: 64 bits to point at an entry
(finding a rewrite is the full signed head's job), 16 KB a thousand entries."""
TRAIL_MAX = 10_000
"""The most entries one trail covers; a longer run (a log from before trails) gets a range."""
ENTRIES = cast(Table, AuditEntry.__table__)
CHECKPOINTS = cast(Table, AuditCheckpoint.__table__)
CONTENT = tuple(c.name for c in ENTRIES.columns if c.name not in ("seq", "prev_hash", "hash"))
"""The columns an entry's hash covers besides ``seq`` and ``prev_hash``: all the others."""
# Any constant shared by every gateway process will do; this one spells "JGAUDIT".
LOCK_KEY = 0x4A47_4155_4449_54


class AuditUnavailable(Unavailable):
    """The audit log could not be written; nothing of the failed batch was kept."""


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One thing that happened, as the caller reports it; the log adds seq and hashes."""

    actor: str
    event: str
    outcome: str
    party_code: str | None = None
    operation: str | None = None
    resources: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()
    rows: int = 0
    variables_hash: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)
    request_id: str | None = None
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A stored checkpoint (an ``audit_checkpoints`` row); the trail only when asked for."""

    seq: int
    at: datetime
    head_hash: str
    public_key: str
    signature: str
    trail: str | None = None
    trail_signature: str | None = None


def sm3_hex(data: bytes) -> str:
    """The SM3 digest of ``data`` as 64 hex digits."""
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize().hex()


def variables_hash(variables: Mapping[str, Any] | None) -> str | None:
    """SM3 of a request's variables (canonical JSON): proves what was asked, without storing it."""
    if not variables:
        return None
    return sm3_hex(orjson.dumps(dict(variables), option=orjson.OPT_SORT_KEYS))


def _instant(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    return value  # a tampered value is hashed as found, and so fails to match


def entry_hash(prev_hash: str, seq: int, fields: Mapping[str, Any]) -> str:
    """SM3(prev_hash ‖ canonical JSON of every column but ``hash``); ``fields`` holds CONTENT."""
    document = {name: fields[name] for name in CONTENT}
    document.update(seq=seq, prev_hash=prev_hash, at=_instant(document["at"]))
    body = orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
    return sm3_hex(prev_hash.encode() + body)


def entry_fields(event: AuditEvent) -> dict[str, Any]:
    """The CONTENT columns of ``event``, checked and in the form the database returns them."""
    at = event.at or datetime.now(UTC)
    if at.tzinfo is None:
        raise ValueError("an audit event's time must be timezone-aware")
    fields: dict[str, Any] = {
        "at": at.astimezone(UTC),
        "actor": event.actor,
        "party_code": event.party_code,
        "event": event.event,
        "operation": event.operation,
        "resources": list(event.resources),
        "providers": list(event.providers),
        "rows": event.rows,
        "variables_hash": event.variables_hash,
        "outcome": event.outcome,
        # Round-tripped so the hash covers exactly what the JSON column will give back.
        "detail": orjson.loads(orjson.dumps(dict(event.detail))),
        "request_id": event.request_id,
    }
    for name in CONTENT:
        length = getattr(ENTRIES.c[name].type, "length", None)
        # Checked here so one bad event fails its own caller, not everyone in its batch.
        if length is not None and fields[name] is not None and len(fields[name]) > length:
            raise ValueError(f"audit {name} is longer than {length} characters")
    return fields


def seal(fields: Mapping[str, Any], *, seq: int, prev_hash: str) -> dict[str, Any]:
    """A complete ``audit_log`` row: ``fields`` placed at ``seq`` after ``prev_hash``."""
    row = {name: fields[name] for name in CONTENT}
    row.update(seq=seq, prev_hash=prev_hash, hash=entry_hash(prev_hash, seq, fields))
    return row


@asynccontextmanager
async def write_transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A transaction that may append to the log (and change what the entry records).

    PostgreSQL: read committed, so the head read after the writer lock is the last holder's,
    and an ``UPDATE`` that waited for a concurrent one re-reads the row. SQLite: ``BEGIN
    IMMEDIATE`` (the deferred default would let two processes read the same head), so writers
    queue and the head is this transaction's until it ends.
    """
    async with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execution_options(isolation_level="READ COMMITTED")
            async with conn.begin():
                yield conn
            return
        if conn.dialect.name != "sqlite":
            raise NotImplementedError(
                f"the audit log supports PostgreSQL and SQLite, not {conn.dialect.name}"
            )
        await conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            await conn.rollback()
            raise
        await conn.commit()


async def take_writer_lock(conn: AsyncConnection) -> None:
    """Hold the log's writer lock, shared by every process, until ``conn``'s transaction ends
    (on SQLite ``write_transaction``'s ``BEGIN IMMEDIATE`` holds it already)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
    elif conn.dialect.name != "sqlite":
        raise NotImplementedError(
            f"the audit log supports PostgreSQL and SQLite, not {conn.dialect.name}"
        )


@asynccontextmanager
async def writer_lock(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A transaction holding the log's writer lock, shared by every process on the database."""
    async with write_transaction(engine) as conn:
        await take_writer_lock(conn)
        yield conn


async def chain_head(conn: AsyncConnection) -> tuple[int, str]:
    """The last seq and its hash; after a full prune, the newest checkpoint's."""
    newest = select(ENTRIES.c.seq, ENTRIES.c.hash).order_by(ENTRIES.c.seq.desc()).limit(1)
    row = (await conn.execute(newest)).first()
    if row is None:
        kept = select(CHECKPOINTS.c.seq, CHECKPOINTS.c.head_hash)
        row = (await conn.execute(kept.order_by(CHECKPOINTS.c.seq.desc()).limit(1))).first()
    return (int(row[0]), str(row[1])) if row else (0, GENESIS)


def trail_digest(seq: int, trail: str) -> str:
    """What a trail signature signs: SM3 of the checkpoint's seq and its trail."""
    return sm3_hex(f"jianguan audit trail\x1f{seq}\x1f{trail}".encode())


def _system_now() -> datetime:
    return datetime.now(UTC)


async def write_checkpoint(
    engine: AsyncEngine, signer: Signer, *, now: datetime | None = None
) -> int | None:
    """Sign the chain's head (at ``now``, default the system's time); its seq, or None while the
    log is empty. Idempotent at an unchanged head. The trail (each entry's hash since the
    previous checkpoint, shortened) is signed too, so verify can name the first rewritten one."""
    at = now or _system_now()
    if at.tzinfo is None:
        raise ValueError("a checkpoint's time must be timezone-aware")
    async with writer_lock(engine) as conn:
        newest = select(ENTRIES.c.seq, ENTRIES.c.hash).order_by(ENTRIES.c.seq.desc()).limit(1)
        row = (await conn.execute(newest)).first()
        if row is None:
            return None
        seq, head_hash = int(row[0]), str(row[1])
        previous = await conn.scalar(select(func.max(CHECKPOINTS.c.seq)))
        if previous is not None and previous >= seq:
            return seq
        since = max(previous or 0, seq - TRAIL_MAX)
        covered = select(ENTRIES.c.hash).where(ENTRIES.c.seq > since).order_by(ENTRIES.c.seq)
        trail = "".join(h[:TRAIL_DIGITS] for h in (await conn.execute(covered)).scalars())
        digest = trail_digest(seq, trail)
        # ~5 ms each of pure Python, out of the event loop
        signature = await asyncio.to_thread(signer.sign, head_hash)
        trail_signature = await asyncio.to_thread(signer.sign, digest)
        values = {"seq": seq, "at": at.astimezone(UTC), "head_hash": head_hash}
        values.update(public_key=signer.public_key, signature=signature)
        values.update(trail=trail, trail_signature=trail_signature)
        await conn.execute(insert(CHECKPOINTS), values)
        return seq


Tick = Callable[[], Awaitable[object]]
"""What the checkpoint timer waits on between checkpoints: a sleep, or a test's trigger."""


class AuditLog:
    """Appends events to the chain; concurrent appends share one transaction (group commit)."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        signer: Signer | None = None,
        checkpoint_every: int = 1000,
        max_batch: int = MAX_BATCH,
        clock: Callable[[], datetime] = _system_now,
    ) -> None:
        self._engine = engine
        self._signer = signer
        self._every = checkpoint_every
        self._max_batch = max_batch
        self._clock = clock
        self._timer: asyncio.Task[None] | None = None
        self._pending: list[tuple[dict[str, Any], asyncio.Future[int]]] = []
        self._writing: list[asyncio.Future[int]] = []  # the batch in its transaction now
        self._wake = asyncio.Event()  # binds to a loop only when first awaited
        self._writer: asyncio.Task[None] | None = None
        self._closed = False
        self.batches = 0
        """Transactions committed so far: fewer than appends when group commit works."""

    async def append(self, event: AuditEvent) -> int:
        """Record ``event``; its seq, once it is committed."""
        if self._closed:
            raise RuntimeError("the audit log is closed")
        fields = entry_fields(event)
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pending.append((fields, future))
        if self._writer is None or self._writer.done():  # done: stopped by a cancellation
            self._writer = asyncio.create_task(self._drain(), name="audit-writer")
        self._wake.set()
        return await future

    async def checkpoint(self) -> int | None:
        """Sign the current head now (after what is queued); its seq, or None if empty."""
        if self._signer is None:
            raise RuntimeError("checkpoints need a signing key (audit.keys.signer_for)")
        queued = self._writing + [future for _, future in self._pending]
        if queued:  # wait, not gather: cancelling us must not cancel other callers
            await asyncio.wait(queued)
        return await write_checkpoint(self._engine, self._signer, now=self._clock())

    def start_timer(self, tick: Tick | None = None) -> None:
        """Sign the head after each ``tick`` (default: every CHECKPOINT_INTERVAL) when it has
        new entries, until ``close``, which signs once more. Every replica runs one: the first
        to see a new head signs it, the others find it signed."""
        if self._signer is None:
            raise RuntimeError("checkpoints need a signing key (audit.keys.signer_for)")
        if self._timer is not None:
            raise RuntimeError("the checkpoint timer is already running")
        seconds = CHECKPOINT_INTERVAL.total_seconds()
        self._timer = asyncio.create_task(
            self._tick(tick or (lambda: asyncio.sleep(seconds))), name="audit-checkpoints"
        )

    async def _tick(self, tick: Tick) -> None:
        while True:
            await tick()
            try:
                await self.checkpoint()
            except Exception:
                # The entries are committed; the next tick (or close) signs them.
                log.exception("audit checkpoint failed")

    async def close(self) -> None:
        """Write what is queued, stop the background writer, and sign the head (if this log
        wrote anything or ran the timer): a process that stops leaves no unsigned tail."""
        self._closed = True
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await timer
        if self._writer is not None and not self._writer.done():
            self._wake.set()
            await self._writer
        self._writer = None
        if self._signer is not None and (self.batches or timer is not None):
            try:
                await write_checkpoint(self._engine, self._signer, now=self._clock())
            except Exception:
                log.exception("audit checkpoint at shutdown failed")

    async def _drain(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                # Whatever queued while the previous batch was being written forms the next.
                while self._pending:
                    batch = self._pending[: self._max_batch]
                    del self._pending[: len(batch)]
                    self._writing = [future for _, future in batch]
                    await self._write(batch)
                    self._writing = []
                if self._closed:
                    return
        finally:
            # Cancelled (loop shutting down): nobody else will write what is still queued.
            self._fail(self._pending, AuditUnavailable("the audit writer was stopped"))
            self._pending.clear()
            self._writing = []

    async def _write(self, batch: list[tuple[dict[str, Any], asyncio.Future[int]]]) -> None:
        try:
            last, due = await self._insert([fields for fields, _ in batch])
        except BaseException as exc:
            error = AuditUnavailable(f"the audit log could not be written ({type(exc).__name__})")
            error.__cause__ = exc
            self._fail(batch, error)
            if not isinstance(exc, Exception):
                raise
            log.error("audit batch of %d rolled back", len(batch), exc_info=exc)
            return
        self.batches += 1
        for offset, (_, future) in enumerate(batch):
            if not future.done():  # a caller cancelled while waiting; its entry stands
                future.set_result(last - len(batch) + 1 + offset)
        if due and self._signer is not None:
            try:
                await write_checkpoint(self._engine, self._signer, now=self._clock())
            except Exception:
                # The entries are committed; the next batch tries the checkpoint again.
                log.exception("audit checkpoint failed")

    @staticmethod
    def _fail(batch: list[tuple[dict[str, Any], asyncio.Future[int]]], error: Exception) -> None:
        for _, future in batch:
            if not future.done():
                future.set_exception(error)

    async def _insert(self, batch: list[dict[str, Any]]) -> tuple[int, bool]:
        """Chain and insert ``batch`` in one transaction; the last seq, and whether to sign."""
        async with writer_lock(self._engine) as conn:
            seq, prev_hash = await chain_head(conn)
            rows = []
            for fields in batch:
                seq += 1
                rows.append(seal(fields, seq=seq, prev_hash=prev_hash))
                prev_hash = rows[-1]["hash"]
            await conn.execute(insert(ENTRIES), rows)
            signed = await conn.scalar(select(func.max(CHECKPOINTS.c.seq)))
        return seq, seq - (signed or 0) >= self._every
