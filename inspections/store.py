"""Approving a random-inspection plan and drawing it, in the gateway's database.

Each change is one transaction holding its outbox event (``events.outbox.record``) and its audit
entry (``audit.within.append_within``): kept together or not at all. The entry is chained last,
just before the commit, so the log's writer lock (PostgreSQL's advisory lock) is held only for
the commit, not while a large snapshot is inserted. The transaction is ``tasks.record.writing``'s:
read committed on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite (a deferred one that read first
could not take the write lock once another writer had committed, and it keeps the chain's head
ours).

Only a department of the plan (or the city office) approves or draws it (``plans.may_see``);
approval from the data centre, the way the CLI and GraphQL approve, is narrower
(``service.approve_from_sources``: a joint plan by the city office only, ``plans.may_approve``).
Events name the plan's lead department (牵头部门, the department of its first item) as
their provider and list every department in the payload.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from audit.log import AuditEvent, write_transaction
from audit.within import append_within
from events.outbox import Event, record
from inspections.draw import Draw, draw
from inspections.errors import (
    DrawRefused,
    InvalidInspection,
    PlanForbidden,
    SeedMismatch,
)
from inspections.plans import (
    BATCH,
    DRAWN,
    DRAWS,
    ITEMS,
    PLANS,
    SNAPSHOTS,
    StoredDraw,
    draws_of,
    lines,
    load_plan,
    may_see,
)
from inspections.rules import PlanSpec, Rules, check_frequency
from inspections.snapshot import INSPECTORS, SUBJECTS, Approval, Digest, commitment
from tasks.lifecycle import Actor

RESOURCE = "inspections"  # what a webhook subscriber must be able to read
_HEX64 = re.compile(r"[0-9a-f]{64}")


def _aware(now: datetime) -> datetime:
    if now.utcoffset() is None:
        raise InvalidInspection("时间", "须带时区", "a time needs a time zone")
    return now


async def approve_plan(
    engine: AsyncEngine,
    *,
    plan: PlanSpec,
    rules: Rules,
    subjects: Iterable[bytes] | AsyncIterable[bytes],
    inspectors: Iterable[bytes] | AsyncIterable[bytes],
    seed_commitment: str,
    by: Actor,
    now: datetime,
) -> Approval:
    """Approve ``plan``: store the snapshots' lines and fix the rules' and snapshots' hashes
    with the seed's commitment, before anyone knows the seed."""
    _aware(now)
    if not may_see(by, plan.departments):
        raise PlanForbidden(plan.code, by.party, "批准 / approve it")
    if not _HEX64.fullmatch(seed_commitment):
        raise InvalidInspection(
            f"计划 {plan.code}", "种子承诺须为 64 位小写十六进制", "the commitment must be SM3 hex"
        )
    plan.check_rules(rules)
    async with write_transaction(engine) as conn:
        if await conn.scalar(select(exists().where(PLANS.c.code == plan.code))):
            raise InvalidInspection(f"计划 {plan.code}", "已存在", "already exists")
        await _check_frequency(conn, plan, rules)
        await conn.execute(
            insert(PLANS).values(
                code=plan.code,
                name=plan.name,
                draw_day=plan.draw_day,
                lead_department=plan.items[0].department,
                rules=rules.document(),
                rules_version=rules.version,
                rules_hash=rules.hash(),
                subjects_hash="",
                subjects_count=0,
                inspectors_hash="",
                inspectors_count=0,
                commitment=seed_commitment,
                status="approved",
                approved_at=now,
                approved_by=by.officer,
                approved_party=by.party,
            )
        )
        await conn.execute(
            insert(ITEMS),
            [
                {
                    "plan_code": plan.code,
                    "item_code": item.item_code,
                    "position": position,
                    "matter_code": item.matter_code,
                    "department": item.department,
                    "name": item.name,
                    "legal_basis": item.legal_basis,
                    "criteria": item.criteria.document(),
                }
                for position, item in enumerate(plan.items)
            ],
        )
        subjects_digest = await _store_lines(conn, plan.code, SUBJECTS, subjects)
        inspectors_digest = await _store_lines(conn, plan.code, INSPECTORS, inspectors)
        approval = Approval(
            plan=plan.code,
            rules_hash=rules.hash(),
            subjects_hash=subjects_digest.hexdigest(),
            subjects_count=subjects_digest.count,
            inspectors_hash=inspectors_digest.hexdigest(),
            inspectors_count=inspectors_digest.count,
            commitment=seed_commitment,
        )
        hashes = {k: v for k, v in approval.document().items() if k.endswith(("hash", "count"))}
        await conn.execute(update(PLANS).where(PLANS.c.code == plan.code).values(**hashes))
        payload = {"departments": list(plan.departments), **approval.document()}
        await record(conn, _event(plan, "inspection.plan_approved", payload), at=now)
        await _audit(conn, by, "inspection_plan_approve", plan, now, approval.document())
    return approval


