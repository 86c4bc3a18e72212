"""The public query of random-inspection results (一公开, R7/R8): what anyone may read without
signing in, the same for every caller.

A result is shown once its publication day has come (``published_on`` ≤ today in Beijing time)
and only while its act in the data centre is published by the rules of the open-data dataset
``random-inspection-results`` (an inspection act of the result's department, not deleted, its
publication day within 20 working days of the inspection): the dataset's own desensitiser
decides, so the query and the download never disagree. A natural person's name and code are
masked there (surname kept), and such a result is not found by looking its code up: the query
would tell who was inspected. Officers' certificates and the task are never shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncEngine

from inspections.plans import PLANS, RESULTS
from open_data.datasets.random_inspection_results import SPEC
from open_data.desensitise import desensitiser
from standard.tables.supervision import Action

ACTIONS = cast(Table, Action.__table__)
DELETED = "d"
NATURAL_PERSON = "natural_person"
_publish = desensitiser(SPEC, key=b"")  # the record id's key is unused here: no id is shown


@dataclass(frozen=True, slots=True)
class PublishedResult:
    plan_code: str
    plan_name: str
    subject_uscc: str
    subject_name: str
    department: str
    result: str
    inspected_on: date
    published_on: date


async def published_results(
    gateway: AsyncEngine,
    supervision: AsyncEngine,
    *,
    today: date,
    first: int,
    after: int = 0,
    plan_code: str | None = None,
    subject_uscc: str | None = None,
) -> tuple[list[tuple[int, PublishedResult]], bool]:
    """Up to ``first`` published results after place ``after`` (newest publication first), each
    with its place in the list, and whether more follow. A result whose act the dataset would
    not publish is left out of its page (fail closed), so a page may hold fewer. Places, as the
    other inspection lists page: a result published between two pages' reads shifts the rest
    by one, so the next page may repeat one; nothing is skipped (the newest come first)."""
    query = (
        select(RESULTS, PLANS.c.name.label("plan_name"))
        .join(PLANS, PLANS.c.code == RESULTS.c.plan_code)
        .where(RESULTS.c.published_on.is_not(None), RESULTS.c.published_on <= today)
        .order_by(
            RESULTS.c.published_on.desc(),
            RESULTS.c.plan_code,
            RESULTS.c.subject_uscc,
            RESULTS.c.department,
        )
        .offset(after)
        .limit(first + 1)
    )
    if plan_code is not None:
        query = query.where(RESULTS.c.plan_code == plan_code)
    if subject_uscc is not None:
        query = query.where(RESULTS.c.subject_uscc == subject_uscc)
    async with gateway.connect() as conn:
        rows = list((await conn.execute(query)).mappings())
    page, more = rows[:first], len(rows) > first
    acts = await _acts(supervision, [row["action_no"] for row in page])
    found = []
    for place, row in enumerate(page, start=after + 1):
        act = acts.get((row["action_no"], row["department"]))
        shown = None if act is None else _publish(act)
        if shown is None:
            continue
        if (
            subject_uscc is not None
            and act is not None
            and act["counterparty_nature"] == NATURAL_PERSON
        ):
            continue
        found.append(
            (
                place,
                PublishedResult(
                    plan_code=row["plan_code"],
                    plan_name=row["plan_name"],
                    subject_uscc=str(shown["subject_uscc"]),
                    subject_name=str(shown["subject_name"]),
                    department=row["department"],
                    result=row["result"],
                    inspected_on=row["inspected_on"],
                    published_on=row["published_on"],
                ),
            )
        )
    return found, more


async def _acts(supervision: AsyncEngine, numbers: list[str]) -> dict[tuple[str, str], Any]:
    """The newest version of each act by (number, provider), one query; deleted ones left out."""
    if not numbers:
        return {}
    query = (
        select(ACTIONS)
        .where(ACTIONS.c.action_no.in_(sorted(set(numbers))), ACTIONS.c.kind == "inspection")
        .order_by(ACTIONS.c.produced_at, ACTIONS.c.received_at)
    )
    newest: dict[tuple[str, str], Any] = {}
    async with supervision.connect() as conn:
        for row in (await conn.execute(query)).mappings():
            newest[(row["action_no"], row["provider"])] = row
    return {key: row for key, row in newest.items() if row["cd_operation"] != DELETED}
