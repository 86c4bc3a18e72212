"""The draw against a reference written from its documented definition (docs/inspections.md,
inspections/draw.py's docstring), with hashlib's SM3 directly: quotas per risk class, the
interval, at least two inspectors, each recusal reason, joint plans, and reproduction."""

from __future__ import annotations

import hashlib
import math
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inspections.draw import Draw, draw
from inspections.errors import InvalidInspection, InvalidSnapshot, TooFewInspectors
from inspections.rules import ItemRule, Rules, months_before
from inspections.snapshot import (
    SUBJECTS,
    InspectorRow,
    SubjectRow,
    commitment,
    line,
    snapshot_hash,
)
from tests.inspections.samples import (
    DAY,
    FOOD,
    ITEM_FOOD,
    ITEM_PERMIT,
    PERMIT,
    RATIOS,
    SCJG,
    STHJ,
    inspectors,
    lines_of,
    plan,
    rules,
    subjects,
)

SEED = bytes.fromhex("5a" * 32)


def sm3(data: bytes) -> bytes:
    return hashlib.new("sm3", data).digest()


def rank(seed: bytes, uscc: str) -> bytes:
    return sm3(seed + b"subject\x1f" + uscc.encode())


def reference_pool(item: str, rows: list[SubjectRow], *, interval: int = 365) -> list[SubjectRow]:
    """Step 1 for the sample items: FOOD admits retail (F52) and catering (H62), PERMIT any
    industry; both only active subjects not drawn for the item within the interval."""
    found = []
    for row in rows:
        if row.status != "active":
            continue
        if item == FOOD and not (row.industry or "").startswith(("F52", "H62")):
            continue
        last = row.last.get(item)
        if last is not None and (DAY - last).days < interval:
            continue
        found.append(row)
    return found


def reference_selection(
    items: list[str], rows: list[SubjectRow], seed: bytes
) -> dict[str, set[str]]:
    """Steps 2-3: per item and class the ⌈ratio·n⌉ of smallest rank; subject → its items."""
    chosen: dict[str, set[str]] = {}
    for item in items:
        pool = reference_pool(item, rows)
        for risk, ratio in RATIOS.items():
            of_class = sorted((r for r in pool if r.risk == risk), key=lambda r: rank(seed, r.id))
            q = math.ceil(ratio * len(of_class))
            for row in of_class[:q]:
                chosen.setdefault(row.id, set()).add(item)
    return chosen


def run(
    rows: list[SubjectRow], officers: list[InspectorRow], *items: object, **rule: object
) -> Draw:
    raw = lines_of(rows)
    return draw(
        plan(*items),  # type: ignore[arg-type]  # ListItems
        rules(**rule),
        lambda: raw,
        lines_of(officers),
        seed=SEED,
    )


POOL = subjects(400)
IDS = [row.id for row in POOL]
OFFICERS = inspectors(SCJG, [FOOD], 12, subjects=IDS) + inspectors(
    STHJ, [PERMIT], 12, seed=3, subjects=IDS
)


def test_the_subjects_are_the_documented_function_of_the_snapshot_and_seed() -> None:
    result = run(POOL, OFFICERS)
    assert {d.id: set(d.items) for d in result.drawn} == reference_selection([FOOD], POOL, SEED)
    assert [d.rank for d in result.drawn] == sorted(d.rank for d in result.drawn)
    assert all(d.rank == rank(SEED, d.id).hex() for d in result.drawn)


def test_quotas_follow_the_ratio_of_each_risk_class() -> None:
    result = run(POOL, OFFICERS)
    pool = reference_pool(FOOD, POOL)
    for risk, ratio in RATIOS.items():
        n = sum(1 for row in pool if row.risk == risk)
        assert result.counts[FOOD][risk] == n
        assert result.quotas[FOOD][risk] == math.ceil(ratio * n)
        assert sum(1 for d in result.drawn if d.risk == risk) == math.ceil(ratio * n)
    # higher risk, higher share drawn
    shares = [result.quotas[FOOD][k] / max(1, result.counts[FOOD][k]) for k in "ABCD"]
    assert shares == sorted(shares)


