"""The pools built from the data centre on PostgreSQL and SQLite: one row per subject (its newest
version, never a deleted one), the risk class on the draw day from ratings and lists, licences
in force, the last draw of each item, and officers with their recent inspections."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from inspections import pools
from inspections.errors import InvalidInspection
from inspections.pools import Declaration, Sources, check_list, inspector_rows, subject_rows
from inspections.rules import ItemRule, PoolCriteria
from inspections.snapshot import async_lines, commitment, line
from inspections.store import approve_plan, perform_draw
from sources.database import SourceDatabases, create_engine
from standard.codes import make_uscc
from standard.tables.credit import CreditListEntry, CreditRating
from standard.tables.gov_services import Licence
from standard.tables.supervision import Action, InspectionItem, Matter, Officer, Subject
from tasks.lifecycle import Actor
from tests.inspections.samples import DAY, FOOD, ITEM_FOOD, ITEM_PERMIT, SCJG, plan, rules

RNG = random.Random(4)
S = sorted(make_uscc(RNG, division="610113") for _ in range(5))
AT = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
STAFF = Actor(officer="user:scjg-1", party=SCJG)
_n = 0


def control(provider: str = SCJG, **values: Any) -> dict[str, Any]:
    """The exchange columns every record carries, as ingest would have set them."""
    global _n
    _n += 1
    return {
        "provider": provider,
        "source_system": "test",
        "cd_id": f"r-{_n}",
        "cd_source": "610000|test",
        "cd_batch": "2026010500001",
        "cd_operation": "i",
        "cd_time": AT,
        "produced_at": AT,
        "received_at": AT,
        "delay_working_days": 0,
        "delay_provisional": False,
        "late": False,
        "content_hash": "0" * 32,
        **values,
    }


def subject(uscc: str, **values: Any) -> dict[str, Any]:
    fields = {"uscc": uscc, "name": "某公司", "subject_type": "enterprise",
              "division_code": "610113", "industry_code": "F5211", "status": "active"}  # fmt: skip
    return control(**{**fields, **values})


@pytest_asyncio.fixture(loop_scope="session")
async def sources(databases: SourceDatabases, gateway_url: str) -> AsyncIterator[Sources]:
    gateway = create_engine(gateway_url)
    yield Sources(
        supervision=databases.engine("supervision"),
        credit=databases.engine("credit"),
        gov_services=databases.engine("gov_services"),
        gateway=gateway,
    )
    await gateway.dispose()


async def put(conn: AsyncConnection, model: type[Any], rows: list[dict[str, Any]]) -> None:
    for row in rows:  # one at a time: the rows set different optional columns
        await conn.execute(insert(model).values(**row))


async def fill(sources: Sources) -> None:
    later = datetime(2026, 3, 1, tzinfo=UTC)
    async with sources.supervision.begin() as conn:
        await put(conn, Subject, [
            subject(S[0]),
            subject(S[1]),
            subject(S[1], status="cancelled", produced_at=later),  # its newest version
            subject(S[2], industry_code="H6210"),
            subject(S[3]),
            subject(S[4], cd_operation="d"),  # deleted: never in the pool
        ])  # fmt: skip
        officer = {"name": "张三", "division_code": "610113", "status": "active",
                   "valid_to": date(2027, 12, 31), "department_code": SCJG}  # fmt: skip
        await put(conn, Officer, [
            control(certificate_no="61000001", **officer),
            control(certificate_no="61000002", **officer),
            control(certificate_no="61000003", **{**officer, "valid_to": date(2026, 5, 1)}),
            control(certificate_no="61000004", **officer),
            control(provider="XA-STHJ", certificate_no="62000001",
                    **{**officer, "department_code": "XA-STHJ"}),
        ])  # fmt: skip
        await put(conn, Matter, [
            control(matter_code=ITEM_FOOD.matter_code, name="食品经营", department_code=SCJG,
                    status="in_use", version="20250101000001", valid_from=date(2025, 1, 1),
                    division_code="610100"),
            control(matter_code=ITEM_PERMIT.matter_code, name="排污许可", department_code="XA-STHJ",
                    status="in_use", version="20250101000001", valid_from=date(2025, 1, 1),
                    division_code="610100"),  # in the catalogue, its item not in the list
        ])  # fmt: skip
        await put(conn, InspectionItem, [
            control(item_code=FOOD, matter_code=ITEM_FOOD.matter_code, name="食品经营检查",
                    department_code=SCJG, administrative_type="inspection",
                    valid_from=date(2025, 1, 1)),
        ])  # fmt: skip
        act = {"kind": "inspection", "name": "检查", "matter_code": "17066907439150",
               "implementing_org": "局", "implementing_org_code": S[0], "subject_name": "某公司",
               "counterparty_name": "某公司", "counterparty_nature": "legal_person",
               "counterparty_id_type": "uscc", "counterparty_id": S[0],
               "division_code": "610113"}  # fmt: skip
        await put(conn, Action, [
            control(action_no="A1", subject_uscc=S[0], officer_certificates=["61000001"],
                    closed_on=date(2026, 2, 1), **act),
            control(action_no="A2", subject_uscc=S[2], officer_certificates=["61000001"],
                    closed_on=date(2024, 2, 1), **act),  # outside 12 months
        ])  # fmt: skip
    async with sources.credit.begin() as conn:
        rating = {"subject_name": "某公司", "authority_name": "市信用办"}
        await put(conn, CreditRating, [
            control(subject_uscc=S[0], rating="D", rated_on=date(2024, 1, 1),
                    valid_to=date(2025, 1, 1), **rating),  # expired
            control(subject_uscc=S[0], rating="A", rated_on=date(2025, 6, 1), **rating),
            control(subject_uscc=S[2], rating="C", rated_on=date(2026, 1, 1), **rating),
            control(subject_uscc=S[3], rating="A", rated_on=date(2026, 1, 1), **rating),
        ])  # fmt: skip
        entry = {"subject_name": "某公司", "reason": "x", "authority_name": "市信用办"}
        await put(conn, CreditListEntry, [
            control(subject_uscc=S[3], list_type="dishonest", listed_on=date(2026, 2, 1), **entry),
            control(subject_uscc=S[2], list_type="dishonest", listed_on=date(2025, 2, 1),
                    removed_on=date(2025, 8, 1), **entry),  # removed before the draw day
            control(subject_uscc=S[0], list_type="red", listed_on=date(2026, 2, 1), **entry),
        ])  # fmt: skip
    async with sources.gov_services.begin() as conn:
        licence = {"approval_no": "X", "applicant_name": "某公司",
                   "applicant_category": "legal_person", "department_code": "XA-XZSP",
                   "division_code": "610113", "decided_on": date(2025, 1, 1)}  # fmt: skip
        await put(conn, Licence, [
            control(item_code="JY-FOOD", applicant_uscc=S[0], outcome="issued", **licence),
            control(item_code="JY-FOOD", applicant_uscc=S[2], outcome="issued",
                    valid_to=date(2026, 1, 1), **licence),  # expired
            control(item_code="JY-FOOD", applicant_uscc=S[3], outcome="refused", **licence),
        ])  # fmt: skip


@pytest.mark.asyncio(loop_scope="session")
async def test_the_subject_pool_reads_the_data_centre_as_of_the_draw_day(
    sources: Sources, monkeypatch: pytest.MonkeyPatch
) -> None:
    await fill(sources)
    monkeypatch.setattr(pools, "PAGE", 2)  # S[1]'s two versions fall across a page boundary
    licensed = replace(ITEM_FOOD, criteria=PoolCriteria(licences=("JY-FOOD",)))
    rows = [row async for row in subject_rows(sources, plan=plan(licensed))]
    assert [row.id for row in rows] == S[:4]
    by_id = {row.id: row for row in rows}
    assert by_id[S[1]].status == "cancelled"
    assert [by_id[s].risk for s in S[:4]] == ["A", "B", "C", "D"]
    assert by_id[S[0]].licences == ("JY-FOOD",) and by_id[S[2]].licences == ()
    assert by_id[S[3]].licences == ()


@pytest.mark.asyncio(loop_scope="session")
async def test_inspectors_carry_their_recent_inspections_and_declarations(
    sources: Sources,
) -> None:
    await fill(sources)
    declared = {"61000002": Declaration(conflicts=(S[2],), barred=("610104",))}
    rows = await inspector_rows(sources, plan=plan(), recusal_months=12, declarations=declared)
    assert [row.id for row in rows] == ["61000001", "61000002", "61000003", "61000004"]
    assert rows[0].recent == {S[0]: date(2026, 2, 1)}
    assert rows[1].conflicts == (S[2],) and rows[1].barred == ("610104",)
    assert all(row.items == (FOOD,) for row in rows)


@pytest.mark.asyncio(loop_scope="session")
async def test_a_plan_drawn_from_the_data_centre_and_the_next_one_sees_the_last_draw(
    sources: Sources,
) -> None:
    await fill(sources)
    everyone = rules(items={FOOD: ItemRule(ratios={k: Decimal(1) for k in "ABCD"},
                                           times_per_year=2)})  # fmt: skip
    first = plan(replace(ITEM_FOOD, criteria=PoolCriteria()), code="SJ-2026-A")
    seed = bytes(32)
    officers = await inspector_rows(sources, plan=first, recusal_months=12)
    await approve_plan(
        sources.gateway,
        plan=first,
        rules=everyone,
        subjects=async_lines(subject_rows(sources, plan=first)),
        inspectors=[line(row) for row in officers],
        seed_commitment=commitment(seed),
        by=STAFF,
        now=datetime(2026, 5, 30, tzinfo=UTC),
    )
    _, result = await perform_draw(sources.gateway, plan_code=first.code, seed=seed, by=STAFF,
        now=datetime(2026, 5, 30, tzinfo=UTC),
    )  # fmt: skip
    # every active subject is drawn (ratio 1); 61000003's certificate expired before the draw
    # day, and 61000001 inspected S[0] in February: S[0] can only get 61000002 and 61000004
    drawn = {d.id: set(dict(d.inspectors)[SCJG]) for d in result.drawn}
    assert set(drawn) == {S[0], S[2], S[3]}
    assert drawn[S[0]] == {"61000002", "61000004"}
    assert all(len(team) == 2 and "61000003" not in team for team in drawn.values())
    later = replace(first, code="SJ-2026-B", draw_day=date(2026, 9, 1))
    rows = [row async for row in subject_rows(sources, plan=later)]
    assert {row.id: dict(row.last) for row in rows} == {
        S[0]: {FOOD: DAY},
        S[1]: {},
        S[2]: {FOOD: DAY},
        S[3]: {FOOD: DAY},
    }


@pytest.mark.asyncio(loop_scope="session")
async def test_a_list_item_must_be_in_the_catalogue_and_the_inspection_list(
    sources: Sources,
) -> None:
    await fill(sources)
    await check_list(sources, plan=plan())  # FOOD: its matter in use, its item listed
    with pytest.raises(InvalidInspection, match="not in the inspection list"):
        await check_list(sources, plan=plan(ITEM_PERMIT))
    other_matter = replace(ITEM_FOOD, matter_code="17066907439199")
    with pytest.raises(InvalidInspection, match="17066907439199 is not in the matter catalogue"):
        await check_list(sources, plan=plan(other_matter))
    before = replace(plan(), draw_day=date(2024, 12, 31))
    with pytest.raises(InvalidInspection, match="not in force until 2025-01-01"):
        await check_list(sources, plan=before)
