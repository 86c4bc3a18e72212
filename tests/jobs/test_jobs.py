"""Background jobs on procrastinate, with real parts: PostgreSQL's queue (its tables made by
setup) and the in-memory one run inside the serving process, webhooks delivered to a real HTTP
receiver that verifies their signatures, and the schedules read from the rules."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import croniter
import httpx
import pytest
import pytest_asyncio
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.routing import Route

from events.delivery import Deliverer
from events.outbox import Event, record
from events.subscriptions import subscribe
from gateway.services import Services
from gateway.settings import Settings, SettingsError
from jobs.resources import Resources
from jobs.runtime import Jobs, JobsNotSetUp, ProcessConnector
from jobs.work import DELIVER, MARK_OVERDUE, SEND_REMINDERS
from policies.store import PolicyHolder, ensure_seed
from sources.database import create_engine
from standard.tables.gateway import Client, OutboxEvent, Party
from standard.workdays import SHANGHAI, WorkCalendar
from tasks.store import TaskStore
from tests.events.receivers import Receiver
from tests.servers import LiveServer, jianguan
from tests.tasks.conftest import CALENDAR, SIGNER
from tests.tasks.conftest import PARTIES as TASK_PARTIES
from tests.tasks.conftest import Clock as TaskClock
from tests.tasks.samples import ISSUER
from tests.tasks.test_store import delivered

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # the tests' clock, not today's
PARTNER, CLIENT = "P-12345", "p-12345"


@pytest.fixture
def receiver() -> Receiver:
    return Receiver(real_time=True)  # standardwebhooks' own verification, timestamp included


@pytest_asyncio.fixture(loop_scope="session")
async def endpoint(receiver: Receiver) -> AsyncIterator[str]:
    app = Starlette(routes=[Route("/{path:path}", receiver.endpoint, methods=["POST"])])
    async with LiveServer(app) as server:
        yield server.url


async def registered(url: str) -> AsyncEngine:
    """The gateway database at ``url`` with the shipped policy, a partner and its client."""
    engine = create_engine(url)
    await ensure_seed(engine)  # a partner reads its own records
    async with engine.begin() as conn:
        await conn.execute(
            insert(Party).values(code=PARTNER, name="12345", kind="partner", created_at=START)
        )
        await conn.execute(
            insert(Client).values(
                client_id=CLIENT,
                name=CLIENT,
                party_code=PARTNER,
                secret_hash="x",
                created_at=START,
                created_by="test",
            )
        )
    return engine


@pytest_asyncio.fixture(loop_scope="session")
async def engine(gateway_url: str) -> AsyncIterator[AsyncEngine]:
    made = await registered(gateway_url)
    yield made
    await made.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def jobs(gateway_url: str) -> AsyncIterator[Jobs]:
    queue = Jobs.for_database(gateway_url)
    await queue.setup()  # `jianguan jobs setup`; nothing to do in memory
    yield queue
    await queue.close()


@pytest_asyncio.fixture(loop_scope="session")
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


async def subscribed(engine: AsyncEngine, receiver: Receiver, endpoint: str, path: str) -> int:
    made = await subscribe(
        engine, client_id=CLIENT, url=endpoint + path, created_by="test", now=START
    )
    receiver.secrets[path] = made.secret
    return made.id


def complaint(n: int, kind: str = "complaint.dispatched") -> Event:
    return Event(kind, f"complaint:{n}", "complaints", PARTNER, {"complaint": n})


async def add(engine: AsyncEngine, *events: Event, at: datetime = START) -> list[str]:
    async with engine.begin() as conn:
        return [await record(conn, event, at=at) for event in events]


async def test_a_change_is_delivered_through_the_job_queue(
    engine: AsyncEngine, jobs: Jobs, http: httpx.AsyncClient, receiver: Receiver, endpoint: str
) -> None:
    await subscribed(engine, receiver, endpoint, "/hook")
    ids = await add(engine, complaint(1), complaint(2))
    assert await jobs.deliver_soon()  # as a change does once it has committed

    policies = PolicyHolder(engine)
    await policies.reload()
    await jobs.run_worker(Resources.over(engine, http, policies, WorkCalendar()), wait=False)

    # two complaints: no order between them, each once, verified by the receiver
    assert sorted(r["id"] for r in receiver.received) == sorted(ids)


async def test_a_burst_of_changes_waits_as_one_round(jobs: Jobs) -> None:
    assert await jobs.deliver_soon()
    assert [await jobs.deliver_soon() for _ in range(20)] == [False] * 20  # one is waiting


async def test_the_queue_is_postgresqls_beside_postgresql_and_in_memory_beside_sqlite(
    gateway_url: str, jobs: Jobs
) -> None:
    postgres = gateway_url.startswith("postgresql")
    assert jobs.postgres == postgres
    assert isinstance(jobs.app.connector, ProcessConnector) != postgres


async def test_a_worker_without_the_queues_tables_says_to_run_setup(
    pg_gateway_url: str, http: httpx.AsyncClient
) -> None:
    engine = create_engine(pg_gateway_url)
    queue = Jobs.for_database(pg_gateway_url)
    try:
        resources = Resources.over(engine, http, PolicyHolder(engine), WorkCalendar())
        with pytest.raises(JobsNotSetUp, match="jianguan jobs setup"):
            await queue.run_worker(resources, wait=False)
        assert await queue.setup()
        assert not await queue.setup()  # a second time: already there
        await queue.run_worker(resources, wait=False)  # now it runs (nothing waiting)
    finally:
        await queue.close()
        await engine.dispose()


async def sees_tasks(
    client_id: str, resource: str, provider: str, audience: tuple[str, ...]
) -> bool:
    return resource == "tasks"  # the tests' scope: this client sees every task


async def test_overdue_marking_and_reminders_run_for_their_scheduled_time_and_are_delivered(
    engine: AsyncEngine, jobs: Jobs, http: httpx.AsyncClient, receiver: Receiver, endpoint: str
) -> None:
    async with engine.begin() as conn:
        for code, kind in TASK_PARTIES.items():
            if code != PARTNER:
                await conn.execute(
                    insert(Party).values(code=code, name=code, kind=kind, created_at=START)
                )
    store = TaskStore(engine, signer=SIGNER, calendar=CALENDAR, clock=TaskClock())
    # issued Thursday 12 February 2026 with 3 working days: due at the end of Tuesday the
    # 24th, after the Spring Festival; overdue from midnight
    task = await delivered(store)
    await subscribed(engine, receiver, endpoint, "/tasks")
    resources = Resources(engine, Deliverer(engine, http, sees_tasks), CALENDAR)
    remind_at = datetime(2026, 2, 24, 8, 30, tzinfo=SHANGHAI)  # the due day: 1 working day
    overdue_from = datetime(2026, 2, 25, 0, 0, tzinfo=SHANGHAI)
    # The worker's own schedule would run them for the present too, by the real clock: left
    # out, so what runs is what is deferred here. One after the other, as their times come
    # (08:30, then midnight): run together, the two would write their events in either order.
    jobs.app.periodic_registry.periodic_tasks.clear()
    for name, at in ((SEND_REMINDERS, remind_at), (MARK_OVERDUE, overdue_from)):
        await jobs.app.configure_task(name).defer_async(timestamp=int(at.timestamp()))
        await jobs.run_worker(resources, wait=False)  # each deferred a delivery round: run too

    got = [
        (r["type"], r["data"]["task"], datetime.fromisoformat(r["timestamp"]))
        for r in receiver.received
        if r["type"] in ("task.due_soon", "task.overdue")
    ]
    assert got == [("task.due_soon", task.id, remind_at), ("task.overdue", task.id, overdue_from)]
    async with engine.connect() as conn:
        providers = (
            await conn.scalars(
                select(OutboxEvent.provider).where(OutboxEvent.kind == "task.due_soon")
            )
        ).all()
    assert providers == [ISSUER]  # a reminder is its issuer's, as the task's events are


def test_the_schedules_are_every_five_seconds_every_minute_and_each_morning() -> None:
    registry = Jobs(ProcessConnector()).app.periodic_registry.periodic_tasks
    crons = {name: task.cron for (name, _), task in registry.items()}
    assert set(crons) == {DELIVER, MARK_OVERDUE, SEND_REMINDERS}

    def following(cron: str, after: datetime, n: int) -> list[datetime]:
        it = croniter.croniter(cron, after)
        return [it.get_next(datetime) for _ in range(n)]

    at = datetime(2026, 3, 2, 9, 0, 1, tzinfo=UTC)
    assert following(crons[DELIVER], at, 2) == [at.replace(second=5), at.replace(second=10)]
    assert following(crons[MARK_OVERDUE], at, 2) == [
        datetime(2026, 3, 2, 9, 1, tzinfo=UTC),
        datetime(2026, 3, 2, 9, 2, tzinfo=UTC),
    ]
    # 08:30 in Xi'an (UTC+8) each day, before the working day starts
    assert following(crons[SEND_REMINDERS], at, 2) == [
        datetime(2026, 3, 3, 0, 30, tzinfo=UTC),
        datetime(2026, 3, 4, 0, 30, tzinfo=UTC),
    ]


async def test_the_serving_process_runs_the_jobs_itself_on_the_embedded_default(
    sqlite_settings: Settings, tmp_path: Any, receiver: Receiver, endpoint: str
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
    from standard.migrate import GATEWAY, upgrade

    engine = create_engine(url)
    await upgrade(engine, GATEWAY)
    await engine.dispose()
    engine = await registered(url)
    settings = dataclasses.replace(sqlite_settings, gateway_url=url, jobs_in_process=True)
    services = Services.create(settings)
    await services.start()  # as the app's lifespan does under `jianguan serve`
    try:
        await subscribed(engine, receiver, endpoint, "/hook")
        # no deliver_soon: the worker's periodic round finds it (one is due on starting)
        (first,) = await add(engine, complaint(1))
        (second,) = await add(engine, complaint(2))
        await services.jobs.deliver_soon()
        for _ in range(200):
            if len(receiver.received) == 2:
                break
            await asyncio.sleep(0.05)
        assert sorted(r["id"] for r in receiver.received) == sorted([first, second])
    finally:
        await services.close()
        await engine.dispose()


def test_where_the_jobs_run_follows_the_database() -> None:
    assert Settings.from_env({}).jobs_in_process  # SQLite: in the serving process
    pg = {"JIANGUAN_DATABASE_URL": "postgresql://postgres@127.0.0.1/gateway"}
    assert not Settings.from_env(pg).jobs_in_process  # PostgreSQL: `jianguan jobs worker`
    assert Settings.from_env({**pg, "JIANGUAN_JOBS_IN_PROCESS": "true"}).jobs_in_process
    with pytest.raises(SettingsError, match="JOBS_IN_PROCESS=false needs"):
        Settings.from_env({"JIANGUAN_JOBS_IN_PROCESS": "false"})


def test_the_worker_command_on_sqlite_says_serve_runs_the_jobs(tmp_path: Any) -> None:
    done = jianguan("jobs", "worker", env={"JIANGUAN_VAR_DIR": str(tmp_path)})
    assert done.returncode == 2
    assert "jianguan serve" in done.stderr


async def test_setup_and_the_worker_command_deliver_on_postgresql(
    pg_gateway_url: str, receiver: Receiver, endpoint: str
) -> None:
    import os

    env = {**os.environ, "JIANGUAN_DATABASE_URL": pg_gateway_url}
    made = await asyncio.to_thread(jianguan, "jobs", "setup", env=env)
    again = await asyncio.to_thread(jianguan, "jobs", "setup", env=env)
    assert (made.returncode, again.returncode) == (0, 0), made.stderr + again.stderr
    assert "created" in made.stdout and "already" in again.stdout

    engine = await registered(pg_gateway_url)
    queue = Jobs.for_database(pg_gateway_url)
    try:
        await subscribed(engine, receiver, endpoint, "/hook")
        ids = await add(engine, complaint(1), complaint(1, "complaint.closed"))
        await queue.deliver_soon()  # the serving process defers; a worker process delivers
        ran = await asyncio.to_thread(jianguan, "jobs", "worker", "--until-empty", env=env)
        assert ran.returncode == 0, ran.stderr
        assert [r["id"] for r in receiver.received] == ids
    finally:
        await queue.close()
        await engine.dispose()
