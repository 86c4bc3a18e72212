"""The two pools built from the data centre (检查对象名录库, 执法检查人员名录库), streamed in the
snapshot's order, a page of subjects at a time.

Subjects come from supervision's ``subjects`` (one row per USCC: the latest produced; deleted
records never), with, on the draw day: the credit risk class (D when on a dishonesty or serious
violation list in force; else the rating in force; else B, ``rules.risk_class``), the licences
in force (government services' ``licences`` issued and not expired), and the day each was last
drawn for each item of the plan (the latest draw of every earlier plan, gateway database).

Inspectors come from supervision's ``officers`` of the plan's departments, with their
inspections of each subject within the recusal window (supervision's ``actions``). What the
data centre does not hold — which items an officer is qualified for, declared conflicts, barred
districts — is declared by the department and passed in (``Declarations``); an officer with no
declaration is qualified for the department's items of the plan and has none.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, cast

import orjson
from sqlalchemy import Table, func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ingest.catalogue import Catalogue
from inspections.errors import InvalidInspection
from inspections.plans import DRAWN, DRAWS, PLANS
from inspections.rules import PlanSpec, months_before, risk_class
from inspections.snapshot import InspectorRow, SubjectRow
from standard.tables.credit import CreditListEntry, CreditRating
from standard.tables.gov_services import Licence
from standard.tables.supervision import Action, InspectionItem, Officer, Subject

PAGE = 5_000
DISHONEST = ("dishonest", "serious_violation")
DELETED = "d"
SUBJECTS = cast(Table, Subject.__table__)
RATINGS = cast(Table, CreditRating.__table__)
LISTS = cast(Table, CreditListEntry.__table__)
LICENCES = cast(Table, Licence.__table__)
OFFICERS = cast(Table, Officer.__table__)
ACTIONS = cast(Table, Action.__table__)
ITEMS = cast(Table, InspectionItem.__table__)


@dataclass(frozen=True, slots=True)
class Sources:
    """The databases a pool is read from."""

    supervision: AsyncEngine
    credit: AsyncEngine
    gov_services: AsyncEngine
    gateway: AsyncEngine


async def check_list(sources: Sources, *, plan: PlanSpec) -> None:
    """R1: every list item of the plan is a matter in force in the catalogue on the draw day,
    and an item of the inspection implementation list (检查实施清单) for that matter."""
    day = plan.draw_day
    codes = [item.item_code for item in plan.items]
    query = select(ITEMS.c.item_code, ITEMS.c.matter_code, ITEMS.c.valid_from, ITEMS.c.valid_to)
    query = query.where(ITEMS.c.item_code.in_(codes), ITEMS.c.cd_operation != DELETED)
    async with sources.supervision.connect() as conn:
        catalogue = await Catalogue.load(conn)
        listed = (await conn.execute(query)).all()
    for item in plan.items:
        where = f"清单事项 {item.item_code}"
        problem = catalogue.problem(item.matter_code, day)
        if problem is not None:
            raise InvalidInspection(where, "监管事项不在目录清单中或抽取日未生效", problem)
        if not any(
            code == item.item_code and matter == item.matter_code and start <= day
            and (end is None or end >= day)
            for code, matter, start, end in listed
        ):  # fmt: skip
            raise InvalidInspection(
                where,
                f"检查实施清单中没有事项 {item.matter_code} 的此项，或抽取日不在其有效期内",
                f"not in the inspection list for matter {item.matter_code} on {day}",
            )


async def subject_rows(sources: Sources, *, plan: PlanSpec) -> AsyncIterator[SubjectRow]:
    """The subject pool's rows in USCC order, for ``plan`` on its draw day."""
    day = plan.draw_day
    wants_licences = any(item.criteria.licences for item in plan.items)
    after = ""
    while True:
        query = (
            select(SUBJECTS.c.uscc, SUBJECTS.c.division_code, SUBJECTS.c.status,
                   SUBJECTS.c.industry_code, SUBJECTS.c.produced_at)
            .where(SUBJECTS.c.uscc > after, SUBJECTS.c.cd_operation != DELETED)
            .order_by(SUBJECTS.c.uscc, SUBJECTS.c.produced_at.desc(), SUBJECTS.c.id.desc())
            .limit(PAGE)
        )  # fmt: skip
        async with sources.supervision.connect() as conn:
            page = (await conn.execute(query)).all()
        if not page:
            return
        # the last USCC may continue on the next page: leave it for that page
        complete = page if len(page) < PAGE else [r for r in page if r[0] != page[-1][0]]
        if not complete:  # one USCC with PAGE versions: take the newest and move on
            complete = page[:1]
        latest: dict[str, Any] = {}
        for row in complete:
            latest.setdefault(row[0], row)
        usccs = list(latest)
        ratings, listed = await _credit(sources.credit, usccs, day)
        licences = await _licences(sources.gov_services, usccs, day) if wants_licences else {}
        last = await _last_drawn(sources.gateway, plan, usccs)
        for uscc, row in latest.items():
            yield SubjectRow(
                id=uscc,
                risk=risk_class(rating=ratings.get(uscc), listed_dishonest=uscc in listed),
                division=row[1],
                status=row[2],
                industry=row[3],
                licences=tuple(licences.get(uscc, ())),
                last=last.get(uscc, {}),
            )
        after = usccs[-1]
        if len(page) < PAGE:
            return


