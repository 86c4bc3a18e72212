"""The tamper-evident audit log (审计日志): an SM3 hash chain, group-committed, SM2 checkpoints.

R12 deems every operation of a logged-in account the holder's own, so each one is recorded
here. Exceptions::

    AuditUnavailable        the database failed a write; the whole batch was rolled back
    AuditKeyError           (gateway.audit_keys) a signing key file is missing or malformed
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import orjson
from cryptography.hazmat.primitives import hashes
from sqlalchemy import Table, delete, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.audit_keys import Signer, verify_signature
from gateway.tables import AuditCheckpoint, AuditEntry

log = logging.getLogger("jianguan.audit")

GENESIS = "0" * 64
"""The ``prev_hash`` of entry 1."""
MIN_RETENTION_DAYS = 180  # Cybersecurity Law art. 21: network logs are kept at least six months
_ENTRIES = cast(Table, AuditEntry.__table__)
_CHECKPOINTS = cast(Table, AuditCheckpoint.__table__)
CONTENT = tuple(c.name for c in _ENTRIES.columns if c.name not in ("seq", "prev_hash", "hash"))
"""The columns an entry's hash covers besides ``seq`` and ``prev_hash``: all the others."""
# Any constant shared by every gateway process will do; this one spells "JGAUDIT".
_LOCK_KEY = 0x4A47_4155_4449_54
# Copied from the migration (gateway_0001): the pruner restores exactly what it dropped.
_SQLITE_NO_DELETE = (
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: DELETE refused'); END"
)


