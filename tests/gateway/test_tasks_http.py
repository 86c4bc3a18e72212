"""Regulatory tasks over real HTTP GraphQL, on PostgreSQL and SQLite: the whole life cycle,
every refused transition naming the state, concurrent claims through two gateway replicas
(exactly one wins), who sees what, and the reads in the audit log."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest_asyncio
from sqlalchemy import insert, select
from starlette.applications import Starlette

from gateway.app import create_app
from gateway.services import Services
from gateway.settings import Settings
from policies.principal import Principal
from policies.store import ensure_seed
from sources.database import SourceDatabases, create_engine
from standard.tables.gateway import AuditEntry, Party
from tasks.lifecycle import Actor
from tasks.receipts import verify_receipt
from tasks.store import TaskStore
from tests.servers import LiveServer
from tests.tasks.conftest import CALENDAR, PARTIES, SIGNER, START, Clock
from tests.tasks.samples import CITY, ISSUER, MATTERS, OUTSIDER, RECIPIENTS, SUBJECTS
from tests.tasks.test_complaints import complaint, push

PEOPLE = {
    "issuer": Principal("staff", "user:issuer", ISSUER, "department", "staff"),
    "yanta": Principal("staff", "user:yanta-1", RECIPIENTS[0], "department", "staff"),
    "yanta2": Principal("staff", "user:yanta-2", RECIPIENTS[0], "department", "staff"),
    "beilin": Principal("staff", "user:beilin-1", RECIPIENTS[1], "department", "staff"),
    "outsider": Principal("staff", "user:outsider", OUTSIDER.party, "department", "staff"),
    "city": Principal("staff", "user:city-1", CITY, "city_office", "city_office"),
    "auditor": Principal("staff", "user:auditor", CITY, "city_office", "auditor"),
    "hotline": Principal("client", "client:hotline", "P-12345", "partner"),
}
FIELDS = "id state version recipients assignees reason result acts overdue allowedActions"


@dataclass
class Gateway:
    urls: list[str]
    tokens: dict[str, str]
    engine: Any
    clock: Clock
    http: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(timeout=60))
    databases: SourceDatabases | None = None

    async def ask(
        self, who: str | None, query: str, variables: dict[str, Any] | None = None, *, at: int = 0
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        response = await self.http.post(
            f"{self.urls[at]}/graphql",
            json={"query": query, "variables": variables or {}},
            headers=headers,
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def data(self, who: str, query: str, **variables: Any) -> dict[str, Any]:
        body = await self.ask(who, query, variables)
        assert "errors" not in body, body["errors"]
        found: dict[str, Any] = body["data"]
        return found


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


def _served(settings: Settings, clock: Clock) -> Starlette:
    services = Services.create(settings)
    # The tests' clock and key: deadlines fall where the tests counted them
    store = TaskStore(services.engine, signer=SIGNER, calendar=CALENDAR, clock=clock)
    return create_app(settings, services=dataclasses.replace(services, tasks=store))


@asynccontextmanager
async def served(settings: Settings) -> AsyncIterator[Gateway]:
    """Two replicas over one gateway database, as production runs them behind a balancer."""
    engine = create_engine(settings.gateway_url)
    await ensure_seed(engine)
    async with engine.begin() as conn:
        for code, kind in PARTIES.items():
            await conn.execute(
                insert(Party).values(code=code, name=code, kind=kind, created_at=START)
            )
    services = Services.create(settings)
    try:
        tokens = {}
        for name, principal in PEOPLE.items():
            issued = await services.tokens.issue(
                principal, lifetime=timedelta(hours=1), idle=timedelta(hours=1)
            )
            tokens[name] = issued.token
    finally:
        await services.close()
    clock = Clock()
    one, two = LiveServer(_served(settings, clock)), LiveServer(_served(settings, clock))
    async with one, two:
        gateway = Gateway([one.url, two.url], tokens, engine, clock)
        try:
            yield gateway
        finally:
            await gateway.http.aclose()
            await engine.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def gateway(sqlite_settings: Settings, gateway_url: str) -> AsyncIterator[Gateway]:
    """Tasks live in the gateway database, on each backend; the sources are not read here."""
    async with served(dataclasses.replace(sqlite_settings, gateway_url=gateway_url)) as made:
        yield made


@pytest_asyncio.fixture(loop_scope="session")
async def with_sources(databases: SourceDatabases, gateway_url: str) -> AsyncIterator[Gateway]:
    """The same over empty source databases the test writes to (the complaints)."""
    async with served(dataclasses.replace(databases._settings, gateway_url=gateway_url)) as made:
        made.databases = databases
        yield made


ISSUE = f"""
mutation Issue($recipients: [String!]!) {{
  issueTask(input: {{title: "春节前食品安全专项检查", recipients: $recipients,
    subjects: ["{SUBJECTS[0]}", "{SUBJECTS[1]}"], matters: ["{MATTERS[0]}"],
    legalBasis: "《中华人民共和国食品安全法》第一百一十条", deadlineWorkingDays: 3,
    attachments: [{{name: "检查表.pdf", size: 20480, sm3: "{"ab" * 32}"}}]}}) {{ {FIELDS} dueAt }}
}}"""
MOVES = {
    "deliver": "deliverTask(id: $id, version: $version)",
    "claim": "claimTask(id: $id, version: $version)",
    "start": 'startTask(id: $id, version: $version, note: "已到现场",'
    f' attachments: [{{name: "记录.pdf", size: 10, sm3: "{"cd" * 32}"}}])',
    "finish": 'finishTask(id: $id, version: $version, result: "未发现问题", acts: ["A-1"])',
    "return": 'returnTask(id: $id, version: $version, reason: "非本辖区")',
    "reassign": 'reassignTask(id: $id, version: $version, assignees: ["user:yanta-2"],'
    ' reason: "人员调整")',
    "escalate": 'escalateTask(id: $id, version: $version, reason: "跨部门")',
    "reissue": "reissueTask(id: $id, version: $version)",
}


def moving(action: str) -> str:
    return f"mutation Move($id: ID!, $version: Int!) {{ {MOVES[action]} {{ {FIELDS} }} }}"


async def issue(gateway: Gateway, recipients: tuple[str, ...] = RECIPIENTS) -> dict[str, Any]:
    task: dict[str, Any] = (await gateway.data("issuer", ISSUE, recipients=list(recipients)))[
        "issueTask"
    ]
    return task


async def act(gateway: Gateway, who: str, action: str, task: dict[str, Any]) -> dict[str, Any]:
    body = await gateway.ask(who, moving(action), {"id": task["id"], "version": task["version"]})
    assert "errors" not in body, body["errors"]
    moved: dict[str, Any] = next(iter(body["data"].values()))
    return moved


INBOX = f"{{ taskInbox(first: 10) {{ edges {{ cursor node {{ {FIELDS} }} }} }} }}"
ONE = f"""query One($id: ID!) {{ task(id: $id) {{ {FIELDS}
  history {{ action version fromState toState actor note reason attachments {{ sm3 }} }} }} }}"""
RECEIPTS = (
    "query R($id: ID!) { taskReceipts(taskId: $id) { event recipient actor taskVersion document } }"
)
OVERDUE = f"{{ tasksOverdue(first: 10) {{ edges {{ node {{ {FIELDS} }} }} }} }}"
ISSUED = f"{{ tasksIssued(first: 10) {{ edges {{ node {{ {FIELDS} }} }} }} }}"


def ids_of(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["id"] for edge in connection["edges"]]


async def test_the_whole_life_cycle_over_http(gateway: Gateway) -> None:
    task = await issue(gateway)
    assert (task["state"], task["version"]) == ("DELIVERED", 2)
    assert task["dueAt"] == "2026-02-24T16:00:00+00:00"  # 3 working days over the Spring Festival
    receipts = (await gateway.data("issuer", RECEIPTS, id=task["id"]))["taskReceipts"]
    assert sorted((r["event"], r["recipient"], r["actor"]) for r in receipts) == sorted(
        ("delivered", p, "system") for p in RECIPIENTS
    )
    for who in ("yanta", "beilin"):
        assert ids_of((await gateway.data(who, INBOX))["taskInbox"]) == [task["id"]]
    assert ids_of((await gateway.data("outsider", INBOX))["taskInbox"]) == []
    assert ids_of((await gateway.data("issuer", ISSUED))["tasksIssued"]) == [task["id"]]
    opened = (await gateway.data("yanta", ONE, id=task["id"]))["task"]
    assert opened["version"] == 2  # looking is receipted, not a new version
    gateway.clock.advance(hours=1)
    task = await act(gateway, "yanta", "claim", task)
    assert (task["state"], task["version"], task["assignees"]) == ("CLAIMED", 3, ["user:yanta-1"])
    task = await act(gateway, "yanta", "start", task)
    task = await act(gateway, "yanta", "finish", task)
    assert (task["state"], task["version"]) == ("DONE", 5)
    assert (task["result"], task["acts"], task["allowedActions"]) == ("未发现问题", ["A-1"], [])
    history = (await gateway.data("city", ONE, id=task["id"]))["task"]["history"]
    assert [(m["action"], m["version"], m["toState"]) for m in history] == [
        ("issue", 1, "issued"),
        ("deliver", 2, "delivered"),
        ("claim", 3, "claimed"),
        ("start", 4, "in_progress"),
        ("finish", 5, "done"),
    ]
    assert history[3]["note"] == "已到现场" and history[3]["attachments"] == [{"sm3": "cd" * 32}]
    receipts = (await gateway.data("beilin", RECEIPTS, id=task["id"]))["taskReceipts"]
    events = [(r["event"], r["recipient"]) for r in receipts]
    assert events[2:] == [
        ("opened", RECIPIENTS[0]),
        ("claimed", RECIPIENTS[0]),
        ("started", RECIPIENTS[0]),
        ("done", RECIPIENTS[0]),
    ]
    for r in receipts:
        assert verify_receipt(r["document"], SIGNER.public_key).task_id == task["id"]
    # nobody else: another department, a partner platform, the auditor, the public
    assert codes(await gateway.ask("outsider", ONE, {"id": task["id"]})) == ["NOT_FOUND"]
    assert codes(await gateway.ask("hotline", ONE, {"id": task["id"]})) == ["FORBIDDEN"]
    assert codes(await gateway.ask("auditor", ONE, {"id": task["id"]})) == ["FORBIDDEN"]
    assert codes(await gateway.ask(None, ONE, {"id": task["id"]})) == ["UNAUTHENTICATED"]
    # every read of tasks is in the audit log, attributed to its reader
    async with gateway.engine.connect() as conn:
        reads = (
            await conn.execute(
                select(AuditEntry.resources, AuditEntry.providers).where(
                    AuditEntry.actor == "user:beilin-1", AuditEntry.event == "read"
                )
            )
        ).all()
    assert len(reads) == 2 and all(r.resources == ["tasks"] for r in reads)
    assert {p for r in reads for p in r.providers} == {ISSUER}


# From the state table of docs/tasks.md (issued: deliver only, tested below): written out
# here, not read from tasks.lifecycle.
ALLOWED = {
    "DELIVERED": {"claim", "return", "escalate"},
    "CLAIMED": {"start", "return", "reassign", "escalate"},
    "IN_PROGRESS": {"finish", "return", "reassign", "escalate"},
    "REASSIGNED": {"claim", "return", "escalate"},
    "ESCALATED": {"reassign", "return"},
    "RETURNED": {"reissue"},
    "DONE": set(),
}
ZH = {
    "DELIVERED": "已送达",
    "CLAIMED": "已认领",
    "IN_PROGRESS": "办理中",
    "REASSIGNED": "已改派",
    "ESCALATED": "已上报",
    "RETURNED": "已退回",
    "DONE": "已办结",
}
PATHS = {
    "DELIVERED": [],
    "CLAIMED": ["claim"],
    "IN_PROGRESS": ["claim", "start"],
    "DONE": ["claim", "start", "finish"],
    "REASSIGNED": ["claim", "reassign"],
    "ESCALATED": ["escalate"],
    "RETURNED": ["return"],
}


async def test_every_refused_transition_names_the_state(gateway: Gateway) -> None:
    for state, path in PATHS.items():
        task = await issue(gateway)
        for action in path:
            task = await act(gateway, "yanta", action, task)
        assert task["state"] == state
        assert set(task["allowedActions"]) == ALLOWED[state]
        for action in sorted(set(MOVES) - ALLOWED[state]):
            # the city office sees every task: the refusal is the state's, not the reader's
            body = await gateway.ask(
                "city", moving(action), {"id": task["id"], "version": task["version"]}
            )
            assert codes(body) == ["TRANSITION_REFUSED"], (state, action, body)
            error = body["errors"][0]
            assert error["extensions"]["state"] == state.lower()
            assert error["extensions"]["action"] == action
            assert ZH[state] in error["message"] and state.lower() in error["message"]
        after = (await gateway.data("city", ONE, id=task["id"]))["task"]
        assert after["version"] == task["version"]  # nothing moved


async def test_concurrent_claims_through_two_replicas_one_wins(gateway: Gateway) -> None:
    for _ in range(4):
        task = await issue(gateway)
        variables = {"id": task["id"], "version": task["version"]}
        bodies = await asyncio.gather(
            gateway.ask("yanta", moving("claim"), variables, at=0),
            gateway.ask("yanta2", moving("claim"), variables, at=1),
        )
        won = [b for b in bodies if "errors" not in b]
        lost = [b for b in bodies if codes(b) == ["CONCURRENT_CHANGE"]]
        assert (len(won), len(lost)) == (1, 1), bodies
        assert lost[0]["errors"][0]["extensions"] == {
            "code": "CONCURRENT_CHANGE",
            "expected": 2,
            "current": 3,
        }
        claimed = won[0]["data"]["claimTask"]
        receipts = (await gateway.data("city", RECEIPTS, id=task["id"]))["taskReceipts"]
        assert [r["actor"] for r in receipts if r["event"] == "claimed"] == claimed["assignees"]


async def test_overdue_for_the_city_office_and_the_issuer(gateway: Gateway) -> None:
    task = await issue(gateway, (RECIPIENTS[0],))
    assert ids_of((await gateway.data("city", OVERDUE))["tasksOverdue"]) == []
    gateway.clock.now = START + timedelta(days=13)  # 25 February 10:00, past the deadline
    for who in ("city", "issuer"):
        overdue = (await gateway.data(who, OVERDUE))["tasksOverdue"]["edges"]
        assert [(e["node"]["id"], e["node"]["overdue"]) for e in overdue] == [(task["id"], True)]
    assert ids_of((await gateway.data("yanta", OVERDUE))["tasksOverdue"]) == []


async def test_bad_input_is_named(gateway: Gateway) -> None:
    task = await issue(gateway)
    blank = 'mutation R($id: ID!) { returnTask(id: $id, version: 2, reason: " ") { id } }'
    body = await gateway.ask("yanta", blank, {"id": task["id"]})
    assert codes(body) == ["BAD_USER_INPUT"] and "reason" in body["errors"][0]["message"]
    stale = await gateway.ask("yanta", moving("claim"), {"id": task["id"], "version": 1})
    assert codes(stale) == ["CONCURRENT_CHANGE"]
    wrong = ISSUE.replace(SUBJECTS[0], SUBJECTS[0][:-1] + "9")
    body = await gateway.ask("issuer", wrong, {"recipients": list(RECIPIENTS)})
    assert codes(body) == ["BAD_USER_INPUT"] and "subjects" in body["errors"][0]["message"]
    body = await gateway.ask("issuer", ISSUE, {"recipients": ["XA-NONE"]})
    assert codes(body) == ["BAD_USER_INPUT"] and "XA-NONE" in body["errors"][0]["message"]
    body = await gateway.ask("yanta", moving("claim"), {"id": "T-nothing", "version": 1})
    assert codes(body) == ["NOT_FOUND"]
    outsider = await gateway.ask("outsider", moving("claim"), {"id": task["id"], "version": 2})
    assert codes(outsider) == ["NOT_FOUND"]  # a task one may not see is as if it were not


FROM_COMPLAINT = f"""
mutation Convert($ticket: String!, $provider: String) {{
  taskFromComplaint(ticketNo: $ticket, provider: $provider) {{ {FIELDS} issuer title }}
}}"""


async def test_a_dispatched_complaint_becomes_a_task_over_http(with_sources: Gateway) -> None:
    gateway = with_sources
    assert gateway.databases is not None
    dispatched, received = complaint(11), complaint(12, status="received")
    await push(gateway.databases, dispatched, received)
    ticket = {"ticket": dispatched["ticket_no"]}
    made = (await gateway.data("hotline", FROM_COMPLAINT, **ticket))["taskFromComplaint"]
    assert (made["issuer"], made["recipients"], made["state"]) == (
        "P-12345",
        [RECIPIENTS[0]],
        "DELIVERED",
    )
    again = (await gateway.data("hotline", FROM_COMPLAINT, **ticket))["taskFromComplaint"]
    assert again["id"] == made["id"]
    overseen = await gateway.data("city", FROM_COMPLAINT, provider="P-12345", **ticket)
    assert overseen["taskFromComplaint"]["id"] == made["id"]
    assert ids_of((await gateway.data("yanta", INBOX))["taskInbox"]) == [made["id"]]
    claimed = await act(gateway, "yanta", "claim", made)
    assert claimed["state"] == "CLAIMED"
    # another department may not convert the hotline's complaints; nor the public
    other = {"provider": "P-12345", **ticket}
    assert codes(await gateway.ask("outsider", FROM_COMPLAINT, other)) == ["FORBIDDEN"]
    assert codes(await gateway.ask(None, FROM_COMPLAINT, ticket)) == ["UNAUTHENTICATED"]
    waiting = await gateway.ask("hotline", FROM_COMPLAINT, {"ticket": received["ticket_no"]})
    assert codes(waiting) == ["BAD_USER_INPUT"] and "received" in waiting["errors"][0]["message"]
    missing = await gateway.ask("hotline", FROM_COMPLAINT, {"ticket": "12345-none"})
    assert codes(missing) == ["NOT_FOUND"]


async def test_a_task_left_issued_is_delivered_by_its_issuer(gateway: Gateway) -> None:
    # as if the delivery after issuing had failed: issued through the store, not delivered
    store = TaskStore(gateway.engine, signer=SIGNER, calendar=CALENDAR, clock=gateway.clock)
    left = await store.issue(
        by=Actor("user:issuer", ISSUER),
        title="待送达的任务",
        recipients=RECIPIENTS,
        subjects=SUBJECTS,
        matters=MATTERS,
        legal_basis="法律依据",
        deadline_working_days=3,
    )
    task = {"id": left.id, "version": 1}
    assert ids_of((await gateway.data("yanta", INBOX))["taskInbox"]) == []  # not delivered yet
    listed = (await gateway.data("issuer", ISSUED))["tasksIssued"]["edges"]
    assert [(e["node"]["state"], e["node"]["allowedActions"]) for e in listed] == [
        ("ISSUED", ["deliver"])
    ]
    for action in sorted(set(MOVES) - {"deliver"}):
        body = await gateway.ask("city", moving(action), task)
        assert codes(body) == ["TRANSITION_REFUSED"], (action, body)
        assert body["errors"][0]["extensions"]["state"] == "issued"
        assert "已下达" in body["errors"][0]["message"]
    refused = await gateway.ask("yanta", moving("deliver"), task)  # not in any inbox yet
    assert codes(refused) == ["NOT_FOUND"]
    delivered = await act(gateway, "issuer", "deliver", task)
    assert (delivered["state"], delivered["version"]) == ("DELIVERED", 2)
    assert ids_of((await gateway.data("yanta", INBOX))["taskInbox"]) == [left.id]
