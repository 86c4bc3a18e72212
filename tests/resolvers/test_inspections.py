"""Random inspections over real HTTP on both backends: plans seen by their departments and the
city office only, a draw by mutation with the revealed seed, a repeat beside the first, drawn
subjects and snapshot rows in Relay pages."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from inspections.snapshot import commitment
from inspections.store import approve_plan
from sources.database import create_engine
from standard.tables.gateway import AuditEntry
from tasks.lifecycle import Actor
from tests.gateway.test_administration import Gateway, codes, gateway  # noqa: F401  # fixture
from tests.inspections.samples import (
    FOOD,
    ITEM_FOOD,
    ITEM_PERMIT,
    PERMIT,
    SCJG,
    STHJ,
    inspectors,
    lines_of,
    plan,
    rules,
    subjects,
)
from tests.inspections.test_results import ORGAN, seed_catalogue

SEED = bytes(range(32))
POOL = subjects(150, seed=31)
IDS = [row.id for row in POOL]

PLANS = """
query Plans($first: Int!, $after: String) {
  inspectionPlans(first: $first, after: $after) {
    edges { cursor node { code joint departments subjectsCount commitment status
                          items { itemCode department } } }
    pageInfo { hasNextPage endCursor }
  }
}"""
DRAW = """
mutation Draw($plan: String!, $seed: String!, $reason: String) {
  drawInspectionPlan(plan: $plan, seed: $seed, reason: $reason) { number subjectCount reason }
}"""
DRAWN = """
query Drawn($code: String!, $after: String) {
  inspectionPlan(code: $code) {
    status
    draws { number reason seed
            subjects(first: 5, after: $after) {
              edges { cursor node { uscc rank risk items inspectors { department certificates } } }
              pageInfo { hasNextPage hasPreviousPage endCursor } } }
    snapshot(pool: "subjects", first: 2) { edges { node { position row } } }
  }
}"""


async def _approve(running: Gateway) -> None:
    engine = create_engine(running.services_settings.gateway_url)
    try:
        await approve_plan(
            engine,
            plan=plan(ITEM_FOOD, ITEM_PERMIT),
            rules=rules(),
            subjects=lines_of(POOL),
            inspectors=lines_of(
                inspectors(SCJG, [FOOD], 10, subjects=IDS)
                + inspectors(STHJ, [PERMIT], 10, subjects=IDS)
            ),
            seed_commitment=commitment(SEED),
            by=Actor(officer="user:scjg.staff", party=SCJG),
            now=datetime(2026, 5, 20, tzinfo=UTC),
        )
    finally:
        await engine.dispose()


async def test_plans_are_seen_by_their_departments_and_the_city_office(
    gateway: Gateway,  # noqa: F811  # the fixture imported above
) -> None:
    await _approve(gateway)
    for who in ("scjg.staff", "sthj.staff", "city"):
        body = await gateway.ask(who, PLANS, {"first": 10})
        edges = body["data"]["inspectionPlans"]["edges"]
        assert [e["node"]["code"] for e in edges] == ["SJ-2026-001"], who
        assert edges[0]["node"]["joint"] and edges[0]["node"]["subjectsCount"] == 150
        assert edges[0]["node"]["commitment"] == commitment(SEED)
    partner = await gateway.ask("hotline", PLANS, {"first": 10})
    assert partner["data"]["inspectionPlans"]["edges"] == []
    hidden = await gateway.ask("hotline", DRAWN, {"code": "SJ-2026-001"})
    assert codes(hidden) == ["NOT_FOUND"]
    anonymous = await gateway.ask(None, PLANS, {"first": 10})
    assert codes(anonymous) == ["UNAUTHENTICATED"]
    too_many = await gateway.ask("city", PLANS, {"first": 101})
    assert codes(too_many) == ["BAD_USER_INPUT"]
    engine = create_engine(gateway.services_settings.gateway_url)
    try:
        async with engine.connect() as conn:
            reads = (
                await conn.execute(
                    select(AuditEntry.actor, AuditEntry.resources, AuditEntry.providers).where(
                        AuditEntry.event == "read"
                    )
                )
            ).all()
    finally:
        await engine.dispose()
    assert ("user:sthj.staff", ["inspections"], [SCJG, STHJ]) in [tuple(r) for r in reads]


async def test_a_draw_by_mutation_and_a_repeat_beside_it(
    gateway: Gateway,  # noqa: F811  # the fixture imported above
) -> None:
    await _approve(gateway)
    wrong = await gateway.ask("scjg.staff", DRAW, {"plan": "SJ-2026-001", "seed": "00" * 32})
    assert codes(wrong) == ["BAD_USER_INPUT"] and "commitment" in wrong["errors"][0]["message"]
    outsider = await gateway.ask("hotline", DRAW, {"plan": "SJ-2026-001", "seed": SEED.hex()})
    assert codes(outsider) == ["NOT_FOUND"]
    first = await gateway.ask("sthj.staff", DRAW, {"plan": "SJ-2026-001", "seed": SEED.hex()})
    assert first["data"]["drawInspectionPlan"]["number"] == 1, first
    count = first["data"]["drawInspectionPlan"]["subjectCount"]
    again = await gateway.ask("scjg.staff", DRAW, {"plan": "SJ-2026-001", "seed": "07" * 32})
    assert codes(again) == ["BAD_USER_INPUT"] and "reason" in again["errors"][0]["message"]
    repeat = await gateway.ask(
        "city", DRAW, {"plan": "SJ-2026-001", "seed": "07" * 32, "reason": "名录缺漏，经批准重抽"}
    )
    assert repeat["data"]["drawInspectionPlan"]["number"] == 2, repeat

    body = await gateway.ask("scjg.staff", DRAWN, {"code": "SJ-2026-001"})
    found = body["data"]["inspectionPlan"]
    assert found["status"] == "drawn"
    assert [(d["number"], d["reason"]) for d in found["draws"]] == [
        (1, None),
        (2, "名录缺漏，经批准重抽"),
    ]
    page = found["draws"][0]["subjects"]
    assert len(page["edges"]) == 5 and page["pageInfo"]["hasNextPage"] == (count > 5)
    ranks = [e["node"]["rank"] for e in page["edges"]]
    assert ranks == sorted(ranks)
    for edge in page["edges"]:
        teams = edge["node"]["inspectors"]
        assert all(len(team["certificates"]) >= 2 for team in teams)
    rows = found["snapshot"]["edges"]
    assert [r["node"]["position"] for r in rows] == [1, 2]
    assert rows[0]["node"]["row"]["id"] == IDS[0]
    after = page["pageInfo"]["endCursor"]
    following = await gateway.ask("scjg.staff", DRAWN, {"code": "SJ-2026-001", "after": after})
    second_page = following["data"]["inspectionPlan"]["draws"][0]["subjects"]
    assert second_page["pageInfo"]["hasPreviousPage"]
    assert second_page["edges"][0]["node"]["rank"] > ranks[-1]


RECORD = """
mutation Record($plan: String!, $subject: String!, $department: String!, $organCode: String!,
                $division: String!, $on: Date!, $publish: Date!) {
  recordInspectionResult(plan: $plan, subject: $subject, subjectName: "西安某某有限公司",
      department: $department, organ: "西安市市场监督管理局", organCode: $organCode,
      result: "no_problem", inspectedOn: $on, publishedOn: $publish, divisionCode: $division,
      taskId: "SJ-2026-001-1-000001") {
    subjectUscc department drawNumber actionNo publishedOn
  }
}"""
RESULTS = """
query Results($code: String!) { inspectionPlan(code: $code) { results { subjectUscc department } } }
"""


async def test_the_inspecting_department_records_a_result_over_graphql(
    gateway: Gateway,  # noqa: F811  # the fixture imported above
) -> None:
    await _approve(gateway)
    settings = gateway.services_settings
    supervision = create_engine(settings.database_url("supervision"))
    try:
        await seed_catalogue(supervision, settings)
    finally:
        await supervision.dispose()
    drawn = await gateway.ask("scjg.staff", DRAW, {"plan": "SJ-2026-001", "seed": SEED.hex()})
    assert drawn["data"], drawn
    body = await gateway.ask("scjg.staff", DRAWN, {"code": "SJ-2026-001"})
    first = body["data"]["inspectionPlan"]["draws"][0]["subjects"]["edges"]
    one = next(e["node"] for e in first if FOOD in e["node"]["items"])
    row = next(r for r in POOL if r.id == one["uscc"])
    variables = {
        "plan": "SJ-2026-001",
        "subject": one["uscc"],
        "department": SCJG,
        "organCode": ORGAN,
        "division": row.division,
        "on": "2026-06-10",
        "publish": "2026-06-12",
    }
    by_other = await gateway.ask("sthj.staff", RECORD, variables)
    assert codes(by_other) == ["FORBIDDEN"]
    late = await gateway.ask("scjg.staff", RECORD, {**variables, "publish": "2026-08-31"})
    assert codes(late) == ["BAD_USER_INPUT"]
    recorded = await gateway.ask("scjg.staff", RECORD, variables)
    assert recorded["data"]["recordInspectionResult"]["drawNumber"] == 1, recorded
    assert recorded["data"]["recordInspectionResult"]["actionNo"].startswith("SJ-2026-001-")
    seen = await gateway.ask("city", RESULTS, {"code": "SJ-2026-001"})
    assert seen["data"]["inspectionPlan"]["results"] == [
        {"subjectUscc": one["uscc"], "department": SCJG}
    ]


INBOX = """
query Inbox($after: String) {
  taskInbox(first: 100, after: $after) {
    edges { node { id state issuer recipients subjects assignees legalBasis } }
    pageInfo { hasNextPage endCursor }
  }
}"""
ISSUE = """
mutation Issue($plan: String!, $number: Int!) { issueInspectionTasks(plan: $plan, number: $number) }
"""


async def _inbox(gateway: Gateway, who: str) -> list[dict[str, object]]:  # noqa: F811  # the fixture's type
    found: list[dict[str, object]] = []
    after = None
    while True:
        body = await gateway.ask(who, INBOX, {"after": after})
        page = body["data"]["taskInbox"]
        found += [e["node"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["pageInfo"]["endCursor"]


async def test_each_drawn_subject_becomes_one_delivered_task_for_its_inspectors(
    gateway: Gateway,  # noqa: F811  # the fixture imported above
) -> None:
    await _approve(gateway)
    first = await gateway.ask("sthj.staff", DRAW, {"plan": "SJ-2026-001", "seed": SEED.hex()})
    count = first["data"]["drawInspectionPlan"]["subjectCount"]
    drawn: list[dict[str, object]] = []
    after = None
    while True:
        body = await gateway.ask("city", DRAWN, {"code": "SJ-2026-001", "after": after})
        page = body["data"]["inspectionPlan"]["draws"][0]["subjects"]
        drawn += [e["node"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(drawn) == count > 0
    # Issue 14 §1: each drawn subject becomes a task for its inspectors — one task, sent to the
    # departments whose items it was drawn for, naming the drawn inspectors, already delivered.
    expected = {
        d["uscc"]: (
            sorted(t["department"] for t in d["inspectors"]),  # type: ignore[attr-defined]
            sorted(c for t in d["inspectors"] for c in t["certificates"]),  # type: ignore[attr-defined]
        )
        for d in drawn
    }
    tasks = {t["id"]: t for who in ("scjg.staff", "sthj.staff") for t in await _inbox(gateway, who)}
    got = {
        t["subjects"][0]: (sorted(t["recipients"]), sorted(t["assignees"]))  # type: ignore[index, arg-type]
        for t in tasks.values()
    }
    assert len(tasks) == count and got == expected
    assert {t["state"] for t in tasks.values()} == {"DELIVERED"}
    assert {t["issuer"] for t in tasks.values()} == {STHJ}  # who drew
    # Issuing again finds every subject issued; a repeat draw's tasks wait until asked for.
    again = await gateway.ask("city", ISSUE, {"plan": "SJ-2026-001", "number": 1})
    assert again["data"]["issueInspectionTasks"] == 0, again
    repeat = await gateway.ask(
        "city", DRAW, {"plan": "SJ-2026-001", "seed": "07" * 32, "reason": "名录缺漏，经批准重抽"}
    )
    repeated = repeat["data"]["drawInspectionPlan"]["subjectCount"]
    assert {t["id"] for w in ("scjg.staff", "sthj.staff") for t in await _inbox(gateway, w)} == set(
        tasks
    )
    issued = await gateway.ask("city", ISSUE, {"plan": "SJ-2026-001", "number": 2})
    assert issued["data"]["issueInspectionTasks"] == repeated
    missing = await gateway.ask("city", ISSUE, {"plan": "SJ-2026-001", "number": 3})
    assert codes(missing) == ["NOT_FOUND"]
