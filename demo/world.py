"""Everything the row generators share for one seed and scale: catalogue, officers, plans, people.

The world is built once, before any table is generated, and is read-only afterwards; every
table draws from its own seeded ``random.Random``, so no table depends on another's draws.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Final

from demo import departments as spec
from demo.catalogue import Catalogue, Department, Matter, build_catalogue
from demo.people import Pools, Subjects
from demo.stamp import WINDOW_END, WINDOW_START, Timeline, derive
from standard.workdays import WorkCalendar

OFFICER_STATUSES: Final = (("active", 90), ("suspended", 5), ("revoked", 5))
_RATIOS: Final = ("3.00", "5.00", "8.00", "10.00")


@dataclass(frozen=True, slots=True)
class Officer:
    """An enforcement officer of one department."""

    certificate_no: str
    name: str
    department: Department
    status: str
    issued: date
    valid_to: date


@dataclass(frozen=True, slots=True)
class Plan:
    """A supervision plan of one department."""

    code: str
    name: str
    plan_type: str
    department: Department
    matter_codes: tuple[str, ...]
    year: int
    start: date
    end: date
    sampling_ratio: Decimal | None
    subject_count: int | None
    status: str
    published: date


class World:
    """The shared, read-only part of the demo data of one seed and number of subjects."""

    def __init__(self, seed: int, subjects: int, calendar: WorkCalendar | None = None) -> None:
        self.seed = seed
        self.timeline = Timeline(calendar or WorkCalendar())
        self.pools = Pools.build(seed)
        self.subjects = Subjects(seed, subjects, self.pools)
        self.catalogue: Catalogue = build_catalogue(random.Random(derive(seed, "catalogue")))
        self.officers: list[Officer] = []
        self.active_officers: dict[str, list[Officer]] = defaultdict(list)
        self._officers(random.Random(derive(seed, "officers")))
        self.plans: list[Plan] = []
        self.random_plans: dict[str, list[Plan]] = defaultdict(list)
        self._plans(random.Random(derive(seed, "plans")))
        self.matters_by_code: dict[str, list[Matter]] = defaultdict(list)
        for matter in self.catalogue.matters:
            self.matters_by_code[matter.code].append(matter)
        self.district_bureaus = {
            d.spec.division: d for d in self.catalogue.departments if d.spec.level == "district"
        }

    @property
    def regulators(self) -> list[Department]:
        """The departments that regulate (everyone but the city office)."""
        return [d for d in self.catalogue.departments if d.code != spec.OFFICE]

    def department(self, code: str) -> Department:
        """The department with ``code``."""
        return self.catalogue.by_code[code]

    def _officers(self, rng: random.Random) -> None:
        serials: dict[tuple[str, int], int] = defaultdict(int)
        statuses = [s for s, _ in OFFICER_STATUSES]
        weights = [w for _, w in OFFICER_STATUSES]
        for department in self.regulators:
            for _ in range(rng.randint(12, 18)):
                year = rng.randint(2016, 2024)
                key = (department.spec.division, year)
                serials[key] += 1
                status = rng.choices(statuses, weights)[0]
                issued = date(year, rng.randint(1, 12), rng.randint(1, 28))
                # Certificates of officers still at work have been renewed past the window.
                valid_to = date(max(year + 6, 2027), issued.month, issued.day)
                if status == "revoked":
                    valid_to = WINDOW_START + timedelta(rng.randint(30, 500))
                officer = Officer(
                    certificate_no=f"{department.spec.division}{year}{serials[key]:04d}",
                    name=self.pools.name(rng)[0],
                    department=department,
                    status=status,
                    issued=issued,
                    valid_to=valid_to,
                )
                self.officers.append(officer)
                if status == "active":
                    self.active_officers[department.code].append(officer)

    def _plans(self, rng: random.Random) -> None:
        for department in self.regulators:
            catalogue = department.spec.catalogue
            for year in (2025, 2026):
                kinds = [
                    ("random", f"{year}年上半年“双随机、一公开”抽查计划", (3, 1), (6, 30)),
                    ("random", f"{year}年下半年“双随机、一公开”抽查计划", (7, 1), (11, 30)),
                    ("routine", f"{year}年度日常监督检查计划", (1, 1), (12, 31)),
                    ("special", f"{year}年{{object}}专项检查计划", (4, 1), (9, 30)),
                ]
                if department.spec.level == "city":
                    kinds.append(
                        ("joint", f"{year}年部门联合“双随机、一公开”抽查计划", (5, 1), (10, 31))
                    )
                else:
                    kinds.append(("key", f"{year}年重点监管对象检查计划", (2, 1), (12, 15)))
                for plan_type, title, (m1, d1), (m2, d2) in kinds:
                    start, end = date(year, m1, d1), date(year, m2, d2)
                    self._plan(rng, department, catalogue, plan_type, title, year, start, end)
            if department.code == "XA-SCJG":
                self._plan(
                    rng,
                    department,
                    catalogue,
                    "random",
                    "2027年度“双随机、一公开”抽查计划（草案）",
                    2027,
                    date(2027, 1, 1),
                    date(2027, 12, 31),
                    status="draft",
                )

    def _plan(
        self,
        rng: random.Random,
        department: Department,
        catalogue: str,
        plan_type: str,
        title: str,
        year: int,
        start: date,
        end: date,
        status: str | None = None,
    ) -> None:
        pool = [m for m in self.catalogue.leaves[(catalogue, "inspection")] if m.active(start)]
        chosen = rng.sample(pool, min(len(pool), rng.randint(1, 4)))
        codes = tuple(dict.fromkeys(m.code for m in chosen))
        object_name = chosen[0].regulated.name
        ratio = Decimal(rng.choice(_RATIOS)) if plan_type in ("random", "joint") else None
        count = None
        if ratio is not None:
            count = max(1, int(len(self.subjects) * ratio / 100 / 20))
        elif plan_type in ("special", "key"):
            count = rng.randint(20, 300)
        if status is None:
            status = "finished" if end < WINDOW_END else "in_progress"
        published = max(WINDOW_START + timedelta(rng.randint(2, 20)), start - timedelta(20))
        published = min(published, WINDOW_END - timedelta(rng.randint(0, 10)))
        serial = sum(1 for p in self.plans if p.department is department and p.year == year) + 1
        plan = Plan(
            code=f"{department.code}-{year}-{serial:03d}",
            name=f"{department.name}{title.format(object=object_name)}",
            plan_type=plan_type,
            department=department,
            matter_codes=codes,
            year=year,
            start=start,
            end=end,
            sampling_ratio=ratio,
            subject_count=count,
            status=status,
            published=published,
        )
        self.plans.append(plan)
        if plan_type == "random" and status != "draft":
            self.random_plans[department.code].append(plan)
