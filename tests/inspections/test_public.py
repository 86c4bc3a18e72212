"""The public query of results fails closed, on PostgreSQL and SQLite: a result is shown only
while the data centre holds its act as the open dataset would publish it — not once the act is
deleted, not when its publication day there falls outside the 20 working days — and a joint
plan's subject shows one result per department."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.settings import Settings
from inspections.public import ACTIONS, published_results
from inspections.results import Result, publish_result
from inspections.snapshot import commitment
from inspections.store import approve_plan, perform_draw
from sources.database import SourceDatabases
from tasks.lifecycle import Actor
from tests.inspections.samples import SCJG, STHJ, rules
from tests.inspections.test_results import (
    CALENDAR,
    JOINT,
    NOW,
    OFFICER_LINES,
    ORGAN,
    POOL,
    SEED,
    SUBJECT_LINES,
    gateway,  # noqa: F401  # the fixture
    seed_catalogue,
)

OFFICE = Actor(officer="user:city", party="XA-ZWB", city_office=True)
INSPECTED = date(2026, 6, 10)


@pytest.mark.asyncio(loop_scope="session")
async def test_a_result_is_public_only_while_its_act_would_be_published(
    gateway: AsyncEngine,  # noqa: F811  # the fixture imported above
    databases: SourceDatabases,
    backend_settings: Settings,
) -> None:
    supervision = databases.engine("supervision")
    await seed_catalogue(supervision, backend_settings)
    await approve_plan(gateway, plan=JOINT, rules=rules(), subjects=SUBJECT_LINES,
                       inspectors=OFFICER_LINES, seed_commitment=commitment(SEED), by=OFFICE,
                       now=NOW)  # fmt: skip
    _, drawn = await perform_draw(gateway, plan_code=JOINT.code, seed=SEED, by=OFFICE, now=NOW)
    both = [d for d in drawn.drawn if len(d.items) == 2][:2]
    assert len(both) == 2
    division = {row.id: row.division for row in POOL}
    for one in both:
        for department in (SCJG, STHJ):
            result = Result(
                plan=JOINT.code, subject=one.id, subject_name="西安某某有限公司",
                department=department, organ="西安市某局", organ_code=ORGAN, result="no_problem",
                inspected_on=INSPECTED, published_on=date(2026, 6, 12),
                division_code=division[one.id],
            )  # fmt: skip
            await publish_result(gateway, supervision, result=result, by=OFFICE,
                                 calendar=CALENDAR, settings=backend_settings, now=NOW)  # fmt: skip

    async def shown(**filters: object) -> list[tuple[str, str]]:
        found, _ = await published_results(
            gateway,
            supervision,
            today=date(2026, 6, 12),
            first=100,
            **filters,  # type: ignore[arg-type]
        )
        return [(r.subject_uscc, r.department) for _, r in found]

    everyone = sorted((one.id, d) for one in both for d in (SCJG, STHJ))
    assert sorted(await shown()) == everyone
    assert await shown(plan_code="SJ-2099-404") == []
    assert sorted(await shown(subject_uscc=both[0].id)) == [(both[0].id, SCJG), (both[0].id, STHJ)]
    early, _ = await published_results(gateway, supervision, today=date(2026, 6, 11), first=100)
    assert early == []

    acts = ACTIONS
    async with supervision.begin() as conn:
        # the data centre withdraws one act; another's publication day there is moved past the
        # 20th working day (the window the dataset enforces)
        await conn.execute(
            update(acts)
            .where(acts.c.subject_uscc == both[0].id, acts.c.provider == SCJG)
            .values(cd_operation="d")
        )
        late = {"random_inspection": {"inspected_on": "2026-06-10", "published_on": "2026-12-31"}}
        await conn.execute(
            update(acts)
            .where(acts.c.subject_uscc == both[1].id, acts.c.provider == STHJ)
            .values(extra=late)
        )
    assert sorted(await shown()) == [(both[0].id, STHJ), (both[1].id, SCJG)]
