"""From a draw to tasks (pure) and to results: an act in the supervision source linked to the
plan and the task, published only within 20 working days, by the inspecting department alone;
on PostgreSQL and SQLite."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import pytest
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.settings import Settings
from ingest.service import IngestOptions, ingest_records
from inspections.draw import Draw, draw
from inspections.errors import InvalidInspection, PlanForbidden
from inspections.results import Result, publish_result
from inspections.snapshot import commitment
from inspections.store import approve_plan, perform_draw
from inspections.to_tasks import tasks_from_draw
from open_data.datasets.random_inspection_results import SPEC, within_window
from sources.database import SourceDatabases, create_engine
from standard.codes import make_uscc
from standard.tables.gateway import OutboxEvent
from standard.tables.supervision import Action, Matter
from standard.workdays import SHANGHAI, WorkCalendar
from tasks.lifecycle import Actor, State
from tests.inspections.samples import (
    FOOD,
    ITEM_FOOD,
    ITEM_PERMIT,
    PERMIT,
    SCJG,
    STHJ,
    inspectors,
    lines_of,
    plan,
    rules,
    subjects,
)

SEED = bytes(range(32))
POOL = subjects(120, seed=11)
IDS = [row.id for row in POOL]
SUBJECT_LINES = lines_of(POOL)
OFFICER_LINES = lines_of(
    inspectors(SCJG, [FOOD], 10, subjects=IDS) + inspectors(STHJ, [PERMIT], 10, subjects=IDS)
)
JOINT = plan(ITEM_FOOD, ITEM_PERMIT)
NOW = datetime(2026, 6, 1, 10, 0, tzinfo=SHANGHAI)
ORGAN = make_uscc(random.Random(3), authority="1", category="1")
SCJG_STAFF = Actor(officer="user:scjg-1", party=SCJG)
STHJ_STAFF = Actor(officer="user:sthj-1", party=STHJ)
CALENDAR = WorkCalendar()


def joint_draw() -> Draw:
    return draw(JOINT, rules(), lambda: SUBJECT_LINES, OFFICER_LINES, seed=SEED)


def test_each_drawn_subject_becomes_one_task_for_its_departments_and_inspectors() -> None:
    result = joint_draw()
    tasks = list(
        tasks_from_draw(
            JOINT,
            result.drawn,
            draw_number=1,
            issuer=SCJG,
            issued_at=NOW,
            deadline_working_days=20,
        )
    )
    assert len(tasks) == len(result.drawn)
    for task, one in zip(tasks, result.drawn, strict=True):
        assert task.subjects == (one.id,)
        assert task.state is State.ISSUED
        departments = {SCJG if code == FOOD else STHJ for code in one.items}
        assert set(task.recipients) == departments
        assert set(task.assignees) == {c for _, team in one.inspectors for c in team}
        matters = {
            ITEM_FOOD.matter_code if c == FOOD else ITEM_PERMIT.matter_code for c in one.items
        }
        assert set(task.matters) == matters
        assert ITEM_FOOD.legal_basis in task.legal_basis or FOOD not in one.items
    assert len({task.id for task in tasks}) == len(tasks)
    assert tasks[0].id == "SJ-2026-001-1-000001"


def test_the_publication_window_counts_working_days() -> None:
    # Inspected Friday 25 September 2026; National Day: 1-7 October off, Saturday 10 October
    # worked (State Council notice for 2026). Counted by hand: 28-30 Sep (3), 8-10 Oct (6),
    # 12-16 (11), 19-23 (16), 26-29 (20).
    inspected = date(2026, 9, 25)
    last, _ = CALENDAR.nth_working_day(inspected, 20)
    assert last == date(2026, 10, 29)
    assert within_window(inspected, last, CALENDAR)
    assert not within_window(inspected, date.fromordinal(last.toordinal() + 1), CALENDAR)
    assert not within_window(inspected, date(2026, 9, 24), CALENDAR)
    assert (last - inspected).days > 20 + 8  # the holiday is not counted


@pytest_asyncio.fixture(loop_scope="session")
async def gateway(gateway_url: str) -> AsyncIterator[AsyncEngine]:
    made = create_engine(gateway_url)
    yield made
    await made.dispose()


async def seed_catalogue(supervision: AsyncEngine, settings: Settings) -> None:
    for item, department in ((ITEM_FOOD, SCJG), (ITEM_PERMIT, STHJ)):
        matter = {
            "cd_id": f"m-{item.matter_code}",
            "produced_at": "2025-01-01T00:00:00+08:00",
            "matter_code": item.matter_code,
            "name": item.name,
            "department_code": department,
            "status": "in_use",
            "version": "20250101000001",
            "valid_from": "2025-01-01",
            "division_code": "610100",
        }
        options = IngestOptions(
            provider=department,
            received_at=datetime(2025, 1, 2, tzinfo=UTC),
            calendar=CALENDAR,
            settings=settings,
        )
        report = await ingest_records(supervision, [(1, matter)], table=Matter, options=options)
        assert report.accepted == 1, report.errors


@pytest.mark.asyncio(loop_scope="session")
async def test_a_result_is_an_act_linked_to_plan_and_task_and_published_in_time(
    gateway: AsyncEngine, databases: SourceDatabases, backend_settings: Settings
) -> None:
    supervision = databases.engine("supervision")
    await seed_catalogue(supervision, backend_settings)
    await approve_plan(gateway, plan=JOINT, rules=rules(), subjects=SUBJECT_LINES,
                       inspectors=OFFICER_LINES, seed_commitment=commitment(SEED),
                       by=SCJG_STAFF, now=NOW)  # fmt: skip
    _, result = await perform_draw(gateway, plan_code=JOINT.code, seed=SEED, by=SCJG_STAFF, now=NOW)
    both = next(d for d in result.drawn if len(d.items) == 2)
    row = next(r for r in POOL if r.id == both.id)
    inspected = date(2026, 6, 10)
    last, _ = CALENDAR.nth_working_day(inspected, 20)

    def result_of(department: str, **changes: object) -> Result:
        fields: dict[str, object] = {
            "plan": JOINT.code,
            "subject": both.id,
            "subject_name": "西安某某餐饮有限公司",
            "department": department,
            "organ": "西安市市场监督管理局",
            "organ_code": ORGAN,
            "result": "no_problem",
            "inspected_on": inspected,
            "published_on": last,
            "division_code": row.division,
            "task_id": "SJ-2026-001-1-000001",
        }
        fields.update(changes)
        return Result(**fields)  # type: ignore[arg-type]  # the test's own fields

    async def send(by: Actor, result: Result) -> str:
        return await publish_result(
            gateway,
            supervision,
            result=result,
            by=by,
            calendar=CALENDAR,
            settings=backend_settings,
            now=NOW,
        )

    day_after = date.fromordinal(last.toordinal() + 1)
    with pytest.raises(InvalidInspection, match="20th working day"):
        await send(SCJG_STAFF, result_of(SCJG, published_on=day_after))
    with pytest.raises(PlanForbidden):
        await send(SCJG_STAFF, result_of(STHJ))
    not_drawn = next(r.id for r in POOL if r.id not in {d.id for d in result.drawn})
    with pytest.raises(InvalidInspection, match="not drawn"):
        await send(SCJG_STAFF, result_of(SCJG, subject=not_drawn))
    first = await send(SCJG_STAFF, result_of(SCJG))
    await send(STHJ_STAFF, result_of(STHJ, result="rectify"))
    with pytest.raises(InvalidInspection, match="is recorded"):
        await send(SCJG_STAFF, result_of(SCJG))
    async with supervision.connect() as conn:
        acts = (await conn.execute(select(Action.__table__).order_by("action_no"))).mappings().all()
    assert [a["provider"] for a in acts] == [SCJG, STHJ]
    assert acts[0]["action_no"] == first and acts[0]["plan_code"] == JOINT.code
    assert acts[0]["inspection_item_code"] == FOOD and acts[1]["inspection_item_code"] == PERMIT
    assert acts[0]["officer_certificates"] == list(dict(both.inspectors)[SCJG])
    link = acts[0]["extra"]["random_inspection"]
    assert link["task_id"] == "SJ-2026-001-1-000001" and link["draw"] == 1
    assert SPEC.exclude is not None
    assert not SPEC.exclude(acts[0]) and not SPEC.exclude(acts[1])  # both are published
    late = {**acts[0], "extra": {"random_inspection": {**link, "published_on": "2026-12-31"}}}
    assert SPEC.exclude(late)
    async with gateway.connect() as conn:
        kinds = list(
            (await conn.execute(select(OutboxEvent.kind).order_by(OutboxEvent.seq))).scalars()
        )
    assert kinds.count("inspection.result_published") == 2
    async with gateway.connect() as conn:
        audiences = (
            await conn.execute(
                select(OutboxEvent.audience).where(
                    OutboxEvent.kind == "inspection.result_published"
                )
            )
        ).scalars()
        assert [sorted(a) for a in audiences] == [[SCJG, STHJ], [SCJG, STHJ]]
