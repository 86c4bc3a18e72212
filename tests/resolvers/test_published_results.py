"""The public query of random-inspection results (一公开) over real HTTP on both backends: an
anonymous caller sees a result from its publication day on (the day from the gateway's clock,
which the test sets), never before, with nothing personal: no officer's certificate, no task,
a natural person's name masked and their result not found by their code."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Any

import pytest_asyncio

from audit.keys import signer_for
from gateway.app import create_app
from gateway.services import Services
from inspections.results import Result, publish_result
from sources.database import create_engine
from standard.workdays import SHANGHAI, WorkCalendar
from tasks.lifecycle import Actor
from tasks.store import TaskStore
from tests.gateway.test_administration import Gateway, codes, gateway  # noqa: F401  # fixture
from tests.inspections.samples import FOOD, SCJG
from tests.inspections.test_results import ORGAN, seed_catalogue
from tests.resolvers.test_inspections import DRAW, DRAWN, POOL, RECORD, SEED, _approve
from tests.servers import LiveServer

PUBLIC = """
query Published($first: Int!, $after: String, $plan: String, $subject: String) {
  publishedInspectionResults(first: $first, after: $after, planCode: $plan,
                             subjectUscc: $subject) {
    edges { cursor node { planCode planName subjectUscc subjectName department result
                          inspectedOn publishedOn } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
}"""


@dataclasses.dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@pytest_asyncio.fixture(loop_scope="session")
async def clocked(
    gateway: Gateway,  # noqa: F811  # the fixture imported above
) -> AsyncIterator[tuple[Gateway, Clock]]:
    """The same gateway (its parties, accounts and tokens) served with a clock the test sets."""
    clock = Clock(datetime(2026, 6, 1, 9, tzinfo=SHANGHAI))
    settings = gateway.services_settings
    services = Services.create(settings)
    store = TaskStore(
        services.engine, signer=signer_for(settings), calendar=services.calendar, clock=clock
    )
    async with LiveServer(
        create_app(settings, services=dataclasses.replace(services, tasks=store))
    ) as server:
        yield dataclasses.replace(gateway, url=server.url), clock


async def _drawn(running: Gateway) -> list[dict[str, Any]]:
    await _approve(running)
    drawn = await running.ask("scjg.staff", DRAW, {"plan": "SJ-2026-001", "seed": SEED.hex()})
    assert drawn["data"], drawn
    body = await running.ask("city", DRAWN, {"code": "SJ-2026-001"})
    edges = body["data"]["inspectionPlan"]["draws"][0]["subjects"]["edges"]
    return [e["node"] for e in edges if FOOD in e["node"]["items"]]


async def test_an_anonymous_caller_sees_a_result_from_its_publication_day(
    clocked: tuple[Gateway, Clock],
) -> None:
    running, clock = clocked
    settings = running.services_settings
    supervision = create_engine(settings.database_url("supervision"))
    try:
        await seed_catalogue(supervision, settings)
    finally:
        await supervision.dispose()
    one, two, three = (await _drawn(running))[:3]
    clock.now = datetime(2026, 6, 10, 17, tzinfo=SHANGHAI)
    division = {row.id: row.division for row in POOL}
    for subject, publish in ((one, "2026-06-12"), (two, "2026-06-19")):
        variables = {"plan": "SJ-2026-001", "subject": subject["uscc"], "department": SCJG,
                     "organCode": ORGAN, "division": division[subject["uscc"]],
                     "on": "2026-06-10", "publish": publish}  # fmt: skip
        recorded = await running.ask("scjg.staff", RECORD, variables)
        assert recorded["data"], recorded
    # a natural person (an individual business's operator) inspected the same day
    gateway_engine = create_engine(settings.gateway_url)
    supervision = create_engine(settings.database_url("supervision"))
    try:
        await publish_result(
            gateway_engine, supervision,
            result=Result(plan="SJ-2026-001", subject=three["uscc"], subject_name="杨丽娟",
                          department=SCJG, organ="西安市市场监督管理局", organ_code=ORGAN,
                          result="no_problem", inspected_on=date(2026, 6, 10),
                          published_on=date(2026, 6, 12), division_code=division[three["uscc"]],
                          counterparty_nature="natural_person"),
            by=Actor(officer="user:scjg.staff", party=SCJG), calendar=WorkCalendar(),
            settings=settings, now=clock.now,
        )  # fmt: skip
    finally:
        await gateway_engine.dispose()
        await supervision.dispose()

    before = await running.ask(None, PUBLIC, {"first": 10})
    assert before["data"]["publishedInspectionResults"]["edges"] == [], before  # 10 June
    clock.now = datetime(2026, 6, 12, 0, 30, tzinfo=SHANGHAI)  # 11 June 16:30 UTC
    body = await running.ask(None, PUBLIC, {"first": 10})
    nodes = [e["node"] for e in body["data"]["publishedInspectionResults"]["edges"]]
    assert sorted(n["subjectUscc"] for n in nodes) == sorted(
        [one["uscc"], three["uscc"][0] + "*" * 17]
    ), nodes
    mine = next(n for n in nodes if n["subjectUscc"] == one["uscc"])
    assert mine == {
        "planCode": "SJ-2026-001", "planName": "2026 年第一批双随机抽查",
        "subjectUscc": one["uscc"], "subjectName": "西安某某有限公司", "department": SCJG,
        "result": "no_problem", "inspectedOn": "2026-06-10", "publishedOn": "2026-06-12",
    }  # fmt: skip
    person = next(n for n in nodes if n is not mine)
    assert person["subjectName"] == "杨**"
    text = str(body)
    certificates = [
        c for s in (one, two, three) for t in s["inspectors"] for c in t["certificates"]
    ]
    assert certificates and not any(c in text for c in certificates)
    assert "SJ-2026-001-1-" not in text  # the task
    # looked up by code: the company is found, the person is not
    found = await running.ask(None, PUBLIC, {"first": 10, "subject": one["uscc"].lower()})
    assert len(found["data"]["publishedInspectionResults"]["edges"]) == 1
    hidden = await running.ask(None, PUBLIC, {"first": 10, "subject": three["uscc"]})
    assert hidden["data"]["publishedInspectionResults"]["edges"] == []

    clock.now = datetime(2026, 6, 19, 8, tzinfo=SHANGHAI)
    first = await running.ask(None, PUBLIC, {"first": 1, "plan": "SJ-2026-001"})
    page = first["data"]["publishedInspectionResults"]
    assert [e["node"]["publishedOn"] for e in page["edges"]] == ["2026-06-19"]  # newest first
    assert page["pageInfo"]["hasNextPage"] and not page["pageInfo"]["hasPreviousPage"]
    rest = await running.ask(
        None, PUBLIC, {"first": 5, "plan": "SJ-2026-001", "after": page["pageInfo"]["endCursor"]}
    )
    assert len(rest["data"]["publishedInspectionResults"]["edges"]) == 2
    none = await running.ask("hotline", PUBLIC, {"first": 5, "plan": "SJ-2099-404"})
    assert none["data"]["publishedInspectionResults"]["edges"] == []
    for bad in ({"first": 0}, {"first": 101}, {"first": 5, "subject": "91610000ABCDEFGHIJ"}):
        refused = await running.ask(None, PUBLIC, bad)
        assert codes(refused) == ["BAD_USER_INPUT"], (bad, refused)
