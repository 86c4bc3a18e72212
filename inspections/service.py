"""The verbs the CLI, GraphQL and the portal share: approve a plan from the data centre's
current data (both pools built and snapshotted in one pass), and read a plan file.

A plan file is JSON: ``{"plan": <PlanSpec.document()>, "rules": <Rules.document()>,
"declarations": {"<certificate>": {"items": [...], "conflicts": [...], "barred": [...]}}}``;
``declarations`` is optional (docs/inspections.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from audit.log import AuditLog
from inspections.errors import InvalidInspection
from inspections.pools import Declaration, Sources, check_list, inspector_rows, subject_rows
from inspections.rules import PlanSpec, Rules
from inspections.snapshot import Approval, async_lines, line
from inspections.store import approve_plan
from tasks.lifecycle import Actor


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


async def approve_from_sources(
    sources: Sources,
    audit: AuditLog,
    *,
    plan: PlanSpec,
    rules: Rules,
    declarations: Mapping[str, Declaration],
    seed_commitment: str,
    by: Actor,
    now: datetime,
) -> Approval:
    """Check the plan's items against the catalogue (R1), snapshot both pools from the data
    centre as of the plan's draw day, and approve."""
    await check_list(sources, plan=plan)
    officers = await inspector_rows(
        sources, plan=plan, recusal_months=rules.recusal_months, declarations=declarations
    )
    return await approve_plan(
        sources.gateway,
        audit,
        plan=plan,
        rules=rules,
        subjects=async_lines(subject_rows(sources, plan=plan)),
        inspectors=[line(row) for row in officers],
        seed_commitment=seed_commitment,
        by=by,
        now=now,
    )
