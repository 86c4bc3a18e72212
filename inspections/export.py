"""A plan's files for outsiders (``jianguan inspections export``), and checking them
(``jianguan inspections verify-draw``) with nothing but the files.

A folder holds ``plan.json`` (the plan, the rules, the approval and every draw's seed,
commitment, reason and result hash), ``subjects.jsonl`` and ``inspectors.jsonl`` (the snapshots,
byte for byte as approved and hashed) and ``draw-<n>.jsonl`` (each draw's result lines). The
first draw is checked against the approval's commitment; a repeat against the commitment
recorded with it, which is why a repeat is shown beside the first and never replaces it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine

from audit.log import AuditEvent, AuditLog
from inspections.errors import InvalidInspection
from inspections.plans import DRAWN, SNAPSHOTS, draws_of, lines, load_plan
from inspections.rules import PlanSpec, Rules, sm3_hex
from inspections.snapshot import INSPECTORS, SUBJECTS, Approval
from inspections.verify import Verdict, verify
from standard.sm3 import new_sm3
from tasks.lifecycle import Actor

PLAN_FILE = "plan.json"


def _draw_file(number: int) -> str:
    return f"draw-{number}.jsonl"


async def export_plan(
    engine: AsyncEngine, audit: AuditLog, *, code: str, viewer: Actor, folder: Path, now: datetime
) -> Path:
    """Write the plan's files into ``folder`` (created); the reader must be able to see it."""
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    earlier = await draws_of(engine, code, viewer=viewer)
    async with engine.connect() as conn:
        stored = await load_plan(conn, code, viewer)
        for pool in (SUBJECTS, INSPECTORS):
            with (folder / f"{pool}.jsonl").open("wb") as handle:
                async for raw in lines(conn, SNAPSHOTS, plan_code=code, pool=pool):
                    handle.write(raw)
        for one in earlier:
            with (folder / _draw_file(one.number)).open("wb") as handle:
                async for raw in lines(conn, DRAWN, plan_code=code, number=one.number):
                    handle.write(raw)
    document = {
        "format": 1,
        "plan": stored.plan.document(),
        "rules": stored.rules.document(),
        "approval": stored.approval.document(),
        "draws": [
            {
                "number": one.number,
                "seed": one.seed,
                "commitment": one.commitment,
                "reason": one.reason,
                "result_hash": one.result_hash,
                "subjects": one.subject_count,
                "drawn_at": one.drawn_at.isoformat(),
                "drawn_by": one.drawn_by,
            }
            for one in earlier
        ],
    }
    path = folder / PLAN_FILE
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2))
    await audit.append(
        AuditEvent(
            actor=viewer.officer,
            event="inspection_export",
            outcome="ok",
            party_code=viewer.party,
            resources=("inspections",),
            providers=stored.plan.departments,
            detail={"plan": code, "draws": len(earlier)},
            at=now,
        )
    )
    return path


@dataclass(frozen=True, slots=True)
class DrawCheck:
    number: int
    reason: str | None
    verdict: Verdict


def _read(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        yield from handle


def _file_hash(path: Path) -> str:
    digest = new_sm3()
    for raw in _read(path):
        digest.update(raw)
    return str(digest.hexdigest())


def verify_folder(folder: Path) -> list[DrawCheck]:
    """Check every draw in an exported folder; one verdict per draw, the first one first."""
    try:
        document = orjson.loads((folder / PLAN_FILE).read_bytes())
        plan = PlanSpec.from_document(document["plan"])
        rules = Rules.from_document(document["rules"])
        approval = Approval(**document["approval"])
        draws = document["draws"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError, ArithmeticError) as exc:
        raise InvalidInspection(
            str(folder / PLAN_FILE), "不是导出的抽查计划文件", f"not an exported plan ({exc})"
        ) from None
    subjects, inspectors = folder / f"{SUBJECTS}.jsonl", folder / f"{INSPECTORS}.jsonl"
    checks = []
    for one in draws:
        number = int(one["number"])
        seed = bytes.fromhex(one["seed"])
        path = folder / _draw_file(number)
        # a repeat's seed was committed only as it was revealed: checked against that record
        against = approval if number == 1 else replace(approval, commitment=one["commitment"])
        if number > 1 and sm3_hex(seed) != one["commitment"]:
            verdict = Verdict(ok=False, difference="重复抽取的种子与记录不符 / seed ≠ commitment")
        else:
            verdict = verify(
                plan,
                rules,
                against,
                subjects=lambda: _read(subjects),
                inspectors=list(_read(inspectors)),
                seed=seed,
                recorded=_read(path),
            )
        if verdict.ok and _file_hash(path) != one["result_hash"]:
            verdict = Verdict(
                ok=False,
                difference=f"{path.name} 与记录的结果哈希不符 / {path.name} does not match the "
                f"recorded result hash {one['result_hash']}",
            )
        checks.append(DrawCheck(number, one.get("reason"), verdict))
    return checks
