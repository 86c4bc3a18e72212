"""Checking a draw (验证抽取结果): recompute it from the approved plan's snapshots and the
revealed seed, and compare; the verdict names the first difference.

Checked in this order, each against what the approval recorded before the seed was known: the
rules' hash, the seed against its commitment, the subject snapshot's hash and count (a snapshot
not in canonical form is refused with ``InvalidSnapshot`` naming the line), the inspector
snapshot's hash and count; then the recomputed draw against the recorded one, line by
line, naming the first subject (and field) that differs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import orjson

from inspections.draw import Draw, Lines, draw
from inspections.rules import PlanSpec, Rules
from inspections.snapshot import INSPECTORS, SUBJECTS, Approval, commitment, snapshot_hash
from standard.errors import InputError


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether the draw is reproduced; if not, what differs first (Chinese / English)."""

    ok: bool
    difference: str | None = None
    draw: Draw | None = None


def _differs(zh: str, en: str) -> Verdict:
    return Verdict(ok=False, difference=f"{zh} / {en}")


def verify(
    plan: PlanSpec,
    rules: Rules,
    approval: Approval,
    *,
    subjects: Lines,
    inspectors: Iterable[bytes],
    seed: bytes,
    recorded: Iterable[bytes],
) -> Verdict:
    """Recompute ``plan``'s draw and compare it with the ``recorded`` result lines."""
    if rules.hash() != approval.rules_hash:
        return _differs("细则与批准时不同", f"the rules' hash is not {approval.rules_hash}")
    if commitment(seed) != approval.commitment:
        return _differs(
            "随机种子与批准时的承诺不符",
            f"the seed's SM3 is not the commitment {approval.commitment}",
        )
    officers = list(inspectors)
    pools: dict[str, Lines] = {SUBJECTS: subjects, INSPECTORS: lambda: officers}
    checks = (
        ("检查对象", SUBJECTS, approval.subjects_hash, approval.subjects_count),
        ("执法人员", INSPECTORS, approval.inspectors_hash, approval.inspectors_count),
    )
    for zh, en, want, want_count in checks:
        found, count = snapshot_hash(en, pools[en](), strict=True)
        if found != want or count != want_count:
            return _differs(
                f"{zh}名录快照与批准时不同（{count} 行，SM3 {found}）",
                f"the {en} snapshot differs from the approved one: {count} rows, SM3 {found}, "
                f"approved {want_count} rows, SM3 {want}",
            )
    try:
        again = draw(plan, rules, subjects, officers, seed=seed)
    except InputError as exc:  # too few inspectors: the record cannot have come from these
        return _differs("无法重新抽取", str(exc))
    expected = list(again.lines())
    position = 0
    for position, raw in enumerate(recorded, start=1):
        if position > len(expected):
            return _differs(
                f"记录多出第 {position} 行", f"the record has more lines than the draw: {position}"
            )
        if raw != expected[position - 1]:
            return _differs(*_first_field(position, expected[position - 1], raw))
    if position < len(expected):
        return _differs(
            f"记录缺少第 {position + 1} 行起的结果",
            f"the record ends after {position} lines; the draw has {len(expected)}",
        )
    return Verdict(ok=True, draw=again)


def _first_field(position: int, expected: bytes, found: bytes) -> tuple[str, str]:
    want, got = orjson.loads(expected), orjson.loads(found)
    for name in sorted(set(want) | set(got)):
        if want.get(name) != got.get(name):
            return (
                f"第 {position} 行（{want.get('id')}）的 {name} 不同：应为 {want.get(name)}，"
                f"记录为 {got.get(name)}",
                f"line {position} ({want.get('id')}): {name} is {got.get(name)!r} in the record, "
                f"the draw gives {want.get(name)!r}",
            )
    return (f"第 {position} 行字节不同", f"line {position} differs in its bytes")