async def _check_frequency(conn: AsyncConnection, plan: PlanSpec, rules: Rules) -> None:
    year = plan.draw_day.year
    for item in plan.items:
        earlier = await conn.scalar(
            select(func.count())
            .select_from(ITEMS.join(PLANS, PLANS.c.code == ITEMS.c.plan_code))
            .where(
                ITEMS.c.item_code == item.item_code,
                PLANS.c.draw_day.between(date(year, 1, 1), date(year, 12, 31)),
            )
        )
        check_frequency(
            item.item_code, rules.items[item.item_code], year=year, earlier_plans=earlier or 0
        )


async def _each(lines: Iterable[bytes] | AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    if isinstance(lines, AsyncIterable):
        async for raw in lines:
            yield raw
    else:
        for raw in lines:
            yield raw


async def _store_lines(
    conn: AsyncConnection, plan: str, pool: str, lines: Iterable[bytes] | AsyncIterable[bytes]
) -> Digest:
    digest = Digest(pool, strict=True)  # what approval fixes, any later draw can rely on
    batch: list[dict[str, Any]] = []
    async for raw in _each(lines):
        digest.add(raw)
        batch.append(
            {"plan_code": plan, "pool": pool, "position": digest.count, "line": raw[:-1].decode()}
        )
        if len(batch) == BATCH:
            await conn.execute(insert(SNAPSHOTS), batch)
            batch = []
    if batch:
        await conn.execute(insert(SNAPSHOTS), batch)
    return digest


def _event(plan: PlanSpec, kind: str, payload: dict[str, Any]) -> Event:
    return Event(
        kind=kind,
        aggregate=f"inspection_plan:{plan.code}",
        resource=RESOURCE,
        provider=plan.items[0].department,
        payload={"plan": plan.code, **payload},
        audience=plan.departments,  # every department of a joint plan sees it
    )


async def _audit(
    conn: AsyncConnection,
    by: Actor,
    event: str,
    plan: PlanSpec,
    now: datetime,
    detail: dict[str, Any],
) -> None:
    """The step's audit entry, in its transaction; the last statement before the commit."""
    await append_within(
        conn,
        AuditEvent(
            actor=by.officer,
            event=event,
            outcome="ok",
            party_code=by.party,
            resources=(RESOURCE,),
            providers=plan.departments,
            detail={"plan": plan.code, **detail},
            at=now,
        ),
    )


async def perform_draw(
    engine: AsyncEngine,
    *,
    plan_code: str,
    seed: bytes,
    by: Actor,
    now: datetime,
    reason: str | None = None,
) -> tuple[StoredDraw, Draw]:
    """Draw the plan with the revealed ``seed``. The first draw's seed must match the approved
    commitment. A repeat needs a reason and a new seed (committed only as it is revealed, which
    is why it is audited and shown beside the first); the first is never replaced."""
    _aware(now)
    earlier = await draws_of(engine, plan_code, viewer=by)
    async with engine.connect() as conn:
        stored = await load_plan(conn, plan_code, by)
        number = len(earlier) + 1
        if number == 1 and commitment(seed) != stored.approval.commitment:
            raise SeedMismatch(plan_code, stored.approval.commitment, commitment(seed))
        if number > 1 and not (reason and reason.strip()):
            raise DrawRefused(
                plan_code,
                f"已于 {earlier[0].drawn_at:%Y-%m-%d} 抽取，重复抽取须说明理由",
                "it was drawn already; a repeated draw needs a reason",
            )
        if any(seed.hex() == one.seed for one in earlier):
            raise DrawRefused(plan_code, "重复抽取须使用新的种子", "a repeat needs a new seed")
    with tempfile.TemporaryDirectory(prefix="jianguan-draw-") as folder:
        path = Path(folder) / "subjects.jsonl"
        async with engine.connect() as conn:
            with path.open("wb") as handle:
                async for raw in lines(conn, SNAPSHOTS, plan_code=plan_code, pool=SUBJECTS):
                    handle.write(raw)
            officers = [
                raw async for raw in lines(conn, SNAPSHOTS, plan_code=plan_code, pool=INSPECTORS)
            ]

        def read() -> Iterator[bytes]:
            with path.open("rb") as handle:
                yield from handle

        # CPU-bound (seconds on a large pool): off the event loop, with no connection held
        result = await asyncio.to_thread(draw, stored.plan, stored.rules, read, officers, seed=seed)
    if (result.subjects_hash, result.inspectors_hash) != (
        stored.approval.subjects_hash,
        stored.approval.inspectors_hash,
    ):
        raise DrawRefused(plan_code, "存储的快照与批准时不符", "the stored snapshots changed")
    drawn = StoredDraw(
        plan=plan_code,
        number=number,
        seed=seed.hex(),
        commitment=commitment(seed),
        reason=reason if number > 1 else None,
        result_hash=result.result_hash(),
        subject_count=len(result.drawn),
        drawn_at=now,
        drawn_by=by.officer,
    )
    try:
        await _store_draw(engine, stored.plan, drawn, result, by)
    except IntegrityError:  # another draw of the plan was stored meanwhile: it stands
        raise DrawRefused(
            plan_code, "另一次抽取同时完成，请刷新", "another draw was stored meanwhile"
        ) from None
    return drawn, result


def _draw_detail(drawn: StoredDraw) -> dict[str, Any]:
    return {
        "number": drawn.number,
        "seed": drawn.seed,
        "commitment": drawn.commitment,
        "reason": drawn.reason,
        "result_hash": drawn.result_hash,
        "subjects": drawn.subject_count,
    }


async def _store_draw(
    engine: AsyncEngine, plan: PlanSpec, drawn: StoredDraw, result: Draw, by: Actor
) -> None:
    async with write_transaction(engine) as conn:
        await conn.execute(
            insert(DRAWS).values(
                plan_code=plan.code,
                number=drawn.number,
                seed=drawn.seed,
                commitment=drawn.commitment,
                reason=drawn.reason,
                result_hash=drawn.result_hash,
                subject_count=drawn.subject_count,
                drawn_at=drawn.drawn_at,
                drawn_by=drawn.drawn_by,
                drawn_party=by.party,
            )
        )
        batch: list[dict[str, Any]] = []
        for position, one in enumerate(result.drawn, start=1):
            batch.append(
                {
                    "plan_code": plan.code,
                    "number": drawn.number,
                    "position": position,
                    "subject_uscc": one.id,
                    "line": one.line()[:-1].decode(),
                }
            )
            if len(batch) == BATCH:
                await conn.execute(insert(DRAWN), batch)
                batch = []
        if batch:
            await conn.execute(insert(DRAWN), batch)
        await conn.execute(update(PLANS).where(PLANS.c.code == plan.code).values(status="drawn"))
        payload = {"departments": list(plan.departments), **_draw_detail(drawn)}
        await record(conn, _event(plan, "inspection.drawn", payload), at=drawn.drawn_at)
        event = "inspection_draw" if drawn.number == 1 else "inspection_redraw"
        await _audit(conn, by, event, plan, drawn.drawn_at, _draw_detail(drawn))
