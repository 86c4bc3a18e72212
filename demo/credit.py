"""Row generators of the credit source: publicity of licences and penalties, lists, ratings."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Final

from demo import texts
from demo.acts import CENT, Planner
from demo.invalid import is_invalid, wrong_id, wrong_uscc
from demo.people import Subject
from demo.stamp import WINDOW_END, Row, Stamper, derive
from demo.world import World

PROVIDER: Final = "P-CREDIT"
APPROVAL_CATEGORIES: Final = {
    "licensing": "普通",
    "confirmation": "认可",
    "other": "登记",
    "payment": "其他",
    "public_service": "其他",
}
TEN_THOUSAND: Final = Decimal(10_000)
SCORES: Final = {"A": (90.0, 100.0), "B": (70.0, 89.9), "C": (40.0, 69.9), "D": (10.0, 39.9)}


def _party_codes(row: Row, n: int, uscc: str | None, id_number: str | None) -> None:
    """Set the counterparty's codes, broken when the ``n``-th row is a deliberate error."""
    broken = is_invalid(n)
    row["counterparty_uscc"] = wrong_uscc(uscc) if broken and uscc else uscc
    row["counterparty_id_number"] = wrong_id(id_number) if broken and id_number else id_number


def licence_publicity(world: World, stamp: Stamper) -> Iterator[Row]:
    """行政许可双公示: every licence the government-service platform issued."""
    rng = random.Random(derive(world.seed, "licence_publicity", "rows"))
    planner = Planner(world)
    timeline = world.timeline
    n = 0
    for i in range(len(world.subjects)):
        subject = world.subjects[i]
        for grant in planner.grants(subject):
            if grant.outcome != "issued":
                continue
            person = grant.person
            authority = grant.item.department
            row: Row = {
                "decision_no": grant.approval_no,
                "item_name": grant.item.name,
                "approval_category": APPROVAL_CATEGORIES[grant.item.item_type],
                "content": f"准予{grant.item.name}，证书编号{grant.certificate_no}",
                "counterparty_name": person.name if person else subject.name,
                "counterparty_category": "natural_person" if person else subject.category,
                "legal_representative": None if person else subject.representative,
                "decision_date": grant.decided,
                "valid_from": grant.decided,
                "valid_to": grant.valid_to,
                "authority_name": authority.name,
                "authority_uscc": authority.uscc,
                "status": "revoked" if rng.random() < 0.01 else "valid",
                "division_code": authority.spec.division,
            }
            _party_codes(
                row, n, None if person else subject.uscc, person.id_number if person else None
            )
            day = timeline.add_workdays(grant.decided, rng.randint(1, 5))
            produced = timeline.office_time(min(day, WINDOW_END), rng)
            yield stamp(row, n=n, provider=PROVIDER, system="exchange", produced=produced, rng=rng)
            n += 1


def penalty_publicity(world: World, stamp: Stamper) -> Iterator[Row]:
    """行政处罚双公示: every penalty of the actions table, published by the deciding department."""
    rng = random.Random(derive(world.seed, "penalty_publicity", "rows"))
    planner = Planner(world)
    timeline = world.timeline
    n = 0
    for i in range(len(world.subjects)):
        subject = world.subjects[i]
        for act in planner.acts(subject):
            if act.kind != "penalty" or act.decision_date is None or act.penalty_types is None:
                continue
            person = act.person
            party = person.name if person else subject.name
            types = "、".join(act.penalty_types)
            content = types if act.fine is None else f"{types}，罚没款人民币{act.fine}元"
            years = 3 if {"吊销许可证件", "责令停产停业"} & set(act.penalty_types) else 1
            until = act.decision_date + timedelta(days=365 * years)
            status = "valid" if until >= WINDOW_END else "expired"
            department = act.department
            row: Row = {
                "decision_no": act.decision_no,
                "case_name": f"{party}{act.violation}案",
                "violation_type": act.violation,
                "facts": act.facts,
                "basis": act.legal_basis,
                "penalty_type": types,
                "content": content,
                "fine_amount": None
                if act.fine is None
                else (act.fine / TEN_THOUSAND).quantize(CENT),
                "counterparty_name": party,
                "counterparty_category": "natural_person" if person else subject.category,
                "legal_representative": None if person else subject.representative,
                "decision_date": act.decision_date,
                "publicity_until": until,
                "authority_name": department.name,
                "authority_uscc": department.uscc,
                "status": "revoked" if rng.random() < 0.01 else status,
                "division_code": subject.division,
            }
            _party_codes(
                row, n, None if person else subject.uscc, person.id_number if person else None
            )
            day = timeline.add_workdays(act.decision_date, rng.randint(1, 5))
            produced = timeline.office_time(min(day, WINDOW_END), rng)
            yield stamp(
                row, n=n, provider=department.code, system="exchange", produced=produced, rng=rng
            )
            n += 1


