"""Policies and grants as the gateway holds them: loaded from its database, kept current on
every replica, and turned into scopes that are cached per principal and policy version.

A change (a grant given or revoked, an account disabled) is published on a Redis channel; each
replica reloads within a moment of the message, and every 30 s in any case, in case one was
missed. Without Redis (the embedded default, one process) changes apply locally at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from datetime import UTC, datetime

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from policies.principal import PUBLIC, Principal
from policies.scope import GrantLimits, Policy, Scope, scope_for, seed_lines
from standard.tables.gateway import CasbinRule, Grant

log = logging.getLogger("jianguan.policies")
CHANNEL = "jianguan:policy"
RELOAD_EVERY = 30.0
MAX_SCOPES = 10_000


async def load_policy(engine: AsyncEngine, now: datetime | None = None) -> Policy:
    """Every policy line and every grant not revoked and not yet ended."""
    moment = now or datetime.now(UTC)
    async with engine.connect() as connection:
        rules = (await connection.execute(select(CasbinRule).order_by(CasbinRule.id))).all()
        grants = (
            await connection.execute(
                select(Grant).where(Grant.revoked_at.is_(None), Grant.valid_until > moment)
            )
        ).all()
    lines = [[r.ptype, r.v0, r.v1, r.v2, r.v3, r.v4, r.v5] for r in rules]
    return Policy(
        lines,
        [
            GrantLimits(
                id=g.id,
                provider=g.provider,
                grantee=g.grantee,
                resource=g.resource,
                row_filter=dict(g.row_filter or {}),
                clear_fields=frozenset(g.clear_fields or ()),
                valid_from=g.valid_from,
                valid_until=g.valid_until,
            )
            for g in grants
        ],
    )


async def ensure_seed(engine: AsyncEngine) -> int:
    """Add the seed policy lines the database lacks (``jianguan db upgrade``); how many."""
    async with engine.begin() as connection:
        rows = (await connection.execute(select(CasbinRule))).all()
        have = {(r.ptype, r.v0, r.v1, r.v2, r.v3, r.v4, r.v5) for r in rows}
        added = 0
        for line in seed_lines():
            values = (line + [""] * 7)[:7]
            if tuple(values) in have:
                continue
            ptype, v0, v1, v2, v3, v4, v5 = values
            await connection.execute(
                CasbinRule.__table__.insert().values(  # type: ignore[attr-defined]
                    ptype=ptype, v0=v0, v1=v1, v2=v2, v3=v3, v4=v4, v5=v5
                )
            )
            added += 1
    return added


class PolicyHolder:
    """The current policy of one process, its scopes, and the channel that keeps it current."""

    def __init__(self, engine: AsyncEngine, redis_url: str | None = None) -> None:
        self.engine = engine
        self.redis_url = redis_url
        self.policy: Policy | None = None
        self._scopes: OrderedDict[Principal, tuple[str, Scope]] = OrderedDict()
        self._tasks: list[asyncio.Task[None]] = []
        self._lock = asyncio.Lock()
        self._public: tuple[Scope, frozenset[str]] | None = None

    async def start(self) -> None:
        """Load the policy and follow changes."""
        await self.reload()
        self._tasks.append(asyncio.create_task(self._every(RELOAD_EVERY)))
        if self.redis_url:
            self._tasks.append(asyncio.create_task(self._listen(self.redis_url)))

    async def stop(self) -> None:
        """Stop following changes."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def reload(self) -> None:
        """Read the policy again; scopes made under the old one are dropped."""
        async with self._lock:
            policy = await load_policy(self.engine)
            self.policy = policy
            self._scopes.clear()

    async def scope(self, principal: Principal, now: datetime | None = None) -> Scope:
        """The principal's scope under the current policy (cached until a change or expiry)."""
        if self.policy is None:
            await self.reload()
        assert self.policy is not None  # noqa: S101  # loaded just above
        policy = self.policy
        moment = now or datetime.now(UTC)
        cached = self._scopes.get(principal)
        if cached is not None:
            version, found = cached
            fresh = found.valid_until is None or moment < found.valid_until
            if version == policy.version and fresh:
                self._scopes.move_to_end(principal)
                return found
        made = scope_for(principal, policy, moment)
        self._scopes[principal] = (policy.version, made)
        while len(self._scopes) > MAX_SCOPES:
            self._scopes.popitem(last=False)
        return made

    async def public_tables(self) -> frozenset[str]:
        """Tables whose every row the public may read: reading them needs no audit entry."""
        everyone = await self.scope(PUBLIC)
        cached = self._public
        if cached is None or cached[0] is not everyone:  # asked once per request: keep it
            public = frozenset(
                name
                for name, seen in everyone.tables.items()
                if seen.visible and seen.condition is None
            )
            self._public = cached = (everyone, public)
        return cached[1]

    async def changed(self) -> None:
        """Say that policies, grants or accounts changed: here at once, elsewhere via Redis."""
        await self.reload()
        if not self.redis_url:
            return
        client = Redis.from_url(self.redis_url, socket_connect_timeout=1, socket_timeout=1)
        try:
            await client.publish(CHANNEL, "reload")
        except RedisError as exc:
            log.warning("could not announce a policy change to other replicas: %s", exc)
        finally:
            await client.aclose()

    async def _every(self, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await self.reload()
            except Exception:  # a passing database error must not stop the reloads
                log.exception("periodic policy reload failed")

    async def _listen(self, url: str) -> None:
        while True:
            client = Redis.from_url(url)
            try:
                pubsub = client.pubsub()
                await pubsub.subscribe(CHANNEL)
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        await self.reload()
            except (RedisError, OSError) as exc:
                log.warning("policy channel lost (%s); retrying", exc)
                await asyncio.sleep(1)
            finally:
                await client.aclose()
