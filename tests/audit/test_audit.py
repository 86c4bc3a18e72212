"""The audit log on real PostgreSQL and SQLite: chain, group commit, replicas, tampering, prune."""

from __future__ import annotations

import asyncio
import csv
import functools
import itertools
import os
import stat
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
import pytest_asyncio
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from audit.keys import AuditKeyError, Signer, signer_for, verify_signature
from audit.log import (
    GENESIS,
    TRAIL_DIGITS,
    AuditEvent,
    AuditLog,
    AuditUnavailable,
    Checkpoint,
    entry_fields,
    entry_hash,
    seal,
    trail_digest,
    variables_hash,
)
from audit.retention import PruneRefused
from audit.retention import prune as prune_log
from audit.verify import ChainChecker, Head, Schedule, Verification, verify
from gateway.cli import app as cli_app
from gateway.cli.audit import audit_app
from gateway.clock import Clock
from gateway.settings import Settings
from sources.database import create_engine
from standard.tables.gateway import AuditCheckpoint, AuditEntry

ROOT = Path(__file__).parents[2]
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SIGNER = Signer.new()  # one key for the module: generating costs a few milliseconds
runner = CliRunner()


@pytest_asyncio.fixture(loop_scope="session")
async def engine(gateway_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a fresh, migrated gateway database (PostgreSQL and SQLite)."""
    engine = create_engine(gateway_url)
    yield engine
    await engine.dispose()


def event(number: int, **changes: Any) -> AuditEvent:
    values: dict[str, Any] = {
        "actor": f"user:u{number % 7}",
        "event": "read",
        "outcome": "ok",
        "party_code": "P-12345",
        "operation": "ComplaintsPage",
        "resources": ("complaints",),
        "providers": ("P-12345", "P-67890"),
        "rows": number,
        "variables_hash": variables_hash({"first": number}),
        "detail": {"n": number, "名称": "投诉"},
        "request_id": f"req-{number}",
        "at": NOW + timedelta(seconds=number),
    }
    values.update(changes)
    return AuditEvent(**values)


class Hands:
    """A clock the test moves: checkpoints are signed at the time it shows."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def fill(
    engine: AsyncEngine, count: int, *, every: int = 1000, signer: Signer | None = SIGNER
) -> AuditLog:
    """A closed log of ``count`` entries appended one by one (a checkpoint every ``every``, and
    one at close), each entry and checkpoint at ``NOW`` plus its number of seconds."""
    hands = Hands()
    log = AuditLog(engine, signer=signer, checkpoint_every=every, clock=hands)
    for number in range(1, count + 1):
        hands.now = NOW + timedelta(seconds=number)
        assert await log.append(event(number)) == number
    await log.close()
    return log


_SQLITE_GUARDS = [
    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
    f"BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: {action} refused'); END"
    for table in ("audit_log", "audit_checkpoints")
    for action in ("UPDATE", "DELETE")
]


async def tamper(engine: AsyncEngine, *statements: str) -> None:
    """Run ``statements`` as someone with the database's superuser would: triggers bypassed."""
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            for table in ("audit_log", "audit_checkpoints"):
                for action in ("update", "delete"):
                    await conn.execute(text(f"DROP TRIGGER {table}_no_{action}"))
        for statement in statements:
            await conn.execute(text(statement))
        if conn.dialect.name == "sqlite":
            for guard in _SQLITE_GUARDS:
                await conn.execute(text(guard))


async def count(engine: AsyncEngine, table: Any) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(table)) or 0)


# --- the chain -------------------------------------------------------------------------------


async def test_appends_form_a_chain_that_verifies(engine: AsyncEngine) -> None:
    log = await fill(engine, 40, every=15)
    assert log.batches == 40  # one at a time: nothing to group
    result = await verify(engine, public_key=SIGNER.public_key, chunk=7)  # several pages
    assert result.ok, result.reason
    assert (result.entries, result.checkpoints) == (40, 3)  # at 15 and 30, and at close
    async with engine.connect() as conn:
        rows = (await conn.execute(select(AuditEntry.__table__).order_by("seq"))).mappings().all()
    assert rows[0]["prev_hash"] == GENESIS
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(rows))
    assert rows[3]["detail"] == {"n": 4, "名称": "投诉"}
    assert rows[3]["at"] == NOW + timedelta(seconds=4)
    with pytest.raises(RuntimeError, match="closed"):
        await log.append(event(41))


async def test_concurrent_appends_are_group_committed_without_gaps(engine: AsyncEngine) -> None:
    log = AuditLog(engine)
    numbers = range(1, 301)
    seqs = await asyncio.gather(*(log.append(event(n)) for n in numbers))
    await log.close()
    assert sorted(seqs) == list(numbers)
    assert log.batches < len(numbers) // 10  # one transaction per batch, not per append
    async with engine.connect() as conn:
        stored = dict((await conn.execute(select(AuditEntry.seq, AuditEntry.request_id))).all())
    # Each caller was told the seq its own event was written at.
    assert all(stored[seq] == f"req-{n}" for n, seq in zip(numbers, seqs, strict=True))
    assert (await verify(engine)).ok


