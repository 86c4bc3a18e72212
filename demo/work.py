"""Demo regulatory work: tasks in every state of their life cycle and one overdue (R11), and a
joint random-inspection plan approved and drawn, its subjects' tasks issued, so ``make demo``
shows inboxes, receipts, the supervising office's overdue list and a draw anyone can check.

Made through the task store, as staff would make them: every task has its moves, audit
entries, signed receipts and outbox events. Idempotent: nothing is added once a task exists.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Protocol

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from demo.departments import OFFICE
from ingest.catalogue import Catalogue
from ingest.service import IngestSettings
from inspections.errors import InvalidInspection
from inspections.issuing import issue_draw_tasks
from inspections.pools import Sources
from inspections.results import Result, publish_result
from inspections.rules import ItemRule, ListItem, PlanSpec, Rules, ratios
from inspections.service import approve_from_sources, draw_plan
from inspections.snapshot import commitment
from sources.database import SourceDatabases
from standard.codes import check_uscc
from standard.tables.gateway import InspectionPlan, TaskRow
from standard.tables.supervision import INSPECTION_RESULTS, Subject
from standard.workdays import WorkCalendar, shanghai_date
from tasks.lifecycle import Actor
from tasks.reminders import mark_overdue
from tasks.rows import Stored
from tasks.store import TaskStore

ISSUER = "XA-SCJG"  # 西安市市场监督管理局
RECIPIENTS = ("XA-STHJ", "YT-SCJG")
LEGAL_BASIS = "《陕西省“互联网+监管”系统数据管理办法》；《市场监管领域部门联合抽查事项清单》"


class Services(Protocol):
    """What making the demo's tasks needs; ``gateway.services.Services`` has it."""

    @property
    def engine(self) -> AsyncEngine: ...
    @property
    def tasks(self) -> TaskStore: ...
    @property
    def calendar(self) -> WorkCalendar: ...
    @property
    def source_databases(self) -> SourceDatabases: ...


class InspectionServices(Services, Protocol):
    """What the demo's random inspection needs beyond the tasks: ingest's settings, to push
    the plan to the data centre."""

    @property
    def settings(self) -> IngestSettings: ...


def staff(party: str) -> Actor:
    """The demo staff account of ``party`` (``demo.principals`` makes it), as a task actor."""
    return Actor(officer=f"user:{party.lower().replace('-', '.')}.staff", party=party)


OFFICE_ACTOR = Actor(officer="user:city.office", party=OFFICE, city_office=True)


async def _subjects_and_matters(services: Services) -> tuple[list[str], list[str]]:
    engine = services.source_databases.engine("supervision")
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT uscc FROM subjects ORDER BY id LIMIT 100"))
        # The demo's sources hold some invalid codes on purpose (demo/invalid.py); skip them.
        subjects = [u for u in map(str, rows.scalars()) if check_uscc(u) is None][:9]
        matters = await conn.execute(
            text("SELECT matter_code FROM matters WHERE department_code = :d ORDER BY id LIMIT 4"),
            {"d": ISSUER},
        )
        return subjects, [str(m) for m in matters.scalars()]


async def demo_tasks(services: Services, *, now: datetime) -> int:
    """Make the demo's tasks unless tasks exist; how many were made."""
    async with services.engine.connect() as conn:
        if await conn.scalar(select(func.count()).select_from(TaskRow)):
            return 0
    subjects, matters = await _subjects_and_matters(services)
    store = services.tasks
    issuer = staff(ISSUER)

    def at(instant: datetime) -> TaskStore:
        return TaskStore(
            store.engine, signer=store.signer, calendar=store.calendar, clock=lambda: instant
        )

    async def issue(title: str, to: str, n: int, days: int, on: TaskStore = store) -> Stored:
        return await on.issue(
            by=issuer,
            title=title,
            recipients=(to,),
            subjects=subjects[n : n + 2],
            matters=matters[:1],
            legal_basis=LEGAL_BASIS,
            deadline_working_days=days,
        )

    async def delivered(title: str, to: str, n: int, on: TaskStore = store) -> Stored:
        made = await issue(title, to, n, 10, on)
        return await on.deliver(made.id, by=issuer, expected_version=made.task.version)

    async def claimed(title: str, to: str, n: int, on: TaskStore = store) -> Stored:
        made = await delivered(title, to, n, on)
        return await on.claim(made.id, by=staff(to), expected_version=made.task.version)

    def v(s: Stored) -> int:
        return s.task.version

    a, b = RECIPIENTS
    await issue("食品经营许可证到期核查（待送达）", a, 0, 10)
    await delivered("小微企业年报公示信息抽查（已送达）", a, 1)
    await claimed("特种设备使用登记核查（已认领）", b, 2)
    going = await claimed("餐饮油烟排放投诉联合核查（办理中）", a, 3)
    await store.start(
        going.id, by=staff(a), expected_version=v(going), note="已联系企业，约定现场检查时间"
    )
    done = await claimed("12345 投诉转办：超范围经营（已办结）", b, 4)
    done = await store.start(done.id, by=staff(b), expected_version=v(done))
    await store.finish(
        done.id, by=staff(b), expected_version=v(done), result="现场检查属实，已责令整改并立案调查"
    )
    back = await delivered("排污许可证核查（已退回）", a, 5)
    await store.return_(
        back.id,
        by=staff(a),
        expected_version=v(back),
        reason="该企业不在本部门监管范围，请核实后改派",
    )
    moved = await claimed("药品零售企业日常检查（已改派）", b, 6)
    await store.reassign(
        moved.id,
        by=OFFICE_ACTOR,
        expected_version=v(moved),
        recipients=(a,),
        reason="属地管理调整，改由市生态环境局承办",
    )
    up = await claimed("跨区域违法线索核查（已上报）", a, 7)
    await store.escalate(
        up.id, by=staff(a), expected_version=v(up), reason="涉及多个区县，需市级协调"
    )
    # Overdue: issued eight weeks ago with ten working days, claimed and never finished.
    await claimed("消防安全隐患整改复查（已逾期）", b, 0, at(now - timedelta(weeks=8)))
    await mark_overdue(store.engine, now=now)
    return 9


