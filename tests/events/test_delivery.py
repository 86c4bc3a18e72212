"""Events to partner systems, end to end over real HTTP on both backends: written with their
change (or not at all), signed per Standard Webhooks and verified by the receiver, retried with
backoff, dead letters, replay, order per aggregate, and only what the client may see."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.routing import Route

from events.delivery import BACKOFF, Deliverer
from events.outbox import Event, record
from events.subscriptions import BadSubscription, subscribe
from sources.database import create_engine
from standard.tables.gateway import Client, Party, WebhookDelivery
from tests.events.receivers import Receiver
from tests.servers import LiveServer

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # the tests' clock, not today's


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest_asyncio.fixture(loop_scope="session")
async def endpoint(receiver: Receiver) -> AsyncIterator[str]:
    app = Starlette(routes=[Route("/{path:path}", receiver.endpoint, methods=["POST"])])
    async with LiveServer(app) as server:
        yield server.url


@pytest_asyncio.fixture(loop_scope="session")
async def engine(gateway_url: str) -> AsyncIterator[AsyncEngine]:
    made = create_engine(gateway_url)
    async with made.begin() as conn:
        for code, kind in (
            ("P-12345", "partner"),
            ("XA-SCJG", "department"),
            ("XA-STHJ", "department"),
        ):
            await conn.execute(
                insert(Party).values(code=code, name=code, kind=kind, created_at=START)
            )
        for client, party in (("p-12345", "P-12345"), ("p-other", "P-12345")):
            await conn.execute(
                insert(Client).values(
                    client_id=client,
                    name=client,
                    party_code=party,
                    secret_hash="x",
                    created_at=START,
                    created_by="test",
                )
            )
    yield made
    await made.dispose()


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


SEES = {("p-12345", "XA-SCJG"), ("p-other", "XA-SCJG"), ("p-other", "XA-STHJ")}


async def sees(client_id: str, resource: str, provider: str, audience: tuple[str, ...]) -> bool:
    """The tests' scope: p-12345 sees XA-SCJG's tasks only; p-other both departments'."""
    return resource == "tasks" and (client_id, provider) in SEES


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest_asyncio.fixture(loop_scope="session")
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def deliverer(engine: AsyncEngine, http: httpx.AsyncClient, clock: Clock) -> Deliverer:
    return Deliverer(engine, http, sees, clock=clock, timeout=5)


async def add(engine: AsyncEngine, *events: Event, at: datetime = START) -> list[str]:
    async with engine.begin() as conn:
        return [await record(conn, event, at=at) for event in events]


def task(n: int, kind: str, provider: str = "XA-SCJG") -> Event:
    return Event(kind, f"task:{n}", "tasks", provider, {"task": n, "state": kind.split(".")[1]})


async def subscribed(
    engine: AsyncEngine, receiver: Receiver, url: str, client: str, path: str, **kinds: Any
) -> int:
    made = await subscribe(
        engine, client_id=client, url=url + path, created_by="test", now=START, **kinds
    )
    receiver.secrets[path] = made.secret
    return made.id


async def test_a_committed_event_is_delivered_once_signed_and_a_rolled_back_one_never(
    engine: AsyncEngine, http: httpx.AsyncClient, endpoint: str, receiver: Receiver
) -> None:
    receiver.real_time = True  # the standard's verification, timestamp included
    await subscribed(engine, receiver, endpoint, "p-12345", "/hook")
    (kept,) = await add(engine, task(1, "task.delivered"))
    with pytest.raises(RuntimeError):
        async with engine.begin() as conn:
            await record(conn, task(2, "task.delivered"), at=START)
            raise RuntimeError("the change failed: its event goes with it")

    done = await Deliverer(engine, http, sees).run_once()
    again = await Deliverer(engine, http, sees).run_once()

    assert [r["id"] for r in receiver.received] == [kept]
    assert receiver.received[0]["type"] == "task.delivered"
    assert receiver.received[0]["data"] == {"task": 1, "state": "delivered"}
    assert (done.fanned_out, done.delivered, again.fanned_out, again.delivered) == (1, 1, 0, 0)