class AuditUnavailable(RuntimeError):
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
class Verification:
    """What :func:`verify` found: ok, or the first broken seq and why."""

    ok: bool
    entries: int
    checkpoints: int
    first_broken: int | None = None
    reason: str | None = None


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
        length = getattr(_ENTRIES.c[name].type, "length", None)
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
async def _locked(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A transaction holding the log's writer lock, shared by every process on the database."""
    async with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            # Read committed: the head read after the lock must see what the last holder wrote.
            await conn.execution_options(isolation_level="READ COMMITTED")
            async with conn.begin():
                await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
                yield conn
            return
        if conn.dialect.name != "sqlite":
            raise NotImplementedError(
                f"the audit log supports PostgreSQL and SQLite, not {conn.dialect.name}"
            )
        # SQLite's default deferred BEGIN would let two processes read the same head.
        await conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            await conn.rollback()
            raise
        await conn.commit()


async def _head(conn: AsyncConnection) -> tuple[int, str]:
    """The last seq and its hash; after a full prune, the newest checkpoint's."""
    newest = select(_ENTRIES.c.seq, _ENTRIES.c.hash).order_by(_ENTRIES.c.seq.desc()).limit(1)
    row = (await conn.execute(newest)).first()
    if row is None:
        kept = select(_CHECKPOINTS.c.seq, _CHECKPOINTS.c.head_hash)
        row = (await conn.execute(kept.order_by(_CHECKPOINTS.c.seq.desc()).limit(1))).first()
    return (int(row[0]), str(row[1])) if row else (0, GENESIS)


async def write_checkpoint(engine: AsyncEngine, signer: Signer) -> int | None:
    """Sign the chain's head now; its seq, or None while the log is empty."""
    async with _locked(engine) as conn:
        newest = select(_ENTRIES.c.seq, _ENTRIES.c.hash).order_by(_ENTRIES.c.seq.desc()).limit(1)
        row = (await conn.execute(newest)).first()
        if row is None:
            return None
        seq, head_hash = int(row[0]), str(row[1])
        if await conn.scalar(select(_CHECKPOINTS.c.seq).where(_CHECKPOINTS.c.seq == seq)):
            return seq
        signature = await asyncio.to_thread(signer.sign, head_hash)  # ~5 ms of pure Python
        values = {"seq": seq, "at": datetime.now(UTC), "head_hash": head_hash}
        values.update(public_key=signer.public_key, signature=signature)
        await conn.execute(insert(_CHECKPOINTS), values)
        return seq


class AuditLog:
    """Appends events to the chain; concurrent appends share one transaction (group commit)."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        signer: Signer | None = None,
        checkpoint_every: int = 1000,
        max_batch: int = 500,
    ) -> None:
        self._engine = engine
        self._signer = signer
        self._every = checkpoint_every
        self._max_batch = max_batch
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
            raise RuntimeError("checkpoints need a signing key (gateway.audit_keys.signer_for)")
        queued = self._writing + [future for _, future in self._pending]
        if queued:  # wait, not gather: cancelling us must not cancel other callers
            await asyncio.wait(queued)
        return await write_checkpoint(self._engine, self._signer)

    async def close(self) -> None:
        """Write what is queued, then stop the background writer."""
        self._closed = True
        if self._writer is not None and not self._writer.done():
            self._wake.set()
            await self._writer
        self._writer = None

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
                await write_checkpoint(self._engine, self._signer)
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
        async with _locked(self._engine) as conn:
            seq, prev_hash = await _head(conn)
            rows = []
            for fields in batch:
                seq += 1
                rows.append(seal(fields, seq=seq, prev_hash=prev_hash))
                prev_hash = rows[-1]["hash"]
            await conn.execute(insert(_ENTRIES), rows)
            signed = await conn.scalar(select(func.max(_CHECKPOINTS.c.seq)))
        return seq, seq - (signed or 0) >= self._every


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A stored checkpoint (an ``audit_checkpoints`` row)."""

    seq: int
    at: datetime
    head_hash: str
    public_key: str
    signature: str


class ChainChecker:
    """Checks entries fed in seq order: content hashes, links, seq continuity, checkpoints."""

    def __init__(self, checkpoints: Iterable[Checkpoint], *, public_key: str | None = None) -> None:
        self._checkpoints = sorted(checkpoints, key=lambda c: c.seq, reverse=True)  # pop() next
        self._anchor = public_key
        self._last: tuple[int, str] | None = None
        self._vouched = 0  # the seq after the last checkpoint that matched the chain
        self._entries = 0
        self._signed = 0
        self._broken: tuple[int, str] | None = None

    def feed(self, row: Mapping[Any, Any]) -> bool:
        """Check the next entry; False once the chain is broken (stop feeding)."""
        if self._broken is None:
            self._broken = self._check(row)
        if self._broken is None:
            self._entries += 1
            self._last = (int(row["seq"]), str(row["hash"]))
        return self._broken is None

    def result(self) -> Verification:
        """The verdict on everything fed so far, and on checkpoints beyond the last entry."""
        while self._broken is None and self._checkpoints:
            checkpoint = self._checkpoints.pop()
            self._broken = self._signature(checkpoint)
            if self._broken is None and self._last is not None:
                last = self._last[0]
                self._broken = (
                    last + 1,
                    f"entries after {last} are missing: checkpoint at {checkpoint.seq} "
                    f"vouches for entry {checkpoint.seq}",
                )
        seq, reason = self._broken or (None, None)
        return Verification(self._broken is None, self._entries, self._signed, seq, reason)

    def _check(self, row: Mapping[Any, Any]) -> tuple[int, str] | None:
        seq, prev_hash = int(row["seq"]), row["prev_hash"]
        broken = (
            self._first(seq, prev_hash)
            if self._last is None
            else self._follows(self._last, seq, prev_hash)
        )
        if broken is None and entry_hash(prev_hash, seq, row) != row["hash"]:
            broken = (seq, f"entry {seq} was altered: its hash does not match its content")
        if broken is None and self._checkpoints and self._checkpoints[-1].seq == seq:
            checkpoint = self._checkpoints.pop()
            broken = self._signature(checkpoint)
            if broken is None and checkpoint.head_hash != row["hash"]:
                lower = self._vouched or seq
                broken = (
                    lower,
                    f"checkpoint at {seq} does not match entry {seq}: "
                    f"entries {lower} to {seq} were rewritten",
                )
            self._vouched = seq + 1
        return broken

    def _first(self, seq: int, prev_hash: str) -> tuple[int, str] | None:
        """The first remaining entry starts the chain, or follows a checkpoint (after a prune)."""
        if seq < 1:
            return (seq, f"entry {seq} has an invalid seq")
        if seq == 1:
            if prev_hash != GENESIS:
                return (1, "entry 1 does not start the chain (prev_hash is not the genesis value)")
            self._vouched = 1
            return None
        anchor = None
        while self._checkpoints and self._checkpoints[-1].seq < seq:
            anchor = self._checkpoints.pop()
            broken = self._signature(anchor)
            if broken is not None:
                return broken
        if anchor is None or anchor.seq != seq - 1:
            lower = anchor.seq + 1 if anchor else 1
            return (
                lower,
                f"entries {lower} to {seq - 1} are missing (the log starts at {seq} and no "
                f"checkpoint at {seq - 1} vouches for it)",
            )
        if anchor.head_hash != prev_hash:
            return (seq, f"entry {seq} does not follow checkpoint {seq - 1} (prev_hash mismatch)")
        self._vouched = seq
        return None

    @staticmethod
    def _follows(previous: tuple[int, str], seq: int, prev_hash: str) -> tuple[int, str] | None:
        last, last_hash = previous
        if seq > last + 2:
            return (
                last + 1,
                f"entries {last + 1} to {seq - 1} are missing (seq jumps from {last} to {seq})",
            )
        if seq == last + 2:
            return (last + 1, f"entry {last + 1} is missing (seq jumps from {last} to {seq})")
        if seq != last + 1:
            return (last + 1, f"entry {last + 1} is missing (seq {seq} follows {last})")
        if prev_hash != last_hash:
            return (
                seq,
                f"entry {seq} does not follow entry {last} "
                "(prev_hash mismatch: reordered or replaced)",
            )
        return None

    def _signature(self, checkpoint: Checkpoint) -> tuple[int, str] | None:
        if self._anchor is not None and checkpoint.public_key != self._anchor:
            return (
                checkpoint.seq,
                f"checkpoint at {checkpoint.seq}: signed by another key "
                f"({checkpoint.public_key[:16]}…, expected {self._anchor[:16]}…)",
            )
        if not verify_signature(checkpoint.public_key, checkpoint.head_hash, checkpoint.signature):
            return (checkpoint.seq, f"checkpoint at {checkpoint.seq}: signature invalid")
        self._signed += 1
        return None


async def verify(
    engine: AsyncEngine, *, public_key: str | None = None, chunk: int = 5000
) -> Verification:
    """Walk the whole chain in seq order, ``chunk`` rows at a time, and check every link."""
    async with engine.connect() as conn:
        rows = await conn.execute(select(_CHECKPOINTS).order_by(_CHECKPOINTS.c.seq))
        checker = ChainChecker([Checkpoint(**r) for r in rows.mappings()], public_key=public_key)
    after: int | None = None
    while True:
        # Keyset pages in short transactions: no long snapshot, no offset scans.
        page = select(_ENTRIES).order_by(_ENTRIES.c.seq).limit(chunk)
        if after is not None:
            page = page.where(_ENTRIES.c.seq > after)
        async with engine.connect() as conn:
            entries = (await conn.execute(page)).mappings().all()
        for entry in entries:
            if not checker.feed(entry):
                return checker.result()
        if len(entries) < chunk:
            return checker.result()
        after = int(entries[-1]["seq"])


async def prune(engine: AsyncEngine, *, retention_days: int, now: datetime) -> int:
    """Delete entries older than the retention, up to a checkpoint; how many were deleted."""
    if retention_days < MIN_RETENTION_DAYS:
        raise ValueError(f"audit entries are kept at least {MIN_RETENTION_DAYS} days")
    if now.tzinfo is None:
        raise ValueError("prune needs a timezone-aware `now`")
    cutoff = now - timedelta(days=retention_days)
    seq = _ENTRIES.c.seq
    async with _locked(engine) as conn:
        young = await conn.scalar(select(func.min(seq)).where(_ENTRIES.c.at >= cutoff))
        # The newest checkpoint on a remaining entry with no younger entry at or before it:
        # the kept chain then starts right after a signed head, so it still verifies.
        boundary = (
            select(_CHECKPOINTS)
            .join(_ENTRIES, _ENTRIES.c.seq == _CHECKPOINTS.c.seq)
            .order_by(_CHECKPOINTS.c.seq.desc())
            .limit(1)
        )
        if young is not None:
            boundary = boundary.where(_CHECKPOINTS.c.seq < young)
        found = (await conn.execute(boundary)).mappings().first()
        if found is None:
            return 0
        checkpoint = Checkpoint(**found)
        head_hash = await conn.scalar(select(_ENTRIES.c.hash).where(seq == checkpoint.seq))
        if head_hash != checkpoint.head_hash or not verify_signature(
            checkpoint.public_key, checkpoint.head_hash, checkpoint.signature
        ):
            raise ValueError(
                f"checkpoint at {checkpoint.seq} does not vouch for the chain; "
                "run `jianguan audit verify` before pruning"
            )
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SET LOCAL jianguan.audit_prune = 'on'"))
        else:
            await conn.execute(text("DROP TRIGGER audit_log_no_delete"))
        result = await conn.execute(delete(_ENTRIES).where(seq <= checkpoint.seq))
        if conn.dialect.name == "sqlite":
            await conn.execute(text(_SQLITE_NO_DELETE))
        return int(result.rowcount)