async def test_checkpoint_signs_the_head_after_what_is_queued(engine: AsyncEngine) -> None:
    with pytest.raises(RuntimeError, match="signing key"):
        await AuditLog(engine).checkpoint()
    log = AuditLog(engine, signer=SIGNER)
    assert await log.checkpoint() is None  # nothing to sign yet
    tasks = [asyncio.create_task(log.append(event(n))) for n in range(1, 6)]
    await asyncio.sleep(0)  # queued, not yet written
    assert await log.checkpoint() == 5
    assert await log.checkpoint() == 5  # idempotent at an unchanged head
    assert [t.result() for t in tasks] == [1, 2, 3, 4, 5]
    await log.close()
    assert await count(engine, AuditCheckpoint) == 1
    assert (await verify(engine, public_key=SIGNER.public_key)).checkpoints == 1


async def test_a_cancelled_caller_still_leaves_its_entry(engine: AsyncEngine) -> None:
    log = AuditLog(engine)
    tasks = [asyncio.create_task(log.append(event(n))) for n in range(1, 6)]
    await asyncio.sleep(0)
    tasks[2].cancel()  # the request went away; what it did still happened
    results = await asyncio.gather(*tasks, return_exceptions=True)
    await log.close()
    assert isinstance(results[2], asyncio.CancelledError)
    assert [results[i] for i in (0, 1, 3, 4)] == [1, 2, 4, 5]
    assert (await verify(engine)).entries == 5


async def test_a_bad_event_fails_only_its_own_caller(engine: AsyncEngine) -> None:
    log = AuditLog(engine)
    results = await asyncio.gather(
        log.append(event(1)),
        log.append(event(2, actor="x" * 121)),
        log.append(event(3, at=datetime(2026, 1, 1))),  # naive
        log.append(event(4)),
        return_exceptions=True,
    )
    await log.close()
    assert results[0] == 1 and results[3] == 2
    assert isinstance(results[1], ValueError) and "actor" in str(results[1])
    assert isinstance(results[2], ValueError) and "timezone" in str(results[2])


async def test_two_replicas_on_two_engines_share_one_valid_chain(gateway_url: str) -> None:
    engines = [create_engine(gateway_url), create_engine(gateway_url)]
    logs = [AuditLog(e, signer=SIGNER, checkpoint_every=50) for e in engines]
    try:
        # Interleaved waves so the two writers really contend for the head.
        calls = [logs[n % 2].append(event(n)) for n in range(1, 201)]
        seqs = await asyncio.gather(*calls, return_exceptions=True)
        await asyncio.gather(*(log.close() for log in logs))
        assert sorted(seqs) == list(range(1, 201)), seqs  # type: ignore[type-var]
        assert logs[0].batches > 0 and logs[1].batches > 0
        result = await verify(engines[0], public_key=SIGNER.public_key)
        assert result.ok, result.reason
        assert result.entries == 200 and result.checkpoints >= 1
    finally:
        for e in engines:
            await e.dispose()


