"""Reading random-inspection plans and draws back, within the reader's scope.

Who sees a plan (provider-owns-data, R9/R13): the departments of its items — a joint plan all
of its departments — and the city office, which oversees every plan. Anyone else is told there
is no such plan, as if it did not exist; the scope becomes a ``WHERE`` on the items' departments.
Who approves one from the data centre (``may_approve``): its department when every item is its
own, else the city office.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from inspections.errors import PlanNotFound
from inspections.rules import ListItem, PlanSpec, PoolCriteria, Rules
from inspections.snapshot import Approval
from standard.tables.gateway import (
    InspectionDraw,
    InspectionDrawLine,
    InspectionPlan,
    InspectionPlanItem,
    InspectionResult,
    InspectionSnapshotLine,
)
from tasks.lifecycle import Actor

BATCH = 5_000  # lines per page read back (and per INSERT when stored)
PLANS = cast(Table, InspectionPlan.__table__)
ITEMS = cast(Table, InspectionPlanItem.__table__)
SNAPSHOTS = cast(Table, InspectionSnapshotLine.__table__)
DRAWS = cast(Table, InspectionDraw.__table__)
DRAWN = cast(Table, InspectionDrawLine.__table__)
RESULTS = cast(Table, InspectionResult.__table__)


@dataclass(frozen=True, slots=True)
class StoredPlan:
    plan: PlanSpec
    rules: Rules
    approval: Approval
    status: str
    approved_at: datetime
    approved_by: str


@dataclass(frozen=True, slots=True)
class StoredDraw:
    plan: str
    number: int
    seed: str
    commitment: str
    reason: str | None
    result_hash: str
    subject_count: int
    drawn_at: datetime
    drawn_by: str


def may_see(actor: Actor, departments: Iterable[str]) -> bool:
    return actor.city_office or actor.party in set(departments)


def may_approve(actor: Actor, departments: Iterable[str]) -> bool:
    """A department approves a plan whose items are all its own; a joint plan, which binds
    several departments, is approved by the city office that oversees them all (R13)."""
    return actor.city_office or set(departments) == {actor.party}


async def load_plan(conn: AsyncConnection, code: str, viewer: Actor) -> StoredPlan:
    """The plan ``code`` if ``viewer`` may see it; else ``PlanNotFound``."""
    row = (await conn.execute(select(PLANS).where(PLANS.c.code == code))).mappings().first()
    items = (
        await conn.execute(select(ITEMS).where(ITEMS.c.plan_code == code).order_by("position"))
    ).mappings()
    spec_items = tuple(
        ListItem(
            item_code=item["item_code"],
            matter_code=item["matter_code"],
            department=item["department"],
            name=item["name"],
            legal_basis=item["legal_basis"],
            criteria=PoolCriteria(**{k: tuple(v) for k, v in item["criteria"].items()}),
        )
        for item in items
    )
    if row is None or not may_see(viewer, (item.department for item in spec_items)):
        raise PlanNotFound(code)
    plan = PlanSpec(code=code, name=row["name"], draw_day=row["draw_day"], items=spec_items)
    approval = Approval(
        plan=code,
        rules_hash=row["rules_hash"],
        subjects_hash=row["subjects_hash"],
        subjects_count=row["subjects_count"],
        inspectors_hash=row["inspectors_hash"],
        inspectors_count=row["inspectors_count"],
        commitment=row["commitment"],
    )
    return StoredPlan(
        plan=plan,
        rules=Rules.from_document(row["rules"]),
        approval=approval,
        status=row["status"],
        approved_at=row["approved_at"],
        approved_by=row["approved_by"],
    )


async def visible_plans(engine: AsyncEngine, *, viewer: Actor) -> list[str]:
    """Codes of the plans ``viewer`` may see, newest draw day first (one query, the scope as
    a WHERE: the city office sees all)."""
    query = select(PLANS.c.code).order_by(PLANS.c.draw_day.desc(), PLANS.c.code)
    if not viewer.city_office:
        mine = select(ITEMS.c.plan_code).where(ITEMS.c.department == viewer.party)
        query = query.where(PLANS.c.code.in_(mine))
    async with engine.connect() as conn:
        return list((await conn.execute(query)).scalars())


async def lines(conn: AsyncConnection, table: Table, **where: object) -> AsyncIterator[bytes]:
    """Stored lines in order, a page at a time (keyset on position): memory stays flat."""
    after = 0
    while True:
        query = select(table.c.position, table.c.line).where(table.c.position > after)
        for name, value in where.items():
            query = query.where(table.c[name] == value)
        page = (await conn.execute(query.order_by(table.c.position).limit(BATCH))).all()
        for _, text in page:
            yield text.encode() + b"\n"
        if len(page) < BATCH:
            return
        after = page[-1][0]


async def draws_of(engine: AsyncEngine, code: str, *, viewer: Actor) -> list[StoredDraw]:
    """Every draw of the plan, the first and any repeat beside it, in order."""
    async with engine.connect() as conn:
        await load_plan(conn, code, viewer)
        rows = (
            await conn.execute(select(DRAWS).where(DRAWS.c.plan_code == code).order_by("number"))
        ).mappings()
        return [
            StoredDraw(
                plan=code,
                number=row["number"],
                seed=row["seed"],
                commitment=row["commitment"],
                reason=row["reason"],
                result_hash=row["result_hash"],
                subject_count=row["subject_count"],
                drawn_at=row["drawn_at"],
                drawn_by=row["drawn_by"],
            )
            for row in rows
        ]


async def drawn_page(
    engine: AsyncEngine, code: str, number: int, *, viewer: Actor, first: int, after: int = 0
) -> tuple[list[tuple[int, bytes]], bool]:
    """Up to ``first`` drawn subjects of draw ``number`` after position ``after``: (position,
    line) pairs, and whether more follow."""
    return await _line_page(
        engine, code, DRAWN, viewer=viewer, first=first, after=after, number=number
    )


@dataclass(frozen=True, slots=True)
class StoredResult:
    plan: str
    subject: str
    department: str
    draw_number: int
    task_id: str | None
    action_no: str
    result: str
    inspected_on: date
    published_on: date | None


async def results_of(engine: AsyncEngine, code: str, *, viewer: Actor) -> list[StoredResult]:
    """The plan's recorded results, by subject and department."""
    async with engine.connect() as conn:
        await load_plan(conn, code, viewer)
        rows = (
            await conn.execute(
                select(RESULTS)
                .where(RESULTS.c.plan_code == code)
                .order_by(RESULTS.c.subject_uscc, RESULTS.c.department)
            )
        ).mappings()
        return [
            StoredResult(
                plan=code,
                subject=row["subject_uscc"],
                department=row["department"],
                draw_number=row["draw_number"],
                task_id=row["task_id"],
                action_no=row["action_no"],
                result=row["result"],
                inspected_on=row["inspected_on"],
                published_on=row["published_on"],
            )
            for row in rows
        ]


async def snapshot_page(
    engine: AsyncEngine, code: str, pool: str, *, viewer: Actor, first: int, after: int = 0
) -> tuple[list[tuple[int, bytes]], bool]:
    """Up to ``first`` lines of a pool's snapshot after position ``after``, and whether more
    follow."""
    return await _line_page(
        engine, code, SNAPSHOTS, viewer=viewer, first=first, after=after, pool=pool
    )


async def _line_page(
    engine: AsyncEngine,
    code: str,
    table: Table,
    *,
    viewer: Actor,
    first: int,
    after: int,
    **where: object,
) -> tuple[list[tuple[int, bytes]], bool]:
    """A page of a plan's stored lines (a draw's or a snapshot's) after ``after``, keyset on
    position, once ``viewer`` may see the plan."""
    async with engine.connect() as conn:
        await load_plan(conn, code, viewer)
        query = select(table.c.position, table.c.line).where(
            table.c.plan_code == code, table.c.position > after
        )
        for name, value in where.items():
            query = query.where(table.c[name] == value)
        rows = (await conn.execute(query.order_by(table.c.position).limit(first + 1))).all()
    return [(int(p), str(text).encode()) for p, text in rows[:first]], len(rows) > first
