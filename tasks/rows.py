"""Tasks as the gateway database keeps them: the rows read back into ``Task`` values.

One query for the tasks, one for their recipients, whatever the number of tasks read: a page of
an inbox costs two round trips.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, Table, and_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from standard.tables.gateway import TaskMove, TaskReceipt, TaskRecipient, TaskRow
from tasks.lifecycle import Attachment, State, Task

TASKS = cast(Table, TaskRow.__table__)
RECIPIENTS = cast(Table, TaskRecipient.__table__)
MOVES = cast(Table, TaskMove.__table__)
RECEIPTS = cast(Table, TaskReceipt.__table__)


@dataclass(frozen=True, slots=True)
class Stored:
    """A task as stored: the value, its row number (for cursors), its due instant."""

    seq: int
    task: Task
    due_at: datetime
    due_provisional: bool
    overdue_at: datetime | None  # when ``task.overdue`` was sent, if it was
    updated_at: datetime
    receipts: tuple[dict[str, Any], ...] = ()  # those the change just made wrote

    @property
    def id(self) -> str:
        return self.task.id

    @property
    def issuer(self) -> str:
        """Whose task it is: the provider of its events."""
        return self.task.issuer

    def overdue(self, now: datetime) -> bool:
        """Not done and past its due instant at ``now`` (the same rule as ``deadlines``)."""
        return not self.task.done and now >= self.due_at


def overdue_by(now: datetime) -> ColumnElement[bool]:
    """``Stored.overdue`` as a condition on ``tasks``: not done, due at or before ``now``."""
    return and_(TASKS.c.state != State.DONE.value, TASKS.c.due_at <= now)


def tasks_query() -> Select[Any]:
    """Every column of ``tasks``; callers add their conditions and order."""
    return select(TASKS)


async def fetch(conn: AsyncConnection, query: Select[Any]) -> list[Stored]:
    """The tasks ``query`` selects (from ``tasks_query``), in its order, with their recipients."""
    rows = (await conn.execute(query)).mappings().all()
    if not rows:
        return []
    seqs = [row["seq"] for row in rows]
    recipients: dict[int, list[str]] = defaultdict(list)
    found = select(RECIPIENTS.c.task_seq, RECIPIENTS.c.party).where(RECIPIENTS.c.task_seq.in_(seqs))
    for seq, party in (await conn.execute(found.order_by(RECIPIENTS.c.position))).all():
        recipients[seq].append(party)
    return [_stored(row, tuple(recipients[row["seq"]])) for row in rows]


async def by_id(conn: AsyncConnection, task_id: str) -> Stored | None:
    """The task ``task_id``, or None."""
    found = await fetch(conn, tasks_query().where(TASKS.c.id == task_id))
    return found[0] if found else None


def _stored(row: Any, recipients: tuple[str, ...]) -> Stored:
    task = Task(
        id=row["id"],
        title=row["title"],
        issuer=row["issuer"],
        recipients=recipients,
        subjects=tuple(row["subjects"]),
        matters=tuple(row["matters"]),
        legal_basis=row["legal_basis"],
        issued_at=row["issued_at"],
        deadline_working_days=row["deadline_working_days"],
        attachments=tuple(Attachment(**a) for a in row["attachments"]),
        assignees=tuple(row["assignees"]),
        state=State(row["state"]),
        version=row["version"],
        reason=row["reason"],
        result=row["result"],
        acts=tuple(row["acts"]),
    )
    return Stored(
        seq=row["seq"],
        task=task,
        due_at=row["due_at"],
        due_provisional=row["due_provisional"],
        overdue_at=row["overdue_at"],
        updated_at=row["updated_at"],
    )


def attachments_json(attachments: Sequence[Attachment]) -> list[dict[str, Any]]:
    """Attachments as the JSON columns keep them."""
    return [{"name": a.name, "size": a.size, "sm3": a.sm3} for a in attachments]


async def receipts_of(conn: AsyncConnection, seq: int) -> list[dict[str, Any]]:
    """The signed receipt documents of task ``seq``, oldest first."""
    query = select(RECEIPTS.c.document).where(RECEIPTS.c.task_seq == seq)
    return [dict(d) for d in (await conn.execute(query.order_by(RECEIPTS.c.id))).scalars()]


async def moves_of(conn: AsyncConnection, seq: int) -> list[dict[str, Any]]:
    """The history of task ``seq``: one mapping per version, oldest first."""
    return (await moves_of_many(conn, [seq]))[seq]


async def moves_of_many(
    conn: AsyncConnection, seqs: Sequence[int]
) -> dict[int, list[dict[str, Any]]]:
    """The histories of tasks ``seqs`` in one query, each oldest first."""
    query = select(MOVES).where(MOVES.c.task_seq.in_(seqs))
    found: dict[int, list[dict[str, Any]]] = {seq: [] for seq in seqs}
    for row in (await conn.execute(query.order_by(MOVES.c.task_seq, MOVES.c.version))).mappings():
        found[row["task_seq"]].append(dict(row))
    return found
