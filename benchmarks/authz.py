"""What provider-owns-data authorisation costs per request, and whether it grows with rows.

    .venv/bin/python -m benchmarks.authz [--seconds 1] [--rounds 3] [--in-process 3]
        [--concurrency 8] [--scale small] [--keep-db NAME] [--redis redis://127.0.0.1:6379/13]

Makes scratch PostgreSQL databases: the sources ``jg_bench_authz_<run>_<source>`` (migrated and
seeded by ``benchmarks.harness.data.prepare``; ``--keep-db NAME`` reuses and keeps
``NAME_<source>``) and the gateway's own ``jg_bench_authz_<run>_gateway``
(``prepare_gateway``). The gateway is served four ways side by side, over one set of source
pools: ``/off-clear`` authorisation off (no guard; a scope that shows every row in clear),
``/off-masked`` authorisation off with every personal field masked (what the gateway did before
authorisation), ``/on`` the real guard and scopes with audit appends skipped, and ``/audit`` the
real app. The two ``off`` apps and the audit switch exist only in this script. Then it measures:

1. In process, µs per call: the guard and scope of one request, token resolution (Redis and SQL
   stores), rate-limit hits, the scope (cache hit; ``scope_for`` as after a policy change), the
   scope's condition and what it adds to a read, masking per row (``RequestSources._release``)
   under scopes that mask and scopes that show fields in clear, and an audit append.
2. Whole requests in process: each mode and page size in turn, in random order, CPU per request.
   A second copy of ``/off-masked`` gives an A/A pair (how far two identical apps differ here),
   and ``/on-unlimited`` the city office's requests without the rate limit.
3. Over HTTP: one uvicorn worker, load from a second process (``benchmarks.loadgen`` with a
   bearer token), every mode and size once a round; the server's CPU time per request answered.

Redis keys go to their own database (``--redis``) and the ones made here are deleted at the
end; the scratch databases are dropped at the end, on failure too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import functools
import json
import math
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.harness.data import SEED, add_keep_db, parsed, prepare, prepare_gateway
from benchmarks.harness.load import run_loadgen
from benchmarks.harness.postgres import drop, dsn
from benchmarks.harness.report import first_difference, tidy
from benchmarks.harness.servers import ChildServer, Listen, module_command, run_uvicorn
from benchmarks.harness.timing import Cost, timed, timed_sync

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from gateway.services import Services
    from gateway.settings import Settings
    from policies.access import RequestSources
    from policies.principal import Principal
    from policies.scope import GrantLimits, Scope
    from policies.store import PolicyHolder

REDIS = "redis://127.0.0.1:6379/13"  # the tests use database 0
RATE = "5000/second"  # above what one caller reaches here, so never refused; a short window
BUSY = "100000/minute"  # in process: a window that fills with thousands of hits
COMPLAINTS = (
    "{ complaints(first: %d) { edges { node { id provider complainantName complainantPhone } } } }"
)
SUBJECTS = (
    "{ subjects(first: %d) { edges { node { id uscc name legalRepresentative "
    "complaints(first: 5) { ticketNo complainantName complainantPhone } "
    "licences(first: 5) { approvalNo itemCode outcome } } } } }"
)
ROWS = (10, 100)
GOAL_MS = 0.5
Z = 2.5  # standard errors a rise must exceed: three comparisons at once, about 95 % together
ROTATIONS = 80  # passes over a query's modes and sizes, in process, when time allows
RESOLVED_MS = GOAL_MS / 2  # a difference known no better than this is not judged


@dataclass(frozen=True, slots=True)
class Mode:
    """One way of serving the same query."""

    key: str
    label: str
    path: str  # where the side-by-side server mounts the app
    caller: str | None  # whose token the load sends


OFF = Mode("a", "off, in clear", "off-clear", None)
OFF_MASKED = Mode("a'", "off, masked (pre-authorisation)", "off-masked", None)
CITY = Mode("b", "on: city office, audit off", "on", "city")
AUDITED = Mode("c", "on: city office, audit on", "audit", "city")
HOTLINE = Mode("b'", "on: 12345 hotline, audit off", "on", "hotline")
MODES = (OFF, OFF_MASKED, CITY, AUDITED, HOTLINE)
# In process only: an A/A pair (what the harness reads between two identical apps is the size
# of differences that mean nothing), and the city office with the rate limit taken out.
TWIN = Mode("a'2", "off, masked: a second copy", "off-masked-2", None)
UNLIMITED = Mode("b0", "on: city office, no rate limit", "on-unlimited", "city")
EXTRA = (TWIN, UNLIMITED)

# The same document, so the difference is authorisation alone: the city office sees every row
# masked, as everyone did before authorisation; the hotline provides every complaint and sees
# its own rows in clear, through a WHERE on provider and a per-row check of what is clear.
SAME = ((OFF_MASKED, CITY), (OFF, HOTLINE))


@dataclass(frozen=True, slots=True)
class Workload:
    """One query at one page size, and the modes it runs in."""

    name: str
    rows: int
    query: str
    modes: tuple[Mode, ...]


def workloads() -> list[Workload]:
    """A complaints page, and a subjects page with two nested relations, at each size."""
    found = []
    for n in ROWS:
        found.append(Workload("complaints", n, COMPLAINTS % n, MODES))
    for n in ROWS:  # the hotline sees no subjects: no equal document to compare with
        found.append(Workload("subjects+2", n, SUBJECTS % n, (OFF, OFF_MASKED, CITY, AUDITED)))
    return found


def people(tag: str) -> dict[str, Principal]:
    """The callers: ids carry the run's tag, so their Redis keys can be found and deleted."""
    from demo.complaints import PROVIDER as HOTLINE_CODE
    from demo.departments import OFFICE
    from policies.principal import Principal

    return {
        "city": Principal(
            kind="staff",
            id=f"user:bench.city.{tag}",
            party=OFFICE,
            party_kind="city_office",
            role="city_office",
        ),
        "hotline": Principal(
            kind="client",
            id=f"client:bench-hotline-{tag}",
            party=HOTLINE_CODE,
            party_kind="partner",
        ),
        "yanta": Principal(
            kind="staff",
            id=f"user:bench.yanta.{tag}",
            party="YT-SCJG",
            party_kind="department",
            role="staff",
        ),
        "enterprise": Principal(
            kind="client",
            id=f"client:bench-enterprise-{tag}",
            party="ENT-BENCH",
            party_kind="enterprise",
            uscc="91610113MA6U0BENCH",
        ),
    }


