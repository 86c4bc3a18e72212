"""The gateway against a floor: req/s and latency of GraphQL queries next to hand-written SQL.

    .venv/bin/python -m benchmarks.gateway [--duration 10] [--concurrency 16] [--keep-db NAME]
        [--scale medium] [--profile]

Makes four scratch PostgreSQL databases (or reuses ``NAME_<source>`` with ``--keep-db``, so a
second run skips the minute of seeding), migrates them and seeds demo data
(``benchmarks.harness.data``). Then it serves, each in its own process with one uvicorn worker
on 127.0.0.1:

- the gateway, ``create_app(Settings(environment="production"))``, called by the city office
  (a bearer token: every record visible, personal fields masked, each request audited), its
  own database on PostgreSQL beside the sources;
- a floor: one Starlette endpoint that runs, per query, the same SQL statements the gateway runs
  (checked: both are executed in process and their statements compared) through plain asyncpg
  pools, and returns the same ``data`` document encoded with orjson (checked over HTTP).

``benchmarks.loadgen`` loads each from a second process for ``--duration`` seconds with
``--concurrency`` keep-alive connections. ``--profile`` repeats the nested query in both servers
while a thread samples their stacks (see ``StackSampler`` for why not cProfile). Scratch
databases are dropped at the end unless ``--keep-db`` names them.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import signal
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # no stubs
import greenlet  # type: ignore[import-untyped]  # no stubs
import httpx
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from benchmarks.harness.data import Caller, add_keep_db, parsed, prepare, prepare_gateway
from benchmarks.harness.load import run_loadgen
from benchmarks.harness.postgres import admin_connection, drop, dsn
from benchmarks.harness.report import first_difference, ratio, tidy
from benchmarks.harness.servers import ROOT, ChildServer, Listen, module_command, run_uvicorn
from gateway.settings import Settings
from policies.masking import mask_name
from standard.registry import SOURCES as REGISTRY
from standard.source_names import SOURCE_NAMES

POOL_MAX = 15  # SQLAlchemy's QueuePool default (5 + 10 overflow): the gateway's ceiling too


QUERIES = {
    "small": "{ matters(first: 10) { edges { node { matterCode name status } } } }",
    "nested": (
        "{ subjects(first: 100) { edges { node { id uscc name legalRepresentative status "
        "registeredOn licences(first: 5) { approvalNo itemCode outcome decidedOn } "
        "creditRatings(first: 5) { rating score ratedOn } "
        "complaints(first: 5) { ticketNo complaintType status receivedAt } "
        "actions(first: 5) { kind matter { matterCode name } } } } } }"
    ),
}
GOALS = {"small": (0.5, 5.0), "nested": (0.33, 50.0)}  # (× floor req/s at least, p99 ms at most)

Record = Any  # asyncpg.Record: rows read by column name

# ---------------------------------------------------------------------------------- the floor

COLUMNS = {
    table: tuple(c.name for c in model.__table__.columns)  # type: ignore[attr-defined]
    for source in REGISTRY.values()
    for table, model in source.tables.items()
}
_sql: dict[tuple[Any, ...], str] = {}


def page_sql(table: str) -> str:
    """SqlConnector.page, first page: ``LIMIT first + 1`` to learn whether more follow."""
    key = ("page", table)
    if key not in _sql:
        cols = ", ".join(f"{table}.{c}" for c in COLUMNS[table])
        _sql[key] = (
            f"SELECT {cols} FROM {table} WHERE {table}.cd_operation != $1::VARCHAR "  # noqa: S608  # our own table names
            f"ORDER BY {table}.id LIMIT $2::INTEGER"
        )
    return _sql[key]


def _sql_type(table: str, column: str) -> str:
    """The column's SQL type as the gateway's statements cast array parameters to it."""
    from sqlalchemy.dialects import postgresql

    from standard.registry import SOURCES

    model = next(s.tables[table] for s in SOURCES.values() if table in s.tables)
    return str(model.__table__.c[column].type.compile(dialect=postgresql.dialect()))  # type: ignore[attr-defined, no-untyped-call]


def lookup_sql(table: str, column: str, count: int) -> str:
    """SqlConnector.lookup without a cap: every row whose ``column`` is one of ``count`` keys."""
    key = ("lookup", table, column, count)
    if key not in _sql:
        cols = ", ".join(f"{table}.{c}" for c in COLUMNS[table])
        _sql[key] = (
            f"SELECT {cols} FROM {table} WHERE {table}.cd_operation != $1::VARCHAR "  # noqa: S608  # our own table names
            f"AND {table}.{column} = ANY ($2::{_sql_type(table, column)}[]) ORDER BY {table}.id"
        )
    return _sql[key]


def capped_sql(table: str, column: str, count: int) -> str:
    """SqlConnector.lookup with ``per_key``: the lowest ids of each key, by a window function."""
    key = ("capped", table, column, count)
    if key not in _sql:
        outer = ", ".join(f"anon_1.{c}" for c in COLUMNS[table])
        inner = ", ".join(f"{table}.{c} AS {c}" for c in COLUMNS[table])
        keys = f"$2::{_sql_type(table, column)}[]"
        _sql[key] = (
            f"SELECT {outer} FROM (SELECT {inner}, row_number() OVER "  # noqa: S608  # our own table names
            f"(PARTITION BY {table}.{column} ORDER BY {table}.id) AS _rank FROM {table} "
            f"WHERE {table}.cd_operation != $1::VARCHAR AND {table}.{column} = ANY ({keys})) "
            f"AS anon_1 WHERE anon_1._rank <= $3::INTEGER ORDER BY anon_1.id"
        )
    return _sql[key]


class Pools:
    """One asyncpg pool per source."""

    def __init__(self, pools: dict[str, asyncpg.Pool]) -> None:
        self.pools = pools

    async def fetch(self, source: str, sql: str, *args: Any) -> list[Record]:
        return await self.pools[source].fetch(sql, *args)  # type: ignore[no-any-return]

    async def capped(
        self, source: str, table: str, column: str, keys: Sequence[str], per_key: int
    ) -> dict[str, list[Record]]:
        """Rows grouped by key, at most ``per_key`` each (a DataLoader batch of a list field)."""
        grouped: dict[str, list[Record]] = defaultdict(list)
        if keys:
            sql = capped_sql(table, column, len(keys))
            for row in await self.fetch(source, sql, "d", list(keys), per_key):
                grouped[row[column]].append(row)
        return grouped

    async def newest(
        self, source: str, table: str, column: str, keys: Sequence[str]
    ) -> dict[str, Record]:
        """The highest-id row per key (a DataLoader batch of a single-object field)."""
        if not keys:
            return {}
        rows = await self.fetch(source, lookup_sql(table, column, len(keys)), "d", list(keys))
        return {row[column]: row for row in rows}  # ascending ids: the last one wins


def node_id(type_name: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


def _decimal(value: Any) -> str | None:
    return None if value is None else str(value)


async def floor_small(db: Pools) -> dict[str, Any]:
    rows = await db.fetch("supervision", page_sql("matters"), "d", 11)
    return {
        "matters": {
            "edges": [
                {"node": {"matterCode": r["matter_code"], "name": r["name"], "status": r["status"]}}
                for r in rows[:10]
            ]
        }
    }


async def floor_nested(db: Pools) -> dict[str, Any]:
    page = (await db.fetch("supervision", page_sql("subjects"), "d", 101))[:100]
    usccs = list(dict.fromkeys(r["uscc"] for r in page))
    licences, ratings, complaints, actions = await asyncio.gather(
        db.capped("gov_services", "licences", "applicant_uscc", usccs, 5),
        db.capped("credit", "credit_ratings", "subject_uscc", usccs, 5),
        db.capped("complaints", "complaints", "subject_uscc", usccs, 5),
        db.capped("supervision", "actions", "subject_uscc", usccs, 5),
    )
    codes = list(dict.fromkeys(a["matter_code"] for u in usccs for a in actions.get(u, ())))
    matters = await db.newest("supervision", "matters", "matter_code", codes)

    def matter(code: str) -> dict[str, Any] | None:
        m = matters.get(code)
        return None if m is None else {"matterCode": m["matter_code"], "name": m["name"]}

    def node(s: Record) -> dict[str, Any]:
        u, legal = s["uscc"], s["legal_representative"]
        return {
            "id": node_id("Subject", s["id"]),
            "uscc": u,
            "name": s["name"],
            "legalRepresentative": None if legal is None else mask_name(legal),
            "status": s["status"],
            "registeredOn": s["registered_on"],
            "licences": [
                {
                    "approvalNo": x["approval_no"],
                    "itemCode": x["item_code"],
                    "outcome": x["outcome"],
                    "decidedOn": x["decided_on"],
                }
                for x in licences.get(u, ())
            ],
            "creditRatings": [
                {"rating": x["rating"], "score": _decimal(x["score"]), "ratedOn": x["rated_on"]}
                for x in ratings.get(u, ())
            ],
            "complaints": [
                {
                    "ticketNo": x["ticket_no"],
                    "complaintType": x["complaint_type"],
                    "status": x["status"],
                    "receivedAt": x["received_at"],
                }
                for x in complaints.get(u, ())
            ],
            "actions": [
                {"kind": x["kind"], "matter": matter(x["matter_code"])} for x in actions.get(u, ())
            ],
        }

    return {"subjects": {"edges": [{"node": node(s)} for s in page]}}


FLOOR: dict[str, Callable[[Pools], Awaitable[dict[str, Any]]]] = {
    "small": floor_small,
    "nested": floor_nested,
}


async def open_pools(urls: dict[str, str]) -> dict[str, asyncpg.Pool]:
    return {
        source: await asyncpg.create_pool(dsn(url), min_size=1, max_size=POOL_MAX)
        for source, url in urls.items()
    }


def floor_app(urls: dict[str, str]) -> Starlette:
    """The floor: POST /graphql with one of the benchmark queries, answered by hand."""
    db = Pools({})
    handlers = {QUERIES[name]: handler for name, handler in FLOOR.items()}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        db.pools.update(await open_pools(urls))
        yield
        for pool in db.pools.values():
            await pool.close()

    async def graphql(request: Request) -> Response:
        handler = handlers.get(orjson.loads(await request.body()).get("query"))
        if handler is None:
            return JSONResponse({"errors": [{"message": "not a benchmark query"}]}, 400)
        data = await handler(db)
        return Response(orjson.dumps({"data": data}), media_type="application/json")

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[Route("/graphql", graphql, methods=["POST"]), Route("/healthz", healthz)],
        lifespan=lifespan,
    )


Key = tuple[str, int, str]  # (file, first line, function)


class StackSampler:
    """Samples this process's Python stack every ``interval`` seconds of CPU time (SIGPROF).

    cProfile is no use here: SQLAlchemy runs its sync core in greenlets, and greenlet switches
    make cProfile charge whole seconds per request to ``greenlet_spawn`` and microsecond
    functions with tens of microseconds. A sample sees the frame that really runs; a greenlet's
    stack is joined to the coroutine that spawned it, so its time counts for that caller too.
    Idle time (waiting for PostgreSQL or clients) uses no CPU and is never sampled.
    """

    def __init__(self, interval: float = 0.001) -> None:
        self.interval = interval
        self.own: Counter[Key] = Counter()
        self.cum: Counter[Key] = Counter()
        self.samples = 0
        self.cpu = 0.0

    def start(self) -> None:
        self.cpu = time.process_time()
        signal.signal(signal.SIGPROF, self._sample)
        signal.setitimer(signal.ITIMER_PROF, self.interval, self.interval)

    def stop(self, path: str) -> None:
        signal.setitimer(signal.ITIMER_PROF, 0)
        # The kernel fires at most once per scheduler tick: calibrate on the CPU time used.
        cpu = time.process_time() - self.cpu
        entries = [[*key, self.own[key], count] for key, count in self.cum.items()]
        profile = {"samples": self.samples, "cpu": cpu, "entries": entries}
        Path(path).write_text(json.dumps(profile))

    def _sample(self, _signal: int, frame: FrameType | None) -> None:
        glet, seen = greenlet.getcurrent(), set()
        if frame is not None:
            code = frame.f_code
            self.own[code.co_filename, code.co_firstlineno, code.co_name] += 1
        while frame is not None:
            code = frame.f_code
            seen.add((code.co_filename, code.co_firstlineno, code.co_name))
            frame = frame.f_back
            if frame is None and glet.parent is not None:
                frame, glet = glet.parent.gr_frame, glet.parent
        self.cum.update(seen)
        self.samples += 1


def gateway_settings(urls: dict[str, str], caller: Caller) -> Settings:
    """The gateway's settings in production shape: its own database, a signing key."""
    return Settings(
        environment="production",
        source_urls=urls,
        gateway_url=caller.gateway_url,
        audit_key_file=Path(caller.key_file),
        rate_limit="1000000/minute",  # limits are not under test; their cost is
    )


