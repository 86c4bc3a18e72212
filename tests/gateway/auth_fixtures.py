"""A live gateway for the authentication tests: its own gateway database with the seed policy,
parties, accounts and clients registered the operator's way (``Admin`` as ``cli:test``), served
over real HTTP, and direct access to its database and Redis for moving time along."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import Row, select, update

from accounts.tokens import token_hash
from gateway.app import create_app
from gateway.services import Services
from gateway.settings import Settings
from policies.actor import Actor
from policies.store import ensure_seed
from standard.tables.gateway import Account, AuditEntry, Client, Session
from tests.servers import LiveServer

REDIS_URL = os.environ.get("JIANGUAN_TEST_REDIS", "redis://127.0.0.1:6379/0")
START_REDIS = 'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no'
OPERATOR = Actor("cli:test")
DEPARTMENT, CITY_OFFICE, PARTNER = "XA-SCJG", "XA-ZWB", "P-12345"
PARTIES = (
    (DEPARTMENT, "西安市市场监督管理局", "department"),
    (CITY_OFFICE, "西安市政务服务管理办公室", "city_office"),
    (PARTNER, "合作平台 12345", "partner"),
)
ME = "{ me { id kind party partyKind role } }"


@dataclass(frozen=True, slots=True)
class Staff:
    """A staff account and its current password."""

    username: str
    password: str

    @property
    def id(self) -> str:
        return f"user:{self.username}"


@dataclass(frozen=True, slots=True)
class Machine:
    """A machine client and its secret."""

    client_id: str
    secret: str

    @property
    def id(self) -> str:
        return f"client:{self.client_id}"


def small_settings(seeded: Settings, gateway_url: str, *, redis: bool) -> Settings:
    """The demo sources, the test's gateway database, and small limits so tests run fast."""
    return replace(
        seeded,
        gateway_url=gateway_url,
        redis_url=REDIS_URL if redis else None,
        public_cache_seconds=0,  # every read reaches the sources, and the audit sees it
        lockout_attempts=3,
        lockout_minutes=1,
        token_minutes=1,
        session_idle_minutes=30,
        session_max_hours=12,
        # Every test logs in from 127.0.0.1; one test sets a small limit of its own.
        auth_rate_limit="1000/minute",
    )