# ---------------------------------------------------------------------------------- the apps


def all_visible(*, clear: bool) -> Scope:
    """Authorisation off: every row of every table, personal fields in clear or all masked."""
    from policies.masking import PERSONAL
    from policies.principal import PUBLIC
    from policies.scope import RECORD_TABLES, Clause, Scope, TableScope

    tables = {
        table: TableScope((Clause(None, (), frozenset(PERSONAL[table] if clear else ())),))
        for table in RECORD_TABLES
    }
    return Scope(
        principal=PUBLIC,  # the public's operations are never audited
        tables=tables,
        permissions=frozenset(("read", table, "*") for table in RECORD_TABLES),
    )


def fixed_policies(services: Services, scope: Scope) -> PolicyHolder:
    """A policy holder that hands every caller ``scope``."""
    from policies.store import PolicyHolder

    fixed = scope

    class Fixed(PolicyHolder):
        async def scope(self, principal: Principal, now: datetime | None = None) -> Scope:
            return fixed

    return Fixed(services.engine)


def without_limits(services: Services) -> Services:
    """The same services, whose rate limiter lets everything through without counting."""
    from gateway.ratelimit import Decision, RateLimiter

    class Unlimited(RateLimiter):
        async def hit(self, key: str, rate: str, *, count: bool = True) -> Decision:
            return Decision(allowed=True, limit=0, remaining=0, retry_after=0)

    return dataclasses.replace(services, limiter=Unlimited(None))


def without_audit(services: Services) -> Services:
    """The same services, whose audit log takes every entry and writes none."""
    from audit.log import AuditEvent, AuditLog

    class NoAudit(AuditLog):
        async def append(self, event: AuditEvent) -> int:
            return 0

    return dataclasses.replace(services, audit=NoAudit(services.engine))


def unguarded(app: Starlette) -> Starlette:
    """``app`` with the guard in front of ``/graphql`` taken away: no token, no rate limit."""
    from starlette.routing import Route

    from gateway.auth_http import Guard

    for route in app.router.routes:
        if isinstance(route, Route) and route.path == "/graphql" and isinstance(route.app, Guard):
            route.app = route.app.app
            return app
    raise RuntimeError("no guarded /graphql route: has gateway/app.py changed?")


