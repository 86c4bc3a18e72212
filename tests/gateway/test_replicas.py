"""Two real gateway processes sharing PostgreSQL and Redis: a grant revoked or an account
disabled through one takes effect on the other within a second."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest_asyncio

from gateway.services import Services
from gateway.settings import Settings
from policies.actor import Actor
from policies.grants import GrantRequest
from policies.principal import Principal
from policies.store import ensure_seed
from sources.database import create_engine
from tests.conftest import REDIS_URL, TEST_TIMEOUTS
from tests.servers import serve

OPERATOR = Actor("cli:test")
SUBJECTS = "query Subjects { subjects(first: 100) { totalCount edges { node { provider } } } }"


@dataclass
class Replicas:
    first: str
    second: str
    tokens: dict[str, str]
    grant: int


def _env(settings: Settings, gateway_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JIANGUAN_")}
    for source, url in settings.source_urls.items():
        env[f"JIANGUAN_{source.upper()}_DATABASE_URL"] = url
    env.update(
        JIANGUAN_DATABASE_URL=gateway_url,
        JIANGUAN_REDIS_URL=REDIS_URL,
        JIANGUAN_PUBLIC_CACHE_SECONDS="0",
        JIANGUAN_VAR_DIR=str(settings.var_dir),
    )
    return env


@pytest_asyncio.fixture(loop_scope="session")
async def replicas(seeded_pg: Settings, pg_gateway_url: str) -> AsyncIterator[Replicas]:
    engine = create_engine(pg_gateway_url)
    await ensure_seed(engine)
    await engine.dispose()
    settings = Settings(
        var_dir=seeded_pg.var_dir,
        source_urls=dict(seeded_pg.source_urls),
        gateway_url=pg_gateway_url,
        redis_url=REDIS_URL,
        **TEST_TIMEOUTS,
    )
    services = Services.create(settings)
    tokens = {}
    try:
        for code in ("XA-SCJG", "XA-STHJ"):
            await services.admin.add_party(OPERATOR, code=code, name=code, kind="department")
        grant = await services.grants.give(
            OPERATOR,
            GrantRequest(
                "XA-SCJG", "XA-STHJ", "subjects", "履职", datetime.now(UTC) + timedelta(days=1)
            ),
        )
        for username, party, role in (
            ("scjg.admin", "XA-SCJG", "dept_admin"),
            ("sthj.staff", "XA-STHJ", "staff"),
            ("sthj.admin", "XA-STHJ", "dept_admin"),
        ):
            await services.admin.add_account(
                OPERATOR, username=username, real_name=username, party=party, role=role
            )
            principal = Principal(
                kind="staff", id=f"user:{username}", party=party, party_kind="department", role=role
            )
            issued = await services.tokens.issue(
                principal, lifetime=timedelta(hours=1), idle=timedelta(hours=1)
            )
            tokens[username] = issued.token
    finally:
        await services.close()
    env = _env(settings, pg_gateway_url)
    with serve(env) as first, serve(env) as second:
        yield Replicas(f"{first}/graphql", f"{second}/graphql", tokens, grant)


async def _post(http: httpx.AsyncClient, url: str, token: str, query: str) -> httpx.Response:
    return await http.post(url, json={"query": query}, headers={"Authorization": f"Bearer {token}"})


async def _within(seconds: float, check: object) -> float:
    """Poll ``check`` until it holds; how long that took (fails after ``seconds``)."""
    started = time.monotonic()
    while True:
        if await check():  # type: ignore[operator]
            return time.monotonic() - started
        assert time.monotonic() - started < seconds, f"not seen within {seconds} s"
        await asyncio.sleep(0.02)


async def test_a_revoked_grant_stops_on_the_other_replica_within_a_second(
    replicas: Replicas,
) -> None:
    reader = replicas.tokens["sthj.staff"]
    async with httpx.AsyncClient(timeout=10) as http:
        before = (await _post(http, replicas.second, reader, SUBJECTS)).json()["data"]["subjects"]
        assert before["totalCount"] > 0
        assert {e["node"]["provider"] for e in before["edges"]} == {"XA-SCJG"}
        revoke = f"mutation {{ revokeGrant(id: {replicas.grant}) }}"
        done = await _post(http, replicas.first, replicas.tokens["scjg.admin"], revoke)
        assert done.json() == {"data": {"revokeGrant": True}}

        async def gone() -> bool:
            answer = await _post(http, replicas.second, reader, SUBJECTS)
            return bool(answer.json()["data"]["subjects"]["totalCount"] == 0)

        took = await _within(1.0, gone)
    assert took < 1.0


async def test_a_disabled_account_is_refused_by_the_other_replica_within_a_second(
    replicas: Replicas,
) -> None:
    victim = replicas.tokens["sthj.staff"]
    async with httpx.AsyncClient(timeout=10) as http:
        assert (await _post(http, replicas.second, victim, "{ me { id } }")).status_code == 200
        disable = 'mutation { disableAccount(username: "sthj.staff") }'
        done = await _post(http, replicas.first, replicas.tokens["sthj.admin"], disable)
        assert done.json() == {"data": {"disableAccount": True}}

        async def refused() -> bool:
            answer = await _post(http, replicas.second, victim, "{ me { id } }")
            return answer.status_code == 401

        took = await _within(1.0, refused)
    assert took < 1.0