async def _credit(
    engine: AsyncEngine, usccs: list[str], day: date
) -> tuple[dict[str, str], set[str]]:
    in_force = or_(RATINGS.c.valid_to.is_(None), RATINGS.c.valid_to >= day)
    rated = (
        select(RATINGS.c.subject_uscc, RATINGS.c.rating, RATINGS.c.rated_on)
        .where(RATINGS.c.subject_uscc.in_(usccs), RATINGS.c.rated_on <= day, in_force)
        .where(RATINGS.c.cd_operation != DELETED)
    )
    listed = select(LISTS.c.subject_uscc).where(
        LISTS.c.subject_uscc.in_(usccs),
        LISTS.c.list_type.in_(DISHONEST),
        LISTS.c.listed_on <= day,
        or_(LISTS.c.removed_on.is_(None), LISTS.c.removed_on > day),
        LISTS.c.cd_operation != DELETED,
    )
    async with engine.connect() as conn:
        newest: dict[str, tuple[date, str]] = {}
        for uscc, rating, rated_on in await conn.execute(rated):
            if uscc not in newest or rated_on > newest[uscc][0]:
                newest[uscc] = (rated_on, rating)
        dishonest = set((await conn.execute(listed)).scalars())
    return {uscc: rating for uscc, (_, rating) in newest.items()}, dishonest


async def _licences(engine: AsyncEngine, usccs: list[str], day: date) -> dict[str, set[str]]:
    query = select(LICENCES.c.applicant_uscc, LICENCES.c.item_code).where(
        LICENCES.c.applicant_uscc.in_(usccs),
        LICENCES.c.outcome == "issued",
        LICENCES.c.decided_on <= day,
        or_(LICENCES.c.valid_to.is_(None), LICENCES.c.valid_to >= day),
        LICENCES.c.cd_operation != DELETED,
    )
    found: dict[str, set[str]] = defaultdict(set)
    async with engine.connect() as conn:
        for uscc, item in await conn.execute(query):
            found[uscc].add(item)
    return found


async def _last_drawn(
    engine: AsyncEngine, plan: PlanSpec, usccs: list[str]
) -> dict[str, dict[str, date]]:
    """Per subject and item of ``plan``, the draw day of the latest earlier plan whose latest
    draw chose it for that item."""
    codes = {item.item_code for item in plan.items}
    latest = (
        select(DRAWS.c.plan_code, func.max(DRAWS.c.number).label("number"))
        .group_by(DRAWS.c.plan_code)
        .subquery()
    )
    query = (
        select(DRAWN.c.subject_uscc, DRAWN.c.line, PLANS.c.draw_day)
        .join(latest, (latest.c.plan_code == DRAWN.c.plan_code)
              & (latest.c.number == DRAWN.c.number))
        .join(PLANS, PLANS.c.code == DRAWN.c.plan_code)
        .where(DRAWN.c.subject_uscc.in_(usccs), PLANS.c.code != plan.code,
               PLANS.c.draw_day <= plan.draw_day)
    )  # fmt: skip
    found: dict[str, dict[str, date]] = defaultdict(dict)
    async with engine.connect() as conn:
        for uscc, line, drawn_on in await conn.execute(query):
            for code in set(orjson.loads(line)["items"]) & codes:
                if code not in found[uscc] or drawn_on > found[uscc][code]:
                    found[uscc][code] = drawn_on
    return found


@dataclass(frozen=True, slots=True)
class Declaration:
    """What a department declares for one officer (the data centre does not hold it)."""

    items: tuple[str, ...] | None = None  # None: every item of the department in the plan
    conflicts: tuple[str, ...] = ()
    barred: tuple[str, ...] = ()


async def inspector_rows(
    sources: Sources,
    *,
    plan: PlanSpec,
    recusal_months: int,
    declarations: Mapping[str, Declaration] | None = None,
) -> list[InspectorRow]:
    """The inspector pool's rows in certificate order (a few thousand: held in memory)."""
    declared = declarations or {}
    departments = plan.departments
    since = months_before(plan.draw_day, recusal_months)
    own_items: dict[str, tuple[str, ...]] = defaultdict(tuple)
    for item in plan.items:
        own_items[item.department] += (item.item_code,)
    officers = (
        select(OFFICERS.c.certificate_no, OFFICERS.c.department_code, OFFICERS.c.status,
               OFFICERS.c.valid_to)
        .where(OFFICERS.c.department_code.in_(departments), OFFICERS.c.cd_operation != DELETED)
        .order_by(OFFICERS.c.certificate_no, OFFICERS.c.produced_at.desc())
    )  # fmt: skip
    acts = select(
        ACTIONS.c.officer_certificates, ACTIONS.c.subject_uscc, ACTIONS.c.closed_on
    ).where(
        ACTIONS.c.kind == "inspection",
        ACTIONS.c.closed_on >= since,
        ACTIONS.c.closed_on <= plan.draw_day,
        ACTIONS.c.provider.in_(departments),
        ACTIONS.c.cd_operation != DELETED,
    )
    recent: dict[str, dict[str, date]] = defaultdict(dict)
    async with sources.supervision.connect() as conn:
        found = (await conn.execute(officers)).all()
        for certificates, uscc, closed_on in await conn.execute(acts):
            for cert in _certificates(certificates):
                if uscc and (uscc not in recent[cert] or closed_on > recent[cert][uscc]):
                    recent[cert][uscc] = closed_on
    rows: dict[str, InspectorRow] = {}
    for cert, department, status, valid_to in found:
        if cert in rows:
            continue  # an older version of the same officer
        declaration = declared.get(cert, Declaration())
        rows[cert] = InspectorRow(
            id=cert,
            department=department,
            status=status,
            valid_to=valid_to,
            items=declaration.items if declaration.items is not None else own_items[department],
            conflicts=declaration.conflicts,
            barred=declaration.barred,
            recent=recent.get(cert, {}),
        )
    return list(rows.values())


def _certificates(value: Any) -> Iterable[str]:
    if isinstance(value, str):  # a JSON column read back as text on some drivers
        value = orjson.loads(value)
    return [str(v) for v in value or ()]
