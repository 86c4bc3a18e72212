"""What every change of a task writes besides the task row, in the change's own transaction:
the move row (the history), the audit entry, the outbox event, and the signed receipts that
name the audit entry's place in the chain."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from audit.keys import Signer
from audit.log import AuditEvent
from audit.within import Position, append_within
from events.outbox import Event as OutboxEvent
from events.outbox import record
from standard.tables.gateway import Party
from tasks.errors import InvalidTask, TaskNotFound
from tasks.lifecycle import Action, Actor, Attachment, State, Task
from tasks.receipts import Event, receipt_for, sign_receipt
from tasks.rows import MOVES, RECEIPTS, RECIPIENTS, Stored, attachments_json, by_id

RECIPIENT_KINDS = ("department", "city_office")
_REASONED = {Action.RETURN.value, Action.ESCALATE.value, Action.REASSIGN.value}
EVENT_NAMES = {"issue": "issued", **{a.value: Event.of(a).value for a in Action}}
"""Action → the past-tense name of its event; ``overdue`` names itself."""


def audit_event(
    task: Task, action: str, by: Actor, now: datetime, before: State | None
) -> AuditEvent:
    """The audit entry of ``action`` by ``by`` that left ``task`` as it is."""
    return AuditEvent(
        actor=by.officer,
        event=f"task.{action}",
        outcome="ok",
        party_code=by.party,
        resources=("tasks",),
        providers=(task.issuer,),
        rows=1,
        detail={
            "task": task.id,
            "version": task.version,
            "from": None if before is None else before.value,
            "to": task.state.value,
        },
        at=now,
    )


def outbox_event(
    task: Task, action: str, by: str, now: datetime, before: State | None
) -> OutboxEvent:
    """The event partner systems are told of: states and codes, never a person's data. Its
    kind says what happened, as receipts name it (``task.issued``, ``task.claimed``, …,
    ``task.overdue``), the form ``docs/events.md`` shows subscribers."""
    payload = {
        "task": task.id,
        "version": task.version,
        "action": action,
        "state": task.state.value,
        "from_state": None if before is None else before.value,
        "issuer": task.issuer,
        "recipients": list(task.recipients),
        "by": by,
        "at": now.astimezone(UTC).isoformat(),
    }
    kind = f"task.{EVENT_NAMES.get(action, action)}"
    # Tasks are seen by their own rule (tasks/access.py), not the policy's table scopes.
    audience = tuple(dict.fromkeys((task.issuer, *task.recipients)))
    return OutboxEvent(kind, f"task:{task.id}", "tasks", task.issuer, payload, audience)


async def record_change(
    conn: AsyncConnection,
    *,
    seq: int,
    before: Task | None,
    after: Task,
    action: str,
    by: Actor,
    now: datetime,
    note: str | None = None,
    attachments: Sequence[Attachment] = (),
) -> Position:
    """The audit entry, the move row and the outbox event of one change; the entry's place."""
    from_state = None if before is None else before.state
    position = await append_within(conn, audit_event(after, action, by, now, from_state))
    await conn.execute(
        insert(MOVES).values(
            task_seq=seq,
            version=after.version,
            action=action,
            from_state=None if from_state is None else from_state.value,
            to_state=after.state.value,
            actor=by.officer,
            party=by.party,
            at=now,
            note=note,
            reason=after.reason if action in _REASONED else None,
            attachments=attachments_json(attachments),
            audit_seq=position.seq,
        )
    )
    await record(conn, outbox_event(after, action, by.party, now, from_state), at=now)
    return position


async def write_receipt(
    conn: AsyncConnection,
    signer: Signer,
    *,
    seq: int,
    task: Task,
    event: Event,
    recipient: str,
    actor: str,
    now: datetime,
    position: Position,
) -> dict[str, Any]:
    """Sign and keep the receipt of ``event``; the document."""
    receipt = receipt_for(
        task,
        event=event,
        recipient=recipient,
        actor=actor,
        at=now,
        audit_seq=position.seq,
        audit_head=position.hash,
    )
    # ~5 ms of pure-Python SM2 each: off the event loop
    document = await asyncio.to_thread(sign_receipt, receipt, signer)
    await conn.execute(
        insert(RECEIPTS).values(
            task_seq=seq,
            task_version=task.version,
            event=event.value,
            recipient=recipient,
            at=now,
            audit_seq=position.seq,
            document=document,
        )
    )
    return document


async def existing(conn: AsyncConnection, task_id: str) -> Stored:
    """The task ``task_id``; ``TaskNotFound`` if there is none."""
    stored = await by_id(conn, task_id)
    if stored is None:
        raise TaskNotFound(task_id)
    return stored


async def check_recipients(conn: AsyncConnection, recipients: Sequence[str]) -> None:
    """Refuse recipients that are not enabled departments (or the city office)."""
    known = select(Party.code).where(
        Party.code.in_(recipients), Party.kind.in_(RECIPIENT_KINDS), Party.disabled.is_(False)
    )
    found = set((await conn.execute(known)).scalars())
    unknown = [p for p in recipients if p not in found]
    if unknown:
        raise InvalidTask(
            "recipients",
            f"{'、'.join(unknown)} 不是系统中的监管部门",
            f"{', '.join(unknown)}: no such department (or it is disabled)",
        )


async def set_recipients(conn: AsyncConnection, seq: int, recipients: Sequence[str]) -> None:
    """The inboxes task ``seq`` is in, in the order given."""
    await conn.execute(delete(RECIPIENTS).where(RECIPIENTS.c.task_seq == seq))
    await conn.execute(
        insert(RECIPIENTS),
        [{"task_seq": seq, "party": p, "position": i} for i, p in enumerate(recipients)],
    )
