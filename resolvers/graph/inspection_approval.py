"""Approving a random-inspection plan over GraphQL (批准抽查计划), as ``jianguan inspections
approve`` does: the same ``service.approve_from_sources``, so both pools are snapshotted from the
data centre and the plan pushed to it.

Who may (``inspections.plans.may_approve``): a department approves a plan whose items are all its
own; a joint plan, binding several departments, is approved by the city office (R13). The input
mirrors the plan file (docs/inspections.md); a value that breaks a rule is refused as
BAD_USER_INPUT naming the field (``InvalidInspection``).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import strawberry
from strawberry.types import Info

from inspections import plans as stored
from inspections.errors import InvalidInspection
from inspections.pools import Declaration, Sources
from inspections.rules import ACTIVE, ItemRule, ListItem, PlanSpec, PoolCriteria, Rules
from inspections.service import approve_from_sources
from resolvers.context import Context
from resolvers.graph.inspections import InspectionPlan, _actor, _note, _services, now_of


@strawberry.input(description="适用对象范围: which subjects an item applies to; empty admits any.")
class PoolCriteriaInput:
    industries: list[str] = strawberry.field(
        default_factory=list, description="行业代码前缀 (GB/T 4754): industry code prefixes."
    )
    divisions: list[str] = strawberry.field(
        default_factory=list, description="行政区划代码前缀: division code prefixes."
    )
    licences: list[str] = strawberry.field(
        default_factory=list, description="许可事项编码: licensing items, any one held admits."
    )
    statuses: list[str] = strawberry.field(
        default_factory=lambda: [ACTIVE], description="登记状态: statuses (active by default)."
    )


@strawberry.input(description="随机抽查事项清单条目: one list item of the plan.")
class InspectionListItemInput:
    item_code: str = strawberry.field(description="检查实施清单编码: inspection item code.")
    matter_code: str = strawberry.field(description="监管事项编码: matter code.")
    department: str = strawberry.field(description="实施部门: the department's party code.")
    name: str = strawberry.field(description="事项名称: name.")
    legal_basis: str = strawberry.field(description="设定依据: legal basis.")
    criteria: PoolCriteriaInput | None = strawberry.field(
        default=None, description="适用对象范围: the subjects it applies to (any active if absent)."
    )


@strawberry.input(description="双随机抽查计划: the plan to approve.")
class InspectionPlanInput:
    code: str = strawberry.field(description="计划编号: plan code (1-50 characters).")
    name: str = strawberry.field(description="计划名称: name.")
    draw_day: date = strawberry.field(description="抽取日: the draw day; pools are as of it.")
    items: list[InspectionListItemInput] = strawberry.field(
        description="清单事项: its items; several departments' make a joint plan."
    )


@strawberry.input(description="各风险类别抽查比例: the share drawn per credit risk class, 0-1.")
class RiskRatiosInput:
    a: str = strawberry.field(description='A 类 (守信, lowest risk), as a decimal: "0.05".')
    b: str = strawberry.field(description="B 类 (一般): ordinary subjects.")
    c: str = strawberry.field(description="C 类 (较高风险): higher risk.")
    d: str = strawberry.field(description="D 类 (严重失信, highest risk).")


@strawberry.input(description="细则事项: the rule for one list item.")
class ItemRuleInput:
    item_code: str = strawberry.field(description="检查实施清单编码: the item it governs.")
    ratios: RiskRatiosInput = strawberry.field(description="抽查比例: higher risk, higher ratio.")
    times_per_year: int = strawberry.field(default=1, description="年度频次: plans a year, 1-12.")
    interval_days: int = strawberry.field(
        default=365, description="间隔天数: a drawn subject is not drawn again within this."
    )


@strawberry.input(description="抽查细则: one version of the rules.")
class InspectionRulesInput:
    version: str = strawberry.field(description="细则版本: version.")
    valid_from: date = strawberry.field(description="施行日期: in force from; ≤ the draw day.")
    items: list[ItemRuleInput] = strawberry.field(description="细则事项: a rule per list item.")
    inspectors_per_department: int = strawberry.field(
        default=2, description="每个对象每部门执法人员数: at least 2."
    )
    recusal_months: int = strawberry.field(
        default=12, description="回避月数: an inspector who inspected the subject within this."
    )


@strawberry.input(description="执法人员申报: what a department declares for one officer.")
class InspectorDeclarationInput:
    certificate: str = strawberry.field(description="执法证号: the officer's certificate.")
    items: list[str] | None = strawberry.field(
        default=None, description="具备资格的事项: items qualified for (all of the department's)."
    )
    conflicts: list[str] = strawberry.field(
        default_factory=list, description="利害关系对象: USCCs of declared conflicts (回避)."
    )
    barred: list[str] = strawberry.field(
        default_factory=list, description="回避区划: division codes the officer is barred from."
    )


def _ratio(rule: ItemRuleInput, risk: str) -> Decimal:
    text = getattr(rule.ratios, risk.lower())
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():
        raise InvalidInspection(
            f"rules.items[{rule.item_code}].ratios.{risk.lower()}",
            f"抽查比例须为小数，而非 {text!r}",
            f"a ratio is a decimal, not {text!r}",
        )
    return value


def plan_of(given: InspectionPlanInput) -> PlanSpec:
    """The plan as the domain holds it; ``InvalidInspection`` naming the item otherwise."""
    items = tuple(
        ListItem(
            item_code=i.item_code, matter_code=i.matter_code, department=i.department,
            name=i.name, legal_basis=i.legal_basis,
            criteria=PoolCriteria() if i.criteria is None else PoolCriteria(
                industries=tuple(i.criteria.industries), divisions=tuple(i.criteria.divisions),
                licences=tuple(i.criteria.licences), statuses=tuple(i.criteria.statuses),
            ),
        )
        for i in given.items
    )  # fmt: skip
    return PlanSpec(code=given.code, name=given.name, draw_day=given.draw_day, items=items)


def rules_of(given: InspectionRulesInput) -> Rules:
    """The rules as the domain holds them; ``InvalidInspection`` naming the field otherwise."""
    codes = [rule.item_code for rule in given.items]
    if len(set(codes)) != len(codes):
        raise InvalidInspection("rules.items", "细则事项重复", "an item has two rules")
    return Rules(
        version=given.version,
        valid_from=given.valid_from,
        items={
            r.item_code: ItemRule(
                ratios={risk: _ratio(r, risk) for risk in "ABCD"},
                times_per_year=r.times_per_year,
                interval_days=r.interval_days,
            )
            for r in given.items
        },
        inspectors_per_department=given.inspectors_per_department,
        recusal_months=given.recusal_months,
    )


def declarations_of(given: list[InspectorDeclarationInput]) -> dict[str, Declaration]:
    found: dict[str, Declaration] = {}
    for one in given:
        if one.certificate in found:
            raise InvalidInspection(
                f"declarations[{one.certificate}]", "同一执法证申报两次", "declared twice"
            )
        found[one.certificate] = Declaration(
            items=None if one.items is None else tuple(one.items),
            conflicts=tuple(one.conflicts),
            barred=tuple(one.barred),
        )
    return found


async def approve_inspection_plan(
    info: Info[Context, None],
    plan: InspectionPlanInput,
    rules: InspectionRulesInput,
    seed_commitment: str,
    declarations: list[InspectorDeclarationInput] | None = None,
) -> InspectionPlan:
    actor, services = _actor(info), _services(info)
    spec, version = plan_of(plan), rules_of(rules)
    databases = services.source_databases
    sources = Sources(
        supervision=databases.engine("supervision"),
        credit=databases.engine("credit"),
        gov_services=databases.engine("gov_services"),
        gateway=services.engine,
    )
    await approve_from_sources(
        sources, plan=spec, rules=version, declarations=declarations_of(declarations or []),
        seed_commitment=seed_commitment.strip().lower(), by=actor, now=now_of(info),
        calendar=services.calendar, settings=services.settings,
    )  # fmt: skip
    async with services.engine.connect() as conn:
        found = await stored.load_plan(conn, spec.code, actor)
    _note(info, 1, found.plan.departments)
    return InspectionPlan.of(found)


def fields() -> dict[str, Any]:
    """The mutation field of approval."""
    return {
        "approve_inspection_plan": strawberry.field(
            resolver=approve_inspection_plan,
            description="批准抽查计划: approve a plan with its rules and the seed's commitment "
            "(SM3 hex; `jianguan inspections seed` makes a seed); both pools are snapshotted "
            "from the data centre as of the draw day and the plan pushed to it. A department "
            "approves a plan whose items are all its own; a joint plan is approved by the city "
            "office.",
        ),
    }
