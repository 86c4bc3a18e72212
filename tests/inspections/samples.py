"""Pools, rules and plans for the inspection tests; the draw day is fixed, never today."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from inspections.rules import ItemRule, ListItem, PlanSpec, PoolCriteria, Rules
from inspections.snapshot import InspectorRow, SubjectRow, line
from standard.codes import make_item_code, make_uscc

DAY = date(2026, 6, 1)
SCJG, STHJ = "XA-SCJG", "XA-STHJ"  # market regulation; ecology and environment
SCJG_USCC, STHJ_USCC = "11610100MB1234567X", "11610100MB7654321X"
FOOD = make_item_code(SCJG_USCC, 1, 1)  # food business inspection
PERMIT = make_item_code(STHJ_USCC, 1, 1)  # pollutant discharge permit inspection
DIVISIONS = ("610102", "610103", "610104", "610113")
RATIOS = {"A": Decimal("0.05"), "B": Decimal("0.1"), "C": Decimal("0.2"), "D": Decimal("0.5")}

ITEM_FOOD = ListItem(
    item_code=FOOD,
    matter_code="17066907439150",
    department=SCJG,
    name="食品经营许可事项检查",
    legal_basis="《中华人民共和国食品安全法》第一百一十条",
    criteria=PoolCriteria(industries=("F52", "H62")),
)
ITEM_PERMIT = ListItem(
    item_code=PERMIT,
    matter_code="17066907439151",
    department=STHJ,
    name="排污许可执行情况检查",
    legal_basis="《排污许可管理条例》第二十八条",
)


def rules(**changes: object) -> Rules:
    base = Rules(
        version="2026.1",
        valid_from=date(2026, 1, 1),
        items={FOOD: ItemRule(ratios=RATIOS), PERMIT: ItemRule(ratios=RATIOS)},
    )
    return replace(base, **changes)  # type: ignore[arg-type]  # the test's own fields


def plan(*items: ListItem, code: str = "SJ-2026-001") -> PlanSpec:
    return PlanSpec(
        code=code, name="2026 年第一批双随机抽查", draw_day=DAY, items=items or (ITEM_FOOD,)
    )


def subjects(count: int, *, seed: int = 1) -> list[SubjectRow]:
    """``count`` subjects with valid USCCs, in id order, of every risk class and some industries."""
    rng = random.Random(seed)
    ids = sorted({make_uscc(rng, division=rng.choice(DIVISIONS)) for _ in range(count)})
    rows = []
    for uscc in ids:
        last = {}
        if rng.random() < 0.15:
            last[FOOD] = DAY - timedelta(days=rng.randrange(1, 700))
        rows.append(
            SubjectRow(
                id=uscc,
                risk=rng.choice("AABBBCCD"),
                division=uscc[2:8],
                status=rng.choice(("active",) * 9 + ("cancelled",)),
                industry=rng.choice(("F5211", "H6210", "C1391", None)),
                last=last,
            )
        )
    return rows


def inspectors(
    department: str,
    items: Sequence[str],
    count: int,
    *,
    seed: int = 2,
    subjects: Sequence[str] = (),
) -> list[InspectorRow]:
    """``count`` officers of ``department``, some suspended or expired, some with conflicts,
    barred districts and recent inspections of the given subjects."""
    rng = random.Random(seed)
    rows = []
    for n in range(count):
        rows.append(
            InspectorRow(
                id=f"{department[-4:]}{n:05d}",
                department=department,
                status="active" if rng.random() < 0.9 else "suspended",
                valid_to=DAY + timedelta(days=rng.randrange(-60, 700)),
                items=tuple(items),
                conflicts=tuple(rng.sample(list(subjects), min(3, len(subjects)))),
                barred=(rng.choice(DIVISIONS),) if rng.random() < 0.3 else (),
                recent={
                    uscc: DAY - timedelta(days=rng.randrange(1, 800))
                    for uscc in rng.sample(list(subjects), min(5, len(subjects)))
                },
            )
        )
    return rows


def lines_of(rows: Sequence[SubjectRow | InspectorRow]) -> list[bytes]:
    return [line(row) for row in sorted(rows, key=lambda r: r.id)]


def reader(raw: list[bytes]) -> Iterator[bytes]:
    yield from raw