PLAN_CODE = "SJ-DEMO-001"
DEMO_SEED = bytes.fromhex("5a" * 32)  # the demo's seed: anyone may re-draw it (verify-draw)


async def _items(services: Services, day: date) -> list[ListItem]:
    """One inspection item in force on ``day`` of each of two departments: a joint plan."""
    engine = services.source_databases.engine("supervision")
    async with engine.connect() as conn:
        catalogue = await Catalogue.load(conn)
        rows = await conn.execute(
            text(
                "SELECT item_code, matter_code, department_code, name FROM inspection_items "
                "WHERE department_code IN ('XA-SCJG', 'XA-STHJ') AND valid_from <= :day "
                "AND (valid_to IS NULL OR valid_to >= :day) AND cd_operation <> 'd' ORDER BY id"
            ),
            {"day": day},
        )
        chosen: dict[str, ListItem] = {}
        for code, matter, department, name in rows:
            if department in chosen or catalogue.problem(matter, day) is not None:
                continue
            try:
                chosen[department] = ListItem(
                    item_code=code,
                    matter_code=matter,
                    department=department,
                    name=name[:80],
                    legal_basis=LEGAL_BASIS,
                )
            except InvalidInspection:  # the demo keeps some bad codes on purpose
                continue
    return list(chosen.values())


async def demo_inspection(services: InspectionServices, *, now: datetime) -> int:
    """A joint random-inspection plan of two departments, approved and drawn by the city office,
    each drawn subject's task issued; how many subjects were drawn (0: there was one)."""
    async with services.engine.connect() as conn:
        if await conn.scalar(select(func.count()).select_from(InspectionPlan)):
            return 0
    day = shanghai_date(now)
    items = await _items(services, day)
    plan = PlanSpec(code=PLAN_CODE, name="2026 年度市场监管与生态环境部门联合抽查", draw_day=day,
                    items=tuple(items))  # fmt: skip
    rules = Rules(
        version="2026-1",
        valid_from=day,
        items={i.item_code: ItemRule(ratios=ratios(Decimal("0.01"))) for i in items},
    )
    databases = services.source_databases
    sources = Sources(
        supervision=databases.engine("supervision"),
        credit=databases.engine("credit"),
        gov_services=databases.engine("gov_services"),
        gateway=services.engine,
    )
    await approve_from_sources(
        sources, plan=plan, rules=rules, declarations={},
        seed_commitment=commitment(DEMO_SEED), by=OFFICE_ACTOR, now=now,
        calendar=services.calendar, settings=services.settings,
    )  # fmt: skip
    drawn = await draw_plan(
        services.engine, sources.supervision, plan_code=PLAN_CODE, seed=DEMO_SEED,
        by=OFFICE_ACTOR, now=now, reason=None, calendar=services.calendar,
        settings=services.settings,
    )  # fmt: skip
    issued = await issue_draw_tasks(services.tasks, plan_code=PLAN_CODE, number=1, by=OFFICE_ACTOR)
    await _inspect(services, [s for s in issued if ISSUER in s.task.recipients][:3], now=now)
    return drawn.subject_count


async def _inspect(services: InspectionServices, tasks: list[Stored], *, now: datetime) -> None:
    """The market regulator inspects a few drawn subjects: each task is handled and finished
    with the act that records its result, published the same day (一公开)."""
    engine = services.source_databases.engine("supervision")
    async with engine.connect() as conn:
        organ = (
            await conn.execute(
                text("SELECT name, uscc FROM departments WHERE code = :c ORDER BY id LIMIT 1"),
                {"c": ISSUER},
            )
        ).one()
        named = {
            str(uscc): (str(name), str(division))
            for uscc, name, division in await conn.execute(
                select(Subject.uscc, Subject.name, Subject.division_code).where(
                    Subject.uscc.in_([s.task.subjects[0] for s in tasks])
                )
            )
        }
    officer = staff(ISSUER)
    day = shanghai_date(now)
    for stored, outcome in zip(tasks, ("no_problem", "rectify", "no_problem"), strict=False):
        subject = stored.task.subjects[0]
        name, division = named[subject]
        act = await publish_result(
            services.engine, engine, by=officer, calendar=services.calendar,
            settings=services.settings, now=now,
            result=Result(
                plan=PLAN_CODE, subject=subject, subject_name=name, department=ISSUER,
                organ=str(organ[0]), organ_code=str(organ[1]), result=outcome,
                inspected_on=day, published_on=day, division_code=division, task_id=stored.id,
            ),
        )  # fmt: skip
        task = await services.tasks.claim(
            stored.id, by=officer, expected_version=stored.task.version
        )
        task = await services.tasks.start(task.id, by=officer, expected_version=task.task.version)
        await services.tasks.finish(
            task.id, by=officer, expected_version=task.task.version,
            result=f"现场检查：{INSPECTION_RESULTS[outcome]}", acts=[act],
        )  # fmt: skip