_REPLICA = """
import asyncio, sys
from sqlalchemy import text
from audit.log import AuditEvent, AuditLog
from sources.database import create_engine

async def main(url: str, name: str) -> None:
    engine = create_engine(url)
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
    print("ready", flush=True)
    sys.stdin.readline()  # both start together, so their batches really contend
    log = AuditLog(engine)
    for wave in range(10):
        calls = [log.append(AuditEvent(f"client:{name}", "read", "ok", rows=i)) for i in range(20)]
        print(*await asyncio.gather(*calls))
    await log.close()
    await engine.dispose()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


async def test_two_processes_append_to_one_database(gateway_url: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    pipe = asyncio.subprocess.PIPE
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", _REPLICA, gateway_url, name, env=env, cwd=ROOT,
            stdin=pipe, stdout=pipe, stderr=pipe,
        )
        for name in ("a", "b")
    ]  # fmt: skip
    for process in processes:
        assert process.stdout is not None
        assert await process.stdout.readline() == b"ready\n"
    outputs = await asyncio.gather(*(p.communicate(b"go\n") for p in processes))
    assert [p.returncode for p in processes] == [0, 0], outputs
    seqs = [int(s) for out, _ in outputs for s in out.split()]
    assert sorted(seqs) == list(range(1, 401))
    engine = create_engine(gateway_url)
    try:
        result = await verify(engine)
        assert result.ok and result.entries == 400, result.reason
    finally:
        await engine.dispose()


async def test_a_failed_batch_fails_every_caller_and_leaves_no_trace(engine: AsyncEngine) -> None:
    await fill(engine, 3)
    async with engine.begin() as conn:
        await conn.execute(text("ALTER TABLE audit_log RENAME TO audit_log_away"))
    log = AuditLog(engine)
    calls = [log.append(event(n)) for n in range(5)]
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(r, AuditUnavailable) for r in results), results
    assert all(isinstance(r.__cause__, DBAPIError) for r in results if isinstance(r, Exception))
    async with engine.begin() as conn:
        await conn.execute(text("ALTER TABLE audit_log_away RENAME TO audit_log"))
    assert await log.append(event(4)) == 4  # the writer recovered; no seq was used up
    await log.close()
    assert (await verify(engine)).entries == 4


# --- append-only in the database --------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET rows = 0 WHERE seq = 2",
        "DELETE FROM audit_log WHERE seq = 3",
        "UPDATE audit_checkpoints SET signature = 'x'",
        "DELETE FROM audit_checkpoints",
    ],
)
async def test_the_database_refuses_to_change_the_log(engine: AsyncEngine, statement: str) -> None:
    await fill(engine, 3, every=2)
    with pytest.raises(DBAPIError, match="append-only"):
        async with engine.begin() as conn:
            await conn.execute(text(statement))
    assert await count(engine, AuditEntry) == 3
    assert await count(engine, AuditCheckpoint) == 2  # at 2 (count) and 3 (close)


async def test_postgresql_refuses_truncate_and_a_plain_prune_flag_allows_no_update(
    pg_gateway_url: str,
) -> None:
    engine = create_engine(pg_gateway_url)
    try:
        await fill(engine, 2)
        with pytest.raises(DBAPIError, match="append-only"):
            async with engine.begin() as conn:
                await conn.execute(text("TRUNCATE audit_log"))
        with pytest.raises(DBAPIError, match="append-only"):  # the flag allows DELETE only
            async with engine.begin() as conn:
                await conn.execute(text("SET LOCAL jianguan.audit_prune = 'on'"))
                await conn.execute(text("UPDATE audit_log SET rows = 5"))
    finally:
        await engine.dispose()


# --- verify names what was tampered with ------------------------------------------------------


async def test_verify_names_an_edited_entry(engine: AsyncEngine) -> None:
    await fill(engine, 30)
    await tamper(engine, "UPDATE audit_log SET rows = 999 WHERE seq = 17")
    result = await verify(engine)
    assert (result.ok, result.first_broken, result.entries) == (False, 17, 16)
    assert result.reason == "entry 17 was altered: its hash does not match its content"


async def test_verify_names_a_deleted_entry(engine: AsyncEngine) -> None:
    await fill(engine, 30)
    await tamper(engine, "DELETE FROM audit_log WHERE seq = 18")
    result = await verify(engine)
    assert (result.ok, result.first_broken) == (False, 18)
    assert result.reason == "entry 18 is missing (seq jumps from 17 to 19)"


async def test_verify_names_reordered_entries(engine: AsyncEngine) -> None:
    await fill(engine, 30)
    await tamper(
        engine,
        "UPDATE audit_log SET seq = -1 WHERE seq = 20",
        "UPDATE audit_log SET seq = 20 WHERE seq = 21",
        "UPDATE audit_log SET seq = 21 WHERE seq = -1",
    )
    result = await verify(engine)
    assert (result.ok, result.first_broken) == (False, 20)
    assert result.reason == (
        "entry 20 does not follow entry 19 (prev_hash mismatch: reordered or replaced)"
    )


async def rewrite(engine: AsyncEngine, seq: int, **changes: Any) -> None:
    """Change entry ``seq`` and recompute every later hash, as a superuser without the key
    would: the links hold, only the signed checkpoints (and published heads) disagree."""
    async with engine.connect() as conn:
        rows = (await conn.execute(select(AuditEntry.__table__).order_by("seq"))).mappings().all()
    statements, prev_hash = [], rows[seq - 2]["hash"] if seq > 1 else GENESIS
    for row in rows[seq - 1 :]:
        fields = dict(row, **changes) if row["seq"] == seq else dict(row)
        sealed = seal(fields, seq=row["seq"], prev_hash=prev_hash)
        prev_hash = sealed["hash"]
        statements.append(
            f"UPDATE audit_log SET rows = {sealed['rows']}, prev_hash = '{sealed['prev_hash']}', "
            f"hash = '{sealed['hash']}' WHERE seq = {row['seq']}"
        )
    await tamper(engine, *statements)


async def test_a_checkpoint_names_the_first_entry_of_a_rewritten_chain(engine: AsyncEngine) -> None:
    """An attacker who recomputes every later hash keeps the links intact; checkpoints do not,
    and their signed trails point at the entry, not at the range they close."""
    await fill(engine, 30, every=10)
    await rewrite(engine, 15, rows=0)
    result = await verify(engine)
    assert (result.ok, result.first_broken) == (False, 15)
    assert result.reason == (
        "entry 15 was rewritten: checkpoint 20 signed another hash for it "
        "(the entries after it were re-hashed to hide the change)"
    )


async def test_a_checkpoint_without_a_trail_names_its_range(engine: AsyncEngine) -> None:
    """Checkpoints signed before trails existed (gateway_0003) still catch the rewrite."""
    await fill(engine, 30, every=10)
    await rewrite(engine, 15, rows=0)
    await tamper(engine, "UPDATE audit_checkpoints SET trail = NULL, trail_signature = NULL")
    result = await verify(engine)
    assert (result.ok, result.first_broken) == (False, 11)
    assert result.reason == (
        "checkpoint at 20 does not match entry 20: entries 11 to 20 were rewritten"
    )


async def test_a_forged_trail_is_reported_not_believed(engine: AsyncEngine) -> None:
    await fill(engine, 30, every=10)
    await rewrite(engine, 15, rows=0)
    async with engine.connect() as conn:
        hashes = (
            await conn.execute(select(AuditEntry.hash).where(AuditEntry.seq.between(11, 20)))
        ).scalars()
        trail = "".join(h[:TRAIL_DIGITS] for h in hashes)  # the rewritten chain's, unsigned
    await tamper(engine, f"UPDATE audit_checkpoints SET trail = '{trail}' WHERE seq = 20")
    result = await verify(engine)
    assert (result.ok, result.first_broken) == (False, 20)
    assert result.reason == "checkpoint at 20: trail signature invalid"


async def test_verify_notices_a_truncated_tail(engine: AsyncEngine) -> None:
    await fill(engine, 30, every=10)
    await tamper(engine, "DELETE FROM audit_log WHERE seq > 25")
    result = await verify(engine)
    assert (result.ok, result.first_broken) == (False, 26)
    assert result.reason == "entries after 25 are missing: checkpoint at 30 vouches for entry 30"


async def test_verify_reports_a_forged_signature(engine: AsyncEngine) -> None:
    await fill(engine, 20, every=10)
    forged = SIGNER.sign("ab" * 32)  # a real signature, of something else
    await tamper(engine, f"UPDATE audit_checkpoints SET signature = '{forged}' WHERE seq = 10")
    result = await verify(engine)
    assert (result.ok, result.first_broken) == (False, 10)
    assert result.reason == "checkpoint at 10: signature invalid"


async def test_verify_reports_a_checkpoint_signed_by_another_key(engine: AsyncEngine) -> None:
    await fill(engine, 20, every=10)
    async with engine.connect() as conn:
        head = await conn.scalar(select(AuditEntry.hash).where(AuditEntry.seq == 20))
    intruder = Signer.new()
    await tamper(
        engine,
        f"UPDATE audit_checkpoints SET public_key = '{intruder.public_key}', "
        f"signature = '{intruder.sign(str(head))}' WHERE seq = 20",
    )
    assert (await verify(engine)).ok  # self-consistent: hence the trust anchor
    result = await verify(engine, public_key=SIGNER.public_key)
    assert (result.ok, result.first_broken, result.checkpoints) == (False, 20, 1)
    assert result.reason is not None
    assert result.reason.startswith("checkpoint at 20: signed by another key")


# --- checkpoints by time, and the checkpoints that must exist ---------------------------------


class Ticks:
    """The checkpoint timer's trigger in the test's hands: ``tick`` returns once the timer has
    acted on it and waits again (an event, not a sleep)."""

    def __init__(self) -> None:
        self._due: asyncio.Queue[None] = asyncio.Queue()
        self._waiting: asyncio.Queue[None] = asyncio.Queue()

    async def __call__(self) -> None:
        await self._waiting.put(None)
        await self._due.get()

    async def ready(self) -> None:
        await self._waiting.get()

    async def tick(self) -> None:
        await self._due.put(None)
        await self._waiting.get()


async def checkpoints(engine: AsyncEngine) -> list[tuple[int, datetime]]:
    async with engine.connect() as conn:
        found = await conn.execute(select(AuditCheckpoint.seq, AuditCheckpoint.at).order_by("seq"))
        return [(int(seq), at) for seq, at in found]


async def test_the_timer_signs_each_minute_with_new_entries_and_at_shutdown(
    engine: AsyncEngine,
) -> None:
    with pytest.raises(RuntimeError, match="signing key"):
        AuditLog(engine).start_timer()
    hands, ticks = Hands(), Ticks()
    log = AuditLog(engine, signer=SIGNER, clock=hands)
    log.start_timer(ticks)
    await ticks.ready()
    await ticks.tick()  # nothing written yet: nothing to sign
    for number in (1, 2, 3):
        await log.append(event(number))
    hands.now = NOW + timedelta(minutes=1)
    await ticks.tick()
    assert await checkpoints(engine) == [(3, NOW + timedelta(minutes=1))]
    hands.now = NOW + timedelta(minutes=2)
    await ticks.tick()  # a minute without new entries signs nothing
    assert await checkpoints(engine) == [(3, NOW + timedelta(minutes=1))]
    await log.append(event(4))
    hands.now = NOW + timedelta(minutes=2, seconds=30)
    await log.close()  # shutdown signs what the last minute added
    assert await checkpoints(engine) == [
        (3, NOW + timedelta(minutes=1)),
        (4, NOW + timedelta(minutes=2, seconds=30)),
    ]
    assert (await verify(engine, public_key=SIGNER.public_key)).checkpoints == 2


async def run_gateway(engine: AsyncEngine, entries: int, *, seconds: int = 2) -> None:
    """A gateway's log: an entry every ``seconds`` from NOW, the timer ticking each minute,
    no count checkpoint (every 1,000), closed (signed) after the last entry."""
    hands, ticks = Hands(), Ticks()
    log = AuditLog(engine, signer=SIGNER, clock=hands)
    log.start_timer(ticks)
    await ticks.ready()
    for number in range(1, entries + 1):
        hands.now = NOW + timedelta(seconds=seconds * number)
        await log.append(event(number, at=hands.now))
        if (seconds * number) % 60 == 0:
            await ticks.tick()
    await log.close()


def schedule(now: datetime, every: int = 1000, batch: int = 500) -> Schedule:
    return Schedule(every=every, batch=batch, now=now)


LATER = NOW + timedelta(days=3)


async def test_a_rewrite_before_any_count_checkpoint_is_caught_and_its_entry_named(
    engine: AsyncEngine,
) -> None:
    """The demo's case: 265 entries, checkpoints every 1,000. The minute checkpoints catch an
    edited entry whose later hashes were recomputed, and name it."""
    await run_gateway(engine, 265)
    # entries every 2 s: signed at 30, 60, … 240 (each minute) and 265 (shutdown)
    assert [seq for seq, _ in await checkpoints(engine)] == [
        30,
        60,
        90,
        120,
        150,
        180,
        210,
        240,
        265,
    ]
    assert (await verify(engine, public_key=SIGNER.public_key, schedule=schedule(LATER))).ok
    await rewrite(engine, 100, rows=0)
    result = await verify(engine, public_key=SIGNER.public_key, schedule=schedule(LATER))
    assert (result.ok, result.first_broken) == (False, 100)
    assert result.reason == (
        "entry 100 was rewritten: checkpoint 120 signed another hash for it "
        "(the entries after it were re-hashed to hide the change)"
    )


async def test_deleted_checkpoints_are_missing_checkpoints(engine: AsyncEngine) -> None:
    await run_gateway(engine, 265)
    await tamper(engine, "DELETE FROM audit_checkpoints WHERE seq < 265")
    result = await verify(engine, schedule=schedule(LATER))
    # Entry 1 (NOW + 2 s) is vouched for by nothing earlier than 265 (NOW + 530 s): > 5 min.
    assert (result.ok, result.first_broken) == (False, 1)
    assert result.reason == (
        "checkpoints are missing: entry 1 (2026-06-01T12:00:02+00:00) was not signed in time "
        "(the next checkpoint, at 265, is from 2026-06-01T12:08:50+00:00; "
        "one is due within 5 minutes)"
    )
    await tamper(engine, "DELETE FROM audit_checkpoints")
    result = await verify(engine, schedule=schedule(LATER))
    assert (result.ok, result.first_broken) == (False, 1)
    assert result.reason == (
        "checkpoints are missing: entry 1 (2026-06-01T12:00:02+00:00) has none, and one was "
        "due within 5 minutes (verified at 2026-06-04T12:00:00+00:00)"
    )


async def test_a_deleted_count_checkpoint_is_missing(engine: AsyncEngine) -> None:
    await fill(engine, 30, every=10)  # one entry a batch: a checkpoint at 10, 20 and 30
    now = NOW + timedelta(seconds=31)
    assert (await verify(engine, schedule=schedule(now, every=10, batch=1))).ok
    await tamper(engine, "DELETE FROM audit_checkpoints WHERE seq = 20")
    result = await verify(engine, schedule=schedule(now, every=10, batch=1))
    assert (result.ok, result.first_broken) == (False, 11)
    assert result.reason == (
        "checkpoints are missing: none vouches for entries 11 to 21 "
        "(one is signed at least every 10 entries)"
    )
    # A batch of up to 500 may carry the count past 10 before the writer signs: allowed.
    assert (await verify(engine, schedule=schedule(now, every=10, batch=500))).ok


async def test_only_the_newest_entries_may_wait_for_their_checkpoint(engine: AsyncEngine) -> None:
    await fill(engine, 10)  # signed at close: entry 10, NOW + 10 s
    log = AuditLog(engine)  # a process without the key, or killed before it could sign
    for number in (11, 12):
        await log.append(event(number))  # NOW + 11 s, 12 s
    await log.close()
    within = NOW + timedelta(seconds=11, minutes=5)  # entry 11 is exactly 5 minutes old
    assert (await verify(engine, schedule=schedule(within))).ok
    result = await verify(engine, schedule=schedule(within + timedelta(microseconds=1)))
    assert (result.ok, result.first_broken) == (False, 11)
    assert result.reason is not None and result.reason.startswith(
        "checkpoints are missing: entry 11 (2026-06-01T12:00:11+00:00) has none"
    )


def test_published_heads_beyond_the_log_show_its_tail_was_cut() -> None:
    rows = chain([event(n) for n in range(1, 6)])
    head = Head(7, "ab" * 32, SIGNER.public_key, SIGNER.sign("ab" * 32))
    result = check(rows, heads=(head,))
    assert (result.ok, result.first_broken) == (False, 6)
    assert (
        result.reason
        == "entries after 5 are missing: the head published for entry 7 vouches for it"
    )
    at_five = Head(5, rows[4]["hash"], SIGNER.public_key, SIGNER.sign(rows[4]["hash"]))
    assert check(rows, heads=(at_five,)).heads == 1
    forged = Head(5, rows[4]["hash"], SIGNER.public_key, SIGNER.sign("cd" * 32))
    assert check(rows, heads=(forged,)).reason == (
        "the head published for entry 5: signature invalid"
    )


# --- prune ------------------------------------------------------------------------------------


async def test_prune_keeps_the_retention_and_the_rest_still_verifies(engine: AsyncEngine) -> None:
    log = AuditLog(engine, signer=SIGNER, checkpoint_every=10)
    start = NOW - timedelta(days=200)
    for day in range(1, 41):  # entry n is (200 - n) days old: 1 to 19 are past 180 days
        await log.append(event(day, at=start + timedelta(days=day)))
    await log.close()
    cutoff = NOW - timedelta(days=180)
    with pytest.raises(PruneRefused, match="180"):
        await prune_log(engine, retention_days=179, now=NOW)
    assert await prune_log(engine, retention_days=180, now=NOW) == 10  # up to checkpoint 10
    async with engine.connect() as conn:
        first, young = (
            await conn.execute(
                select(func.min(AuditEntry.seq), func.count()).where(AuditEntry.at >= cutoff)
            )
        ).one()
        kept = await conn.scalar(select(func.min(AuditEntry.seq)))
    assert (kept, first, young) == (11, 20, 21)  # nothing within 180 days was touched
    assert await prune_log(engine, retention_days=180, now=NOW) == 0  # 11-19: no checkpoint
    result = await verify(engine, public_key=SIGNER.public_key)
    assert result.ok and result.entries == 30, result.reason
    with pytest.raises(DBAPIError, match="append-only"):  # the guard is back
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM audit_log WHERE seq = 11"))
    # Much later everything is old: all of it goes, and the chain carries on from checkpoint 40.
    assert await prune_log(engine, retention_days=180, now=NOW + timedelta(days=365)) == 30
    log = AuditLog(engine)
    assert await log.append(event(41)) == 41
    await log.close()
    result = await verify(engine, public_key=SIGNER.public_key)
    assert result.ok and result.entries == 1, result.reason


async def test_verify_refuses_a_chain_cut_where_no_checkpoint_vouches(engine: AsyncEngine) -> None:
    await fill(engine, 25, every=10)
    await tamper(engine, "DELETE FROM audit_log WHERE seq <= 14")
    result = await verify(engine)
    assert (result.ok, result.first_broken) == (False, 11)
    assert result.reason == (
        "entries 11 to 14 are missing (the log starts at 15 and no checkpoint at 14 vouches for it)"
    )


# --- the chain checker, as a property -----------------------------------------------------------

_text = st.text(st.characters(codec="utf-8"), max_size=12)
_hex64 = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)
_json = st.dictionaries(_text, st.integers(-(2**63), 2**63 - 1) | _text | st.none(), max_size=3)
_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "seq": st.integers(1, 10**9),
    "at": st.datetimes(timezones=st.just(UTC)),
    "actor": _text,
    "party_code": st.none() | _text,
    "event": _text,
    "operation": st.none() | _text,
    "resources": st.lists(_text, max_size=3),
    "providers": st.lists(_text, max_size=3),
    "rows": st.integers(0, 2**31),
    "variables_hash": st.none() | _hex64,
    "outcome": _text,
    "detail": _json,
    "request_id": st.none() | _text,
    "prev_hash": _hex64,
    "hash": _hex64,
}
_events = st.builds(
    AuditEvent,
    actor=_text,
    event=_text,
    outcome=_text,
    party_code=st.none() | _text,
    resources=st.lists(_text, max_size=3).map(tuple),
    rows=st.integers(0, 2**31),
    detail=_json,
    at=st.datetimes(timezones=st.just(UTC)),
)


def test_every_column_has_a_strategy() -> None:
    assert set(_VALUES) == {c.name for c in AuditEntry.__table__.columns}


def chain(events: list[AuditEvent]) -> list[dict[str, Any]]:
    rows, prev_hash = [], GENESIS
    for seq, item in enumerate(events, start=1):
        rows.append(seal(entry_fields(item), seq=seq, prev_hash=prev_hash))
        prev_hash = rows[-1]["hash"]
    return rows


def check(
    rows: list[dict[str, Any]],
    checkpoints: tuple[Checkpoint, ...] = (),
    heads: tuple[Head, ...] = (),
) -> Verification:
    checker = ChainChecker(checkpoints, heads=heads)
    for row in rows:
        if not checker.feed(row):
            break
    return checker.result()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_events, min_size=1, max_size=6), st.data())
def test_any_single_field_edit_of_any_entry_is_detected(
    events: list[AuditEvent], data: st.DataObject
) -> None:
    rows = chain(events)
    assert check(rows).ok
    index = data.draw(st.integers(0, len(rows) - 1), label="entry")
    column = data.draw(st.sampled_from(sorted(_VALUES)), label="column")
    value = data.draw(_VALUES[column], label="new value")
    assume(value != rows[index][column])
    rows[index][column] = value
    result = check(rows)
    assert not result.ok
    assert result.first_broken == index + 1, result.reason


def test_entry_hash_covers_seq_and_prev_hash_and_formats_instants_in_utc() -> None:
    fields = entry_fields(event(1))
    assert entry_hash(GENESIS, 1, fields) != entry_hash(GENESIS, 2, fields)
    assert entry_hash(GENESIS, 1, fields) != entry_hash("1" * 64, 1, fields)
    shanghai = fields | {"at": fields["at"].astimezone(ZoneInfo("Asia/Shanghai"))}
    assert entry_hash(GENESIS, 1, fields) == entry_hash(GENESIS, 1, shanghai)  # same instant
    assert variables_hash(None) is None and variables_hash({}) is None
    assert variables_hash({"a": 1, "b": 2}) == variables_hash({"b": 2, "a": 1})


# --- keys -------------------------------------------------------------------------------------


def test_signatures_verify_only_for_their_hash_and_key() -> None:
    head = "12" * 32
    signature = SIGNER.sign(head)
    assert verify_signature(SIGNER.public_key, head, signature)
    assert not verify_signature(SIGNER.public_key, "13" * 32, signature)
    assert not verify_signature(Signer.new().public_key, head, signature)
    assert not verify_signature(SIGNER.public_key, head, "0" * 128)  # r = s = 0
    assert not verify_signature(SIGNER.public_key, head, "zz" * 64)
    # One bit of x flipped: (x', y) is not on the curve. ("04" + key[2:] was the same key
    # whenever x began with 04, one key in 256.)
    moved = f"{int(SIGNER.public_key[:2], 16) ^ 1:02x}" + SIGNER.public_key[2:]
    assert not verify_signature(moved, head, signature)


def test_key_files_are_private_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "audit.json"
    signer = Signer.generate(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Signer.load(path).public_key == signer.public_key
    assert orjson.loads(path.read_bytes())["public_key"] == signer.public_key
    with pytest.raises(AuditKeyError, match="refusing to overwrite"):
        Signer.generate(path)
    assert Signer.load(path).public_key == signer.public_key
    path.write_text('{"private_key": "00", "public_key": "00"}')
    with pytest.raises(AuditKeyError, match=str(path)):
        Signer.load(path)


def test_signer_for_reads_the_configured_file_or_makes_a_development_key(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(AuditKeyError, match=f"{missing}.*jianguan audit keygen --output"):
        signer_for(Settings(var_dir=tmp_path, audit_key_file=missing))
    with pytest.raises(AuditKeyError, match="JIANGUAN_AUDIT_KEY_FILE must be set"):
        signer_for(Settings(var_dir=tmp_path, environment="production"))
    first = signer_for(Settings(var_dir=tmp_path))
    assert (tmp_path / "audit-signing-key.json").exists()
    assert signer_for(Settings(var_dir=tmp_path)).public_key == first.public_key


# --- the command line -------------------------------------------------------------------------


def run_async(work: Callable[[AsyncEngine], Awaitable[Any]], url: str) -> Any:
    async def go() -> Any:
        engine = create_engine(url)
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def test_cli_verify_checkpoint_keygen_and_prune(gateway_url: str, tmp_path: Path) -> None:
    key = tmp_path / "key.json"
    env = {
        "JIANGUAN_DATABASE_URL": gateway_url,
        "JIANGUAN_VAR_DIR": str(tmp_path / "var"),
        "JIANGUAN_AUDIT_KEY_FILE": str(key),
    }
    result = runner.invoke(audit_app, ["checkpoint"], env=env)
    assert result.exit_code == 2 and "jianguan audit keygen" in result.output
    result = runner.invoke(audit_app, ["keygen", "--output", str(key)], env=env)
    assert result.exit_code == 0, result.output
    assert runner.invoke(audit_app, ["keygen", "--output", str(key)], env=env).exit_code == 1
    run_async(lambda engine: fill(engine, 12, signer=None), gateway_url)
    after = Clock(now=lambda: NOW + timedelta(seconds=20))  # entries at NOW + 1 … 12 s
    result = runner.invoke(audit_app, ["checkpoint"], env=env, obj=after)
    assert result.exit_code == 0 and "checkpoint at 12" in result.output, result.output
    result = runner.invoke(audit_app, ["verify"], env=env, obj=after)
    assert result.exit_code == 0, result.output
    assert "12 entries and 1 signed checkpoints" in result.output
    result = runner.invoke(audit_app, ["prune", "--retention-days", "100"], env=env)
    assert result.exit_code == 2 and "180" in result.output
    # The entries were written at NOW; prune runs on a clock the test sets, not today's date.
    soon = Clock(now=lambda: NOW + timedelta(days=1))
    result = runner.invoke(audit_app, ["prune"], env=env, obj=soon)
    assert result.exit_code == 0 and "0 audit entries" in result.output, result.output

    edit = "UPDATE audit_log SET actor = 'x' WHERE seq = 3"
    run_async(lambda engine: tamper(engine, edit), gateway_url)
    result = runner.invoke(audit_app, ["verify"], env=env, obj=after)
    assert result.exit_code == 1
    assert "broken at 3" in result.output and "entry 3 was altered" in result.output


def test_cli_rejects_bad_settings() -> None:
    result = runner.invoke(audit_app, ["verify"], env={"JIANGUAN_AUDIT_RETENTION_DAYS": "30"})
    assert result.exit_code == 2 and "RETENTION" in result.output


# --- a witness outside the database: published heads -----------------------------------------


async def two_days(engine: AsyncEngine, signer: Signer) -> None:
    """Entries 1-20 on 1 June (Beijing), 20 s apart, signed at 10 and 20; entries 21-30 on
    2 June, signed at close (30). NOW is 20:00 in Beijing; 2 June begins four hours later."""
    hands = Hands()
    log = AuditLog(engine, signer=signer, clock=hands)
    for number in range(1, 31):
        seconds = 20 * number + (0 if number <= 20 else 5 * 3600)
        hands.now = NOW + timedelta(seconds=seconds)
        await log.append(event(number, at=hands.now))
        if number in (10, 20):
            await log.checkpoint()
    await log.close()


async def resign(engine: AsyncEngine, signer: Signer) -> None:
    """Sign every checkpoint anew over the (rewritten) chain: the holder of the key's rewrite."""
    async with engine.connect() as conn:
        hashes = dict((await conn.execute(select(AuditEntry.seq, AuditEntry.hash))).all())
        seqs = (await conn.execute(select(AuditCheckpoint.seq).order_by("seq"))).scalars().all()
    statements, previous = [], 0
    for seq in seqs:
        trail = "".join(hashes[n][:TRAIL_DIGITS] for n in range(previous + 1, seq + 1))
        statements.append(
            f"UPDATE audit_checkpoints SET head_hash = '{hashes[seq]}', "
            f"signature = '{signer.sign(hashes[seq])}', trail = '{trail}', "
            f"trail_signature = '{signer.sign(trail_digest(seq, trail))}' WHERE seq = {seq}"
        )
        previous = seq
    await tamper(engine, *statements)