def side_by_side(settings: Settings) -> Starlette:
    """Every mode's app under one lifespan, sharing the source pools and the gateway's
    services (one token store, rate limiter, policy holder and audit log, as in one process)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Mount, Route
    from starlette.types import ASGIApp, Receive, Send
    from starlette.types import Scope as Asgi

    from gateway.app import create_app
    from gateway.services import Services
    from sources.guard import Sources

    replace = dataclasses.replace
    sources = Sources(settings)
    real = Services.create(settings)
    quiet = without_audit(real)

    def off(*, clear: bool) -> Starlette:
        scope = all_visible(clear=clear)
        policies = fixed_policies(real, scope)
        return unguarded(create_app(settings, sources, services=replace(quiet, policies=policies)))

    apps = {
        OFF.path: off(clear=True),
        OFF_MASKED.path: off(clear=False),
        TWIN.path: off(clear=False),
        CITY.path: create_app(settings, sources, services=quiet),
        UNLIMITED.path: create_app(settings, sources, services=without_limits(quiet)),
        AUDITED.path: create_app(settings, sources, services=real),
    }

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await real.start()
        try:
            yield
        finally:
            await real.close()  # flushes the audit log
            await sources.close()

    served = 0  # GraphQL requests answered, whatever the mode: CPU time is divided by it

    def counted(app: ASGIApp) -> ASGIApp:
        async def call(scope: Asgi, receive: Receive, send: Send) -> None:
            nonlocal served
            await app(scope, receive, send)
            served += 1

        return call

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok", "served": served})

    mounts = [Mount(f"/{path}", app=counted(app)) for path, app in apps.items()]
    return Starlette(routes=[Route("/healthz", healthz), *mounts], lifespan=lifespan)


def serve(fd: int, config: dict[str, Any]) -> None:
    """Server process: one uvicorn worker on the socket the parent bound."""
    run_uvicorn(side_by_side(server_settings(config)), fd)


def server_settings(config: dict[str, Any]) -> Settings:
    from gateway.settings import Settings

    return Settings(
        environment="production",
        source_urls=config["urls"],
        gateway_url=config["gateway"],
        redis_url=config["redis"],
        rate_limit=RATE,
        audit_key_file=Path(config["key"]),
    )


class Server(ChildServer):
    """The side-by-side server in its own process, on a free 127.0.0.1 port."""

    def __init__(self, config: dict[str, Any], log: Path) -> None:
        def command(listen: Listen) -> list[str]:
            args = ["--serve", json.dumps(config), "--fd", str(listen.fd)]
            return module_command("benchmarks.authz", *args)

        super().__init__("side-by-side", command, log=log)

    def stop(self) -> None:
        super().stop()
        # A run ends with requests in flight; uvicorn logs each one the client dropped. A log
        # holding nothing else is not worth keeping.
        assert self.log is not None
        if self.log.exists():
            text = self.log.read_text()
            if text.count("Exception in ASGI") == text.count("starlette.requests.ClientDisconnect"):
                self.log.unlink()

    async def query(self, path: str, query: str, token: str | None) -> dict[str, Any]:
        import httpx

        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        async with httpx.AsyncClient(timeout=60) as client:
            response = await client.post(
                f"{self.url}/{path}/graphql", json={"query": query}, headers=headers
            )
        if response.status_code != 200 or b'"errors"' in response.content:
            raise SystemExit(f"/{path} answered {response.status_code}: {response.text[:500]}")
        document: dict[str, Any] = response.json()
        return document

    async def served(self) -> int:
        """GraphQL requests the server has answered so far."""
        import httpx

        async with httpx.AsyncClient() as client:
            return int((await client.get(f"{self.url}/healthz")).json()["served"])

    async def settle(self) -> None:
        """Wait until the server has finished what the last run left in flight."""
        last = self.cpu()
        for _ in range(100):
            await asyncio.sleep(0.05)
            now = self.cpu()
            if now - last < 0.0005:
                return
            last = now

    async def load(
        self, path: str, query: str, token: str | None, seconds: float, args: argparse.Namespace
    ) -> dict[str, float]:
        """One closed-loop run; adds the server's CPU ms per request answered."""
        headers = [f"Authorization: Bearer {token}"] if token else []
        served, cpu = await self.served(), self.cpu()
        result = await run_loadgen(
            f"{self.url}/{path}/graphql",
            json.dumps({"query": query}),
            duration=seconds,
            concurrency=args.concurrency,
            warmup=args.warmup,
            headers=headers,
        )
        await self.settle()
        cpu = self.cpu() - cpu
        result["answered"] = answered = await self.served() - served
        result["cpu_ms_total"] = cpu * 1000
        result["cpu_ms"] = cpu * 1000 / max(answered, 1)
        return result


# ---------------------------------------------------------------------------------- in process


def line(what: str, cost: Cost | float) -> None:
    wall, cpu = (cost.wall, f"{cost.cpu:>9,.1f}") if isinstance(cost, Cost) else (cost, "")
    print(f"  {what:<72} {wall:>9,.1f} {cpu:>9}")


