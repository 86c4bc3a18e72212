"""A random-inspection draw over a large pool: seconds and peak memory, at two pool sizes.

    .venv/bin/python -m benchmarks.draw [--sizes 100000 1000000] [--ratio 0.05]

Writes a subject snapshot (canonical lines, risk classes A-D, some subjects drawn for the item
recently, so the interval rule excludes them) to a temporary file, and an inspector snapshot of
two departments with conflicts, barred districts and recent inspections, so every recusal
reason is exercised. A joint plan of two items (one per department) is drawn from the file,
streamed as production reads it. Each size is timed without tracing, then drawn again under
tracemalloc for the peak of Python allocations during the draw: flat in the pool size means
that peak follows the number drawn (the heaps), not the number of subjects. Goal: 1,000,000
subjects at 5 % in ≤ 10 s.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from inspections.draw import draw
from inspections.rules import ItemRule, ListItem, PlanSpec, PoolCriteria, Rules, ratios
from inspections.snapshot import InspectorRow, SubjectRow, line

DAY = date(2026, 6, 1)
DEPARTMENTS = ("XA-SCJG", "XA-STHJ")
ITEMS = ("916101000000000001100001", "916101000000000002100001")
DIVISIONS = ("610102", "610103", "610104", "610111", "610112", "610113")
INSPECTORS_PER_DEPARTMENT = 400


def subject_lines(count: int) -> Iterator[bytes]:
    rng = random.Random(7)
    for n in range(count):
        last = {}
        if rng.random() < 0.1:  # drawn for the first item within the interval: excluded
            last[ITEMS[0]] = DAY - timedelta(days=rng.randrange(1, 300))
        yield line(
            SubjectRow(
                id=f"9161{n:014d}",  # ids need only sort; the draw does not check USCCs
                risk=rng.choice("AABBBBBCCD"),
                division=rng.choice(DIVISIONS),
                status="active" if rng.random() < 0.97 else "cancelled",
                industry=rng.choice(("F5211", "H6210", "C1391")),
                last=last,
            )
        )


def inspector_lines(subjects: int) -> list[bytes]:
    rng = random.Random(8)
    rows = []
    for d, department in enumerate(DEPARTMENTS):
        for n in range(INSPECTORS_PER_DEPARTMENT):
            rows.append(
                InspectorRow(
                    id=f"61{d}{n:06d}",
                    department=department,
                    status="active" if rng.random() < 0.95 else "suspended",
                    valid_to=DAY + timedelta(days=rng.randrange(-30, 900)),
                    items=(ITEMS[d],),
                    conflicts=tuple(f"9161{rng.randrange(subjects):014d}" for _ in range(20)),
                    barred=(rng.choice(DIVISIONS),),
                    recent={
                        f"9161{rng.randrange(subjects):014d}": DAY - timedelta(days=100)
                        for _ in range(50)
                    },
                )
            )
    return [line(row) for row in sorted(rows, key=lambda r: r.id)]


def plan_and_rules(ratio: Decimal) -> tuple[PlanSpec, Rules]:
    items = tuple(
        ListItem(
            item_code=code,
            matter_code=f"1706690743915{i}",
            department=department,
            name=f"事项 {i}",
            legal_basis="《企业信息公示暂行条例》",
            criteria=PoolCriteria(industries=("F", "H") if i == 0 else ()),
        )
        for i, (code, department) in enumerate(zip(ITEMS, DEPARTMENTS, strict=True))
    )
    plan = PlanSpec(code="BENCH-2026-01", name="基准抽查", draw_day=DAY, items=items)
    rules = Rules(
        version="2026.1",
        valid_from=date(2026, 1, 1),
        items={code: ItemRule(ratios=ratios(ratio), interval_days=365) for code in ITEMS},
    )
    return plan, rules


def measure(size: int, ratio: Decimal, folder: Path) -> None:
    path = folder / f"subjects-{size}.jsonl"
    with path.open("wb") as handle:
        handle.writelines(subject_lines(size))
    officers = inspector_lines(size)
    plan, rules = plan_and_rules(ratio)

    def read() -> Iterator[bytes]:
        with path.open("rb") as handle:
            yield from handle

    seed = bytes(range(32))
    start = time.perf_counter()
    result = draw(plan, rules, read, officers, seed=seed)
    seconds = time.perf_counter() - start
    tracemalloc.start()
    again = draw(plan, rules, read, officers, seed=seed)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert again.result_hash() == result.result_hash()
    quotas = sum(sum(by_class.values()) for by_class in result.quotas.values())
    print(
        f"{size:>9,} subjects ({path.stat().st_size / 2**20:.0f} MiB file): "
        f"{len(result.drawn):,} drawn ({quotas:,} item quotas), {seconds:.2f} s, "
        f"peak Python memory during the draw {peak / 2**20:.1f} MiB"
    )
    path.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--ratio", type=Decimal, default=Decimal("0.05"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            measure(size, args.ratio, Path(tmp))


if __name__ == "__main__":
    main()