class Gateway:
    """One served gateway; ``services`` are the test's own, in the test's event loop."""

    def __init__(self, settings: Settings, services: Services, redis: Redis | None) -> None:
        self.settings = settings
        self.services = services
        self.redis = redis
        # Names are unique per test: Redis (sessions, rate limits) is shared by every run.
        self.tag = uuid.uuid4().hex[:8]
        self.principals: list[str] = []
        self.url = ""
        self.http = httpx.AsyncClient(timeout=10)

    # -- registering, the operator's way ---------------------------------------------------

    async def staff(
        self,
        name: str = "alice",
        *,
        role: str = "staff",
        party: str = DEPARTMENT,
        ready: bool = True,
    ) -> Staff:
        """A new account; ``ready`` marks its first password as already changed."""
        username = f"{name}-{self.tag}"
        password = await self.services.admin.add_account(
            OPERATOR, username=username, real_name=f"测试 {name}", party=party, role=role
        )
        if ready:
            await self.edit_account(username, must_change_password=False)
        self.principals.append(f"user:{username}")
        return Staff(username, password)

    async def machine(
        self, name: str = "feed", *, party: str = PARTNER, rate_limit: str | None = None
    ) -> Machine:
        client_id = f"{name}-{self.tag}"
        secret = await self.services.admin.add_client(
            OPERATOR, client_id=client_id, name=f"接口 {name}", party=party, rate_limit=rate_limit
        )
        self.principals.append(f"client:{client_id}")
        return Machine(client_id, secret)

    # -- the database and Redis, written directly to move time along -------------------------

    async def edit_account(self, username: str, **values: Any) -> None:
        async with self.services.engine.begin() as connection:
            await connection.execute(
                update(Account).where(Account.username == username).values(**values)
            )

    async def edit_client(self, client_id: str, **values: Any) -> None:
        async with self.services.engine.begin() as connection:
            await connection.execute(
                update(Client).where(Client.client_id == client_id).values(**values)
            )

    async def account(self, username: str) -> Row[Any]:
        async with self.services.engine.connect() as connection:
            return (
                await connection.execute(select(Account).where(Account.username == username))
            ).one()

    async def audit(self, *, actor: str | None = None, event: str | None = None) -> list[Row[Any]]:
        query = select(AuditEntry).order_by(AuditEntry.seq)
        if actor is not None:
            query = query.where(AuditEntry.actor == actor)
        if event is not None:
            query = query.where(AuditEntry.event == event)
        async with self.services.engine.connect() as connection:
            return list((await connection.execute(query)).all())

    async def session_end(self, token: str) -> tuple[datetime, datetime]:
        """When the session of ``token`` ends: (absolute end, idle end) as its store has them."""
        digest = token_hash(token)
        if self.redis is not None:
            key = f"jianguan:session:{digest}"
            raw = await self.redis.get(key)
            assert raw is not None, "no such session in Redis"
            ttl = await self.redis.pttl(key)
            idle_end = datetime.now(UTC) + timedelta(milliseconds=ttl)
            return datetime.fromisoformat(orjson.loads(raw)["expires"]), idle_end
        async with self.services.engine.connect() as connection:
            row = (
                await connection.execute(select(Session).where(Session.token_hash == digest))
            ).one()
        return row.expires_at, row.idle_until

    async def move_session_end(
        self, token: str, *, absolute: datetime | None = None, idle: datetime | None = None
    ) -> None:
        """Set a session's absolute or idle end, as if time had passed."""
        digest = token_hash(token)
        if self.redis is not None:
            key = f"jianguan:session:{digest}"
            if absolute is not None:
                data = orjson.loads(await self.redis.get(key) or b"null")
                data["expires"] = absolute.isoformat()
                await self.redis.set(key, orjson.dumps(data), keepttl=True)
            if idle is not None:
                # In Redis the idle end is the key's expiry.
                left = (idle - datetime.now(UTC)).total_seconds()
                await self.redis.pexpire(key, max(1, int(left * 1000)))
                if left <= 0:  # a request within the millisecond would still find the key
                    await asyncio.sleep(0.01)
            return
        values: dict[str, datetime] = {}
        if absolute is not None:
            values["expires_at"] = absolute
        if idle is not None:
            values["idle_until"] = idle
        async with self.services.engine.begin() as connection:
            await connection.execute(
                update(Session).where(Session.token_hash == digest).values(**values)
            )

    async def has_session(self, token: str) -> bool:
        digest = token_hash(token)
        if self.redis is not None:
            return bool(await self.redis.exists(f"jianguan:session:{digest}"))
        async with self.services.engine.connect() as connection:
            found = await connection.scalar(
                select(Session.token_hash).where(Session.token_hash == digest)
            )
        return found is not None

    # -- over HTTP -----------------------------------------------------------------------------

    async def login(
        self, username: str, password: str, totp: str | None = None, *, url: str | None = None
    ) -> httpx.Response:
        body = {"username": username, "password": password}
        if totp is not None:
            body["totp"] = totp
        return await self.http.post(f"{url or self.url}/auth/login", json=body)

    async def session(self, staff: Staff) -> str:
        """A token of a successful login."""
        response = await self.login(staff.username, staff.password)
        assert response.status_code == 200, response.text
        token: str = response.json()["accessToken"]
        return token

    async def exchange(self, machine: Machine) -> str:
        """A machine token for a client's id and secret (form body)."""
        response = await self.http.post(
            f"{self.url}/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": machine.client_id,
                "client_secret": machine.secret,
            },
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    async def graphql(
        self,
        token: str | None,
        query: str = ME,
        *,
        url: str | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return await (http or self.http).post(
            f"{url or self.url}/graphql", json={"query": query}, headers=headers
        )

    async def me(self, token: str) -> dict[str, Any]:
        response = await self.graphql(token)
        assert response.status_code == 200, response.text
        me: dict[str, Any] = response.json()["data"]["me"]
        return me

    async def refused_within(self, token: str, *, seconds: float) -> bool:
        """Whether ``/graphql`` refuses ``token`` within ``seconds`` (another process ended it:
        the serving one may reuse its answer for a moment)."""
        deadline = time.monotonic() + seconds
        while True:
            if (await self.graphql(token)).status_code == 401:
                return True
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.05)

    @asynccontextmanager
    async def serve(self, **changes: Any) -> AsyncIterator[str]:
        """Another gateway process over the same databases, with changed settings; its URL."""
        async with LiveServer(create_app(replace(self.settings, **changes))) as server:
            yield server.url

    async def forget_counts(self, pattern: str) -> int:
        """Delete rate-limit counts of addresses (shared by every run) in Redis; how many."""
        if self.redis is None:
            return 0
        keys = [key async for key in self.redis.scan_iter(f"jianguan:ratelimit*{pattern}")]
        if keys:
            await self.redis.delete(*keys)
        return len(keys)

    async def forget(self) -> None:
        """Remove what this test left in Redis."""
        if self.redis is None:
            return
        for principal in self.principals:
            await self.services.tokens.revoke_all(principal)
        keys = [key async for key in self.redis.scan_iter(f"jianguan:*{self.tag}*")]
        if keys:
            await self.redis.delete(*keys)


@asynccontextmanager
async def live_gateway(settings: Settings) -> AsyncIterator[Gateway]:
    """Seed the policy, register the three parties, serve the app; clean Redis afterwards."""
    redis = None
    if settings.redis_url is not None:
        redis = Redis.from_url(settings.redis_url)
        try:
            await redis.ping()
        except RedisError as exc:
            await redis.aclose()
            pytest.fail(f"Redis is not reachable ({exc}). Start it: {START_REDIS}", pytrace=False)
    services = Services.create(settings)
    gateway = Gateway(settings, services, redis)
    try:
        await ensure_seed(services.engine)  # as `jianguan db upgrade` does
        for code, name, kind in PARTIES:
            await services.admin.add_party(OPERATOR, code=code, name=name, kind=kind)
        async with LiveServer(create_app(settings)) as server:
            gateway.url = server.url
            yield gateway
    finally:
        await gateway.forget()
        await gateway.http.aclose()
        await services.close()
        if redis is not None:
            await redis.aclose()