def test_a_subject_drawn_within_the_interval_is_not_drawn_again() -> None:
    everyone = {k: Decimal(1) for k in "ABCD"}
    recent = SubjectRow(
        id=IDS[0],
        risk="B",
        division="610102",
        status="active",
        industry="F5211",
        last={FOOD: DAY - timedelta(days=364)},
    )
    due = replace(recent, id=IDS[1], last={FOOD: DAY - timedelta(days=365)})
    result = run([recent, due], OFFICERS, items={FOOD: ItemRule(ratios=everyone)})
    assert [d.id for d in result.drawn] == [IDS[1]]


def test_the_same_inputs_give_the_same_draw_and_another_seed_another() -> None:
    first, second = run(POOL, OFFICERS), run(POOL, OFFICERS)
    assert first.result_hash() == second.result_hash()
    other = draw(plan(), rules(), lambda: lines_of(POOL), lines_of(OFFICERS), seed=b"\x01" * 32)
    assert other.result_hash() != first.result_hash()
    assert commitment(SEED) == hashlib.new("sm3", SEED).hexdigest()


def test_a_joint_plan_visits_each_subject_once_with_inspectors_of_every_department() -> None:
    result = run(POOL, OFFICERS, ITEM_FOOD, ITEM_PERMIT)
    expected = reference_selection([FOOD, PERMIT], POOL, SEED)
    assert {d.id: set(d.items) for d in result.drawn} == expected
    assert len({d.id for d in result.drawn}) == len(result.drawn)
    both = [d for d in result.drawn if len(d.items) == 2]
    assert both, "the sample should hold subjects drawn for both items"
    for one in both:
        assert [department for department, _ in one.inspectors] == [SCJG, STHJ]


def eligible_reference(
    officer: InspectorRow, row: SubjectRow, items: set[str], months: int
) -> bool:
    """Written from the rules: valid certificate on the day, qualified, and not recused."""
    if officer.status != "active" or officer.valid_to is None or officer.valid_to < DAY:
        return False
    if not items <= set(officer.items):
        return False
    if row.id in officer.conflicts or row.division in officer.barred:
        return False
    last = officer.recent.get(row.id)
    return last is None or last < months_before(DAY, months)


def check_every_pair(
    result: Draw, rows: list[SubjectRow], officers: list[InspectorRow], need: int, months: int
) -> None:
    by_id = {row.id: row for row in rows}
    by_cert = {officer.id: officer for officer in officers}
    department_of = {FOOD: SCJG, PERMIT: STHJ}
    for one in result.drawn:
        departments = {department_of[item] for item in one.items}
        assert {department for department, _ in one.inspectors} == departments
        for department, certs in one.inspectors:
            assert len(certs) == need >= 2
            assert len(set(certs)) == len(certs)
            items = {item for item in one.items if department_of[item] == department}
            for cert in certs:
                officer = by_cert[cert]
                assert officer.department == department
                assert eligible_reference(officer, by_id[one.id], items, months), (cert, one.id)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    count=st.integers(20, 120),
    pool_seed=st.integers(0, 10_000),
    officers=st.integers(6, 20),
    need=st.integers(2, 3),
    months=st.integers(0, 24),
    seed=st.binary(min_size=32, max_size=32),
)
def test_every_drawn_pair_keeps_every_rule(
    count: int, pool_seed: int, officers: int, need: int, months: int, seed: bytes
) -> None:
    rows = subjects(count, seed=pool_seed)
    ids = [row.id for row in rows]
    staff = inspectors(SCJG, [FOOD], officers, seed=pool_seed, subjects=ids) + inspectors(
        STHJ, [PERMIT], officers, seed=pool_seed + 1, subjects=ids
    )
    the_rules = rules(inspectors_per_department=need, recusal_months=months)
    try:
        result = draw(
            plan(ITEM_FOOD, ITEM_PERMIT),
            the_rules,
            lambda: lines_of(rows),
            lines_of(staff),
            seed=seed,
        )
    except TooFewInspectors as refused:
        # only when the reference agrees: fewer than `need` eligible for that subject
        row = next(r for r in rows if r.id == refused.subject)
        eligible = [
            o
            for o in staff
            if o.department == refused.department
            and eligible_reference(o, row, {FOOD if o.department == SCJG else PERMIT}, months)
        ]
        assert len(eligible) < need
        return
    assert {d.id: set(d.items) for d in result.drawn} == reference_selection(
        [FOOD, PERMIT], rows, seed
    )
    check_every_pair(result, rows, staff, need, months)