async def test_a_client_gets_only_the_events_it_may_see_and_the_kinds_it_asked_for(
    engine: AsyncEngine, http: httpx.AsyncClient, endpoint: str, receiver: Receiver, clock: Clock
) -> None:
    await subscribed(engine, receiver, endpoint, "p-12345", "/all")
    await subscribed(engine, receiver, endpoint, "p-other", "/claims", kinds=["task.claimed"])
    await add(
        engine,
        task(1, "task.delivered"),
        task(1, "task.claimed"),
        task(2, "task.claimed", provider="XA-STHJ"),  # p-12345 may not see XA-STHJ's tasks
        Event("draw.performed", "plan:1", "plans", "XA-SCJG", {}),  # nor plans
    )
    await deliverer(engine, http, clock).run_once()
    got = {(r["path"], r["data"]["task"], r["type"]) for r in receiver.received}
    assert got == {
        ("/all", 1, "task.delivered"),
        ("/all", 1, "task.claimed"),
        ("/claims", 1, "task.claimed"),
        ("/claims", 2, "task.claimed"),
    }


async def test_a_failing_endpoint_is_retried_with_backoff_and_gets_everything_in_order(
    engine: AsyncEngine, http: httpx.AsyncClient, endpoint: str, receiver: Receiver, clock: Clock
) -> None:
    await subscribed(engine, receiver, endpoint, "p-12345", "/hook")
    ids = await add(engine, *(task(n % 3, f"task.step{n}") for n in range(9)))
    work = deliverer(engine, http, clock)
    receiver.failing = True
    first = await work.run_once()
    assert (first.delivered, first.failed) == (0, 3)  # only each task's first event was tried
    clock.advance(BACKOFF[0] - 0.5)
    assert (await work.run_once()).failed == 0  # not yet due
    clock.advance(0.5)
    assert (await work.run_once()).failed == 3  # due: tried again, and failed again

    receiver.failing = False  # back after the outage
    clock.advance(BACKOFF[1])
    done = await work.run_once()
    assert done.delivered == 9
    for n in range(3):
        mine = [r["id"] for r in receiver.received if r["data"]["task"] == n]
        assert mine == [ids[i] for i in range(9) if i % 3 == n]  # in order per task
    assert sorted(r["id"] for r in receiver.received) == sorted(ids)  # each once


async def test_one_task_failing_does_not_hold_back_another(
    engine: AsyncEngine, http: httpx.AsyncClient, endpoint: str, receiver: Receiver, clock: Clock
) -> None:
    await subscribed(engine, receiver, endpoint, "p-12345", "/hook")
    broken = await subscribed(engine, receiver, "http://127.0.0.1:9", "p-other", "/x")
    await add(engine, task(1, "task.delivered"), task(2, "task.delivered"))
    done = await deliverer(engine, http, clock).run_once()
    # p-other's endpoint refuses connections: its two deliveries fail, p-12345 gets both
    assert (done.delivered, done.failed) == (2, 2)
    async with engine.connect() as conn:
        errors = (
            await conn.scalars(
                select(WebhookDelivery.last_error).where(WebhookDelivery.subscription_id == broken)
            )
        ).all()
    assert errors == ["ConnectError", "ConnectError"]


