"""Results and their publication (一公开): the result of inspecting a drawn subject is recorded
as a regulatory act (a supervision ``actions`` row of kind inspection, through ingest, so it is
validated and checked against the matter catalogue like any pushed act), linked to the plan and
the task, and published by the open-data dataset ``random-inspection-results`` on its day:
never before the inspection, and by the 20th working day after it.

Only the department that inspected (or the city office) records its result; a joint plan's
subject gets one result per department. The act goes to the supervision source first, then the
result row, its outbox event ``inspection.result_published`` and its audit entry in one gateway
transaction. Recording the same result again updates the act (ingest is idempotent on
its ``cd_id``) and is refused by the result row's key, so nothing is counted twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from audit.log import AuditEvent, write_transaction
from audit.within import append_within
from events.outbox import Event, record
from ingest.service import IngestOptions, IngestSettings, ingest_records
from inspections.draw import Drawn
from inspections.errors import InvalidInspection, PlanForbidden
from inspections.plans import DRAWN, DRAWS, RESULTS, load_plan
from inspections.rules import PlanSpec
from open_data.datasets.random_inspection_results import PUBLICATION_WORKING_DAYS, within_window
from standard.tables.supervision import INSPECTION_RESULTS, Action
from standard.workdays import WorkCalendar
from tasks.lifecycle import Actor

RESOURCE = "inspections"


@dataclass(frozen=True, slots=True)
class Result:
    """What the inspecting department reports for one drawn subject."""

    plan: str
    subject: str  # USCC
    subject_name: str
    department: str
    organ: str  # 实施机构
    organ_code: str  # its USCC
    result: str  # a key of INSPECTION_RESULTS
    inspected_on: date
    published_on: date
    division_code: str
    task_id: str | None = None
    counterparty_nature: str = "legal_person"


def action_no(plan: PlanSpec, result: Result) -> str:
    """The act's number: plan, subject and the department's place in the plan (≤ 50 chars)."""
    return f"{plan.code[:28]}-{result.subject}-{plan.departments.index(result.department)}"


def action_record(
    plan: PlanSpec, drawn: Drawn, draw_number: int, result: Result, *, produced_at: datetime
) -> dict[str, Any]:
    """The exchange record of the act (supervision ``actions``), linked to plan and task."""
    items = [
        i for i in plan.items if i.item_code in drawn.items and i.department == result.department
    ]
    team = dict(drawn.inspectors)[result.department]
    number = action_no(plan, result)
    return {
        "cd_id": number,
        "produced_at": produced_at.isoformat(),
        "kind": "inspection",
        "action_no": number,
        "name": f"双随机抽查：{'、'.join(i.name for i in items)}",
        "matter_code": items[0].matter_code,
        "inspection_item_code": items[0].item_code,
        "plan_code": plan.code,
        "implementing_org": result.organ,
        "implementing_org_code": result.organ_code,
        "subject_uscc": result.subject,
        "subject_name": result.subject_name,
        "counterparty_name": result.subject_name,
        "counterparty_nature": result.counterparty_nature,
        "counterparty_id_type": "uscc",
        "counterparty_id": result.subject,
        "division_code": result.division_code,
        "officer_certificates": list(team),
        "result": result.result,
        "closed_on": result.inspected_on.isoformat(),
        "extra": {
            "random_inspection": {
                "plan": plan.code,
                "draw": draw_number,
                "task_id": result.task_id,
                "items": [i.item_code for i in items],
                "inspected_on": result.inspected_on.isoformat(),
                "published_on": result.published_on.isoformat(),
            }
        },
    }


async def publish_result(
    gateway: AsyncEngine,
    supervision: AsyncEngine,
    *,
    result: Result,
    by: Actor,
    calendar: WorkCalendar,
    settings: IngestSettings,
    now: datetime,
) -> str:
    """Record ``result`` as an act and schedule its publication; the act's number."""
    where = f"检查结果 {result.plan}/{result.subject}"
    if not (by.city_office or by.party == result.department):
        raise PlanForbidden(result.plan, by.party, f"登记 {result.department} 的检查结果 / "
                            f"record {result.department}'s result")  # fmt: skip
    if result.result not in INSPECTION_RESULTS:
        raise InvalidInspection(where, "检查结果不在代码表中", f"result {result.result!r} unknown")
    if not within_window(result.inspected_on, result.published_on, calendar):
        raise InvalidInspection(
            where,
            f"公示日须在检查日至其后第 {PUBLICATION_WORKING_DAYS} 个工作日之间",
            f"publication must fall from the inspection to its {PUBLICATION_WORKING_DAYS}th "
            "working day after",
        )
    async with gateway.connect() as conn:
        stored = await load_plan(conn, result.plan, by)
        number = await conn.scalar(
            select(func.max(DRAWS.c.number)).where(DRAWS.c.plan_code == result.plan)
        )
        line = await conn.scalar(
            select(DRAWN.c.line).where(
                DRAWN.c.plan_code == result.plan,
                DRAWN.c.number == number,
                DRAWN.c.subject_uscc == result.subject,
            )
        )
    drawn = Drawn.from_line(line.encode()) if line else None
    if drawn is None or result.department not in dict(drawn.inspectors):
        raise InvalidInspection(
            where,
            f"该对象未在第 {number or 0} 次抽取中由 {result.department} 检查",
            f"not drawn for {result.department} in draw {number or 0}",
        )
    if result.inspected_on < stored.plan.draw_day:
        raise InvalidInspection(where, "检查日早于抽取日", "inspected before the draw day")
    assert number is not None  # noqa: S101  # a drawn line implies a draw
    act = action_record(stored.plan, drawn, number, result, produced_at=now)
    options = IngestOptions(
        provider=result.department,
        received_at=now,
        calendar=calendar,
        settings=settings,
        system="inspections",
    )
    report = await ingest_records(supervision, [(1, act)], table=Action, options=options)
    if report.rejected:
        reasons = "; ".join(f"{e.field}: {e.reason}" for e in report.errors)
        raise InvalidInspection(where, "监管行为未通过校验", reasons)
    values = {
        "plan_code": result.plan,
        "subject_uscc": result.subject,
        "department": result.department,
        "draw_number": number,
        "task_id": result.task_id,
        "action_no": act["action_no"],
        "result": result.result,
        "inspected_on": result.inspected_on,
        "published_on": result.published_on,
        "recorded_at": now,
        "recorded_by": by.officer,
    }
    try:
        async with write_transaction(gateway) as conn:
            await conn.execute(insert(RESULTS).values(**values))
            payload = {
                "plan": result.plan,
                "subject": result.subject,
                "department": result.department,
                "action_no": act["action_no"],
                "result": result.result,
                "published_on": result.published_on.isoformat(),
            }
            event = Event(
                kind="inspection.result_published",
                aggregate=f"inspection_plan:{result.plan}",
                resource=RESOURCE,
                provider=result.department,
                payload=payload,
                audience=stored.plan.departments,  # every department of a joint plan sees it
            )
            await record(conn, event, at=now)
            await append_within(
                conn,
                AuditEvent(
                    actor=by.officer,
                    event="inspection_result_publish",
                    outcome="ok",
                    party_code=by.party,
                    resources=(RESOURCE, "actions"),
                    providers=(result.department,),
                    detail=payload,
                    at=now,
                ),
            )
    except IntegrityError:
        raise InvalidInspection(
            where, "该部门已登记结果", "this department's result is recorded"
        ) from None
    return str(act["action_no"])
