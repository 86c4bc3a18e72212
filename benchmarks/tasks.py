"""What a task change costs, and whether concurrent claims always leave exactly one winner.

    .venv/bin/python -m benchmarks.tasks [--tasks 100] [--races 50] [--walkers 8]

On a scratch PostgreSQL database (``jg_bench_tasks_<run>``, dropped at the end) and on a SQLite
file, both migrated to head:

1. ``--tasks`` tasks walked one after another through issue, deliver (two recipients: two SM2
   receipts), claim, start, finish: milliseconds per step, median and p95. Each step is one
   transaction holding the task row, the move, the audit entry, the receipts and the event.
2. ``--races`` delivered tasks, each claimed by two recipients' staff at once: how many races
   had exactly one winner (all must) and how long a race took.
3. ``--walkers`` concurrent walkers, each issuing and walking its own tasks: changes per second.
   The audit chain's writer lock is held from a change's audit entry to its commit, and the
   receipts are signed under it (they name the entry's place in the chain): at 8 ms per
   pure-Python SM2 signature (gmssl, measured here) that is the ceiling, about 50 changes/s on
   this shared two-core machine (PostgreSQL 50, SQLite 71, 8 December 2026).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.harness.postgres import scratch
from tasks.errors import ConcurrentChange

PARTIES = ("XA-SCJGJ", "XA-YTSCJ", "XA-BLSCJ")
SUBJECT = "916101004JURQ28308"


def _ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"median {statistics.median(ordered) * 1000:6.1f} ms, p95 {p95 * 1000:6.1f} ms"


async def _timed(samples: dict[str, list[float]], step: str, call: Awaitable[object]) -> object:
    start = time.perf_counter()
    result = await call
    samples.setdefault(step, []).append(time.perf_counter() - start)
    return result


async def _backend(name: str, url: str, args: argparse.Namespace) -> None:
    from sqlalchemy import insert

    from audit.keys import Signer
    from sources.database import create_engine
    from standard.migrate import GATEWAY, upgrade
    from standard.tables.gateway import Party
    from standard.workdays import WorkCalendar
    from tasks.lifecycle import Actor
    from tasks.store import TaskStore

    engine = create_engine(url)
    await upgrade(engine, GATEWAY)
    async with engine.begin() as conn:
        for code in PARTIES:
            await conn.execute(
                insert(Party).values(
                    code=code, name=code, kind="department", created_at=datetime.now(UTC)
                )
            )
    store = TaskStore(engine, signer=Signer.new(), calendar=WorkCalendar())
    issuer = Actor("user:issuer", PARTIES[0])
    staff = [Actor("user:a", PARTIES[1]), Actor("user:b", PARTIES[2])]

    async def issue() -> str:
        task = await store.issue(
            by=issuer,
            title="专项检查",
            recipients=PARTIES[1:],
            subjects=(SUBJECT,),
            matters=(),
            legal_basis="法律依据",
            deadline_working_days=5,
        )
        return task.id

    async def walk(samples: dict[str, list[float]]) -> None:
        task_id = await _timed(samples, "issue", issue())
        assert isinstance(task_id, str)  # what issue() returns
        steps: list[tuple[str, Callable[[int], Awaitable[object]]]] = [
            ("deliver", lambda v: store.deliver(task_id, by=issuer, expected_version=v)),
            ("claim", lambda v: store.claim(task_id, by=staff[0], expected_version=v)),
            ("start", lambda v: store.start(task_id, by=staff[0], expected_version=v)),
            (
                "finish",
                lambda v: store.finish(task_id, by=staff[0], expected_version=v, result="无"),
            ),
        ]
        for version, (step, call) in enumerate(steps, 1):
            await _timed(samples, step, call(version))

    try:
        samples: dict[str, list[float]] = {}
        for _ in range(args.tasks):
            await walk(samples)
        print(f"{name}: one change at a time, {args.tasks} tasks")
        for step, times in samples.items():
            print(f"  {step:8s} {_ms(times)}")

        single, races = 0, []
        for _ in range(args.races):
            task_id = await issue()
            await store.deliver(task_id, by=issuer, expected_version=1)
            start = time.perf_counter()
            results = await asyncio.gather(
                *(store.claim(task_id, by=s, expected_version=2) for s in staff),
                return_exceptions=True,
            )
            races.append(time.perf_counter() - start)
            lost = sum(isinstance(r, ConcurrentChange) for r in results)
            single += lost == 1 and len(results) - lost == 1
        print(f"  races    {single}/{args.races} with exactly one winner; {_ms(races)} a race")

        async def walker() -> None:
            for _ in range(5):
                await walk({})

        start = time.perf_counter()
        await asyncio.gather(*(walker() for _ in range(args.walkers)))
        rate = args.walkers * 5 * 5 / (time.perf_counter() - start)  # 5 changes a task
        print(f"  walkers  {args.walkers} at once, 5 tasks each: {rate:.0f} changes/s")
    finally:
        await engine.dispose()


async def main(args: argparse.Namespace) -> None:
    name = f"jg_bench_tasks_{uuid.uuid4().hex[:8]}"
    async with scratch([name]) as urls:
        await _backend("PostgreSQL", urls[name], args)
    with tempfile.TemporaryDirectory() as work:
        await _backend("SQLite", f"sqlite+aiosqlite:///{Path(work) / 'gateway.db'}", args)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--races", type=int, default=50)
    parser.add_argument("--walkers", type=int, default=8)
    asyncio.run(main(parser.parse_args()))
