"""Row generators of the government-services source: the service catalogue and licences."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from typing import Final

from demo.acts import Planner
from demo.invalid import is_invalid, wrong_id, wrong_uscc
from demo.stamp import WINDOW_START, Row, Stamper, derive
from demo.world import World

PROVIDER: Final = "P-ZWFW"


def licensing_items(world: World, stamp: Stamper) -> Iterator[Row]:
    """政务服务事项: about sixty items, two of them cancelled."""
    rng = random.Random(derive(world.seed, "licensing_items", "rows"))
    for n, item in enumerate(world.catalogue.licensing):
        department = item.department
        row: Row = {
            "item_code": item.code,
            "name": item.name,
            "item_type": item.item_type,
            "department_code": department.code,
            "legal_basis": item.law,
            "promised_days": rng.choice((5, 10, 15, 20)),
            "status": item.status,
            "version": f"{item.valid_from:%Y%m%d}{n + 1:06d}",
            "valid_from": item.valid_from,
            "valid_to": item.valid_to,
            "division_code": department.spec.division,
        }
        day = item.valid_to or WINDOW_START + timedelta(rng.randint(1, 20))
        produced = world.timeline.office_time(day, rng)
        yield stamp(row, n=n, provider=PROVIDER, system="exchange", produced=produced, rng=rng)


def licences(world: World, stamp: Stamper) -> Iterator[Row]:
    """许可决定: about 1.5 decisions per subject, some for natural persons."""
    rng = random.Random(derive(world.seed, "licences", "rows"))
    planner = Planner(world)
    n = 0
    for i in range(len(world.subjects)):
        subject = world.subjects[i]
        for grant in planner.grants(subject):
            person = grant.person
            uscc = None if person else subject.uscc
            id_number = person.id_number if person else None
            if is_invalid(n):
                uscc = wrong_uscc(uscc) if uscc else None
                id_number = wrong_id(id_number) if id_number else None
            department = grant.item.department
            row: Row = {
                "approval_no": grant.approval_no,
                "certificate_no": grant.certificate_no,
                "item_code": grant.item.code,
                "applicant_name": person.name if person else subject.name,
                "applicant_category": "natural_person" if person else subject.category,
                "applicant_uscc": uscc,
                "applicant_id_number": id_number,
                "applicant_phone": grant.phone,
                "outcome": grant.outcome,
                "decided_on": grant.decided,
                "valid_to": grant.valid_to,
                "department_code": department.code,
                "division_code": department.spec.division,
            }
            yield stamp(
                row, n=n, provider=PROVIDER, system="exchange", produced=grant.produced, rng=rng
            )
            n += 1