def _subject() -> SubjectRow:
    return SubjectRow(id=IDS[0], risk="D", division="610113", status="active", industry="F5211")


def _officer(n: int, **changes: object) -> InspectorRow:
    base = InspectorRow(
        id=f"SCJG{n:05d}",
        department=SCJG,
        status="active",
        valid_to=date(2027, 1, 1),
        items=(FOOD,),
    )
    return replace(base, **changes)  # type: ignore[arg-type]  # the test's own fields


EVERYONE = {FOOD: ItemRule(ratios={k: Decimal(1) for k in "ABCD"})}


@pytest.mark.parametrize(
    ("reason", "changes"),
    [
        ("declared conflict", {"conflicts": (IDS[0],)}),
        ("barred district", {"barred": ("610113",)}),
        ("inspected it 11 months ago", {"recent": {IDS[0]: date(2025, 7, 2)}}),
        ("certificate expired the day before", {"valid_to": date(2026, 5, 31)}),
        ("suspended", {"status": "suspended"}),
        ("not qualified for the item", {"items": (PERMIT,)}),
    ],
)
def test_each_reason_keeps_an_inspector_off_the_subject(
    reason: str, changes: dict[str, object]
) -> None:
    officers = [_officer(1), _officer(2), _officer(3, **changes)]
    result = run([_subject()], officers, items=EVERYONE)
    [(department, team)] = result.drawn[0].inspectors
    assert (department, set(team)) == (SCJG, {"SCJG00001", "SCJG00002"}), reason
    with pytest.raises(TooFewInspectors, match="XA-SCJG"):
        run([_subject()], [_officer(1), _officer(3, **changes)], items=EVERYONE)


def test_an_inspection_just_outside_the_recusal_window_does_not_recuse() -> None:
    officers = [_officer(1), _officer(2, recent={IDS[0]: date(2025, 5, 31)})]
    result = run([_subject()], officers, items=EVERYONE)
    assert sorted(result.drawn[0].inspectors[0][1]) == ["SCJG00001", "SCJG00002"]


def test_rules_that_break_the_rules_are_refused() -> None:
    with pytest.raises(InvalidInspection, match="higher risk, higher ratio"):
        ItemRule(
            ratios={
                "A": Decimal("0.2"),
                "B": Decimal("0.1"),
                "C": Decimal("0.3"),
                "D": Decimal("0.4"),
            }
        ).check(FOOD)
    with pytest.raises(InvalidInspection, match="at least 2 inspectors"):
        Rules(version="x", valid_from=DAY, items={}, inspectors_per_department=1)
    with pytest.raises(InvalidInspection, match="no rule for item"):
        run(POOL, OFFICERS, ITEM_PERMIT, items={FOOD: ItemRule(ratios=RATIOS)})


def test_a_snapshot_out_of_order_or_not_canonical_is_refused() -> None:
    raw = lines_of(POOL[:3])
    with pytest.raises(InvalidSnapshot, match="line 2"):
        draw(plan(), rules(), lambda: [raw[1], raw[0], raw[2]], [], seed=SEED)
    with pytest.raises(InvalidSnapshot, match="line 1: not in canonical form"):
        snapshot_hash(SUBJECTS, [raw[0].replace(b'":', b'": ')])
    assert line(POOL[0]).endswith(b"\n")