def serve(
    kind: str, fd: int, urls: dict[str, str], caller: Caller, profile_out: str | None
) -> None:
    """Server process: one uvicorn worker on the socket the parent bound, sampled if asked."""
    if kind == "gateway":
        from gateway.app import create_app, settle_heap

        app = create_app(gateway_settings(urls, caller))
        settle_heap()  # as ``jianguan serve`` does
    else:
        app = floor_app(urls)
    sampler = StackSampler() if profile_out else None
    if sampler is not None:
        sampler.start()
    try:
        run_uvicorn(app, fd)
    finally:
        if sampler is not None and profile_out:
            sampler.stop(profile_out)


# ---------------------------------------------------------------------------------- databases


async def sessions(urls: dict[str, str]) -> int:
    """PostgreSQL sessions ever opened on the four databases (counters lag up to a second)."""
    admin = await admin_connection()
    try:
        count = await admin.fetchval(
            "SELECT coalesce(sum(sessions), 0) FROM pg_stat_database WHERE datname = ANY($1)",
            [url.rsplit("/", 1)[1] for url in urls.values()],
        )
    finally:
        await admin.close()
    return int(count)


# ---------------------------------------------------------------------------------- checks


def _normalise(sql: str) -> str:
    return " ".join(sql.split())


async def check_same_sql(urls: dict[str, str]) -> dict[str, int]:
    """Run each query in process through the gateway's schema and through the floor, recording
    the statements sent to PostgreSQL; they must be the same. Returns statements per query."""
    import asyncpg

    from policies.principal import Principal
    from policies.scope import Policy, scope_for, seed_lines
    from resolvers.context import Context
    from resolvers.schema import build_graph
    from sources.guard import Sources

    settings = Settings(environment="production", source_urls=urls)
    sources = Sources(settings)
    schema = build_graph(production=True)  # the graph alone: no audit, no limits
    city = Principal(
        kind="staff", id="user:bench", party="XA-ZWB", party_kind="city_office", role="city_office"
    )
    oversight = scope_for(city, Policy(seed_lines(), []), datetime.now(UTC))
    seen: list[str] = []
    # The SQL connector reads PostgreSQL through asyncpg's fetch: record what it sends there.
    original_fetch = asyncpg.Connection.fetch

    async def recording_fetch(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(query)
        return await original_fetch(self, query, *args, **kwargs)

    class Recording(Pools):
        async def fetch(self, source: str, sql: str, *args: Any) -> list[Record]:
            seen.append(sql)
            return await super().fetch(source, sql, *args)

    floor = Recording(await open_pools(urls))
    counts = {}
    try:
        for name, query in QUERIES.items():
            seen.clear()
            asyncpg.Connection.fetch = recording_fetch
            try:
                context = Context.new(sources, scope=oversight)
                result = await schema.execute(query, context_value=context)
            finally:
                asyncpg.Connection.fetch = original_fetch
            if result.errors:
                raise SystemExit(f"the gateway failed on {name}: {result.errors}")
            gateway_sql = Counter(map(_normalise, seen))
            seen.clear()
            await FLOOR[name](floor)
            floor_sql = Counter(map(_normalise, seen))
            if gateway_sql != floor_sql:
                only_gw = "\n  ".join(s[:300] for s in gateway_sql - floor_sql)
                only_fl = "\n  ".join(s[:300] for s in floor_sql - gateway_sql)
                raise SystemExit(
                    f"SQL differs for {name}:\n gateway only:\n  {only_gw}\n"
                    f" floor only:\n  {only_fl}"
                )
            counts[name] = sum(gateway_sql.values())
    finally:
        await sources.close()
        for pool in floor.pools.values():
            await pool.close()
    return counts


def verify(workload: str, gateway: dict[str, Any], floor: dict[str, Any]) -> None:
    """The floor's document must equal the gateway's ``data``; stop the run if not."""
    if "errors" in gateway or "data" not in gateway:
        raise SystemExit(f"the gateway answered {workload} with errors: {gateway}")
    difference = first_difference(gateway["data"], floor["data"])
    if difference is not None:
        raise SystemExit(f"floor and gateway disagree on {workload}: {difference}")
    print(f"{workload}: the floor's JSON equals the gateway's data")


# ---------------------------------------------------------------------------------- servers


class Server(ChildServer):
    """A server process (``gateway`` or ``floor``) on a free 127.0.0.1 port."""

    def __init__(
        self,
        kind: str,
        urls: dict[str, str],
        caller: Caller,
        logs: Path,
        profile_out: str | None = None,
    ) -> None:
        self.kind, self.urls, self.caller = kind, urls, caller

        def command(listen: Listen) -> list[str]:
            args = ["--serve", kind, "--fd", str(listen.fd), "--urls", json.dumps(urls)]
            args += ["--caller", json.dumps(asdict(caller))]
            if profile_out:  # SIGINT stops the server cleanly: the profile is written
                args += ["--profile-out", profile_out]
            return module_command("benchmarks.gateway", *args)

        # Its stderr goes to a file: a failing source makes Strawberry log a traceback per error.
        log = logs / f"{kind}{'-profiled' if profile_out else ''}.log"
        super().__init__(kind, command, log=log)

    async def query(self, query: str) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.post(
                f"{self.url}/graphql",
                json={"query": query},
                headers={
                    "Accept": "application/json",
                    "Authorization": f"Bearer {self.caller.token}",
                },
            )
        if response.status_code != 200:
            raise SystemExit(f"{self.kind} answered {response.status_code}: {response.text[:500]}")
        document: dict[str, Any] = orjson.loads(response.content)
        return document

    async def load(self, workload: str, args: argparse.Namespace) -> dict[str, float]:
        before = await sessions(self.urls)
        result = await run_loadgen(
            f"{self.url}/graphql",
            json.dumps({"query": QUERIES[workload]}),
            duration=args.duration,
            concurrency=args.concurrency,
            warmup=args.warmup,
            headers=[self.caller.header],
        )
        result["sessions"] = await sessions(self.urls) - before
        return result


# ---------------------------------------------------------------------------------- report


def print_table(results: dict[tuple[str, str], dict[str, float]]) -> None:
    print(
        f"\n{'workload':<9} {'server':<8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'× floor':>8} {'errors':>7} {'new PG conns':>12}  goal"
    )
    for workload in QUERIES:
        floor = results[workload, "floor"]
        for kind in ("floor", "gateway"):
            r = results[workload, kind]
            times = ratio(r["rps"], floor["rps"])
            goal = ""
            if kind == "gateway":
                least, p99 = GOALS[workload]
                goal = (
                    f"≥ {least}×: {'met' if times >= least else 'NOT met'}; "
                    f"p99 ≤ {p99:g} ms: {'met' if r['p99_ms'] <= p99 else 'NOT met'}"
                )
            print(
                f"{workload:<9} {kind:<8} {r['rps']:>8,.0f} {r['p50_ms']:>8.2f} "
                f"{r['p99_ms']:>8.2f} {times:>7.2f}× {r['errors']:>7.0f} {r['sessions']:>12.0f}  "
                f"{goal}"
            )
    print(
        "req/s counts answers without errors. Closed loop: p50 ≈ connections ÷ req/s, so the p99\n"
        "goals are reachable only with few connections. New PG conns: sessions opened on the four\n"
        "databases during the run (pool growth, and churn when a pool closes what it opened)."
    )


def _where(file: str, line: int, function: str) -> str:
    if file == "~":
        return function
    for marker in ("site-packages/", "/lib/python3."):
        if marker in file:
            file = file.split(marker, 1)[1]
            file = file.split("/", 1)[1] if marker.startswith("/lib") else file
            break
    else:
        file = str(Path(file).relative_to(ROOT)) if file.startswith(str(ROOT)) else file
    return f"{file}:{line}({function})"


def _package(file: str, function: str) -> str:
    if "site-packages/" in file:
        return file.split("site-packages/", 1)[1].split("/")[0].removesuffix(".py")
    if file.startswith(str(ROOT)):
        return Path(file).relative_to(ROOT).parts[0] + " (ours)"
    if "/lib/python3." in file:
        rest = file.split("/lib/python3.", 1)[1].split("/")[1:]
        return "stdlib " + (rest[0].removesuffix(".py") if rest else "?")
    return file


# Frames every sample passes through: the event loop and what started it.
LOOP = frozenset(
    [
        "<module>",
        "serve",
        "run",
        "asyncio_run",
        "run_until_complete",
        "run_forever",
        "_run_once",
        "_run",
    ]
)


def print_profile(path: str, requests: float, kind: str, *, cum: int, own: int) -> dict[str, float]:
    """The top functions by cumulative and by own CPU time per request; own time per package."""
    profile = json.loads(Path(path).read_text())
    per_sample = profile["cpu"] / max(profile["samples"], 1) / requests * 1e3
    below_loop = [e for e in profile["entries"] if e[2] not in LOOP]
    for title, top, column in (("cumulative", cum, 4), ("own", own, 3)):
        if not top:
            continue
        print(
            f"\n{kind}, nested query, {profile['samples']:,} samples: top {top} by {title} CPU "
            "time (below the event loop), ms per request"
        )
        print(f"{'cum ms':>8} {'own ms':>8}  function")
        ranked = sorted(below_loop, key=lambda entry: -entry[column])
        for file, line, function, own_n, cum_n in ranked[:top]:
            where = _where(file, line, function)
            print(f"{cum_n * per_sample:>8.2f} {own_n * per_sample:>8.2f}  {where}")
    packages: dict[str, float] = defaultdict(float)
    for file, _, function, own_n, _ in profile["entries"]:
        packages[_package(file, function)] += own_n * per_sample
    return packages


def print_packages(by_kind: dict[str, dict[str, float]]) -> None:
    print("\nown CPU time by package, ms per nested request (C code counts for its Python caller)")
    gateway, floor = by_kind["gateway"], by_kind["floor"]
    print(f"{'package':<28} {'gateway':>8} {'floor':>8}")
    for name in sorted(set(gateway) | set(floor), key=lambda n: -gateway.get(n, 0))[:14]:
        print(f"{name:<28} {gateway.get(name, 0):>8.2f} {floor.get(name, 0):>8.2f}")
    print(f"{'total CPU':<28} {sum(gateway.values()):>8.2f} {sum(floor.values()):>8.2f}")


# ---------------------------------------------------------------------------------- main


async def measure(
    urls: dict[str, str], caller: Caller, args: argparse.Namespace, work: Path
) -> dict[tuple[str, str], dict[str, float]]:
    """Verify and load each server in turn; both pools at once could exceed 100 connections."""
    results: dict[tuple[str, str], dict[str, float]] = {}
    floor_documents: dict[str, dict[str, Any]] = {}
    for kind in ("floor", "gateway"):
        async with Server(kind, urls, caller, work) as server:
            for workload, query in QUERIES.items():
                document = await server.query(query)
                if kind == "floor":
                    floor_documents[workload] = document
                else:
                    verify(workload, document, floor_documents[workload])
            for workload in QUERIES:
                results[workload, kind] = run = await server.load(workload, args)
                print(
                    f"  {kind:<8} {workload:<7} {run['rps']:>7,.0f} req/s {run['errors']:>6} errors"
                )
    return results


async def profile(
    urls: dict[str, str], caller: Caller, args: argparse.Namespace, work: Path
) -> None:
    """The nested query again, each server with its stack sampled."""
    packages = {}
    for kind in ("gateway", "floor"):
        out = str(work / f"{kind}-profile.json")
        async with Server(kind, urls, caller, work, profile_out=out) as server:
            run = await server.load("nested", args)
        served = run["sent"]
        print(f"\n{kind} profiled: {run['rps']:,.0f} req/s, {served:,.0f} requests in all")
        tops = {"cum": 25, "own": 15} if kind == "gateway" else {"cum": 0, "own": 10}
        packages[kind] = print_profile(out, served, kind, **tops)
    print_packages(packages)


async def main(args: argparse.Namespace) -> None:
    prefix = args.keep_db or f"jg_bench_{uuid.uuid4().hex[:8]}"
    urls = await prepare(prefix, args.scale)
    work = Path(tempfile.mkdtemp(prefix="jg-bench-"))
    try:
        caller = await prepare_gateway(prefix, work)
        print(
            f"{os.cpu_count()} cores shared by the server under test, the load generator and "
            f"PostgreSQL; {args.concurrency} connections, {args.warmup:g} s warm-up + "
            f"{args.duration:g} s per run; uvicorn, 1 worker, asyncio loop, h11"
        )
        statements = await check_same_sql(urls)
        print(f"same SQL on both sides, statements per request: {statements}")
        print_table(await measure(urls, caller, args, work))
        if args.profile:
            await profile(urls, caller, args, work)
    finally:
        await drop([f"{prefix}_gateway"])
        if not args.keep_db:
            await drop(f"{prefix}_{source}" for source in SOURCE_NAMES)
        tidy(work)


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run (10)")
    parser.add_argument("--concurrency", type=int, default=16, help="connections (16)")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds first (2)")
    add_keep_db(parser)
    parser.add_argument("--scale", default="medium", choices=("small", "medium", "large"))
    parser.add_argument("--profile", action="store_true", help="profile the nested query")
    return parsed(parser, "--serve", "--fd", "--urls", "--caller", "--profile-out")


if __name__ == "__main__":
    arguments = parse()
    if arguments.serve:
        serve(
            arguments.serve,
            int(arguments.fd),
            json.loads(arguments.urls),
            Caller(**json.loads(arguments.caller)),
            arguments.profile_out,
        )
    else:
        asyncio.run(main(arguments))