@contextmanager
def served(root: Path) -> Iterator[str]:
    """``root`` over real HTTP on a free local port, as a portal would serve the files."""
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)  # listening once constructed
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_published_heads_catch_a_rewrite_the_database_hides(
    gateway_url: str, tmp_path: Path
) -> None:
    key = tmp_path / "key.json"
    signer = Signer.generate(key)
    env = {
        "JIANGUAN_DATABASE_URL": gateway_url,
        "JIANGUAN_VAR_DIR": str(tmp_path / "var"),
        "JIANGUAN_AUDIT_KEY_FILE": str(key),
    }
    run_async(lambda engine: two_days(engine, signer), gateway_url)
    portal = tmp_path / "portal"
    args = ["publish", "--dataset", "audit-chain-heads", "--target", f"dir:{portal}"]
    done = runner.invoke(cli_app, args, env=env)
    assert done.exit_code == 0, done.output
    release = portal / "audit-chain-heads"
    metadata = orjson.loads((release / "metadata.json").read_bytes())
    assert metadata["title"] == "监管系统审计日志签名链头（每日）"
    assert {f["id"]: f["label"] for f in metadata["fields"]}["head_hash"] == "链头哈希（SM3）"
    with (release / "data.csv").open(encoding="utf-8") as file:
        published = list(csv.DictReader(file))
    # 1 June is over (a checkpoint of 2 June exists): its last head, 20. 2 June is not yet.
    assert [row["seq"] for row in published] == ["20"]
    stored = run_async(lambda engine: checkpoints_by_seq(engine), gateway_url)
    assert published[0]["head_hash"] == stored[20]["head_hash"]
    assert published[0]["signature"] == stored[20]["signature"]
    assert set(published[0]) == {"record_id", "seq", "at", "head_hash", "public_key", "signature"}

    later = Clock(now=lambda: LATER)
    against = ["verify", "--against", str(release / "data.csv")]
    intact = runner.invoke(audit_app, against, env=env, obj=later)
    assert intact.exit_code == 0, intact.output
    assert "and 1 published heads" in " ".join(intact.output.split())

    run_async(lambda engine: rewrite(engine, 5, rows=0), gateway_url)
    run_async(lambda engine: resign(engine, signer), gateway_url)
    alone = runner.invoke(audit_app, ["verify"], env=env, obj=later)
    assert alone.exit_code == 0, alone.output  # the database agrees with itself: hence a witness
    expected = (
        "entry 20 does not match the head published for it: entries 1 to 20 were rewritten "
        "(and the database's checkpoints with them)"
    )
    for against in (str(release / "data.csv"), str(release)):
        caught = runner.invoke(audit_app, ["verify", "--against", against], env=env, obj=later)
        assert caught.exit_code == 1, caught.output
        assert "broken at 1:" in caught.output
        assert expected in " ".join(caught.output.split())
    with served(portal) as url:
        remote = f"{url}/audit-chain-heads/data.json"
        caught = runner.invoke(audit_app, ["verify", "--against", remote], env=env, obj=later)
        assert caught.exit_code == 1, caught.output
        assert expected in " ".join(caught.output.split())
        missing = runner.invoke(
            audit_app, ["verify", "--against", f"{url}/nope.csv"], env=env, obj=later
        )
        assert missing.exit_code == 2
        assert "nope.csv answered HTTP 404" in " ".join(missing.output.split())


async def checkpoints_by_seq(engine: AsyncEngine) -> dict[int, dict[str, Any]]:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(AuditCheckpoint.__table__))).mappings().all()
    return {int(row["seq"]): dict(row) for row in rows}


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        (b"seq,head_hash,public_key,signature\n1,zz,00,00\n", "line 2: head_hash must be 64 hex"),
        (b'{"seq": 0, "head_hash": "x", "public_key": "y", "signature": "z"}\n', "line 1: seq"),
        (b"seq,head_hash\n1,aa\n", "line 2: missing public_key, signature"),
        (b"[1, 2]", "item 1: not an object"),
        (b"\xff\xfe", "is not UTF-8 text"),
    ],
)
def test_verify_against_a_bad_file_names_it_and_the_row(
    tmp_path: Path, body: bytes, complaint: str
) -> None:
    heads = tmp_path / "heads.csv"
    heads.write_bytes(body)
    env = {"JIANGUAN_VAR_DIR": str(tmp_path / "var")}
    result = runner.invoke(audit_app, ["verify", "--against", str(heads)], env=env)
    assert result.exit_code == 2
    assert f"{heads}" in result.output.replace("\n", "")
    assert complaint in " ".join(result.output.split())