async def test_a_dead_letter_after_the_last_retry_then_replayed_with_its_id(
    engine: AsyncEngine, http: httpx.AsyncClient, endpoint: str, receiver: Receiver, clock: Clock
) -> None:
    sub = await subscribed(engine, receiver, endpoint, "p-12345", "/hook")
    first, second = await add(engine, task(1, "task.claimed"), task(1, "task.done"))
    work = deliverer(engine, http, clock)
    receiver.failing = True
    for wait in (0, *BACKOFF):
        clock.advance(wait)
        await work.run_once()
    (dead,) = await work.dead_letters(sub)
    assert (dead.event_id, dead.attempts, dead.last_error) == (first, len(BACKOFF) + 1, "HTTP 503")

    receiver.failing = False  # a dead letter no longer holds back the task's later events
    await work.run_once()
    assert [r["id"] for r in receiver.received] == [second]

    assert await work.replay(sub, from_seq=0) == 2
    await work.run_once()
    assert [r["id"] for r in receiver.received] == [second, first, second]  # same ids: idempotent
    assert await work.dead_letters(sub) == []


async def test_two_deliverers_at_once_fan_each_event_out_once(
    engine: AsyncEngine, http: httpx.AsyncClient, endpoint: str, receiver: Receiver, clock: Clock
) -> None:
    await subscribed(engine, receiver, endpoint, "p-12345", "/hook")
    await add(engine, *(task(n, "task.delivered") for n in range(40)))
    one, two = deliverer(engine, http, clock), deliverer(engine, http, clock)
    made = await asyncio.gather(one.fan_out(), two.fan_out())
    assert sum(made) == 40
    await one.run_once()
    assert len(receiver.received) == 40


@pytest.mark.parametrize(
    "url", ["ftp://example.org/hook", "not a url", "http:///nohost", "https://x/" + "a" * 500]
)
async def test_a_subscription_needs_an_http_url(engine: AsyncEngine, url: str) -> None:
    with pytest.raises(BadSubscription, match="url"):
        await subscribe(engine, client_id="p-12345", url=url, created_by="test", now=START)


async def test_a_client_sees_by_its_scope_under_the_policy_and_nothing_once_disabled(
    engine: AsyncEngine,
) -> None:
    from sqlalchemy import update

    from events.visibility import ClientScopes
    from policies.store import PolicyHolder, ensure_seed

    await ensure_seed(engine)  # the shipped policy: a partner reads its own records
    visible = ClientScopes(engine, PolicyHolder(engine))
    assert await visible("p-12345", "complaints", "P-12345")
    assert not await visible("p-12345", "complaints", "XA-SCJG")  # another's, and no grant
    assert not await visible("nobody", "complaints", "P-12345")
    async with engine.begin() as conn:
        await conn.execute(
            update(Client).where(Client.client_id == "p-other").values(disabled=True)
        )
    assert not await ClientScopes(engine, PolicyHolder(engine))("p-other", "complaints", "P-12345")


async def test_an_event_addressed_to_parties_reaches_their_clients_and_the_city_office_only(
    engine: AsyncEngine,
) -> None:
    from events.visibility import ClientScopes
    from policies.store import PolicyHolder, ensure_seed

    await ensure_seed(engine)
    async with engine.begin() as conn:
        await conn.execute(
            insert(Party).values(code="XA-ZWB", name="XA-ZWB", kind="city_office", created_at=START)
        )
        for client, party in (
            ("scjg-system", "XA-SCJG"),
            ("sthj-system", "XA-STHJ"),
            ("office-system", "XA-ZWB"),
        ):
            await conn.execute(
                insert(Client).values(
                    client_id=client, name=client, party_code=party, secret_hash="x",
                    created_at=START, created_by="test",
                )
            )  # fmt: skip
    visible = ClientScopes(engine, PolicyHolder(engine))
    # A task is seen by its issuer, its recipients and the city office (issue 14 §2), which no
    # table scope of the policy expresses: its events name those parties.
    audience = ("XA-SCJG", "YT-SCJG")
    assert await visible("scjg-system", "tasks", "XA-SCJG", audience)
    assert await visible("office-system", "tasks", "XA-SCJG", audience)
    assert not await visible("sthj-system", "tasks", "XA-SCJG", audience)
    assert not await visible("p-12345", "tasks", "XA-SCJG", audience)
    assert not await visible("scjg-system", "tasks", "XA-SCJG", ())  # no scope reads tasks
