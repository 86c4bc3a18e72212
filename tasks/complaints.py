"""A 12345 complaint dispatched to a department becomes that department's task (一处发现、多方联动).

The hotline dispatches a complaint by setting its status to ``dispatched`` and naming the
handling department (``handling_department_code``). ``task_from_complaint`` issues a task from
the hotline's party (the complaint's provider, who answers for it) to that department, and
delivers it, receipts and all; the link complaint → task is written in the same transaction
as the task, in the gateway's ``complaint_tasks`` (keyed by the complaint's exchange key).

Why a link table in the gateway database rather than a ``task_id`` column on ``complaints``:
that table is the hotline's exchange format, written by its pushes (a re-push of the same
record replaces the row), so a gateway column there would be lost or would refuse the push;
and the task lives in the gateway database, where the link can reference it.

Only what the task needs is read from the complaint: no personal field (the complainant, the
complaint's content) goes into the task, its receipts or its events.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from standard.codes import check_matter_code, check_uscc
from standard.errors import InputError, NotFound
from standard.tables.complaints import Complaint
from standard.tables.gateway import ComplaintTask
from tasks.lifecycle import MAX_DEADLINE_WORKING_DAYS, Actor
from tasks.rows import TASKS, Stored, fetch, tasks_query
from tasks.store import TaskStore

LINKS = cast(Table, ComplaintTask.__table__)
COMPLAINTS = cast(Table, Complaint.__table__)
DEFAULT_WORKING_DAYS = 5  # when the hotline promised no completion time
LEGAL_BASIS = "《西安市“互联网+监管”系统管理办法（试行）》；12345 热线派单"


class NotDispatched(InputError):
    """The complaint is not (or no longer) dispatched to a department."""

    def __init__(self, ticket_no: str, status: str, department: str | None) -> None:
        self.ticket_no = ticket_no
        self.status = status
        where = department or "无 / none"
        super().__init__(
            f"投诉 {ticket_no} 未派发至承办部门（状态：{status}，承办单位：{where}） / "
            f"complaint {ticket_no} is not dispatched to a department (status {status}, "
            f"handling department {where})"
        )


class NoSuchComplaint(NotFound):
    """No complaint of that provider has that ticket number."""

    def __init__(self, provider: str, ticket_no: str) -> None:
        self.ticket_no = ticket_no
        super().__init__(
            f"{provider} 没有办件编号为 {ticket_no} 的投诉 / "
            f"{provider} has no complaint {ticket_no}"
        )


@dataclass(frozen=True, slots=True)
class Dispatched:
    """What a task takes from a dispatched complaint."""

    provider: str
    cd_id: str
    ticket_no: str
    title: str
    department: str
    subject_uscc: str | None
    matter_code: str | None
    due_at: datetime | None


async def dispatched(complaints: AsyncEngine, *, provider: str, ticket_no: str) -> Dispatched:
    """The complaint ``ticket_no`` of ``provider`` (its newest record), if it is dispatched."""
    c = COMPLAINTS.c
    query = (
        select(
            c.provider, c.cd_id, c.ticket_no, c.title, c.handling_department_code, c.status,
            c.subject_uscc, c.matter_code, c.due_at,
        )
        .where(c.provider == provider, c.ticket_no == ticket_no, c.cd_operation != "d")
        .order_by(c.cd_time.desc(), c.id.desc())
        .limit(1)
    )  # fmt: skip
    async with complaints.connect() as conn:
        row = (await conn.execute(query)).first()
    if row is None:
        raise NoSuchComplaint(provider, ticket_no)
    if row.status != "dispatched" or not row.handling_department_code:
        raise NotDispatched(ticket_no, row.status, row.handling_department_code)
    return Dispatched(
        provider=row.provider,
        cd_id=row.cd_id,
        ticket_no=row.ticket_no,
        title=row.title,
        department=row.handling_department_code,
        subject_uscc=row.subject_uscc,
        matter_code=row.matter_code,
        due_at=row.due_at,
    )


async def task_of(store: TaskStore, *, provider: str, cd_id: str) -> Stored | None:
    """The task the complaint (``provider``, ``cd_id``) became, if it became one."""
    seq = select(LINKS.c.task_seq).where(LINKS.c.provider == provider, LINKS.c.cd_id == cd_id)
    query = tasks_query().where(TASKS.c.seq == seq.scalar_subquery())
    async with store.engine.connect() as conn:
        found = await fetch(conn, query)
    return found[0] if found else None


async def task_from_complaint(
    store: TaskStore, complaints: AsyncEngine, *, provider: str, ticket_no: str, officer: str
) -> tuple[Stored, bool]:
    """The task of a dispatched complaint, issued and delivered now if it is not one yet;
    and whether it was made by this call. Idempotent: a complaint becomes one task, however
    often (or concurrently) this runs. ``officer`` is who converts it (audited)."""
    complaint = await dispatched(complaints, provider=provider, ticket_no=ticket_no)
    existing = await task_of(store, provider=complaint.provider, cd_id=complaint.cd_id)
    if existing is not None:
        return existing, False
    by = Actor(officer=officer, party=complaint.provider)

    async def link(conn: AsyncConnection, seq: int) -> None:
        await conn.execute(
            insert(LINKS).values(
                provider=complaint.provider,
                cd_id=complaint.cd_id,
                ticket_no=complaint.ticket_no,
                task_seq=seq,
                linked_at=store.clock(),
            )
        )

    try:
        issued = await store.issue(
            by=by,
            title=f"【12345 转办】{complaint.title}"[:200],
            recipients=(complaint.department,),
            subjects=_valid(complaint.subject_uscc, check_uscc),
            matters=_valid(complaint.matter_code, check_matter_code),
            legal_basis=f"{LEGAL_BASIS} {complaint.ticket_no}",
            deadline_working_days=_working_days(store, complaint.due_at),
            note=f"由 12345 投诉 {complaint.ticket_no} 转为任务 / from complaint {ticket_no}",
            within=link,
        )
    except IntegrityError:  # converted meanwhile by another caller: that task stands
        again = await task_of(store, provider=complaint.provider, cd_id=complaint.cd_id)
        if again is None:
            raise
        return again, False
    return await store.deliver(issued.id, by=by, expected_version=issued.task.version), True


def _valid(code: str | None, check: Callable[[str], object | None]) -> tuple[str, ...]:
    # A code the hotline got wrong is left out of the task, not a reason to refuse the task.
    if code is None or check(code) is not None:
        return ()
    return (code,)


def _working_days(store: TaskStore, due_at: datetime | None) -> int:
    """The working days up to the hotline's promised completion (at least one)."""
    if due_at is None:
        return DEFAULT_WORKING_DAYS
    left = store.calendar.between(store.clock(), due_at).working_days
    return max(1, min(left, MAX_DEADLINE_WORKING_DAYS))
