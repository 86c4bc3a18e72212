"""Approving a random-inspection plan over real HTTP on both backends, from the data centre as
the CLI does: its own department approves, another department and a department of a joint plan
may not, bad input is refused naming the field; then the plan is drawn with the seed and an
outsider's check of the exported files reproduces the draw."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from audit.log import AuditLog
from inspections.errors import InvalidInspection
from inspections.export import export_plan, verify_folder
from inspections.pools import Sources
from inspections.snapshot import commitment
from resolvers.graph.inspection_approval import (
    InspectionRulesInput,
    ItemRuleInput,
    RiskRatiosInput,
    rules_of,
)
from sources.database import SourceDatabases, create_engine
from standard.tables.supervision import InspectionItem
from standard.tables.supervision import Plan as SupervisionPlan
from tasks.lifecycle import Actor
from tests.gateway.test_administration import Gateway, codes, gateway  # noqa: F401  # fixture
from tests.inspections.samples import FOOD, ITEM_FOOD, ITEM_PERMIT, PERMIT, SCJG, STHJ
from tests.inspections.test_pools import S, control, fill, put

SEED = bytes(range(32))
EXPORTED_AT = datetime(2026, 6, 1, 9, tzinfo=UTC)
APPROVE = """
mutation Approve($plan: InspectionPlanInput!, $rules: InspectionRulesInput!,
                 $commitment: String!, $declarations: [InspectorDeclarationInput!]) {
  approveInspectionPlan(plan: $plan, rules: $rules, seedCommitment: $commitment,
                        declarations: $declarations) {
    code joint departments status subjectsCount inspectorsCount commitment rulesVersion
    items { itemCode department criteria }
  }
}"""
DRAW = """
mutation Draw($plan: String!, $seed: String!) {
  drawInspectionPlan(plan: $plan, seed: $seed) { number subjectCount }
}"""


def _item(item: Any) -> dict[str, Any]:
    return {
        "itemCode": item.item_code,
        "matterCode": item.matter_code,
        "department": item.department,
        "name": item.name,
        "legalBasis": item.legal_basis,
    }


def _variables(*items: Any, ratio: str = "1") -> dict[str, Any]:
    return {
        "plan": {"code": "SJ-2026-001", "name": "2026 年第一批双随机抽查",
                 "drawDay": "2026-06-01", "items": [_item(i) for i in items]},
        "rules": {"version": "2026.1", "validFrom": "2026-01-01", "items": [
            {"itemCode": i.item_code, "ratios": {"a": ratio, "b": "1", "c": "1", "d": "1"}}
            for i in items]},
        "commitment": commitment(SEED),
        "declarations": [{"certificate": "61000002", "conflicts": [S[2]]}],
    }  # fmt: skip


async def _fill(settings: Any) -> None:
    databases, engine = SourceDatabases(settings), create_engine(settings.gateway_url)
    try:
        await fill(
            Sources(
                supervision=databases.engine("supervision"),
                credit=databases.engine("credit"),
                gov_services=databases.engine("gov_services"),
                gateway=engine,
            )
        )
    finally:
        await engine.dispose()
        await databases.dispose()


async def test_a_department_approves_its_plan_which_then_draws_and_verifies(
    gateway: Gateway,  # noqa: F811  # the fixture imported above
    tmp_path: Path,
) -> None:
    settings = gateway.services_settings
    await _fill(settings)
    anonymous = await gateway.ask(None, APPROVE, _variables(ITEM_FOOD))
    assert codes(anonymous) == ["UNAUTHENTICATED"]
    other = await gateway.ask("sthj.staff", APPROVE, _variables(ITEM_FOOD))
    assert codes(other) == ["FORBIDDEN"], other
    not_a_number = await gateway.ask("scjg.staff", APPROVE, _variables(ITEM_FOOD, ratio="x"))
    assert codes(not_a_number) == ["BAD_USER_INPUT"]
    assert f"rules.items[{FOOD}].ratios.a" in not_a_number["errors"][0]["message"]
    falling = await gateway.ask("scjg.staff", APPROVE, _variables(ITEM_FOOD, ratio="0.5") | {
        "rules": {**_variables(ITEM_FOOD)["rules"], "items": [{"itemCode": FOOD, "ratios": {
            "a": "0.5", "b": "0.4", "c": "1", "d": "1"}}]}})  # fmt: skip
    assert codes(falling) == ["BAD_USER_INPUT"] and "higher risk" in falling["errors"][0]["message"]
    bad_commitment = await gateway.ask(
        "scjg.staff", APPROVE, {**_variables(ITEM_FOOD), "commitment": "abc"}
    )
    assert codes(bad_commitment) == ["BAD_USER_INPUT"]

    approved = await gateway.ask("scjg.staff", APPROVE, _variables(ITEM_FOOD))
    plan = approved["data"]["approveInspectionPlan"]
    assert plan["status"] == "approved" and not plan["joint"], approved
    assert plan["departments"] == [SCJG] and plan["commitment"] == commitment(SEED)
    # the data centre's pools: S[4] is deleted; SCJG's four officers (an expired certificate
    # is in the snapshot, refused at the draw), not STHJ's
    assert (plan["subjectsCount"], plan["inspectorsCount"]) == (4, 4)
    again = await gateway.ask("scjg.staff", APPROVE, _variables(ITEM_FOOD))
    assert codes(again) == ["BAD_USER_INPUT"] and "already exists" in again["errors"][0]["message"]

    drawn = await gateway.ask("scjg.staff", DRAW, {"plan": "SJ-2026-001", "seed": SEED.hex()})
    assert drawn["data"]["drawInspectionPlan"] == {"number": 1, "subjectCount": 3}, drawn  # S[1]
    engine = create_engine(settings.gateway_url)
    audit = AuditLog(engine)
    try:
        folder = tmp_path / "export"
        await export_plan(
            engine, audit, code="SJ-2026-001", viewer=Actor(officer="user:t", party=SCJG),
            folder=folder, now=EXPORTED_AT,
        )  # fmt: skip
    finally:
        await audit.close()
        await engine.dispose()
    checks = verify_folder(folder)
    assert [(c.number, c.verdict.ok) for c in checks] == [(1, True)], checks
    assert await _in_data_centre(settings) == [("SJ-2026-001", "random", SCJG, "in_progress")]


async def test_a_joint_plan_is_approved_by_the_city_office_only(
    gateway: Gateway,  # noqa: F811  # the fixture imported above
) -> None:
    await _fill(gateway.services_settings)
    joint = _variables(ITEM_FOOD, ITEM_PERMIT)
    by_department = await gateway.ask("scjg.staff", APPROVE, joint)
    assert codes(by_department) == ["FORBIDDEN"]
    assert "city office" in by_department["errors"][0]["message"]
    # the office may; the data centre's list has no inspection item for PERMIT (R1), named
    by_office = await gateway.ask("city", APPROVE, joint)
    assert codes(by_office) == ["BAD_USER_INPUT"] and PERMIT in by_office["errors"][0]["message"]
    listed = await gateway.ask("city", "{ inspectionPlans(first: 5) { edges { cursor } } }")
    assert listed["data"]["inspectionPlans"]["edges"] == []
    await _list_permit(gateway.services_settings)
    for department in ("scjg.staff", "sthj.staff"):
        assert codes(await gateway.ask(department, APPROVE, joint)) == ["FORBIDDEN"]
    approved = await gateway.ask("city", APPROVE, joint)
    plan = approved["data"]["approveInspectionPlan"]
    assert plan["joint"] and plan["departments"] == [SCJG, STHJ], approved
    assert [i["department"] for i in plan["items"]] == [SCJG, STHJ]
    assert await _in_data_centre(gateway.services_settings) == [
        ("SJ-2026-001", "joint", SCJG, "issued")  # the lead department: its first item's
    ]


async def _list_permit(settings: Any) -> None:
    """The environment department's inspection item joins the data centre's list (R1)."""
    databases = SourceDatabases(settings)
    try:
        async with databases.engine("supervision").begin() as conn:
            await put(conn, InspectionItem, [
                control(provider=STHJ, item_code=PERMIT, matter_code=ITEM_PERMIT.matter_code,
                        name="排污许可检查", department_code=STHJ,
                        administrative_type="inspection", valid_from=date(2025, 1, 1)),
            ])  # fmt: skip
    finally:
        await databases.dispose()


@given(text=st.text(max_size=12))
def test_a_ratio_that_is_not_a_decimal_in_range_is_refused_naming_its_field(text: str) -> None:
    rule = ItemRuleInput(item_code=FOOD, ratios=RiskRatiosInput(a=text, b="1", c="1", d="1"))
    given_rules = InspectionRulesInput(version="2026.1", valid_from=date(2026, 1, 1), items=[rule])
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = None
    if value is not None and value.is_finite() and 0 < value <= 1:
        assert rules_of(given_rules).items[FOOD].ratios["A"] == value
        return
    with pytest.raises(InvalidInspection) as refused:
        rules_of(given_rules)
    assert f"rules.items[{FOOD}].ratios.a" in str(refused.value) or "class A" in str(refused.value)


async def _in_data_centre(settings: Any) -> list[tuple[object, ...]]:
    databases = SourceDatabases(settings)
    try:
        async with databases.engine("supervision").connect() as conn:
            rows = await conn.execute(
                select(SupervisionPlan.plan_code, SupervisionPlan.plan_type,
                       SupervisionPlan.provider, SupervisionPlan.status)
            )  # fmt: skip
            return [tuple(row) for row in rows]
    finally:
        await databases.dispose()
