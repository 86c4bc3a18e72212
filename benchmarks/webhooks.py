"""Webhooks through the job path: latency, throughput, and a receiver outage.

    .venv/bin/python -m benchmarks.webhooks [--events 10000] [--tasks 500] [--batch 100]
        [--rate 0] [--outage 60] [--outage-events 2000]

On a scratch PostgreSQL gateway database (``jg_bench_webhooks_<run>``, migrated, the job
queue's tables made as ``jianguan jobs setup`` makes them, dropped at the end): one partner
client subscribed to every event, a real HTTP receiver (Starlette under uvicorn, in a thread of
this process) that verifies every signature with standardwebhooks, and ``jianguan jobs worker``
in a child process. Events of ``--tasks`` tasks, interleaved, each numbered within its task,
are written in transactions of ``--batch`` (``--rate`` events/s, 0: as fast as they go), each
transaction followed by a deferred delivery round, as a change does.

1. **Delivery**: p50/p99 of enqueue (the commit of the event's transaction) → the receiver
   having it, and throughput from the first commit to the last receipt.
2. **Outage** (``--outage`` s, 0 to skip): the receiver is stopped (connections refused),
   ``--outage-events`` more events are written, and it is started again on the same port after
   the outage. Then, checked and printed: everything delivered, in order per task, none twice
   under a different ``webhook-id`` (a repeat with the same id is at-least-once, counted), no
   delivery left pending or dead.

Both receiver and producer run in this process, so the two times come from one clock. The
events are the partner's own ``complaints`` rows as far as the scope goes: the worker's real
``ClientScopes`` decides, and a partner's scope reads its own records of any table.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import uvicorn
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from benchmarks.harness.postgres import scratch
from benchmarks.harness.servers import ROOT, free_port, module_command
from events.outbox import Event, record
from events.subscriptions import subscribe
from jobs.runtime import Jobs
from policies.store import ensure_seed
from sources.database import create_engine
from standard.migrate import GATEWAY, upgrade
from standard.tables.gateway import Client, Party, WebhookDelivery

PARTNER, CLIENT = "P-BENCH", "bench"
KIND = "task.step"


@dataclass(frozen=True, slots=True)
class Written:
    task: int
    n: int  # its place among the task's events
    committed: float  # time.time() once its transaction committed


@dataclass(frozen=True, slots=True)
class Receipt:
    event_id: str
    task: int
    n: int
    at: float


@dataclass
class Receiver:
    """A partner's endpoint on a fixed port, that can be taken down and brought back."""

    secret: str
    port: int = field(default_factory=free_port)
    got: list[Receipt] = field(default_factory=list)
    refused: int = 0  # signatures that did not verify (must stay 0)
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None
    _socket: socket.socket | None = None

    async def endpoint(self, request: Request) -> Response:
        body = await request.body()
        try:
            data = Webhook(self.secret).verify(body, dict(request.headers))["data"]
        except WebhookVerificationError:
            self.refused += 1
            return Response(status_code=401)
        self.got.append(
            Receipt(request.headers["webhook-id"], data["task"], data["n"], time.time())
        )
        return Response(status_code=204)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        app = Starlette(routes=[Route("/hook", self.endpoint, methods=["POST"])])
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._socket = socket.socket()
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the same port again
        self._socket.bind(("127.0.0.1", self.port))
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the receiver did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None and self._socket is not None:
            self._server.should_exit = True
            self._thread.join(10)
            self._socket.close()


async def prepared(url: str) -> AsyncEngine:
    engine = create_engine(url)
    await upgrade(engine, GATEWAY)
    await ensure_seed(engine)  # a partner reads its own records: it sees these events
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await conn.execute(
            insert(Party).values(code=PARTNER, name="压测", kind="partner", created_at=now)
        )
        await conn.execute(
            insert(Client).values(
                client_id=CLIENT,
                name="压测",
                party_code=PARTNER,
                secret_hash="x",  # noqa: S106  # never signs in: only subscribed
                created_at=now,
                created_by="bench",
            )
        )
    jobs = Jobs.for_database(url)
    await jobs.setup()
    await jobs.close()
    return engine


