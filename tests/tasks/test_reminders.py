"""Overdue across the Spring Festival, reminders before the deadline, and overdue marked once
(one ``task.overdue`` event per task, however often or concurrently it runs), on both
backends."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from standard.tables.gateway import AuditEntry, OutboxEvent
from standard.workdays import SHANGHAI
from tasks.reminders import due_soon, mark_overdue, overdue
from tasks.store import TaskStore
from tests.tasks.conftest import CALENDAR
from tests.tasks.samples import RECIPIENT_STAFF
from tests.tasks.test_store import delivered, issued


def cst(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


# Issued Thursday 12 February 2026 with 3 working days: the 13th, Saturday the 14th (worked in
# exchange for the holiday) and Tuesday the 24th, after the Spring Festival (15–23 off).
LAST_MINUTE = cst("2026-02-24T23:59:59")
OVERDUE_FROM = cst("2026-02-25T00:00:00")


async def test_overdue_from_the_end_of_the_last_working_day_after_the_holiday(
    store: TaskStore,
) -> None:
    task = await delivered(store)
    assert [s.id for s in await overdue(store.engine, now=LAST_MINUTE)] == []
    assert [s.id for s in await overdue(store.engine, now=OVERDUE_FROM)] == [task.id]
    # a task done is never overdue, however late it was done
    claimed = await store.claim(task.id, by=RECIPIENT_STAFF, expected_version=2)
    started = await store.start(claimed.id, by=RECIPIENT_STAFF, expected_version=3)
    await store.finish(started.id, by=RECIPIENT_STAFF, expected_version=4, result="已整改")
    assert await overdue(store.engine, now=OVERDUE_FROM + timedelta(days=30)) == []


async def test_reminders_count_working_days_left(store: TaskStore) -> None:
    task = await issued(store)
    soon = {
        # Friday the 13th: the 14th and the 24th left
        ("2026-02-13T09:00:00", 1): False,
        ("2026-02-13T09:00:00", 2): True,
        # Saturday the 14th (a working day): only the 24th left
        ("2026-02-14T09:00:00", 1): True,
        ("2026-02-14T09:00:00", 0): False,
        # in the holiday: still one working day (the 24th) left
        ("2026-02-20T09:00:00", 0): False,
        ("2026-02-20T09:00:00", 1): True,
        # on the due day itself
        ("2026-02-24T09:00:00", 0): True,
        # overdue: no longer a reminder
        ("2026-02-25T09:00:00", 5): False,
    }
    for (at, within), expected in soon.items():
        found = await due_soon(store.engine, now=cst(at), within=within, calendar=CALENDAR)
        assert ([s.id for s in found] == [task.id]) is expected, (at, within)


async def test_reminders_within_a_duration_as_the_reminder_job_asks(store: TaskStore) -> None:
    task = await issued(store)  # overdue from 25 February 00:00 Shanghai time
    within = timedelta(days=1)
    for at, expected in (
        ("2026-02-23T23:59:59", False),  # a day and a second before
        ("2026-02-24T00:00:00", True),
        ("2026-02-24T23:59:59", True),
        ("2026-02-25T00:00:00", False),  # overdue: no longer a reminder
    ):
        found = await due_soon(store.engine, now=cst(at), within=within)
        assert ([(s.id, s.issuer) for s in found] == [(task.id, task.issuer)]) is expected, at


async def test_overdue_is_marked_once_per_task(store: TaskStore, engine: AsyncEngine) -> None:
    late = await delivered(store)
    store.clock.advance(days=1)  # type: ignore[attr-defined]  # the tests' Clock
    later = await issued(store)  # issued Friday the 13th: due a working day later
    assert await mark_overdue(engine, now=LAST_MINUTE) == 0
    first, second = await asyncio.gather(
        mark_overdue(engine, now=OVERDUE_FROM), mark_overdue(engine, now=OVERDUE_FROM)
    )
    assert first + second == 1
    assert await mark_overdue(engine, now=OVERDUE_FROM + timedelta(hours=1)) == 0
    assert later.due_at > OVERDUE_FROM
    assert await mark_overdue(engine, now=later.due_at) == 1
    async with engine.connect() as conn:
        events = (
            await conn.execute(
                select(OutboxEvent.aggregate).where(OutboxEvent.kind == "task.overdue")
            )
        ).scalars()
        assert list(events) == [f"task:{late.id}", f"task:{later.id}"]
        audited = await conn.scalar(
            select(AuditEntry.detail).where(AuditEntry.event == "task.overdue").limit(1)
        )
    assert audited is not None and audited["task"] == late.id
    assert [s.overdue_at for s in await overdue(engine, now=later.due_at)] == [
        OVERDUE_FROM,
        later.due_at,
    ]
