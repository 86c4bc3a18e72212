"""The task store on PostgreSQL and SQLite: each change is kept whole (task row, move, audit
entry, receipts, outbox event) or not at all; two claims at once, exactly one wins; receipts
name the audit entry they were written with and verify offline."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from audit.log import AuditEvent, AuditLog
from audit.verify import verify
from standard.tables.gateway import AuditEntry, OutboxEvent, TaskMove, TaskReceipt
from tasks.errors import (
    ActorRefused,
    ConcurrentChange,
    DetailRequired,
    InvalidTask,
    TaskNotFound,
    TransitionRefused,
)
from tasks.lifecycle import Attachment, State
from tasks.receipts import Event, verify_receipt
from tasks.rows import Stored, moves_of, receipts_of
from tasks.store import TaskStore
from tests.tasks.conftest import SIGNER, START, Clock
from tests.tasks.samples import (
    CITY_STAFF,
    ISSUER,
    ISSUER_STAFF,
    MATTERS,
    OTHER_RECIPIENT_STAFF,
    OUTSIDER,
    RECIPIENT_STAFF,
    RECIPIENTS,
    SUBJECTS,
)

NOTES = Attachment("现场检查记录.pdf", 4096, "cd" * 32)


async def issued(store: TaskStore, **changes: Any) -> Stored:
    fields: dict[str, Any] = {
        "by": ISSUER_STAFF,
        "title": "春节前食品安全专项检查",
        "recipients": RECIPIENTS,
        "subjects": SUBJECTS,
        "matters": MATTERS,
        "legal_basis": "《中华人民共和国食品安全法》第一百一十条",
        "deadline_working_days": 3,
    }
    fields.update(changes)
    return await store.issue(**fields)


async def delivered(store: TaskStore) -> Stored:
    task = await issued(store)
    return await store.deliver(task.id, by=ISSUER_STAFF, expected_version=1)


async def counts(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        return {
            table.__tablename__: int(await conn.scalar(select(func.count()).select_from(table)))
            for table in (AuditEntry, TaskMove, TaskReceipt, OutboxEvent)
        }


async def audit_hash(engine: AsyncEngine, seq: int) -> str:
    async with engine.connect() as conn:
        return str(await conn.scalar(select(AuditEntry.hash).where(AuditEntry.seq == seq)))


async def test_the_whole_life_cycle_is_kept_step_by_step(
    store: TaskStore, engine: AsyncEngine, clock: Clock
) -> None:
    task = await issued(store, attachments=(NOTES,))
    assert (task.task.state, task.task.version, task.receipts) == (State.ISSUED, 1, ())
    # 12 February 2026 + 3 working days: 13th, 14th (a make-up Saturday), then the Spring
    # Festival off until the 24th; overdue from 25 February 00:00 Shanghai time.
    assert task.due_at.isoformat() == "2026-02-24T16:00:00+00:00"
    clock.advance(minutes=1)
    task = await store.deliver(task.id, by=ISSUER_STAFF, expected_version=1)
    assert task.task.state is State.DELIVERED
    assert sorted(d["receipt"]["recipient"] for d in task.receipts) == sorted(RECIPIENTS)
    clock.advance(hours=1)
    task = await store.claim(task.id, by=RECIPIENT_STAFF, expected_version=2)
    assert task.task.assignees == (RECIPIENT_STAFF.officer,)
    task = await store.start(
        task.id, by=RECIPIENT_STAFF, expected_version=3, note="已到现场", attachments=(NOTES,)
    )
    task = await store.finish(
        task.id, by=RECIPIENT_STAFF, expected_version=4, result="未发现问题", acts=("A-1",)
    )
    assert (task.task.state, task.task.version, task.task.result) == (State.DONE, 5, "未发现问题")
    assert task.task.acts == ("A-1",)
    async with engine.connect() as conn:
        history = await moves_of(conn, task.seq)
        receipts = await receipts_of(conn, task.seq)
        events = (await conn.execute(select(OutboxEvent).order_by(OutboxEvent.seq))).all()
    assert [m["action"] for m in history] == ["issue", "deliver", "claim", "start", "finish"]
    assert [m["version"] for m in history] == [1, 2, 3, 4, 5]
    assert history[3]["note"] == "已到现场"
    assert history[3]["attachments"] == [{"name": NOTES.name, "size": 4096, "sm3": "cd" * 32}]
    assert [e.kind for e in events] == [
        "task.issued",
        "task.delivered",
        "task.claimed",
        "task.started",
        "task.done",
    ]
    assert {(e.aggregate, e.resource, e.provider) for e in events} == {
        (f"task:{task.id}", "tasks", ISSUER)
    }
    # who a webhook may tell: the issuer and the recipients (the city office sees every task)
    assert {tuple(e.audience) for e in events} == {(ISSUER, *RECIPIENTS)}
    # Two delivery receipts, then one for each later step, each naming the audit entry
    # written with it; all verify with nothing but the public key.
    assert [r["receipt"]["event"] for r in receipts] == [
        "delivered",
        "delivered",
        "claimed",
        "started",
        "done",
    ]
    for document, step in zip(receipts, [1, 1, 2, 3, 4], strict=True):
        receipt = verify_receipt(document, SIGNER.public_key)
        assert receipt.audit_seq == history[step]["audit_seq"]
        assert receipt.audit_head == await audit_hash(engine, receipt.audit_seq)
    claimed_at = verify_receipt(receipts[2], SIGNER.public_key).at
    assert claimed_at == START + timedelta(hours=1, minutes=1)
    assert (await verify(engine)).ok


async def test_two_claims_at_once_exactly_one_wins(store: TaskStore, engine: AsyncEngine) -> None:
    task = await delivered(store)
    before = await counts(engine)
    results = await asyncio.gather(
        store.claim(task.id, by=RECIPIENT_STAFF, expected_version=2),
        store.claim(task.id, by=OTHER_RECIPIENT_STAFF, expected_version=2),
        return_exceptions=True,
    )
    won = [r for r in results if isinstance(r, Stored)]
    lost = [r for r in results if isinstance(r, ConcurrentChange)]
    assert (len(won), len(lost)) == (1, 1), results
    assert (lost[0].expected, lost[0].current) == (2, 3)
    after = await counts(engine)
    # exactly one claim was recorded: one move, one receipt, one event, one audit entry
    assert {k: after[k] - before[k] for k in after} == {
        "audit_log": 1,
        "task_moves": 1,
        "task_receipts": 1,
        "event_outbox": 1,
    }


async def test_a_refused_change_writes_nothing(store: TaskStore, engine: AsyncEngine) -> None:
    task = await delivered(store)
    before = await counts(engine)
    with pytest.raises(TransitionRefused) as refused:
        await store.finish(task.id, by=RECIPIENT_STAFF, expected_version=2, result="x")
    assert refused.value.state == "delivered"
    assert "已送达" in str(refused.value)
    with pytest.raises(ActorRefused):
        await store.claim(task.id, by=OUTSIDER, expected_version=2)
    with pytest.raises(DetailRequired):
        await store.return_(task.id, by=RECIPIENT_STAFF, expected_version=2, reason=" ")
    with pytest.raises(ConcurrentChange):
        await store.claim(task.id, by=RECIPIENT_STAFF, expected_version=1)
    with pytest.raises(TaskNotFound):
        await store.claim("T-00000000-nothing", by=RECIPIENT_STAFF, expected_version=1)
    # the city office reassigning to a department that does not exist fails after the
    # state check: the whole transaction goes
    claimed = await store.claim(task.id, by=RECIPIENT_STAFF, expected_version=2)
    middle = await counts(engine)
    with pytest.raises(InvalidTask) as invalid:
        await store.reassign(
            task.id, by=CITY_STAFF, expected_version=3, recipients=("XA-NONE",), reason="改派"
        )
    assert invalid.value.field == "recipients"
    assert await counts(engine) == middle
    assert {k: middle[k] - before[k] for k in middle} == {
        "audit_log": 1,
        "task_moves": 1,
        "task_receipts": 1,
        "event_outbox": 1,
    }
    assert claimed.task.version == 3


async def test_issue_refuses_unknown_or_own_recipients(
    store: TaskStore, engine: AsyncEngine
) -> None:
    before = await counts(engine)
    with pytest.raises(InvalidTask) as unknown:
        await issued(store, recipients=(RECIPIENTS[0], "XA-NONE"))
    assert "XA-NONE" in str(unknown.value)
    with pytest.raises(InvalidTask):
        await issued(store, recipients=("P-12345",))  # a partner platform is no department
    with pytest.raises(InvalidTask):
        await issued(store, recipients=(ISSUER,))
    with pytest.raises(InvalidTask):
        await issued(store, subjects=("916101004JURQ28309",))  # a wrong check character
    assert await counts(engine) == before


async def test_returned_reissued_and_reassigned_to_other_departments(store: TaskStore) -> None:
    task = await delivered(store)
    task = await store.return_(task.id, by=RECIPIENT_STAFF, expected_version=2, reason="非本辖区")
    assert (task.task.state, task.task.reason) == (State.RETURNED, "非本辖区")
    assert task.receipts[0]["receipt"]["reason"] == "非本辖区"
    task = await store.reissue(task.id, by=ISSUER_STAFF, expected_version=3)
    task = await store.deliver(task.id, by=ISSUER_STAFF, expected_version=4)
    task = await store.escalate(task.id, by=RECIPIENT_STAFF, expected_version=5, reason="跨部门")
    task = await store.reassign(
        task.id,
        by=CITY_STAFF,
        expected_version=6,
        recipients=(OUTSIDER.party,),
        reason="由税务部门承办",
    )
    assert task.task.recipients == (OUTSIDER.party,)
    events = [(d["receipt"]["event"], d["receipt"]["recipient"]) for d in task.receipts]
    assert events == [("reassigned", CITY_STAFF.party), ("delivered", OUTSIDER.party)]
    # the old recipients are out of it now, the new one may claim
    with pytest.raises(ActorRefused):
        await store.claim(task.id, by=RECIPIENT_STAFF, expected_version=7)
    task = await store.claim(task.id, by=OUTSIDER, expected_version=7)
    assert task.task.state is State.CLAIMED


async def test_opening_is_receipted_once_per_recipient(
    store: TaskStore, engine: AsyncEngine
) -> None:
    task = await issued(store)
    assert (await store.open(task.id, by=RECIPIENT_STAFF)).receipts == ()  # not delivered yet
    task = await store.deliver(task.id, by=ISSUER_STAFF, expected_version=1)
    first = await store.open(task.id, by=RECIPIENT_STAFF)
    assert [d["receipt"]["event"] for d in first.receipts] == [Event.OPENED.value]
    assert (await store.open(task.id, by=RECIPIENT_STAFF)).receipts == ()
    assert (await store.open(task.id, by=OUTSIDER)).receipts == ()  # not theirs to open
    assert first.task.version == 2  # opening is no new version
    async with engine.connect() as conn:
        assert len(await receipts_of(conn, task.seq)) == 3


async def test_the_chain_holds_when_changes_and_group_commits_interleave(
    store: TaskStore, engine: AsyncEngine
) -> None:
    log = AuditLog(engine)
    try:
        tasks = [await issued(store) for _ in range(3)]

        async def walk(task: Stored) -> None:
            t = await store.deliver(task.id, by=ISSUER_STAFF, expected_version=1)
            await store.claim(t.id, by=RECIPIENT_STAFF, expected_version=2)

        async def reads(n: int) -> None:
            for i in range(n):
                event = AuditEvent(actor="user:reader", event="read", outcome="ok", detail={"i": i})
                await log.append(event)

        await asyncio.gather(*(walk(t) for t in tasks), reads(10), reads(10))
    finally:
        await log.close()
    result = await verify(engine)
    assert result.ok, result
    assert result.entries == 3 * 3 + 20


async def test_a_department_sends_itself_a_task_only_to_officers_it_names(
    store: TaskStore,
) -> None:
    # Within a department a task is assigned to officers (issue 14 §2): a random inspection's
    # drawn inspectors. Without named officers, sending oneself a task stays refused (above).
    own = await issued(store, recipients=(ISSUER,), assignees=("61010012", "61010013"))
    assert own.task.assignees == ("61010012", "61010013")
    assert own.task.recipients == (ISSUER,)
    sent = await store.deliver(own.id, by=ISSUER_STAFF, expected_version=1)
    assert sent.task.state is State.DELIVERED
