"""The overdue and reminder jobs over the real ``tasks.reminders``, on both backends: a task
overdue is marked once and told once; a task due within the reminder window is reminded, in
its issuer's name."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from events.delivery import Deliverer
from jobs.resources import Resources
from jobs.work import REMIND_WITHIN, mark_overdue, send_reminders
from sources.database import create_engine
from standard.tables.gateway import OutboxEvent
from tasks.lifecycle import Actor
from tasks.store import TaskStore
from tests.tasks.conftest import CALENDAR, SIGNER, Clock, add_parties
from tests.tasks.samples import ISSUER_STAFF, MATTERS, OUTSIDER, RECIPIENTS, SUBJECTS


async def nobody(client_id: str, resource: str, provider: str, audience: tuple[str, ...]) -> bool:
    return False  # no subscriber here: the jobs' events are read from the outbox


@pytest_asyncio.fixture(loop_scope="session")
async def engine(gateway_url: str) -> AsyncIterator[AsyncEngine]:
    made = create_engine(gateway_url)
    await add_parties(made)
    yield made
    await made.dispose()


async def test_the_jobs_mark_and_remind_through_tasks_reminders(engine: AsyncEngine) -> None:
    clock = Clock()
    store = TaskStore(engine, signer=SIGNER, calendar=CALENDAR, clock=clock)

    async def issue(by: Actor, days: int) -> str:
        task = await store.issue(
            by=by,
            title="专项检查",
            recipients=(RECIPIENTS[0],),
            subjects=SUBJECTS,
            matters=MATTERS,
            legal_basis="法律依据",
            deadline_working_days=days,
        )
        return task.id

    soon = await issue(ISSUER_STAFF, 1)  # Thursday 12 February: due by the end of Friday 13th
    later = await issue(OUTSIDER, 3)  # due by the end of 24 February (after the holiday)
    async with httpx.AsyncClient() as http:
        resources = Resources(engine, Deliverer(engine, http, nobody), CALENDAR)
        # Friday 13th, 08:30 Shanghai: the first is due within a day, the other is not
        clock.advance(hours=22, minutes=30)
        assert await send_reminders(resources, now=clock.now) == 1
        assert REMIND_WITHIN == 1  # working day
        # Saturday 14th, 00:00 Shanghai: the first is overdue; marked once however often run
        clock.advance(hours=15, minutes=30)
        assert await mark_overdue(resources, now=clock.now) == 1
        assert await mark_overdue(resources, now=clock.now + timedelta(minutes=1)) == 0
    async with engine.connect() as conn:
        events = (
            await conn.execute(
                select(OutboxEvent.kind, OutboxEvent.aggregate, OutboxEvent.provider).where(
                    OutboxEvent.kind.in_(("task.due_soon", "task.overdue"))
                )
            )
        ).all()
    assert sorted(tuple(e) for e in events) == [
        ("task.due_soon", f"task:{soon}", ISSUER_STAFF.party),
        ("task.overdue", f"task:{soon}", ISSUER_STAFF.party),
    ]
    assert later not in {e.aggregate for e in events}
