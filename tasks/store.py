"""Tasks kept in the gateway database: every change in one transaction with its record.

A change (issue, deliver, claim, start, finish, return, reassign, escalate, reissue, open)
writes, in **one** transaction: the task row (``UPDATE … WHERE seq = :seq AND version = :v``;
no row means someone else changed it first: ``ConcurrentChange``), its move row (the history,
with the note, reason and attachments), an audit-log entry (``audit.within``), the signed
receipts that name that entry's place in the chain, and an outbox event (``task.issued``,
``task.delivered``, ``task.claimed`` …, aggregate ``task:<id>``, resource ``tasks``, provider the
issuer). Either all of it is kept or
none of it.

Delivery (``deliver``) writes one receipt per recipient: the task has reached their inboxes.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from audit.keys import Signer
from audit.log import write_transaction
from audit.within import append_within
from standard.workdays import WorkCalendar, aware, shanghai_date
from tasks import deadlines
from tasks.errors import ConcurrentChange, InvalidTask
from tasks.lifecycle import Action, Actor, Attachment, State, Task, move
from tasks.receipts import Event
from tasks.record import (
    audit_event,
    check_recipients,
    existing,
    record_change,
    set_recipients,
    write_receipt,
)
from tasks.rows import RECEIPTS, TASKS, Stored, attachments_json

ISSUE = "issue"  # the move row and event of a new task (not an ``Action``: nothing precedes it)
OPEN = "open"  # a recipient opened it: a receipt, no new version


def _system_now() -> datetime:
    return datetime.now(UTC)


class TaskStore:
    """Issues tasks and moves them through their life cycle; ``clock`` gives every instant."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        signer: Signer,
        calendar: WorkCalendar,
        clock: Callable[[], datetime] = _system_now,
    ) -> None:
        self.engine = engine
        self.signer = signer
        self.calendar = calendar
        self.clock = clock

    async def issue(
        self,
        *,
        by: Actor,
        title: str,
        recipients: Sequence[str],
        subjects: Sequence[str],
        matters: Sequence[str],
        legal_basis: str,
        deadline_working_days: int,
        attachments: Sequence[Attachment] = (),
        assignees: Sequence[str] = (),
        note: str | None = None,
        within: Callable[[AsyncConnection, int], Awaitable[None]] | None = None,
    ) -> Stored:
        """A new task from ``by``'s party (state issued, version 1); ``deliver`` sends it.
        ``assignees`` names the officers who handle it; a department may send a task to itself
        only so, assigning its own officers (a random inspection's drawn inspectors).
        ``within`` runs in the issuing transaction with the new row's seq (a link to what the
        task came from, kept or lost with it)."""
        now = aware(self.clock())
        task = Task(
            id=f"T-{shanghai_date(now):%Y%m%d}-{secrets.token_hex(4)}",
            title=title.strip(),
            issuer=by.party,
            recipients=tuple(recipients),
            subjects=tuple(subjects),
            matters=tuple(matters),
            legal_basis=legal_basis.strip(),
            issued_at=now,
            deadline_working_days=deadline_working_days,
            attachments=tuple(attachments),
            assignees=tuple(assignees),
        )
        if len(task.title) > 200:
            raise InvalidTask("title", "不能超过 200 个字符", "at most 200 characters")
        if by.party in task.recipients and not task.assignees:
            raise InvalidTask(
                "recipients",
                "不能下达给本部门（本部门任务须指定承办人员）",
                "a party cannot send itself a task, except to officers it names",
            )
        due = deadlines.due_of(self.calendar, task)
        async with write_transaction(self.engine) as conn:
            await check_recipients(conn, task.recipients)
            seq = await conn.scalar(
                insert(TASKS)
                .values(
                    id=task.id,
                    title=task.title,
                    issuer=task.issuer,
                    subjects=list(task.subjects),
                    matters=list(task.matters),
                    legal_basis=task.legal_basis,
                    attachments=attachments_json(task.attachments),
                    issued_at=now,
                    deadline_working_days=task.deadline_working_days,
                    due_at=due.at,
                    due_provisional=due.provisional,
                    state=task.state.value,
                    version=task.version,
                    assignees=list(task.assignees),
                    acts=[],
                    created_by=by.officer,
                    updated_at=now,
                )
                .returning(TASKS.c.seq)
            )
            assert seq is not None  # noqa: S101  # RETURNING of an INSERT gives its key
            await set_recipients(conn, seq, task.recipients)
            if within is not None:
                await within(conn, seq)
            await record_change(
                conn,
                seq=seq,
                before=None,
                after=task,
                action=ISSUE,
                by=by,
                now=now,
                note=note,
                attachments=attachments,
            )
            return await self._reread(conn, task.id, ())

    async def deliver(self, task_id: str, *, by: Actor, expected_version: int) -> Stored:
        """Into the recipients' inboxes: one delivery receipt each."""
        return await self._move(task_id, Action.DELIVER, by, expected_version)

    async def claim(self, task_id: str, *, by: Actor, expected_version: int) -> Stored:
        """认领: ``by`` takes the task for their department; of two at once, one wins."""
        return await self._move(task_id, Action.CLAIM, by, expected_version)

    async def start(
        self,
        task_id: str,
        *,
        by: Actor,
        expected_version: int,
        note: str | None = None,
        attachments: Sequence[Attachment] = (),
    ) -> Stored:
        """办理: handling begins, with a note and attachments if any."""
        return await self._move(
            task_id, Action.START, by, expected_version, note=note, attachments=attachments
        )

    async def finish(
        self,
        task_id: str,
        *,
        by: Actor,
        expected_version: int,
        result: str,
        acts: Sequence[str] = (),
        note: str | None = None,
        attachments: Sequence[Attachment] = (),
    ) -> Stored:
        """办结: done, with the result and the regulatory acts it produced."""
        return await self._move(
            task_id,
            Action.FINISH,
            by,
            expected_version,
            note=note,
            attachments=attachments,
            result=result,
            acts=tuple(acts),
        )

    async def return_(
        self, task_id: str, *, by: Actor, expected_version: int, reason: str
    ) -> Stored:
        """退回, with the reason."""
        return await self._move(task_id, Action.RETURN, by, expected_version, reason=reason)

    async def reassign(
        self,
        task_id: str,
        *,
        by: Actor,
        expected_version: int,
        assignees: Sequence[str] | None = None,
        recipients: Sequence[str] | None = None,
        reason: str | None = None,
    ) -> Stored:
        """改派 to other officers, or (the city office only) to other departments."""
        return await self._move(
            task_id,
            Action.REASSIGN,
            by,
            expected_version,
            reason=reason,
            assignees=None if assignees is None else tuple(assignees),
            recipients=None if recipients is None else tuple(recipients),
        )

    async def escalate(
        self, task_id: str, *, by: Actor, expected_version: int, reason: str
    ) -> Stored:
        """上报 to the city office, with the reason."""
        return await self._move(task_id, Action.ESCALATE, by, expected_version, reason=reason)

    async def reissue(self, task_id: str, *, by: Actor, expected_version: int) -> Stored:
        """重新下达 a returned task; ``deliver`` sends it again."""
        return await self._move(task_id, Action.REISSUE, by, expected_version)

    async def open(self, task_id: str, *, by: Actor) -> Stored:
        """查阅: the first time staff of a recipient open the task, their party's receipt."""
        now = aware(self.clock())
        async with self.engine.connect() as conn:  # most looks are not the first: no lock
            stored = await existing(conn, task_id)
            if not await _opens(conn, stored, by):
                return stored
        async with write_transaction(self.engine) as conn:
            stored = await existing(conn, task_id)
            if not await _opens(conn, stored, by):  # opened meanwhile by a colleague
                return stored
            task = stored.task
            position = await append_within(conn, audit_event(task, OPEN, by, now, task.state))
            document = await write_receipt(
                conn,
                self.signer,
                seq=stored.seq,
                task=task,
                event=Event.OPENED,
                recipient=by.party,
                actor=by.officer,
                now=now,
                position=position,
            )
            return await self._reread(conn, task_id, (document,))

    async def _move(
        self,
        task_id: str,
        action: Action,
        by: Actor,
        expected_version: int,
        *,
        note: str | None = None,
        attachments: Sequence[Attachment] = (),
        **details: Any,
    ) -> Stored:
        now = aware(self.clock())
        async with write_transaction(self.engine) as conn:
            stored = await existing(conn, task_id)
            before = stored.task
            after = move(before, action, by=by, expected_version=expected_version, **details)
            if after.recipients != before.recipients:
                await check_recipients(conn, after.recipients)
            changed = await conn.execute(
                update(TASKS)
                .where(TASKS.c.seq == stored.seq, TASKS.c.version == expected_version)
                .values(
                    state=after.state.value,
                    version=after.version,
                    assignees=list(after.assignees),
                    reason=after.reason,
                    result=after.result,
                    acts=list(after.acts),
                    updated_at=now,
                )
            )
            if changed.rowcount != 1:  # a concurrent change committed while we waited for it
                current = await conn.scalar(
                    select(TASKS.c.version).where(TASKS.c.seq == stored.seq)
                )
                raise ConcurrentChange(task_id, expected_version, int(current or 0))
            if after.recipients != before.recipients:
                await set_recipients(conn, stored.seq, after.recipients)
            position = await record_change(
                conn,
                seq=stored.seq,
                before=before,
                after=after,
                action=action.value,
                by=by,
                now=now,
                note=note,
                attachments=attachments,
            )
            documents = []
            event = Event.of(action)
            if action is Action.DELIVER:
                targets = [(p, Event.DELIVERED, "system") for p in after.recipients]
            else:
                targets = [(by.party, event, by.officer)]
                new = [p for p in after.recipients if p not in before.recipients]
                targets += [(p, Event.DELIVERED, "system") for p in new]
            for party, kind, actor in targets:
                document = await write_receipt(
                    conn,
                    self.signer,
                    seq=stored.seq,
                    task=after,
                    event=kind,
                    recipient=party,
                    actor=actor,
                    now=now,
                    position=position,
                )
                documents.append(document)
            return await self._reread(conn, task_id, tuple(documents))

    @staticmethod
    async def _reread(
        conn: AsyncConnection, task_id: str, documents: tuple[dict[str, Any], ...]
    ) -> Stored:
        return dataclasses.replace(await existing(conn, task_id), receipts=documents)


async def _opens(conn: AsyncConnection, stored: Stored, by: Actor) -> bool:
    """Whether ``by`` opening the task is their party's first look at it (once delivered)."""
    if by.party not in stored.task.recipients or stored.task.state is State.ISSUED:
        return False
    seen = select(RECEIPTS.c.id).where(
        RECEIPTS.c.task_seq == stored.seq,
        RECEIPTS.c.event == Event.OPENED.value,
        RECEIPTS.c.recipient == by.party,
    )
    return await conn.scalar(seen.limit(1)) is None