@dataclass(frozen=True, slots=True)
class Listing:
    """An entry on a credit list."""

    list_type: str
    reason: str
    basis: str
    authority: str
    listed_on: date
    removed_on: date | None
    produced: datetime


class Listings:
    """Which credit lists each subject is on, derived from the seed and the subject's index."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._base = derive(world.seed, "lists") << 32

    def of(self, subject: Subject) -> list[Listing]:
        """The lists ``subject`` is on: a few percent of subjects, some since removed."""
        rng = random.Random(self._base | subject.index)
        draw = rng.random()
        if subject.subject_type in ("institution", "social_organisation"):
            return []
        if draw < 0.03:
            entry = texts.LISTINGS[rng.randrange(2)]
        elif draw < 0.034:
            entry = texts.LISTINGS[2]
        elif draw < 0.040:
            entry = texts.LISTINGS[3]
        elif draw < 0.055 and subject.subject_type == "enterprise":
            entry = texts.LISTINGS[4 + rng.randrange(2)]
        else:
            return []
        list_type, reason, basis, authority = entry
        if authority is None:
            bureau = self.world.district_bureaus.get(subject.division)
            authority = (bureau or self.world.department("XA-SCJG")).name
        timeline = self.world.timeline
        listed = timeline.workday(rng)
        removed = None
        if list_type != "red" and rng.random() < 0.3:
            removed = timeline.add_workdays(listed, rng.randint(20, 150))
            removed = removed if removed <= WINDOW_END else None
        produced = timeline.office_time(removed or listed, rng)
        return [Listing(list_type, reason, basis, authority, listed, removed, produced)]


def credit_lists(world: World, stamp: Stamper) -> Iterator[Row]:
    """失信/红名单: a few percent of subjects on abnormal-operation or dishonesty lists, or red."""
    rng = random.Random(derive(world.seed, "credit_lists", "rows"))
    listings = Listings(world)
    n = 0
    for i in range(len(world.subjects)):
        subject = world.subjects[i]
        for entry in listings.of(subject):
            row: Row = {
                "list_type": entry.list_type,
                "subject_uscc": wrong_uscc(subject.uscc) if is_invalid(n) else subject.uscc,
                "subject_name": subject.name,
                "reason": entry.reason,
                "basis": entry.basis,
                "listed_on": entry.listed_on,
                "removed_on": entry.removed_on,
                "authority_name": entry.authority,
            }
            yield stamp(
                row, n=n, provider=PROVIDER, system="exchange", produced=entry.produced, rng=rng
            )
            n += 1


def credit_ratings(world: World, stamp: Stamper) -> Iterator[Row]:
    """信用评价: about one rating per subject, a few re-rated in 2026; listed subjects rate low."""
    rng = random.Random(derive(world.seed, "credit_ratings", "rows"))
    listings = Listings(world)
    base = derive(world.seed, "ratings") << 32
    timeline = world.timeline
    n = 0
    for i in range(len(world.subjects)):
        subject = world.subjects[i]
        draws = random.Random(base | i)
        years = [2025] if draws.random() < 0.97 else []
        if draws.random() < 0.05:
            years.append(2026)
        if not years:
            continue
        lists = {entry.list_type for entry in listings.of(subject)}
        for year in years:
            rating = _rating(draws, lists)
            low, high = SCORES[rating]
            rated = timeline.add_workdays(date(year, 3, 31), draws.randint(1, 20))
            authority = texts.RATING_AUTHORITIES[subject.subject_type != "enterprise"]
            row: Row = {
                "subject_uscc": wrong_uscc(subject.uscc) if is_invalid(n) else subject.uscc,
                "subject_name": subject.name,
                "rating": rating,
                "score": Decimal(str(round(draws.uniform(low, high), 1))),
                "rated_on": rated,
                "valid_to": date(year + 1, 3, 31),
                "authority_name": authority,
            }
            produced = timeline.office_time(rated, rng)
            yield stamp(row, n=n, provider=PROVIDER, system="exchange", produced=produced, rng=rng)
            n += 1


def _rating(rng: random.Random, lists: set[str]) -> str:
    if lists & {"dishonest", "serious_violation"}:
        return rng.choice("CD")
    if "abnormal_operation" in lists:
        return rng.choice("BC")
    if "red" in lists:
        return "A"
    return rng.choices("ABCD", cum_weights=(35, 85, 97, 100))[0]
