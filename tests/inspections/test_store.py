"""Plans and draws stored on PostgreSQL and SQLite: approval fixes the hashes, the draw reveals
the seed, a repeat is kept beside the first, each step is audited and sent to the outbox, and
only the plan's departments and the city office see it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import orjson
import pytest
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from audit.verify import verify as verify_log
from inspections.errors import (
    DrawRefused,
    InvalidInspection,
    InvalidSnapshot,
    PlanForbidden,
    PlanNotFound,
    SeedMismatch,
)
from inspections.plans import DRAWN, SNAPSHOTS, lines, load_plan, visible_plans
from inspections.snapshot import INSPECTORS, SUBJECTS, commitment
from inspections.store import approve_plan, draws_of, perform_draw
from inspections.verify import verify
from sources.database import create_engine
from standard.tables.gateway import AuditEntry, OutboxEvent
from tasks.lifecycle import Actor
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

NOW = datetime(2026, 5, 20, 9, 30, tzinfo=UTC)
SEED = bytes(range(32))
POOL = subjects(200, seed=9)
IDS = [row.id for row in POOL]
SUBJECT_LINES = lines_of(POOL)
OFFICER_LINES = lines_of(
    inspectors(SCJG, [FOOD], 10, subjects=IDS) + inspectors(STHJ, [PERMIT], 10, subjects=IDS)
)
SCJG_STAFF = Actor(officer="user:scjg-1", party=SCJG)
STHJ_STAFF = Actor(officer="user:sthj-1", party=STHJ)
CITY = Actor(officer="user:city-1", party="XA-ZWB", city_office=True)
OTHER = Actor(officer="user:swj-1", party="XA-SWJ")
RULES = rules().items


@pytest_asyncio.fixture(loop_scope="session")
async def engine(gateway_url: str) -> AsyncIterator[AsyncEngine]:
    made = create_engine(gateway_url)
    yield made
    await made.dispose()


async def approve(engine: AsyncEngine, **changes: object) -> None:
    arguments: dict[str, object] = {
        "plan": plan(ITEM_FOOD, ITEM_PERMIT),
        "rules": rules(),
        "subjects": SUBJECT_LINES,
        "inspectors": OFFICER_LINES,
        "seed_commitment": commitment(SEED),
        "by": SCJG_STAFF,
        "now": NOW,
    }
    arguments.update(changes)
    await approve_plan(engine, **arguments)  # type: ignore[arg-type]


async def audit_events(engine: AsyncEngine) -> list[tuple[str, str, dict[str, object]]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(AuditEntry.event, AuditEntry.actor, AuditEntry.detail).order_by(AuditEntry.seq)
        )
        return [(row[0], row[1], row[2]) for row in rows]


async def outbox(engine: AsyncEngine) -> list[tuple[str, str, dict[str, object]]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(OutboxEvent.kind, OutboxEvent.provider, OutboxEvent.payload).order_by(
                OutboxEvent.seq
            )
        )
        return [(row[0], row[1], row[2]) for row in rows]


@pytest.mark.asyncio(loop_scope="session")
async def test_a_stored_draw_is_reproduced_from_the_stored_snapshots(engine: AsyncEngine) -> None:
    await approve(engine)
    drawn, result = await perform_draw(
        engine, plan_code="SJ-2026-001", seed=SEED, by=STHJ_STAFF, now=NOW
    )
    assert drawn.number == 1 and drawn.subject_count == len(result.drawn) > 0
    async with engine.connect() as conn:
        stored = await load_plan(conn, "SJ-2026-001", CITY)
        assert stored.status == "drawn"
        subjects_back = [
            raw async for raw in lines(conn, SNAPSHOTS, plan_code="SJ-2026-001", pool=SUBJECTS)
        ]
        officers_back = [
            raw async for raw in lines(conn, SNAPSHOTS, plan_code="SJ-2026-001", pool=INSPECTORS)
        ]
        recorded = [raw async for raw in lines(conn, DRAWN, plan_code="SJ-2026-001", number=1)]
    assert subjects_back == SUBJECT_LINES and officers_back == OFFICER_LINES
    verdict = verify(
        stored.plan,
        stored.rules,
        stored.approval,
        subjects=lambda: subjects_back,
        inspectors=officers_back,
        seed=bytes.fromhex(drawn.seed),
        recorded=recorded,
    )
    assert verdict.ok, verdict.difference
    events = await outbox(engine)
    assert [kind for kind, _, _ in events] == ["inspection.plan_approved", "inspection.drawn"]
    assert all(provider == SCJG for _, provider, _ in events)  # the lead department's
    assert events[0][2]["commitment"] == commitment(SEED)
    assert events[1][2]["seed"] == SEED.hex()
    logged = await audit_events(engine)
    assert [(event, actor) for event, actor, _ in logged] == [
        ("inspection_plan_approve", "user:scjg-1"),
        ("inspection_draw", "user:sthj-1"),
    ]
    assert (await verify_log(engine)).ok  # chained in the changes' own transactions


@pytest.mark.asyncio(loop_scope="session")
async def test_the_first_draw_must_reveal_the_committed_seed(engine: AsyncEngine) -> None:
    await approve(engine)
    with pytest.raises(SeedMismatch, match="SJ-2026-001"):
        await perform_draw(engine, plan_code="SJ-2026-001", seed=bytes(32), by=SCJG_STAFF, now=NOW)
    assert await draws_of(engine, "SJ-2026-001", viewer=CITY) == []


@pytest.mark.asyncio(loop_scope="session")
async def test_a_repeated_draw_needs_a_reason_and_stands_beside_the_first(
    engine: AsyncEngine,
) -> None:
    await approve(engine)
    first, _ = await perform_draw(
        engine, plan_code="SJ-2026-001", seed=SEED, by=SCJG_STAFF, now=NOW
    )
    later = NOW + timedelta(hours=2)
    with pytest.raises(DrawRefused, match="needs a reason"):
        await perform_draw(
            engine, plan_code="SJ-2026-001", seed=b"\x07" * 32, by=SCJG_STAFF, now=later
        )
    with pytest.raises(DrawRefused, match="new seed"):
        await perform_draw(engine, plan_code="SJ-2026-001", seed=SEED, by=SCJG_STAFF, now=later,
            reason="抽取系统故障",
        )  # fmt: skip
    second, _ = await perform_draw(
        engine,
        plan_code="SJ-2026-001",
        seed=b"\x07" * 32,
        by=CITY,
        now=later,
        reason="首次抽取时名录未含新登记主体，经批准重新抽取",
    )
    both = await draws_of(engine, "SJ-2026-001", viewer=SCJG_STAFF)
    assert [d.number for d in both] == [1, 2]
    assert both[0] == first and both[0].reason is None
    assert both[1].reason == second.reason and both[1].result_hash != first.result_hash
    logged = await audit_events(engine)
    assert logged[-1][0] == "inspection_redraw" and logged[-1][1] == "user:city-1"
    assert logged[-1][2]["reason"] == second.reason
    assert [kind for kind, _, _ in await outbox(engine)].count("inspection.drawn") == 2


@pytest.mark.asyncio(loop_scope="session")
async def test_only_the_plans_departments_and_the_city_office_see_it(engine: AsyncEngine) -> None:
    twice = rules(items={code: replace(rule, times_per_year=2) for code, rule in RULES.items()})
    await approve(engine, rules=twice)  # joint: SCJG and STHJ
    await approve(engine, plan=plan(ITEM_FOOD, code="SJ-2026-002"), rules=twice)
    assert await visible_plans(engine, viewer=SCJG_STAFF) == ["SJ-2026-001", "SJ-2026-002"]
    assert await visible_plans(engine, viewer=STHJ_STAFF) == ["SJ-2026-001"]
    assert await visible_plans(engine, viewer=CITY) == ["SJ-2026-001", "SJ-2026-002"]
    assert await visible_plans(engine, viewer=OTHER) == []
    with pytest.raises(PlanNotFound):
        await draws_of(engine, "SJ-2026-002", viewer=STHJ_STAFF)
    with pytest.raises(PlanNotFound):
        await perform_draw(engine, plan_code="SJ-2026-001", seed=SEED, by=OTHER, now=NOW)
    with pytest.raises(PlanForbidden):
        await approve(engine, plan=plan(ITEM_PERMIT, code="SJ-2026-003"), by=SCJG_STAFF)


@pytest.mark.asyncio(loop_scope="session")
async def test_a_second_plan_beyond_the_yearly_frequency_is_refused(engine: AsyncEngine) -> None:
    await approve(engine, plan=plan(ITEM_PERMIT, code="SJ-2026-010"), by=STHJ_STAFF)
    with pytest.raises(InvalidInspection, match="allow 1"):
        await approve(engine, plan=plan(ITEM_PERMIT, code="SJ-2026-011"), by=STHJ_STAFF)
    next_year = plan(ITEM_PERMIT, code="SJ-2027-001")
    await approve(
        engine,
        plan=replace(next_year, draw_day=date(2027, 3, 1)),
        by=STHJ_STAFF,
    )


@pytest.mark.asyncio(loop_scope="session")
async def test_two_first_draws_at_once_store_exactly_one(engine: AsyncEngine) -> None:
    await approve(engine)
    outcomes = await asyncio.gather(
        *(
            perform_draw(engine, plan_code="SJ-2026-001", seed=SEED, by=who, now=NOW)
            for who in (SCJG_STAFF, STHJ_STAFF)
        ),
        return_exceptions=True,
    )
    refused = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(refused) == 1 and isinstance(refused[0], DrawRefused), outcomes
    assert "meanwhile" in str(refused[0])  # both drew; the store kept the first
    assert [d.number for d in await draws_of(engine, "SJ-2026-001", viewer=CITY)] == [1]
    drawn = [e for e, _, _ in await audit_events(engine) if e == "inspection_draw"]
    assert len(drawn) == 1


@pytest.mark.asyncio(loop_scope="session")
async def test_approval_refuses_a_row_that_is_not_a_pool_row(engine: AsyncEngine) -> None:
    missing = orjson.loads(SUBJECT_LINES[1])
    del missing["last"]
    lines_ = [SUBJECT_LINES[0], orjson.dumps(missing, option=orjson.OPT_SORT_KEYS) + b"\n"]
    with pytest.raises(InvalidSnapshot, match="line 2: fields must be"):
        await approve(engine, subjects=lines_)
    risky = orjson.loads(SUBJECT_LINES[0])
    risky["risk"] = "E"
    with pytest.raises(InvalidSnapshot, match="line 1: risk is not risk"):
        await approve(engine, subjects=[orjson.dumps(risky, option=orjson.OPT_SORT_KEYS) + b"\n"])
    assert await visible_plans(engine, viewer=CITY) == []  # nothing of either was kept
    assert await audit_events(engine) == [] and await outbox(engine) == []
