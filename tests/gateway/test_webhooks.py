"""Webhook subscriptions over real HTTP GraphQL, served with the jobs running in the serving
process: a partner client subscribes, gets its events signed with the secret it was shown once,
replays them with the same ids, and sees and manages only its own subscriptions; nobody but a
machine client subscribes; every operation is in the audit log."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest_asyncio
from sqlalchemy import func, select, update
from starlette.applications import Starlette
from starlette.routing import Route

from events.outbox import Event, record
from gateway.settings import Settings
from jobs.runtime import Jobs
from standard.tables.gateway import WebhookDelivery
from tests.events.receivers import Receiver
from tests.gateway.auth_fixtures import PARTNER, Gateway, live_gateway, small_settings
from tests.servers import LiveServer

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

SUBSCRIBE = """
mutation S($url: String!, $kinds: [String!]) {
  subscribeWebhook(url: $url, kinds: $kinds) {
    secret subscription { id url kinds active pending deadLetters }
  }
}"""
LIST = "{ webhookSubscriptions { id url kinds active pending deadLetters } }"
DEAD = "query D($id: Int!) { webhookDeadLetters(subscriptionId: $id) { position eventId kind attempts lastError } }"  # noqa: E501
REPLAY = "mutation R($id: Int!, $from: Int!) { replayWebhooks(subscriptionId: $id, fromPosition: $from) }"  # noqa: E501
END = "mutation U($id: Int!) { unsubscribeWebhook(subscriptionId: $id) }"


@pytest_asyncio.fixture(loop_scope="session")
async def served(seeded_sqlite: Settings, gateway_url: str) -> AsyncIterator[Gateway]:
    settings = dataclasses.replace(
        small_settings(seeded_sqlite, gateway_url, redis=False), jobs_in_process=True
    )
    queue = Jobs.for_database(gateway_url)
    await queue.setup()  # `jianguan jobs setup` on PostgreSQL; nothing in memory
    await queue.close()
    async with live_gateway(settings) as gateway:
        yield gateway


@pytest_asyncio.fixture(loop_scope="session")
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    got = Receiver(real_time=True)
    app = Starlette(routes=[Route("/{path:path}", got.endpoint, methods=["POST"])])
    async with LiveServer(app) as server:
        yield got, server.url


async def ask(gateway: Gateway, token: str | None, query: str, **variables: Any) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await gateway.http.post(
        f"{gateway.url}/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


async def until(check: Any, seconds: float = 15.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("not delivered in time")


async def test_a_partner_subscribes_receives_signed_events_and_replays_them(
    served: Gateway, receiver: tuple[Receiver, str]
) -> None:
    got, base = receiver
    hotline = await served.exchange(await served.machine("hotline"))
    async with served.services.engine.begin() as conn:  # a change the partner may see, kept
        first = await record(
            conn,
            Event("complaint.dispatched", "complaint:1", "complaints", PARTNER, {"n": 1}),
            at=AT,
        )
        await record(  # another kind: not asked for
            conn, Event("complaint.closed", "complaint:1", "complaints", PARTNER, {}), at=AT
        )

    made = await ask(served, hotline, SUBSCRIBE, url=f"{base}/hook", kinds=["complaint.dispatched"])
    assert "errors" not in made, made
    sub = made["data"]["subscribeWebhook"]
    assert sub["secret"].startswith("whsec_")
    assert sub["subscription"]["url"] == f"{base}/hook"
    assert sub["subscription"]["kinds"] == ["complaint.dispatched"]
    got.secrets["/hook"] = sub["secret"]  # the receiver verifies with the secret shown once
    await until(lambda: len(got.received) == 1)
    assert got.received[0]["id"] == first

    listed = (await ask(served, hotline, LIST))["data"]["webhookSubscriptions"]
    assert [s["id"] for s in listed] == [sub["subscription"]["id"]]
    assert "secret" not in listed[0]

    sid = sub["subscription"]["id"]
    again = await ask(served, hotline, REPLAY, id=sid, **{"from": 0})
    assert again["data"]["replayWebhooks"] == 1
    await until(lambda: len(got.received) == 2)
    assert [r["id"] for r in got.received] == [first, first]  # same webhook-id: kept once

    assert (await ask(served, hotline, END, id=sid))["data"]["unsubscribeWebhook"] is True
    assert (await ask(served, hotline, END, id=sid))["data"]["unsubscribeWebhook"] is False
    listed = (await ask(served, hotline, LIST))["data"]["webhookSubscriptions"]
    assert [s["active"] for s in listed] == [False]

    audited = await served.audit(actor=f"client:{served.principals[-1].removeprefix('client:')}")
    assert [e.event for e in audited].count("write") == 4  # subscribe, replay, two ends
    assert all("webhook_subscriptions" in e.resources for e in audited if e.event == "read")
    assert sum(e.event == "read" for e in audited) == 2  # both lists


async def test_a_client_sees_and_manages_only_its_own_subscriptions(served: Gateway) -> None:
    mine = await served.exchange(await served.machine("mine"))
    other = await served.exchange(await served.machine("other"))  # same partner, other system
    made = await ask(served, mine, SUBSCRIBE, url="http://127.0.0.1:9/hook", kinds=None)  # refuses
    sid = made["data"]["subscribeWebhook"]["subscription"]["id"]
    async with served.services.engine.begin() as conn:  # an event its endpoint never took
        seq_event = await record(
            conn, Event("complaint.closed", "complaint:9", "complaints", PARTNER, {}), at=AT
        )
    assert (await ask(served, other, LIST))["data"]["webhookSubscriptions"] == []
    for query, variables in (
        (DEAD, {"id": sid}),
        (REPLAY, {"id": sid, "from": 0}),
        (END, {"id": sid}),
    ):
        assert codes(await ask(served, other, query, **variables)) == ["NOT_FOUND"]
    assert codes(await ask(served, mine, DEAD, id=sid + 1000)) == ["NOT_FOUND"]

    # a dead letter, as the deliverer leaves one after its last retry
    for _ in range(300):  # the next round (at most 5 s away) fans the event out to it
        async with served.services.engine.connect() as conn:
            owed = await conn.scalar(
                select(func.count()).where(WebhookDelivery.subscription_id == sid)
            )
        if owed:
            break
        await asyncio.sleep(0.05)
    async with served.services.engine.begin() as conn:
        await conn.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.subscription_id == sid)
            .values(status="dead", attempts=15, last_error="HTTP 503")
        )
    dead = (await ask(served, mine, DEAD, id=sid))["data"]["webhookDeadLetters"]
    assert [(d["eventId"], d["kind"], d["attempts"], d["lastError"]) for d in dead] == [
        (seq_event, "complaint.closed", 15, "HTTP 503")
    ]
    listed = (await ask(served, mine, LIST))["data"]["webhookSubscriptions"]
    assert listed[0]["deadLetters"] == 1


async def test_only_machine_clients_subscribe_and_only_to_http_urls_and_event_kinds(
    served: Gateway,
) -> None:
    staff = await served.session(await served.staff("alice"))
    assert codes(await ask(served, staff, LIST)) == ["FORBIDDEN"]
    assert codes(await ask(served, None, LIST)) == ["UNAUTHENTICATED"]
    client = await served.exchange(await served.machine("bad"))
    for url, kinds in (("ftp://example.org/x", None), ("https://example.org/x", ["DROP TABLE"])):
        refused = await ask(served, client, SUBSCRIBE, url=url, kinds=kinds)
        assert codes(refused) == ["BAD_USER_INPUT"], refused