async def produce(
    engine: AsyncEngine,
    jobs: Jobs,
    written: dict[str, Written],
    counters: dict[int, int],
    *,
    events: int,
    tasks: int,
    batch: int,
    rate: float,
) -> None:
    """Write ``events`` events, ``batch`` a transaction, each transaction followed by a defer."""
    start = time.monotonic()
    for first in range(0, events, batch):
        made: list[tuple[str, int, int]] = []
        async with engine.begin() as conn:
            for i in range(first, min(first + batch, events)):
                task = i % tasks
                n = counters.get(task, 0)
                counters[task] = n + 1
                # resource: one the partner's scope reads, as its own (see the docstring)
                event = Event(KIND, f"task:{task}", "complaints", PARTNER, {"task": task, "n": n})
                made.append((await record(conn, event, at=datetime.now(UTC)), task, n))
        committed = time.time()
        written.update({eid: Written(task, n, committed) for eid, task, n in made})
        await jobs.deliver_soon()
        if rate:
            ahead = (first + batch) / rate - (time.monotonic() - start)
            if ahead > 0:
                await asyncio.sleep(ahead)


async def delivered(
    receiver: Receiver, ids: set[str], child: subprocess.Popen[bytes], *, within: float
) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if ids <= {r.event_id for r in receiver.got}:
            return True
        if child.poll() is not None:
            raise RuntimeError(f"the worker stopped (exit {child.returncode}): see its log")
        await asyncio.sleep(0.05)
    return False


def percentile(values: list[float], q: int) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[q - 1]
        if len(values) > 1
        else values[0]
    )


@dataclass(frozen=True, slots=True)
class Checked:
    missing: int  # written, never received
    out_of_order: int  # tasks whose events arrived (first receipts) out of their order
    repeats: int  # receipts of an id already received (at least once, same webhook-id)
    other_ids: int  # (task, n) received under two ids: a real duplicate
    bad_signatures: int
    left_owed: int  # deliveries still pending or dead in the database


async def check(engine: AsyncEngine, receiver: Receiver, written: dict[str, Written]) -> Checked:
    """The promises, from what the receiver got against what was written."""
    seen: dict[str, Receipt] = {}
    repeats = 0
    for receipt in receiver.got:
        if receipt.event_id in seen:
            repeats += 1
        else:
            seen[receipt.event_id] = receipt
    by_content: dict[tuple[int, int], set[str]] = {}
    for receipt in receiver.got:
        by_content.setdefault((receipt.task, receipt.n), set()).add(receipt.event_id)
    arrival: dict[int, list[int]] = {}
    for receipt in seen.values():  # in the order first received
        arrival.setdefault(receipt.task, []).append(receipt.n)
    async with engine.connect() as conn:
        owed = await conn.scalar(select(func.count()).where(WebhookDelivery.status != "delivered"))
    return Checked(
        missing=len(set(written) - set(seen)),
        out_of_order=sum(order != sorted(order) for order in arrival.values()),
        repeats=repeats,
        other_ids=sum(len(ids) > 1 for ids in by_content.values()),
        bad_signatures=receiver.refused,
        left_owed=int(owed or 0),
    )


def worker(url: str, log: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "JIANGUAN_DATABASE_URL": url, "JIANGUAN_VAR_DIR": os.path.dirname(log)}
    with open(log, "ab") as out:
        return subprocess.Popen(
            module_command("gateway.cli", "jobs", "worker"),
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)  # seconds, enqueue → received
    throughput: float = 0.0  # events/s
    drained_after: float | None = None  # s from the receiver's return to the last delivery
    checked: Checked | None = None
    written: dict[str, Written] = field(default_factory=dict)
    received: list[Receipt] = field(default_factory=list)


