"""Reminders before the deadline, the overdue list, and marking tasks overdue once.

Overdue is derived (``deadlines``): not done, and ``now`` at or past the due instant stored
with the task when it was issued. These run as background jobs (scheduled elsewhere); ``now``
is always passed in.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from audit.log import AuditEvent, write_transaction
from audit.within import append_within
from events.outbox import record
from standard.workdays import WorkCalendar, aware
from tasks.deadlines import is_due_soon
from tasks.lifecycle import State
from tasks.record import outbox_event
from tasks.rows import TASKS, Stored, fetch, overdue_by, tasks_query

SYSTEM = "system"
OVERDUE = "overdue"


async def overdue(engine: AsyncEngine, *, now: datetime) -> list[Stored]:
    """Every task overdue at ``now``, the longest overdue first: the supervising office's list
    (who may see which of them is ``tasks.access``'s question)."""
    aware(now)
    query = tasks_query().where(overdue_by(now))
    async with engine.connect() as conn:
        return await fetch(conn, query.order_by(TASKS.c.due_at, TASKS.c.seq))


async def due_soon(
    engine: AsyncEngine,
    *,
    now: datetime,
    within: int | timedelta,
    calendar: WorkCalendar | None = None,
) -> list[Stored]:
    """Tasks not done nor overdue at ``now`` and due soon, the soonest first: with at most
    ``within`` working days left (an ``int``; 0: due today, counted with ``calendar``, which
    should be the one the tasks were issued under), or due within the duration ``within`` (a
    ``timedelta``: the reminder job's "due within a day")."""
    aware(now)
    query = tasks_query().where(TASKS.c.state != State.DONE.value, TASKS.c.due_at > now)
    if isinstance(within, timedelta):
        query = query.where(TASKS.c.due_at <= now + within)
    async with engine.connect() as conn:
        candidates = await fetch(conn, query.order_by(TASKS.c.due_at, TASKS.c.seq))
    if isinstance(within, timedelta):
        return candidates
    days = calendar or WorkCalendar()
    return [s for s in candidates if is_due_soon(days, s.task, now=now, within=within)]


async def mark_overdue(engine: AsyncEngine, *, now: datetime) -> int:
    """Mark the tasks overdue at ``now`` that were not yet, each with one ``task.overdue``
    event and audit entry; how many. Idempotent: a task is marked once, however often (or
    however concurrently) this runs."""
    aware(now)
    async with write_transaction(engine) as conn:
        # Every row lock first, then the audit log's lock: a task change takes them in the same
        # order, so the two cannot deadlock.
        marked = await conn.execute(
            update(TASKS)
            .where(overdue_by(now), TASKS.c.overdue_at.is_(None))
            .values(overdue_at=now)
            .returning(TASKS.c.seq)
        )
        seqs = sorted(marked.scalars())
        if not seqs:
            return 0
        tasks = await fetch(conn, tasks_query().where(TASKS.c.seq.in_(seqs)).order_by(TASKS.c.seq))
        for stored in tasks:
            task = stored.task
            await append_within(
                conn,
                AuditEvent(
                    actor=SYSTEM,
                    event="task.overdue",
                    outcome="ok",
                    resources=("tasks",),
                    providers=(task.issuer,),
                    rows=1,
                    detail={
                        "task": task.id,
                        "version": task.version,
                        "state": task.state.value,
                        "due_at": stored.due_at.astimezone(UTC).isoformat(),
                    },
                    at=now,
                ),
            )
            await record(conn, outbox_event(task, OVERDUE, SYSTEM, now, task.state), at=now)
        return len(tasks)
