"""An outsider's check: a draw reproduced from the snapshots and the seed, and every kind of
change (to a snapshot, the seed, the rules, the recorded result) found and named."""

from __future__ import annotations

from dataclasses import replace

import orjson

from inspections.draw import draw
from inspections.snapshot import INSPECTORS, SUBJECTS, Approval, commitment, snapshot_hash
from inspections.verify import verify
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

SEED = bytes(range(32))
POOL = subjects(300, seed=5)
IDS = [row.id for row in POOL]
SUBJECT_LINES = lines_of(POOL)
OFFICER_LINES = lines_of(
    inspectors(SCJG, [FOOD], 12, subjects=IDS) + inspectors(STHJ, [PERMIT], 12, subjects=IDS)
)
PLAN = plan(ITEM_FOOD, ITEM_PERMIT)


def approval() -> Approval:
    subjects_hash, subjects_count = snapshot_hash(SUBJECTS, SUBJECT_LINES)
    inspectors_hash, inspectors_count = snapshot_hash(INSPECTORS, OFFICER_LINES)
    return Approval(
        plan=PLAN.code,
        rules_hash=rules().hash(),
        subjects_hash=subjects_hash,
        subjects_count=subjects_count,
        inspectors_hash=inspectors_hash,
        inspectors_count=inspectors_count,
        commitment=commitment(SEED),
    )


def recorded() -> list[bytes]:
    return list(draw(PLAN, rules(), lambda: SUBJECT_LINES, OFFICER_LINES, seed=SEED).lines())


def check(**changes: object) -> str | None:
    arguments: dict[str, object] = {
        "subjects": lambda: SUBJECT_LINES,
        "inspectors": OFFICER_LINES,
        "seed": SEED,
        "recorded": recorded(),
    }
    the_rules = changes.pop("rules", rules())
    the_approval = changes.pop("approval", approval())
    arguments.update(changes)
    verdict = verify(PLAN, the_rules, the_approval, **arguments)  # type: ignore[arg-type]
    return None if verdict.ok else verdict.difference


def test_the_recorded_draw_is_reproduced() -> None:
    assert check() is None


def test_a_changed_subject_snapshot_is_found() -> None:
    changed = list(SUBJECT_LINES)
    row = orjson.loads(changed[10])
    row["risk"] = "D" if row["risk"] != "D" else "A"
    changed[10] = orjson.dumps(row, option=orjson.OPT_SORT_KEYS) + b"\n"
    difference = check(subjects=lambda: changed)
    assert difference is not None
    assert "subjects snapshot differs" in difference


def test_a_removed_inspector_is_found() -> None:
    difference = check(inspectors=OFFICER_LINES[1:])
    assert difference is not None
    assert "inspectors snapshot differs" in difference


def test_another_seed_is_refused_by_the_commitment() -> None:
    difference = check(seed=bytes(32))
    assert difference is not None
    assert "is not the commitment" in difference


def test_changed_rules_are_found() -> None:
    difference = check(rules=rules(recusal_months=6))
    assert difference is not None
    assert "rules' hash" in difference


def test_an_altered_result_names_the_first_subject_and_field() -> None:
    lines = recorded()
    row = orjson.loads(lines[3])
    department, team = next(iter(row["inspectors"].items()))
    row["inspectors"][department] = list(reversed(team))
    lines[3] = orjson.dumps(row, option=orjson.OPT_SORT_KEYS) + b"\n"
    difference = check(recorded=lines)
    assert difference is not None
    assert f"line 4 ({row['id']}): inspectors" in difference


def test_a_result_with_a_subject_left_out_is_found() -> None:
    lines = recorded()
    difference = check(recorded=lines[:5] + lines[6:])
    assert difference is not None
    assert "line 6" in difference


def test_an_approval_with_another_count_is_found() -> None:
    difference = check(approval=replace(approval(), subjects_count=299))
    assert difference is not None
    assert "approved 299 rows" in difference
