"""Row generators of the supervision source (the data centre's own tables)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from typing import Final

from demo import departments as spec
from demo.acts import Act, Planner
from demo.catalogue import Department
from demo.invalid import is_invalid, variant, wrong_id, wrong_uscc
from demo.people import Subject, make_person
from demo.stamp import WINDOW_START, Row, Stamper, derive
from demo.world import World
from standard.codes import make_matter_code

CITY_LEVEL: Final = {"city": "市级", "district": "区县级"}
METHODS: Final = {
    "inspection": "现场检查、书面检查、抽样检验",
    "penalty": "立案调查、调查取证",
    "coercive": "查封、扣押",
    "other": "行政指导、约谈",
}


def _system(department: Department) -> str:
    # City departments push through data exchange; district bureaus enter data online.
    return "exchange" if department.spec.level == "city" else "online"


def departments(world: World, stamp: Stamper) -> Iterator[Row]:
    """监管部门: the city office, eight city departments and three district bureaus."""
    rng = random.Random(derive(world.seed, "departments", "rows"))
    for n, department in enumerate(world.catalogue.departments):
        row: Row = {
            "code": department.code,
            "name": department.name,
            "uscc": department.uscc,
            "division_code": department.spec.division,
            "level": department.spec.level,
            "parent_code": department.spec.parent,
        }
        day = WINDOW_START + timedelta(rng.randint(1, 10))
        produced = world.timeline.office_time(day, rng)
        yield stamp(row, n=n, provider=spec.OFFICE, system="online", produced=produced, rng=rng)


def subjects(world: World, stamp: Stamper) -> Iterator[Row]:
    """监管对象: registered by the market-regulation bureau of their district or the city."""
    rng = random.Random(derive(world.seed, "subjects", "rows"))
    city = world.department("XA-SCJG")
    for n in range(len(world.subjects)):
        subject = world.subjects[n]
        registrar = world.district_bureaus.get(subject.division, city)
        row: Row = {
            "uscc": wrong_uscc(subject.uscc) if is_invalid(n) else subject.uscc,
            "name": subject.name,
            "subject_type": subject.subject_type,
            "legal_representative": subject.representative,
            "division_code": subject.division,
            "address": subject.address,
            "industry_code": subject.industry_code,
            "registered_on": subject.registered_on,
            "status": subject.status,
        }
        produced = world.timeline.office_time(world.timeline.workday(rng), rng)
        yield stamp(
            row,
            n=n,
            provider=registrar.code,
            system=_system(registrar),
            produced=produced,
            rng=rng,
        )


def matters(world: World, stamp: Stamper) -> Iterator[Row]:
    """监管事项目录清单: every version of every matter, sent by its department."""
    rng = random.Random(derive(world.seed, "matters", "rows"))
    for n, matter in enumerate(world.catalogue.matters):
        row: Row = {
            "matter_code": matter.code,
            "parent_code": matter.parent,
            "name": matter.name,
            "department_code": matter.department,
            "permit_type": matter.permit_type,
            "licensing_item_code": matter.licensing_item_code,
            "basis": matter.regulated.law,
            "status": matter.status,
            "version": matter.version,
            "valid_from": matter.valid_from,
            "valid_to": matter.valid_to,
            "division_code": world.department(matter.department).spec.division,
        }
        produced = world.timeline.office_time(matter.published, rng)
        yield stamp(
            row, n=n, provider=matter.department, system="exchange", produced=produced, rng=rng
        )


def inspection_items(world: World, stamp: Stamper) -> Iterator[Row]:
    """检查实施清单: how each department implements each matter of its catalogue."""
    rng = random.Random(derive(world.seed, "inspection_items", "rows"))
    for n, item in enumerate(world.catalogue.items):
        matter, department = item.matter, item.department
        regulated = matter.regulated
        row: Row = {
            "item_code": item.code,
            "matter_code": matter.code,
            "name": matter.name,
            "department_code": department.code,
            "administrative_type": matter.kind,
            "supervised_object": regulated.name,
            "method": METHODS[matter.kind],
            "content": f"{regulated.name}遵守{regulated.law}有关规定的情况",
            "basis": regulated.law,
            "level": CITY_LEVEL[department.spec.level],
            "valid_from": matter.valid_from,
            "valid_to": matter.valid_to if matter.status != "in_use" else None,
        }
        day = matter.published + timedelta(rng.randint(0, 5))
        produced = world.timeline.office_time(day, rng)
        yield stamp(
            row,
            n=n,
            provider=department.code,
            system=_system(department),
            produced=produced,
            rng=rng,
        )


def plans(world: World, stamp: Stamper) -> Iterator[Row]:
    """监管计划: yearly, special and random-inspection (双随机) plans of every department."""
    rng = random.Random(derive(world.seed, "plans", "rows"))
    for n, plan in enumerate(world.plans):
        row: Row = {
            "plan_code": plan.code,
            "name": plan.name,
            "plan_type": plan.plan_type,
            "department_code": plan.department.code,
            "matter_codes": list(plan.matter_codes),
            "year": plan.year,
            "start_date": plan.start,
            "end_date": plan.end,
            "sampling_ratio": plan.sampling_ratio,
            "subject_count": plan.subject_count,
            "status": plan.status,
        }
        produced = world.timeline.office_time(plan.published, rng)
        provider = plan.department
        yield stamp(
            row, n=n, provider=provider.code, system=_system(provider), produced=produced, rng=rng
        )


def officers(world: World, stamp: Stamper) -> Iterator[Row]:
    """执法人员: about fifteen officers per department."""
    rng = random.Random(derive(world.seed, "officers", "rows"))
    for n, officer in enumerate(world.officers):
        department = officer.department
        row: Row = {
            "certificate_no": officer.certificate_no,
            "name": officer.name,
            "department_code": department.code,
            "division_code": department.spec.division,
            "enforcement_field": department.spec.field,
            "status": officer.status,
            "valid_to": officer.valid_to,
        }
        day = WINDOW_START + timedelta(rng.randint(0, 60))
        produced = world.timeline.office_time(day, rng)
        yield stamp(
            row,
            n=n,
            provider=department.code,
            system=_system(department),
            produced=produced,
            rng=rng,
        )


def actions(world: World, stamp: Stamper) -> Iterator[Row]:
    """监管行为: about three acts per subject, most of them inspections."""
    rng = random.Random(derive(world.seed, "actions", "rows"))
    planner = Planner(world)
    n = 0
    for i in range(len(world.subjects)):
        subject = world.subjects[i]
        for act in planner.acts(subject):
            row = _action(act, subject)
            if is_invalid(n):
                _break_action(world, row, act, n, rng)
            department = act.department
            yield stamp(
                row,
                n=n,
                provider=department.code,
                system=_system(department),
                produced=act.produced,
                rng=rng,
            )
            n += 1


def _action(act: Act, subject: Subject) -> Row:
    department = act.department
    person = act.person
    return {
        "kind": act.kind,
        "action_no": act.number,
        "name": act.title,
        "matter_code": act.matter.code,
        "inspection_item_code": act.item_code,
        "plan_code": act.plan_code,
        "related_action_no": act.related,
        "implementing_org": department.name,
        "implementing_org_code": department.uscc,
        "subject_uscc": subject.uscc,
        "subject_name": subject.name,
        "counterparty_name": person.name if person else subject.name,
        "counterparty_nature": "natural_person" if person else subject.category,
        "counterparty_id_type": "id_card" if person else "uscc",
        "counterparty_id": person.id_number if person else subject.uscc,
        "address": subject.address,
        "division_code": subject.division,
        "officer_certificates": act.officers,
        "result": act.result,
        "facts": act.facts,
        "legal_basis": act.legal_basis,
        "decision_no": act.decision_no,
        "decision_date": act.decision_date,
        "penalty_types": act.penalty_types,
        "fine_amount": act.fine,
        "measure_type": act.measure_type,
        "measure_start": act.measure_start,
        "measure_end": act.measure_end,
        "closed_on": act.closed_on,
        "extra": _extra(act),
    }


def _extra(act: Act) -> dict[str, object] | None:
    extra: dict[str, object] = {"inspection_mode": act.mode} if act.mode else {}
    if act.plan_code and act.kind == "inspection" and act.closed_on:
        # a plan's inspection result, published (一公开) a week after the inspection
        extra["random_inspection"] = {
            "plan": act.plan_code,
            "inspected_on": act.closed_on.isoformat(),
            "published_on": (act.closed_on + timedelta(days=7)).isoformat(),
        }
    return extra or None


def _break_action(world: World, row: Row, act: Act, n: int, rng: random.Random) -> None:
    """Break the ``n``-th action in one of the four documented ways."""
    way = variant(n, 4)
    if way == 1:
        ended = [m for m in world.catalogue.abolished if m.valid_to and m.valid_to < act.day]
        if ended:
            row["matter_code"] = ended[rng.randrange(len(ended))].code
            return
        way = 0
    if way == 0:
        row["matter_code"] = _missing_code(world, n)
    elif way == 2:
        row["subject_uscc"] = wrong_uscc(row["subject_uscc"])
        if row["counterparty_id_type"] == "uscc":
            row["counterparty_id"] = row["subject_uscc"]
    else:
        if row["counterparty_id_type"] != "id_card":
            person = make_person(rng, world.pools, row["division_code"])
            row["counterparty_name"] = person.name
            row["counterparty_nature"] = "natural_person"
            row["counterparty_id_type"] = "id_card"
            row["counterparty_id"] = person.id_number
        row["counterparty_id"] = wrong_id(row["counterparty_id"])


def _missing_code(world: World, n: int) -> str:
    rng = random.Random(derive(world.seed, "missing-matter", n))
    while True:
        code = make_matter_code(rng)
        if code not in world.matters_by_code:
            return code