async def measure(
    url: str,
    *,
    events: int,
    tasks: int,
    batch: int = 100,
    rate: float = 0.0,
    outage: float = 0.0,
    outage_events: int = 0,
    log: str,
) -> Result:
    """Both phases on the gateway database at ``url`` (empty); the raw records too."""
    engine = await prepared(url)
    receiver = Receiver(secret="")
    made = await subscribe(
        engine, client_id=CLIENT, url=receiver.url, created_by="bench", now=datetime.now(UTC)
    )
    receiver.secret = made.secret
    receiver.start()
    jobs = Jobs.for_database(url)
    child = worker(url, log)
    result = Result()
    counters: dict[int, int] = {}
    try:
        await produce(
            engine,
            jobs,
            result.written,
            counters,
            events=events,
            tasks=tasks,
            batch=batch,
            rate=rate,
        )
        if not await delivered(receiver, set(result.written), child, within=600):
            raise RuntimeError("not everything was delivered within 10 minutes")
        first = min(w.committed for w in result.written.values())
        arrived = {r.event_id: r.at for r in reversed(receiver.got)}  # the first receipt of each
        result.latencies = [arrived[e] - w.committed for e, w in result.written.items()]
        result.throughput = events / (max(arrived.values()) - first)
        if outage:
            receiver.stop()
            down = time.monotonic()
            await produce(
                engine,
                jobs,
                result.written,
                counters,
                events=outage_events,
                tasks=tasks,
                batch=batch,
                rate=0,
            )
            await asyncio.sleep(max(0.0, outage - (time.monotonic() - down)))
            receiver.start()
            back = time.monotonic()
            if not await delivered(receiver, set(result.written), child, within=600):
                raise RuntimeError("not everything was delivered within 10 minutes of the outage")
            result.drained_after = time.monotonic() - back
        await asyncio.sleep(0.5)  # the worker records the last deliveries
        result.checked = await check(engine, receiver, result.written)
        result.received = list(receiver.got)
        return result
    finally:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(20)
        except subprocess.TimeoutExpired:
            child.kill()
        receiver.stop()
        await jobs.close()
        await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--rate", type=float, default=0.0, help="events/s; 0: as fast as they go")
    parser.add_argument("--outage", type=float, default=60.0, help="seconds; 0: no outage")
    parser.add_argument("--outage-events", type=int, default=2_000)
    args = parser.parse_args()
    name = f"jg_bench_webhooks_{uuid.uuid4().hex[:8]}"
    log = os.path.join(tempfile.mkdtemp(prefix=name), "worker.log")
    async with scratch([name]) as urls:
        result = await measure(
            urls[name],
            events=args.events,
            tasks=args.tasks,
            batch=args.batch,
            rate=args.rate,
            outage=args.outage,
            outage_events=args.outage_events,
            log=log,
        )
    ms = sorted(1000 * s for s in result.latencies)
    print(
        f"{args.events} events of {args.tasks} tasks, {args.batch} a transaction"
        f"{f', {args.rate:g}/s' if args.rate else ''}: through jianguan jobs worker"
    )
    print(
        f"  enqueue → delivered: p50 {percentile(ms, 50):.0f} ms, p99 {percentile(ms, 99):.0f} ms,"
        f" max {ms[-1]:.0f} ms"
    )
    print(f"  throughput: {result.throughput:.0f} events/s")
    if args.outage and result.drained_after is not None:
        print(
            f"receiver down {args.outage:g} s while {args.outage_events} more were written:"
            f" all delivered {result.drained_after:.1f} s after it was back"
        )
    c = result.checked
    assert c is not None
    verdict = {
        "everything delivered": c.missing == 0,
        "in order per task": c.out_of_order == 0,
        "none twice under another webhook-id": c.other_ids == 0,
        "every signature verified": c.bad_signatures == 0,
        "nothing left pending or dead": c.left_owed == 0,
    }
    for promise, kept in verdict.items():
        print(f"  {'ok ' if kept else 'NO '} {promise}")
    print(f"  repeats with the same webhook-id (at least once): {c.repeats}")
    print(f"worker log: {log}")
    if not all(verdict.values()):
        raise SystemExit(1)


if __name__ == "__main__":
    asyncio.run(main())
