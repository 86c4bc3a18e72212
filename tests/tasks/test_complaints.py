"""Complaint → task end to end, on PostgreSQL and SQLite: the hotline pushes a complaint (the
ingest path), dispatches it to a department, and it becomes that department's task, delivered,
linked, once; nothing personal reaches the task, its receipts or its events."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from ingest.service import IngestOptions, ingest_records
from sources.database import SourceDatabases
from standard.tables.complaints import Complaint
from standard.tables.gateway import OutboxEvent, TaskRow
from tasks.complaints import NoSuchComplaint, NotDispatched, task_from_complaint, task_of
from tasks.errors import InvalidTask
from tasks.lifecycle import State
from tasks.rows import receipts_of
from tasks.store import TaskStore
from tests.ingest.factory import Factory
from tests.tasks.conftest import CALENDAR, START
from tests.tasks.samples import RECIPIENT_STAFF, RECIPIENTS

HOTLINE = "P-12345"


async def push(dbs: SourceDatabases, *records: dict[str, Any]) -> None:
    options = IngestOptions(
        provider=HOTLINE,
        received_at=START,
        calendar=CALENDAR,
        settings=dbs._settings,
        matters=dbs.engine("supervision"),
    )
    report = await ingest_records(
        dbs.engine("complaints"), list(enumerate(records, 1)), table=Complaint, options=options
    )
    assert report.accepted == len(records), report


def complaint(n: int, **changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "produced_at": "2026-02-11T09:30:00+08:00",
        "status": "dispatched",
        "handling_department_code": RECIPIENTS[0],
        "due_at": "2026-02-27T18:00:00+08:00",
    }
    fields.update(changes)
    return Factory(seed=n).complaint(n, **fields)


async def test_a_dispatched_complaint_becomes_the_departments_task(
    databases: SourceDatabases, store: TaskStore
) -> None:
    record = complaint(1)
    await push(databases, record)
    made, new = await task_from_complaint(
        store,
        databases.engine("complaints"),
        provider=HOTLINE,
        ticket_no=record["ticket_no"],
        officer="client:hotline",
    )
    task = made.task
    assert new and task.state is State.DELIVERED
    assert (task.issuer, task.recipients, task.subjects) == (
        HOTLINE,
        (RECIPIENTS[0],),
        (record["subject_uscc"],),
    )
    assert record["ticket_no"] in task.legal_basis and record["title"] in task.title
    # The promised completion, 27 February: working days 13, 14, 24, 25, 26, 27 after the 12th.
    assert task.deadline_working_days == 6
    assert made.due_at == datetime.fromisoformat("2026-02-28T00:00:00+08:00")
    assert [d["receipt"]["recipient"] for d in made.receipts] == [RECIPIENTS[0]]
    linked = await task_of(store, provider=HOTLINE, cd_id=record["cd_id"])
    assert linked is not None and linked.id == task.id
    # the department takes it like any other task
    claimed = await store.claim(task.id, by=RECIPIENT_STAFF, expected_version=2)
    assert claimed.task.state is State.CLAIMED
    # nothing of the complainant, nor what they said, left the complaints source
    async with store.engine.connect() as conn:
        row = dict((await conn.execute(select(TaskRow))).mappings().one())
        payloads = list((await conn.execute(select(OutboxEvent.payload))).scalars())
        receipts = await receipts_of(conn, made.seq)
    written = orjson.dumps([row, payloads, receipts], default=str).decode()
    for personal in ("complainant_name", "complainant_phone", "complainant_id_number", "content"):
        assert str(record[personal]) not in written, personal


async def test_a_complaint_becomes_one_task_however_often_asked(
    databases: SourceDatabases, store: TaskStore
) -> None:
    record = complaint(2)
    await push(databases, record)
    complaints = databases.engine("complaints")

    async def convert() -> tuple[Any, bool]:
        return await task_from_complaint(
            store, complaints, provider=HOTLINE, ticket_no=record["ticket_no"], officer="cli:op"
        )

    results = await asyncio.gather(convert(), convert())
    assert sorted(new for _, new in results) == [False, True]
    assert results[0][0].id == results[1][0].id
    again, new = await convert()
    assert not new and again.id == results[0][0].id
    # the hotline re-pushes the record (status changed): the link stands, the task is the same
    await push(databases, {**record, "cd_operation": "u", "status": "handling"})
    linked = await task_of(store, provider=HOTLINE, cd_id=record["cd_id"])
    assert linked is not None and linked.id == again.id
    async with store.engine.connect() as conn:
        assert len((await conn.execute(select(TaskRow.seq))).all()) == 1


async def test_only_a_dispatched_complaint_to_a_department_becomes_a_task(
    databases: SourceDatabases, store: TaskStore
) -> None:
    received = complaint(3, status="received")
    nowhere = complaint(4, handling_department_code="XA-NONE")
    await push(databases, received, nowhere)
    complaints = databases.engine("complaints")
    with pytest.raises(NotDispatched) as refused:
        await task_from_complaint(
            store, complaints, provider=HOTLINE, ticket_no=received["ticket_no"], officer="x"
        )
    assert "received" in str(refused.value) and received["ticket_no"] in str(refused.value)
    with pytest.raises(InvalidTask) as invalid:
        await task_from_complaint(
            store, complaints, provider=HOTLINE, ticket_no=nowhere["ticket_no"], officer="x"
        )
    assert "XA-NONE" in str(invalid.value)
    with pytest.raises(NoSuchComplaint):
        await task_from_complaint(
            store, complaints, provider=HOTLINE, ticket_no="12345-none", officer="x"
        )
    with pytest.raises(NoSuchComplaint):  # another provider's ticket numbers are not its
        await task_from_complaint(
            store, complaints, provider="P-OTHER", ticket_no=received["ticket_no"], officer="x"
        )
    assert await task_of(store, provider=HOTLINE, cd_id=nowhere["cd_id"]) is None
