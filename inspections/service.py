"""The verbs the CLI, GraphQL and the portal share: approve a plan from the data centre's
current data (both pools built and snapshotted in one pass), draw it, and read a plan file.

The data centre holds every plan (R3): approval pushes the plan to supervision's ``plans``
(plan type random, or joint for several departments; the lead department as provider), and
the draw updates it (in progress, the number of subjects drawn), through ingest like any
pushed record, so the acts that record its results link to it by ``plan_code``. The approval or
draw stands either way: a record the data centre refuses (a plan approved without the catalogue
check, say) is logged with the reasons, for the operator to push again.

A plan file is JSON: ``{"plan": <PlanSpec.document()>, "rules": <Rules.document()>,
"declarations": {"<certificate>": {"items": [...], "conflicts": [...], "barred": [...]}}}``;
``declarations`` is optional (docs/inspections.md).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine

from ingest.service import IngestOptions, IngestSettings, ingest_records
from inspections.errors import ApprovalForbidden, InvalidInspection
from inspections.plans import StoredDraw, load_plan, may_approve
from inspections.pools import Declaration, Sources, check_list, inspector_rows, subject_rows
from inspections.rules import PlanSpec, Rules
from inspections.snapshot import Approval, async_lines, line
from inspections.store import approve_plan, perform_draw
from standard.tables.supervision import Plan
from standard.workdays import WorkCalendar
from tasks.lifecycle import Actor

log = logging.getLogger("jianguan.inspections")


@dataclass(frozen=True, slots=True)
class PlanFile:
    plan: PlanSpec
    rules: Rules
    declarations: Mapping[str, Declaration]


def read_plan_file(path: Path) -> PlanFile:
    """A plan file, checked; ``InvalidInspection`` naming the file otherwise."""
    try:
        document: Any = orjson.loads(path.read_bytes())
        declared = {
            cert: Declaration(
                items=tuple(d["items"]) if d.get("items") is not None else None,
                conflicts=tuple(d.get("conflicts", ())),
                barred=tuple(d.get("barred", ())),
            )
            for cert, d in (document.get("declarations") or {}).items()
        }
        return PlanFile(
            plan=PlanSpec.from_document(document["plan"]),
            rules=Rules.from_document(document["rules"]),
            declarations=declared,
        )
    # JSON errors are ValueErrors; a ratio that is not a number is decimal's ArithmeticError
    except (OSError, ValueError, KeyError, TypeError, AttributeError, ArithmeticError) as exc:
        raise InvalidInspection(
            str(path), "不是有效的抽查计划文件", f"not a plan file ({type(exc).__name__}: {exc})"
        ) from None


def plan_record(
    plan: PlanSpec,
    rules: Rules,
    *,
    produced_at: datetime,
    status: str = "issued",
    subject_count: int | None = None,
) -> dict[str, Any]:
    """The plan as a supervision ``plans`` exchange record."""
    base = rules.items[plan.items[0].item_code].ratios["B"]  # the ratio of an ordinary subject
    return {
        "cd_id": f"inspection-plan-{plan.code}",
        "cd_operation": "i" if status == "issued" else "u",
        "produced_at": produced_at.isoformat(),
        "plan_code": plan.code,
        "name": plan.name,
        "plan_type": "joint" if plan.joint else "random",
        "department_code": plan.items[0].department,
        "matter_codes": sorted({item.matter_code for item in plan.items}),
        "year": plan.draw_day.year,
        "start_date": plan.draw_day.isoformat(),
        "end_date": date(plan.draw_day.year, 12, 31).isoformat(),
        "sampling_ratio": str((base * 100).quantize(Decimal("0.01"))),
        "subject_count": subject_count,
        "status": status,
    }


async def record_plan(
    supervision: AsyncEngine,
    record: dict[str, Any],
    *,
    calendar: WorkCalendar,
    settings: IngestSettings,
    now: datetime,
) -> bool:
    """Push a plan record to the data centre; whether it was taken (a refusal is logged)."""
    options = IngestOptions(
        provider=record["department_code"],
        received_at=now,
        calendar=calendar,
        settings=settings,
        system="inspections",
    )
    report = await ingest_records(supervision, [(1, record)], table=Plan, options=options)
    if report.rejected:
        reasons = "; ".join(f"{e.field}: {e.reason}" for e in report.errors)
        log.warning("plan %s: the data centre refused its record: %s", record["plan_code"], reasons)
        return False
    return True


async def approve_from_sources(
    sources: Sources,
    *,
    plan: PlanSpec,
    rules: Rules,
    declarations: Mapping[str, Declaration],
    seed_commitment: str,
    by: Actor,
    now: datetime,
    calendar: WorkCalendar,
    settings: IngestSettings,
) -> Approval:
    """Check the plan's items against the catalogue (R1), snapshot both pools from the data
    centre as of the plan's draw day, approve, and push the plan to the data centre. Only its
    own department approves a plan, the city office a joint one (``plans.may_approve``)."""
    if not may_approve(by, plan.departments):
        raise ApprovalForbidden(plan.code, by.party, plan.joint)
    await check_list(sources, plan=plan)
    officers = await inspector_rows(
        sources, plan=plan, recusal_months=rules.recusal_months, declarations=declarations
    )
    approval = await approve_plan(
        sources.gateway,
        plan=plan,
        rules=rules,
        subjects=async_lines(subject_rows(sources, plan=plan)),
        inspectors=[line(row) for row in officers],
        seed_commitment=seed_commitment,
        by=by,
        now=now,
    )
    record = plan_record(plan, rules, produced_at=now)
    await record_plan(sources.supervision, record, calendar=calendar, settings=settings, now=now)
    return approval


async def draw_plan(
    gateway: AsyncEngine,
    supervision: AsyncEngine,
    *,
    plan_code: str,
    seed: bytes,
    by: Actor,
    now: datetime,
    reason: str | None,
    calendar: WorkCalendar,
    settings: IngestSettings,
) -> StoredDraw:
    """Draw the plan (``store.perform_draw``) and update it in the data centre."""
    drawn, _ = await perform_draw(
        gateway, plan_code=plan_code, seed=seed, by=by, now=now, reason=reason
    )
    async with gateway.connect() as conn:
        stored = await load_plan(conn, plan_code, by)
    record = plan_record(
        stored.plan,
        stored.rules,
        produced_at=now,
        status="in_progress",
        subject_count=drawn.subject_count,
    )
    await record_plan(supervision, record, calendar=calendar, settings=settings, now=now)
    return drawn
