"""What happens to each subject: its regulatory acts and its licence decisions.

Each is a pure function of the world and the subject's index, so the actions table and the
penalty publicity of the credit source describe the same penalties, and the licences of the
government-service source are the ones the credit source publicises, without either table
being held in memory.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Final

from demo import departments as spec
from demo import texts
from demo.catalogue import Department, LicensingItem, Matter
from demo.people import Person, Subject, make_person
from demo.stamp import WINDOW_END, WINDOW_START, derive
from demo.world import Plan, World

CENT: Final = Decimal("0.01")
KIND_LETTERS: Final = {"inspection": "JC", "penalty": "CF", "coercive": "QZ", "other": "QT"}
_INSPECTIONS: Final = tuple(itertools.accumulate((10, 20, 25, 21, 13, 7, 4)))  # 0..6 a subject
RESULTS: Final = (
    ("no_problem", 70),
    ("rectify", 15),
    ("problem_found", 10),
    ("not_found", 3),
    ("other", 2),
)
_RESULT_NAMES: Final = [r for r, _ in RESULTS]
_RESULT_CUM: Final = list(itertools.accumulate(w for _, w in RESULTS))
_ACTING: Final = {
    section: (list(weights), list(itertools.accumulate(weights.values())))
    for section, weights in spec.SECTION_ACTIVITY.items()
}
_ACTING_DEFAULT: Final = (list(spec.ACTIVITY), list(itertools.accumulate(spec.ACTIVITY.values())))
_PENALTIES: Final = [p for p, _ in texts.PENALTY_KINDS]
_PENALTY_CUM: Final = list(itertools.accumulate(w for _, w in texts.PENALTY_KINDS))
OUTCOMES: Final = (
    ("issued", 88),
    ("refused", 4),
    ("not_accepted", 3),
    ("returned", 3),
    ("referred", 1),
    ("void", 1),
)
_OUTCOME_NAMES: Final = [o for o, _ in OUTCOMES]
_OUTCOME_CUM: Final = list(itertools.accumulate(w for _, w in OUTCOMES))
_GRANTS: Final = tuple(itertools.accumulate((25, 40, 25, 7, 3)))  # 0..4 licences a subject


@dataclass(slots=True)
class Act:
    """One regulatory act against one subject."""

    number: str
    kind: str
    title: str
    department: Department
    matter: Matter
    day: date
    produced: datetime
    officers: list[str]
    person: Person | None
    item_code: str | None = None
    plan_code: str | None = None
    result: str | None = None
    related: str | None = None
    mode: str | None = None
    violation: str | None = None
    facts: str | None = None
    legal_basis: str | None = None
    decision_no: str | None = None
    decision_date: date | None = None
    penalty_types: list[str] | None = None
    fine: Decimal | None = None
    measure_type: str | None = None
    measure_start: date | None = None
    measure_end: date | None = None
    closed_on: date | None = None


@dataclass(frozen=True, slots=True)
class Grant:
    """A decision on one licence application."""

    item: LicensingItem
    person: Person | None
    decided: date
    produced: datetime
    approval_no: str
    certificate_no: str | None
    outcome: str
    valid_to: date | None
    phone: str | None


def five_years(day: date) -> date:
    """The last day of a five-year validity starting on ``day``."""
    try:
        anniversary = day.replace(year=day.year + 5)
    except ValueError:  # 29 February
        anniversary = date(day.year + 5, 3, 1)
    return anniversary - timedelta(days=1)


class Planner:
    """Derives a subject's acts and licence decisions from the seed and its index."""

    def __init__(self, world: World) -> None:
        self.world = world
        seed = world.seed
        self._acts = derive(seed, "acts") << 32
        self._grants = derive(seed, "grants") << 32
        licensing = [i for i in world.catalogue.licensing if i.item_type == "licensing"]
        self.person_items = [i for i in licensing if i.person]
        city = [i for i in licensing if i.department.spec.level == "city"]
        self.org_items = [i for i in city if not i.person]
        # District bureaus grant the food business licences of their own districts.
        self.local_food = {
            i.department.spec.division: i
            for i in licensing
            if i.department.spec.level == "district"
        }
        # Food business licences are by far the most common decisions.
        weights = [30 if i.name == "食品经营许可" else 3 for i in self.org_items]
        self._org_cum = list(itertools.accumulate(weights))

    # -- acts -----------------------------------------------------------------------------

    def acts(self, subject: Subject) -> list[Act]:
        """Every act against ``subject``: inspections, their follow-ups, other acts."""
        rng = random.Random(self._acts | subject.index)
        acts: list[Act] = []
        count = rng.choices(range(7), cum_weights=_INSPECTIONS)[0]
        if subject.status != "active":
            count = min(count, 1)
        for _ in range(count):
            inspection = self._inspection(subject, rng, len(acts))
            if inspection is None:
                continue
            acts.append(inspection)
            follow = {"problem_found": 0.6, "rectify": 0.2}.get(inspection.result or "", 0.0)
            if rng.random() < follow:
                self._follow_up(subject, rng, acts, inspection, "penalty", 5, 40)
            if inspection.result == "problem_found" and rng.random() < 0.2:
                self._follow_up(subject, rng, acts, inspection, "coercive", 1, 5)
        for _ in range(rng.choices((0, 1, 2), cum_weights=(78, 95, 100))[0]):
            self._other(subject, rng, acts)
        return acts

    def _acting(self, subject: Subject, rng: random.Random) -> Department:
        codes, cumulative = _ACTING.get(subject.industry_code[0], _ACTING_DEFAULT)
        code = rng.choices(codes, cum_weights=cumulative)[0]
        bureau = self.world.district_bureaus.get(subject.division)
        if code == "XA-SCJG" and bureau is not None and rng.random() < 0.7:
            return bureau
        return self.world.department(code)

    def _pick(self, pool: list[Matter], day: date, rng: random.Random) -> Matter | None:
        for _ in range(8):
            matter = pool[rng.randrange(len(pool))]
            if matter.active(day):
                return matter
        return None

    def _plan(self, department: Department, day: date, rng: random.Random) -> Plan | None:
        plans = [p for p in self.world.random_plans[department.code] if p.start <= day <= p.end]
        return rng.choice(plans) if plans else None

    def _start(
        self,
        subject: Subject,
        rng: random.Random,
        j: int,
        kind: str,
        department: Department,
        matter: Matter,
        day: date,
        person: Person | None,
    ) -> Act:
        officers = self.world.active_officers[department.code]
        chosen = rng.sample(officers, min(2, len(officers)))
        produced = self.world.timeline.office_time(day, rng)
        return Act(
            number=f"{department.code}-{KIND_LETTERS[kind]}{day.year}-{subject.index:07d}{j:02d}",
            kind=kind,
            title=f"对{subject.name}的{matter.regulated.name}{_TITLES[kind]}",
            department=department,
            matter=matter,
            day=day,
            produced=produced,
            officers=[o.certificate_no for o in chosen],
            person=person,
        )

    def _inspection(self, subject: Subject, rng: random.Random, j: int) -> Act | None:
        world = self.world
        department = self._acting(subject, rng)
        catalogue = department.spec.catalogue
        day = world.timeline.workday(rng)
        plan = self._plan(department, day, rng) if rng.random() < 0.35 else None
        matter = None
        if plan is not None:
            versions = world.matters_by_code[rng.choice(plan.matter_codes)]
            matter = self._pick(versions, day, rng)
        if matter is None:
            plan = None
            matter = self._pick(world.catalogue.leaves[(catalogue, "inspection")], day, rng)
        if matter is None:
            return None
        person = None
        if rng.random() < 0.1:
            person = make_person(rng, world.pools, subject.division)
        act = self._start(subject, rng, j, "inspection", department, matter, day, person)
        act.item_code = world.catalogue.item_codes[(matter.code, department.code)]
        act.plan_code = plan.code if plan else None
        act.result = rng.choices(_RESULT_NAMES, cum_weights=_RESULT_CUM)[0]
        act.mode = rng.choice(texts.INSPECTION_MODES)
        act.closed_on = day
        return act

    def _follow_up(
        self,
        subject: Subject,
        rng: random.Random,
        acts: list[Act],
        inspection: Act,
        kind: str,
        low: int,
        high: int,
    ) -> None:
        world = self.world
        day = world.timeline.add_workdays(inspection.day, rng.randint(low, high))
        if day > WINDOW_END:
            return
        department = inspection.department
        catalogue = department.spec.catalogue
        regulated = inspection.matter.regulated
        pool = world.catalogue.object_leaves.get((catalogue, regulated.name, kind))
        matter = self._pick(pool, day, rng) if pool else None
        matter = matter or self._pick(world.catalogue.leaves[(catalogue, kind)], day, rng)
        if matter is None:
            return
        act = self._start(subject, rng, len(acts), kind, department, matter, day, inspection.person)
        act.related = inspection.number
        violations = department.spec.violations
        fitting = [v for v in violations if v[1] == matter.regulated.law] or violations
        act.violation, law = rng.choice(fitting)
        party = inspection.person.name if inspection.person else subject.name
        act.facts = f"经查，当事人{party}存在{act.violation}的行为，违反了{law}的有关规定。"
        act.legal_basis = f"依据{law}第{rng.randint(20, 140)}条"
        act.decision_date = day
        serial = f"{subject.index:07d}{len(acts):02d}"
        abbr = department.spec.abbr
        if kind == "penalty":
            act.decision_no = f"{abbr}罚〔{day.year}〕{serial}号"
            types = rng.choices(_PENALTIES, cum_weights=_PENALTY_CUM)[0]
            if "吊销许可证件" in types and not regulated.licence:
                types = ("警告",)
            act.penalty_types = list(types)
            act.fine = self._fine(rng, types)
            act.closed_on = day if types == ("警告",) else None
        else:
            act.decision_no = f"{abbr}强〔{day.year}〕{serial}号"
            act.measure_type = rng.choice(texts.MEASURES)
            act.measure_start = day
            act.measure_end = day + timedelta(days=30)
        acts.append(act)

    @staticmethod
    def _fine(rng: random.Random, types: tuple[str, ...]) -> Decimal | None:
        if "罚款" not in types:
            return None
        amount = min(max(round(rng.lognormvariate(8.5, 1.2), -2), 200), 2_000_000)
        if "没收违法所得" in types:
            amount += rng.randint(5, 500) * 100
        return Decimal(int(amount)).quantize(CENT)

    def _other(self, subject: Subject, rng: random.Random, acts: list[Act]) -> None:
        world = self.world
        department = self._acting(subject, rng)
        day = world.timeline.workday(rng)
        pool = world.catalogue.leaves[(department.spec.catalogue, "other")]
        matter = self._pick(pool, day, rng)
        if matter is None:
            return
        act = self._start(subject, rng, len(acts), "other", department, matter, day, None)
        act.title = f"对{subject.name}的{rng.choice(texts.OTHER_ACTS)}"
        act.closed_on = day
        acts.append(act)

    # -- licences ---------------------------------------------------------------------------

    def grants(self, subject: Subject) -> list[Grant]:
        """Licence decisions for ``subject`` and, now and then, for a person living nearby."""
        rng = random.Random(self._grants | subject.index)
        grants: list[Grant] = []
        for _ in range(rng.choices(range(5), cum_weights=_GRANTS)[0]):
            item = rng.choices(self.org_items, cum_weights=self._org_cum)[0]
            grants.append(self._grant(subject, rng, item, None, len(grants)))
        if rng.random() < 0.27:
            item = rng.choice(self.person_items)
            person = make_person(rng, self.world.pools, subject.division)
            grants.append(self._grant(subject, rng, item, person, len(grants)))
        return grants

    def _grant(
        self,
        subject: Subject,
        rng: random.Random,
        item: LicensingItem,
        person: Person | None,
        j: int,
    ) -> Grant:
        timeline = self.world.timeline
        if item.name == "食品经营许可" and person is None:
            item = self.local_food.get(subject.division, item)
        day = timeline.workday(rng)
        if item.valid_to is not None and day > item.valid_to:
            span = (item.valid_to - WINDOW_START).days
            day = WINDOW_START + timedelta(rng.randint(0, span))
        outcome = rng.choices(_OUTCOME_NAMES, cum_weights=_OUTCOME_CUM)[0]
        department = item.department
        serial = f"{subject.index:07d}{j}"
        issued = outcome == "issued"
        phone = person.phone if person else None
        if phone is None and rng.random() < 0.6:
            phone = make_person(rng, self.world.pools, subject.division).phone
        return Grant(
            item=item,
            person=person,
            decided=day,
            produced=timeline.office_time(day, rng),
            approval_no=f"{department.spec.abbr}许〔{day.year}〕{serial}号",
            certificate_no=(
                f"XK{department.spec.division}{day.year % 100:02d}{serial}" if issued else None
            ),
            outcome=outcome,
            valid_to=five_years(day) if issued else None,
            phone=phone,
        )


_TITLES: Final = {
    "inspection": "监督检查",
    "penalty": "违法行为行政处罚",
    "coercive": "行政强制措施",
    "other": "行政指导",
}