async def micro_guard(settings: Settings, caller: Principal) -> Cost:
    """Everything authorisation adds before the query runs: the guard (token, rate limit) in
    front of an app that asks for the caller's scope, as ``_GraphQL.get_context`` does."""
    from starlette.types import Message, Receive, Send
    from starlette.types import Scope as Asgi

    from gateway.auth_http import Guard
    from gateway.services import Services
    from policies.principal import caller as calling

    services = Services.create(settings)
    await services.start()
    life = timedelta(hours=1)
    token = (await services.tokens.issue(caller, lifetime=life, idle=life)).token

    async def app(scope: Asgi, receive: Receive, send: Send) -> None:
        assert (await services.policies.scope(calling.get())).principal == caller

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        raise AssertionError(f"the guard refused: {message}")

    request = {
        "type": "http",
        "method": "POST",
        "path": "/graphql",
        "query_string": b"",
        "headers": [(b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 40000),
    }
    guard = Guard(app, services.auth, services.limiter, settings.rate_limit)
    try:
        return await timed(lambda: guard(request, receive, send), 500)
    finally:
        await services.tokens.revoke(token)
        await services.close()


async def micro_tokens(gateway_url: str, redis_url: str, caller: Principal) -> None:
    """Resolving a live bearer token: as the gateway does (an answer reused for half a second),
    and in each store (a miss); one Redis GET and a pool without pre-ping, for scale."""
    from redis.asyncio import Redis

    from accounts.tokens import RedisTokens, Remembered, SqlTokens, TokenStore
    from sources.database import create_engine
    from standard.migrate import GATEWAY, upgrade

    life = timedelta(hours=1)

    async def resolving(store: TokenStore, n: int) -> Cost:
        issued = await store.issue(caller, lifetime=life, idle=life)
        try:
            assert await store.resolve(issued.token) == caller
            return await timed(lambda: store.resolve(issued.token), n)
        finally:
            await store.revoke(issued.token)

    redis = RedisTokens(redis_url)
    try:
        line(
            "token resolution as the gateway does it: an answer reused",
            await resolving(Remembered(redis), 10_000),
        )
        line(
            "token resolution, Redis store (GET, then EXPIRE): every 0.5 s",
            await resolving(redis, 1000),
        )
    finally:
        await redis.close()
    client = Redis.from_url(redis_url)
    try:
        line("  one Redis GET, for scale", await timed(lambda: client.get("absent"), 1000))
    finally:
        await client.aclose()
    for label, pinged in (("", True), ("  the same, the pool without pre-ping", False)):
        postgres = create_engine(gateway_url, pre_ping=pinged)
        try:
            cost = await resolving(SqlTokens(postgres), 300)
            line(label or "token resolution, SQL store on PostgreSQL: every 0.5 s", cost)
        finally:
            await postgres.dispose()
    with tempfile.TemporaryDirectory(prefix="jg-bench-authz-") as tmp:
        sqlite = create_engine(f"sqlite+aiosqlite:///{tmp}/gateway.db")
        try:
            await upgrade(sqlite, GATEWAY)
            line(
                "token resolution, SQL store on SQLite (the embedded default): every 0.5 s",
                await resolving(SqlTokens(sqlite), 300),
            )
        finally:
            await sqlite.dispose()


async def micro_limits(redis_url: str, tag: str) -> None:
    """One rate-limit hit: a principal with an empty window, one with thousands of hits, and
    the window's hit alone (no ``get_window_stats``)."""
    from gateway.ratelimit import RateLimiter, _item

    for name, url in (("Redis", redis_url), ("memory", None)):
        limiter = RateLimiter(url)
        keys = (f"bench-quiet-{tag}-{n}" for n in range(10**9))

        async def quiet(limiter: RateLimiter = limiter) -> None:
            assert (await limiter.hit(next(keys), BUSY)).allowed  # noqa: B023  # used at once

        async def busy(limiter: RateLimiter = limiter) -> None:
            assert (await limiter.hit(f"bench-busy-{tag}", BUSY)).allowed

        async def bare(limiter: RateLimiter = limiter) -> None:
            assert await limiter._strategy.hit(_item(BUSY), f"bench-bare-{tag}")

        try:
            line(f"rate-limit hit, {name}, empty window", await timed(quiet, 1000, 3))
            line(f"rate-limit hit, {name}, window of 1,000–3,000 hits", await timed(busy, 1000, 3))
            line("  the window's hit alone, no get_window_stats", await timed(bare, 1000, 3))
        finally:
            await limiter.close()


def demo_grants() -> list[GrantLimits]:
    """Grants like the demo's: the register to a district bureau, Yanta's complaints in clear."""
    from demo.complaints import PROVIDER as HOTLINE_CODE
    from policies.scope import GrantLimits

    now = datetime.now(UTC)
    start, end = now - timedelta(days=1), now + timedelta(days=365)
    return [
        GrantLimits(1, "XA-SCJG", "YT-SCJG", "subjects", {}, frozenset(), start, end),
        GrantLimits(
            2,
            HOTLINE_CODE,
            "YT-SCJG",
            "complaints",
            {"division_code": "610113"},
            frozenset({"complainant_name", "complainant_phone"}),
            start,
            end,
        ),
    ]


async def micro_scopes(gateway_url: str, who: dict[str, Principal]) -> dict[str, Scope]:
    """The scope: a cache hit, and made afresh; a policy reload."""
    from policies.scope import Policy, scope_for, seed_lines
    from policies.store import PolicyHolder
    from sources.database import create_engine

    engine = create_engine(gateway_url)
    holder = PolicyHolder(engine)  # no Redis: no listener; reloaded by hand below
    try:
        await holder.reload()
        await holder.scope(who["city"])
        hit = await timed(lambda: holder.scope(who["city"]), 20_000)
        line("scope: PolicyHolder.scope, cache hit", hit.cpu)
        reload = await timed(holder.reload, 20, 3)
    finally:
        await engine.dispose()
    policy = Policy(seed_lines(), demo_grants())
    now = datetime.now(UTC)
    for name, caller in who.items():
        made = timed_sync(functools.partial(scope_for, caller, policy, now), 100)
        line(f"scope_for uncached (after a policy change): {name}", made)
    line("policy reload (read lines and grants, build the Casbin enforcer)", reload)
    return {name: scope_for(caller, policy, now) for name, caller in who.items()}


async def micro_rows(settings: Settings, scopes: dict[str, Scope]) -> dict[str, float]:
    """The scope's condition, what it adds to a read, and masking per row."""
    from policies.access import RequestSources
    from sources.base import PageRequest
    from sources.guard import Sources

    cases = {
        "city office (no condition)": scopes["city"],
        "hotline (its own rows)": scopes["hotline"],
        "Yanta bureau (own rows, or a grant's district)": scopes["yanta"],
    }
    sources = Sources(settings)
    try:
        connector = sources.guarded["complaints"].inner
        page = await connector.page("complaints", PageRequest(first=1000))
        for name, scope in cases.items():
            scoped = functools.partial(RequestSources(sources, scope)._scoped, "complaints", ())
            line(f"condition: RequestSources._scoped, {name}", timed_sync(scoped, 20_000))
        for name, scope in cases.items():
            request = PageRequest(
                where=RequestSources(sources, scope)._scoped("complaints", ()) or (), first=10
            )
            await connector.page("complaints", request)  # its statement's shape compiled once
            read = await timed(functools.partial(connector.page, "complaints", request), 200, 3)
            line(f"a page of 10 through the SQL connector, {name}", read)
    finally:
        await sources.close()
    if not page.rows:
        raise SystemExit("no complaints in the demo data")
    rows = page.rows
    while len(rows) < 1000:  # small data may hold fewer: repeat them
        rows = rows + [dict(r) for r in page.rows]
    releases = {
        "mask_row alone: every field masked (as before authorisation)": None,
        "off, masked (all visible, nothing clear)": all_visible(clear=False),
        "off, in clear (all visible, a clause shows every field)": all_visible(clear=True),
        "city office: every row masked": scopes["city"],
        "hotline: its own rows in clear": scopes["hotline"],
        "Yanta bureau: a grant's district in clear, row by row": scopes["yanta"],
    }
    print(
        "\n  masking: RequestSources._release on complaints rows, µs per call (µs per row);"
        "\n  fresh row copies each call, the copying's own time subtracted"
    )
    print(f"  {'scope':<62} {'10 rows':>14} {'100 rows':>14} {'1,000 rows':>14}")
    per_row: dict[str, float] = {}
    for name, chosen in releases.items():
        cells = []
        for n in (10, 100, 1000):
            copy = functools.partial(copies, rows[:n])
            if chosen is None:
                work = functools.partial(mask_all, copy)
            else:
                work = functools.partial(release, RequestSources(sources, chosen), copy)
            reps = max(10, 10_000 // n)
            us = timed_sync(work, reps, 3) - timed_sync(copy, reps, 3)
            cells.append(f"{us:>7,.1f} ({us / n:.2f})")
            if n == 100:  # a thousand rows no longer fit the CPU's caches as well
                per_row[name.split(":")[0].split(" (")[0]] = us / n
        print(f"  {name:<62} {cells[0]:>14} {cells[1]:>14} {cells[2]:>14}")
    # What authorisation adds per row over the same rows released without it.
    return {
        "city office": per_row["city office"] - per_row["off, masked"],
        "hotline": per_row["hotline"] - per_row["off, in clear"],
        "Yanta grant": per_row["Yanta bureau"] - per_row["off, masked"],
    }


def copies(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fresh rows: masking works in place."""
    return [dict(r) for r in rows]


def mask_all(copy: Callable[[], list[dict[str, Any]]]) -> None:
    """Every personal field masked, row by row: what every read did before authorisation."""
    from policies.masking import mask_row

    for row in copy():
        mask_row("complaints", row, ())


def release(view: RequestSources, copy: Callable[[], list[dict[str, Any]]]) -> None:
    view._release("complaints", copy())


async def micro_audit(gateway_url: str, caller: Principal) -> None:
    """An audit entry: its hash (CPU), and its append alone and among 16 at once."""
    from audit.log import GENESIS, AuditEvent, AuditLog, entry_fields, seal
    from sources.database import create_engine

    event = AuditEvent(
        actor=caller.id,
        event="read",
        outcome="ok",
        party_code=caller.party,
        resources=("complaints",),
        providers=("P-12345",),
        rows=100,
    )
    line(
        "audit entry: fields and SM3 hash",
        timed_sync(lambda: seal(entry_fields(event), seq=1, prev_hash=GENESIS), 2000),
    )
    engine = create_engine(gateway_url)
    log = AuditLog(engine)
    try:
        line("audit append, one caller at a time", await timed(lambda: log.append(event), 100, 3))

        async def sixteen() -> None:
            await asyncio.gather(*(log.append(event) for _ in range(16)))

        cost = await timed(sixteen, 20, 3)
        line(
            "audit append, 16 callers at once (group commit), per entry",
            Cost(cost.wall / 16, cost.cpu / 16),
        )
    finally:
        await log.close()
        await engine.dispose()


async def in_process(
    settings: Settings, redis_url: str, who: dict[str, Principal], tag: str
) -> tuple[Cost, dict[str, float]]:
    """Every in-process figure; returns the guard's and scope's cost per request, and what
    authorisation adds per row released."""
    print(
        f"\nIn process, µs per call (median of 3–5 runs); CPU: this process's"
        f"\n  {'':<72} {'wall µs':>9} {'CPU µs':>9}"
    )
    guard = await micro_guard(settings, who["city"])
    line("one request's guard (token, rate limit) and scope, Redis stores", guard)
    await micro_tokens(settings.gateway_url, redis_url, who["city"])
    await micro_limits(redis_url, tag)
    scopes = await micro_scopes(settings.gateway_url, who)
    per_row = await micro_rows(settings, scopes)
    await micro_audit(settings.gateway_url, who["city"])
    return guard, per_row


# ---------------------------------------------------------------------------------- whole requests

Samples = dict[tuple[str, int, str], list[float]]
"""(query, rows, mode) -> CPU ms per request, one value per round; rounds pair across modes."""
Found = dict[tuple[str, str, int], tuple[float, float]]
"""(comparison, query, rows) -> difference in ms per request, and its standard error."""

PAIRS = {
    "a→b": (OFF, CITY),
    "a'→b": (OFF_MASKED, CITY),
    "a'→a'2": (OFF_MASKED, TWIN),
    "a'→b0": (OFF_MASKED, UNLIMITED),
    "b→c": (CITY, AUDITED),
    "a→b'": (OFF, HOTLINE),
}
SAME_KEYS = ("a'→b", "a→b'")  # equal documents: authorisation alone


def asgi_request(
    app: Starlette, path: str, query: str, token: str | None
) -> Callable[[], Awaitable[None]]:
    """One POST of ``query`` to ``/path/graphql``, straight into the ASGI app."""
    body = json.dumps({"query": query}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"accept", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": f"/{path}/graphql",
        "raw_path": f"/{path}/graphql".encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }

    async def call() -> None:
        status: list[int] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            elif b'"errors"' in message.get("body", b""):
                raise SystemExit(f"/{path} answered with errors: {message['body'][:300]!r}")

        await app(dict(scope), receive, send)
        assert status == [200], status

    return call


async def in_process_requests(
    config: dict[str, Any], tokens: dict[str, str], jobs: list[Workload], seconds: float
) -> Samples:
    """Each query's page sizes and modes taking turns, request after request, through the
    side-by-side app in this process, in a fresh random order every pass: drift (a Redis window
    filling, other processes' load) and what a request leaves to the next (garbage to collect)
    fall on every mode and page size alike."""
    app = side_by_side(server_settings(config))
    samples: Samples = {}
    shuffle = random.Random(SEED).shuffle
    async with app.router.lifespan_context(app):
        for name in dict.fromkeys(job.name for job in jobs):
            turns = [
                ((job.name, job.rows, mode.key), asgi_request(app, mode.path, job.query, token))
                for job in jobs
                if job.name == name
                for mode in (*job.modes, *EXTRA)
                for token in [tokens[mode.caller] if mode.caller else None]
            ]
            started = time.perf_counter()
            for _, call in turns:  # warm: validation caches, pools, the scope cache
                for _ in range(3):
                    await call()
            # At least the time asked for; slow queries longer, for ROTATIONS passes if that
            # takes no more than four times as long.
            rotation = (time.perf_counter() - started) / 3
            budget = seconds * len(ROWS)
            deadline = time.perf_counter() + min(max(budget, ROTATIONS * rotation), 4 * budget)
            while time.perf_counter() < deadline:
                shuffle(turns)
                for key, call in turns:
                    cpu = time.process_time()
                    await call()
                    samples.setdefault(key, []).append((time.process_time() - cpu) * 1000)
    return samples


# ---------------------------------------------------------------------------------- over HTTP


@dataclass(slots=True)
class Runs:
    """One mode's runs of one workload."""

    runs: list[dict[str, float]] = dataclasses.field(default_factory=list)

    @property
    def rps(self) -> float:
        return statistics.mean(r["rps"] for r in self.runs)

    def median(self, key: str) -> float:
        return statistics.median(r[key] for r in self.runs)

    def total(self, key: str) -> float:
        return sum(r[key] for r in self.runs)


async def verify(server: Server, job: Workload, tokens: dict[str, str]) -> float:
    """Each mode answers with the rows asked for; paired modes return the same document.
    Returns the seconds one request takes, alone."""
    field = job.name.split("+")[0]
    documents = {}
    for mode in job.modes:
        token = tokens[mode.caller] if mode.caller else None
        documents[mode] = document = await server.query(mode.path, job.query, token)
        if len(document["data"][field]["edges"]) != job.rows:
            raise SystemExit(f"{mode.label} returned fewer than {job.rows} {field}")
    for off, on in SAME:
        if off in documents and on in documents:
            found = first_difference(documents[off], documents[on])
            if found is not None:
                raise SystemExit(f"{job.name}: {off.label} and {on.label} differ: {found}")
    if first_difference(documents[OFF], documents[OFF_MASKED]) is None:
        raise SystemExit(f"{job.name}: masking changed nothing; the comparison would be empty")
    started = time.perf_counter()
    await server.query(OFF.path, job.query, None)
    return time.perf_counter() - started


async def over_http(
    config: dict[str, Any],
    tokens: dict[str, str],
    jobs: list[Workload],
    args: argparse.Namespace,
    work: Path,
) -> dict[tuple[str, int, str], Runs]:
    """Verify each workload, then load each mode in turn, round after round."""
    results: dict[tuple[str, int, str], Runs] = {}
    async with Server(config, work / "server.log") as server:
        alone = {job: await verify(server, job, tokens) for job in jobs}
        print(
            "\nevery mode answers with the rows asked for; off-masked = city office and "
            "off-in-clear = hotline, document for document"
        )
        # Slow queries run longer: a run's figures need a few dozen answers.
        turns = [
            (job, mode, max(args.seconds, 25 * alone[job])) for job in jobs for mode in job.modes
        ]
        for n in range(args.rounds):
            # Every run once a round, the order reversed every other round: drift during the
            # benchmark falls on every mode and page size alike.
            for job, mode, seconds in turns if n % 2 == 0 else reversed(turns):
                token = tokens[mode.caller] if mode.caller else None
                run = await server.load(mode.path, job.query, token, seconds, args)
                results.setdefault((job.name, job.rows, mode.key), Runs()).runs.append(run)
            print(f"  round {n + 1} of {args.rounds} measured", flush=True)
    return results


# ---------------------------------------------------------------------------------- report


def difference(before: list[float], after: list[float]) -> tuple[float, float]:
    """Mean per-request difference over paired samples, and its standard error; with many
    samples, the highest and lowest tenth are left out (a collection, a scheduler hiccup)."""
    pairs = sorted(b - a for a, b in zip(before, after, strict=True))
    if len(pairs) >= 20:
        cut = len(pairs) // 10
        pairs = pairs[cut:-cut]
    if len(pairs) < 2:
        return pairs[0], math.inf
    return statistics.mean(pairs), statistics.stdev(pairs) / math.sqrt(len(pairs))


def print_differences(samples: Samples, extra: Callable[[str, int], str] | None = None) -> Found:
    """The comparisons' table; returns them."""
    pairs = {k: v for k, v in PAIRS.items() if any(key[2] == v[1].key for key in samples)}
    title = f"{'query':<11} {'rows':>4}  " + " ".join(f"{k:>15}" for k in pairs)
    print(title + (f" {'b→c Δp50 ms':>12}" if extra else ""))
    found: Found = {}
    for name, rows in sorted({(name, rows) for name, rows, _ in samples}):
        cells = []
        for key, (before, after) in pairs.items():
            a, b = samples.get((name, rows, before.key)), samples.get((name, rows, after.key))
            if a is None or b is None:
                cells.append(f"{'—':>15}")
                continue
            found[key, name, rows] = d = difference(a, b)
            cells.append(f"{d[0]:>+8.3f} ± {d[1]:.3f}")
        print(f"{name:<11} {rows:>4}  " + " ".join(cells) + (extra(name, rows) if extra else ""))
    return found


def report_in_process(samples: Samples, seconds: float) -> Found:
    print(
        f"\nWhole requests in process, a query's modes and page sizes taking turns request by "
        f"request in random order (at least {seconds:g} s per query and size): CPU ms per request"
        f" (median)"
    )
    names = sorted({(name, rows) for name, rows, _ in samples})
    modes = (*MODES, *EXTRA)
    print(f"{'query':<11} {'rows':>4}  " + " ".join(f"{m.key:>8}" for m in modes) + "  requests")
    for name, rows in names:
        cells = []
        for mode in modes:
            found = samples.get((name, rows, mode.key))
            cells.append(f"{statistics.median(found):>8.3f}" if found else f"{'—':>8}")
        count = len(samples[name, rows, OFF.key])
        print(f"{name:<11} {rows:>4}  " + " ".join(cells) + f"  {count:>8,} each")
    print(
        "\nper-request difference, CPU ms (± standard error); a'→b and a→b' compare equal "
        "documents, a'→a'2 two identical apps; a'→b0 without the rate limit"
    )
    return print_differences(samples)


def report_http(results: dict[tuple[str, int, str], Runs], args: argparse.Namespace) -> Found:
    print(
        f"\nOver HTTP: {args.concurrency} connections, {args.rounds} rounds of "
        f"{args.warmup:g} s warm-up + at least {args.seconds:g} s per mode, modes interleaved"
    )
    print(
        f"{'query':<11} {'rows':>4}  {'mode':<36} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'CPU ms/req':>10} {'errors':>6}"
    )
    for name, rows in sorted({(name, rows) for name, rows, _ in results}):
        for mode in MODES:
            r = results.get((name, rows, mode.key))
            if r is None:
                continue
            cpu = r.total("cpu_ms_total") / max(r.total("answered"), 1)
            print(
                f"{name:<11} {rows:>4}  {f'({mode.key}) {mode.label}':<36} {r.rps:>7,.0f} "
                f"{r.median('p50_ms'):>7.2f} {r.median('p99_ms'):>7.2f} {cpu:>10.3f} "
                f"{r.total('errors'):>6.0f}"
            )
    print(
        "\nper-request difference, server CPU ms (± standard error over rounds); "
        "a'→b and a→b' compare equal documents"
    )

    def p50(name: str, rows: int) -> str:
        city, audited = results[name, rows, CITY.key], results[name, rows, AUDITED.key]
        return f" {audited.median('p50_ms') - city.median('p50_ms'):>+12.2f}"

    per_round = {key: [r["cpu_ms"] for r in runs.runs] for key, runs in results.items()}
    return print_differences(per_round, p50)


def verdict(inside: Found, http: Found, guard: Cost, per_row: dict[str, float]) -> None:
    """One line per goal, from the comparisons of equal documents."""
    same = sorted({(key, name) for key, name, _ in inside if key in SAME_KEYS})
    costs = [inside[key, name, n][0] for key, name in same for n in ROWS]
    known = [v[0] for (key, _, _), v in http.items() if key in SAME_KEYS and v[1] <= RESOLVED_MS]
    worst = max(costs + known)
    over = f"{min(known):.2f}–{max(known):.2f} ms" if known else "not resolved"
    print(
        f"\nauthorisation: up to {worst:.2f} ms per request (goal ≤ {GOAL_MS} ms): "
        f"{'met' if worst <= GOAL_MS else 'NOT met'} — CPU per request, equal documents: in "
        f"process {min(costs):.2f}–{max(costs):.2f} ms, over HTTP {over} (where ± ≤ {RESOLVED_MS})"
    )
    unlimited = "; ".join(
        f"{name} {inside[key, name, ROWS[0]][0]:+.2f} → {inside[key, name, ROWS[1]][0]:+.2f} ms"
        for key, name, rows in inside
        if key == "a'→b0" and rows == ROWS[0]
    )
    print(
        f"  of which the guard (token, rate limit) and the scope, Redis stores, alone: "
        f"{guard.cpu / 1000:.2f} ms CPU, {guard.wall / 1000:.2f} ms elapsed; the city office "
        f"without the rate limit (a'→b0, {ROWS[0]} → {ROWS[1]} rows): {unlimited}"
    )
    # Two identical apps should differ by nothing: what they do differ by, 10 against 100 rows,
    # is how far this machine moves such figures, and a rise must exceed it to count.
    twin = max(
        abs(inside["a'→a'2", name, ROWS[1]][0] - inside["a'→a'2", name, ROWS[0]][0])
        for _, name in same
    )
    growth, grows = [], False
    for key, name in same:
        small, large = inside[key, name, ROWS[0]], inside[key, name, ROWS[1]]
        noise = Z * math.hypot(small[1], large[1]) + twin
        grows = grows or large[0] - small[0] > noise
        growth.append(f"{name} {key} {small[0]:+.2f} → {large[0]:+.2f} ms (± {noise:.2f})")
    print(
        f"grows with rows: {'yes' if grows else 'no'} (in process, difference at {ROWS[0]} → "
        f"{ROWS[1]} rows: " + "; ".join(growth) + f"; A/A moves {twin:.2f} ms)"
    )
    print(
        "  per row released (RequestSources._release, same rows without authorisation): "
        + ", ".join(f"{name} {us:+.2f} µs" for name, us in per_row.items())
    )


# ---------------------------------------------------------------------------------- main


async def issue(redis_url: str, who: dict[str, Principal]) -> dict[str, str]:
    """A bearer token for each caller, in the Redis store the server reads."""
    from accounts.tokens import RedisTokens

    store = RedisTokens(redis_url)
    try:
        life = timedelta(hours=2)
        return {
            name: (await store.issue(caller, lifetime=life, idle=life)).token
            for name, caller in who.items()
        }
    finally:
        await store.close()


async def forget(redis_url: str, tag: str, tokens: dict[str, str]) -> None:
    """Delete the Redis keys this run made: sessions and rate-limit windows."""
    from redis.asyncio import Redis

    from accounts.tokens import token_hash

    client = Redis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"*{tag}*")]
        keys += [f"jianguan:session:{token_hash(t)}" for t in tokens.values()]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def audit_entries(gateway_url: str) -> int:
    import asyncpg  # type: ignore[import-untyped]  # no stubs

    connection = await asyncpg.connect(dsn(gateway_url))
    try:
        return int(await connection.fetchval("SELECT count(*) FROM audit_log"))
    finally:
        await connection.close()


async def main(args: argparse.Namespace) -> None:
    from standard.source_names import SOURCE_NAMES

    started = time.perf_counter()
    tag = uuid.uuid4().hex[:8]
    prefix = args.keep_db or f"jg_bench_authz_{tag}"
    gateway_db = f"jg_bench_authz_{tag}_gateway"
    scratch = [gateway_db] + ([] if args.keep_db else [f"{prefix}_{s}" for s in SOURCE_NAMES])
    work = Path(tempfile.mkdtemp(prefix="jg-bench-authz-"))
    tokens: dict[str, str] = {}
    try:
        urls = await prepare(prefix, args.scale)
        made = await prepare_gateway(f"jg_bench_authz_{tag}", work)  # database and signing key
        gateway_url = made.gateway_url
        config = {"urls": urls, "gateway": gateway_url, "redis": args.redis, "key": made.key_file}
        settings = server_settings(config)
        who = people(tag)
        print(
            f"{os.cpu_count()} cores shared by the server under test, the load generator, "
            f"PostgreSQL and Redis; {args.scale} demo data on PostgreSQL; Redis {args.redis}"
        )
        guard, per_row = await in_process(settings, args.redis, who, tag)
        tokens = await issue(args.redis, who)
        jobs = workloads()
        before = await audit_entries(gateway_url)
        inside = await in_process_requests(config, tokens, jobs, args.in_process)
        results = await over_http(config, tokens, jobs, args, work)
        found = report_in_process(inside, args.in_process)
        verdict(found, report_http(results, args), guard, per_row)
        # Every answered request in mode (c), warm-ups and checks included, left one entry.
        audited = sum(
            len(values) + 3 + 1 for (_, _, mode), values in inside.items() if mode == AUDITED.key
        ) + sum(runs.total("answered") for (_, _, m), runs in results.items() if m == AUDITED.key)
        written = await audit_entries(gateway_url) - before
        print(
            f"audit entries written: {written:,} for {audited:,.0f} requests answered in mode (c)"
        )
    finally:
        unlink_keys(work)
        with contextlib.suppress(Exception):
            await forget(args.redis, tag, tokens)
        await drop(scratch)
        tidy(work)
        print(f"\n{time.perf_counter() - started:.0f} s in all; dropped {', '.join(scratch)}")


def unlink_keys(work: Path) -> None:
    """The audit signing key (``prepare_gateway`` writes it into ``work``) is not left behind."""
    for key in work.glob("*key*.json"):
        key.unlink()


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="seconds per run, at least (1)")
    parser.add_argument("--rounds", type=int, default=3, help="runs per mode, interleaved (3)")
    parser.add_argument("--concurrency", type=int, default=8, help="connections (8)")
    parser.add_argument(
        "--in-process", type=float, default=3.0, help="seconds per query, whole requests (3)"
    )
    parser.add_argument("--warmup", type=float, default=0.25, help="unmeasured seconds first")
    parser.add_argument("--scale", default="small", choices=("small", "medium", "large"))
    add_keep_db(parser)
    parser.add_argument("--redis", default=REDIS, help=f"a Redis database of its own ({REDIS})")
    return parsed(parser, "--serve", "--fd")  # hidden: server processes only


if __name__ == "__main__":
    arguments = parse()
    if arguments.serve:
        serve(int(arguments.fd), json.loads(arguments.serve))
    else:
        asyncio.run(main(arguments))
