"""Bearer tokens: staff sessions and machine tokens, revocable at once on every replica.

A token is 32 random bytes (URL-safe text) shown once to its holder; stores keep only its
SHA-256. A session ends at its absolute lifetime, or earlier when idle longer than its idle
lifetime; every use pushes the idle end forward. Redis holds sessions when configured (shared
by replicas, revocation immediate everywhere); otherwise the gateway database does.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from policies.principal import Principal
from standard.errors import Unavailable
from standard.tables.gateway import Session


class TokenStoreUnavailable(Unavailable):
    """The token store could not be reached."""


@dataclass(frozen=True, slots=True)
class Issued:
    """A new token, to hand to its holder once."""

    token: str
    expires_at: datetime


def token_hash(token: str) -> str:
    """What stores keep instead of the token."""
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore(Protocol):
    """Where sessions live."""

    async def issue(self, principal: Principal, *, lifetime: timedelta, idle: timedelta) -> Issued:
        """A new token for ``principal``."""
        ...

    async def resolve(self, token: str, now: datetime | None = None) -> Principal | None:
        """The holder of a live token (and its idle end pushed forward), or None."""
        ...

    async def revoke(self, token: str) -> None:
        """End one session."""
        ...

    async def revoke_all(self, principal_id: str) -> int:
        """End every session of a principal (disabled, password changed); how many."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


def _new_token() -> str:
    return secrets.token_urlsafe(32)


class RedisTokens:
    """Sessions in Redis: a key per token whose expiry is the idle end, and a set per holder."""

    def __init__(self, url: str) -> None:
        self.client = Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)

    @staticmethod
    def _key(digest: str) -> str:
        return f"jianguan:session:{digest}"

    @staticmethod
    def _holder(principal_id: str) -> str:
        return f"jianguan:sessions-of:{principal_id}"

    async def issue(self, principal: Principal, *, lifetime: timedelta, idle: timedelta) -> Issued:
        token = _new_token()
        digest = token_hash(token)
        expires = datetime.now(UTC) + lifetime
        data = {
            "principal": principal.to_json(),
            "expires": expires.isoformat(),
            "idle": idle.total_seconds(),
        }
        ttl = int(min(idle, lifetime).total_seconds())
        try:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.set(self._key(digest), orjson.dumps(data), ex=max(ttl, 1))
                pipe.sadd(self._holder(principal.id), digest)
                pipe.expire(self._holder(principal.id), int(lifetime.total_seconds()) + 60)
                await pipe.execute()
        except RedisError as exc:
            raise TokenStoreUnavailable(type(exc).__name__) from exc
        return Issued(token, expires)

    async def resolve(self, token: str, now: datetime | None = None) -> Principal | None:
        moment = now or datetime.now(UTC)
        key = self._key(token_hash(token))
        try:
            raw = await self.client.get(key)
            if raw is None:
                return None
            data: dict[str, Any] = orjson.loads(raw)
            expires = datetime.fromisoformat(data["expires"])
            if moment >= expires:
                await self.client.delete(key)
                return None
            remaining = (expires - moment).total_seconds()
            await self.client.expire(key, max(1, int(min(data["idle"], remaining))))
        except RedisError as exc:
            raise TokenStoreUnavailable(type(exc).__name__) from exc
        return Principal.from_json(data["principal"])

    async def revoke(self, token: str) -> None:
        try:
            await self.client.delete(self._key(token_hash(token)))
        except RedisError as exc:
            raise TokenStoreUnavailable(type(exc).__name__) from exc

    async def revoke_all(self, principal_id: str) -> int:
        try:
            digests = await self.client.smembers(self._holder(principal_id))
            keys = [self._key(d.decode() if isinstance(d, bytes) else d) for d in digests]
            removed = int(await self.client.delete(*keys)) if keys else 0
            await self.client.delete(self._holder(principal_id))
        except RedisError as exc:
            raise TokenStoreUnavailable(type(exc).__name__) from exc
        return removed

    async def close(self) -> None:
        await self.client.aclose()


class SqlTokens:
    """Sessions in the gateway database: the embedded default, one process or several."""

    # Pushing the idle end forward is a write; do it at most this often per session.
    TOUCH_EVERY = timedelta(seconds=30)

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def issue(self, principal: Principal, *, lifetime: timedelta, idle: timedelta) -> Issued:
        token = _new_token()
        now = datetime.now(UTC)
        expires = now + lifetime
        async with self.engine.begin() as connection:
            # Ended sessions are swept when new ones start, so the table stays small.
            await connection.execute(delete(Session).where(Session.expires_at < now))
            await connection.execute(
                Session.__table__.insert().values(  # type: ignore[attr-defined]
                    token_hash=token_hash(token),
                    principal=principal.id,
                    data={"principal": principal.to_json(), "idle": idle.total_seconds()},
                    expires_at=expires,
                    idle_until=min(now + idle, expires),
                )
            )
        return Issued(token, expires)

    async def resolve(self, token: str, now: datetime | None = None) -> Principal | None:
        moment = now or datetime.now(UTC)
        digest = token_hash(token)
        async with self.engine.connect() as connection:
            found = (
                await connection.execute(select(Session).where(Session.token_hash == digest))
            ).first()
        if found is None:
            return None
        if moment >= found.expires_at or moment >= found.idle_until:
            await self.revoke(token)
            return None
        idle = timedelta(seconds=found.data["idle"])
        pushed = min(moment + idle, found.expires_at)
        if pushed - found.idle_until >= self.TOUCH_EVERY:
            async with self.engine.begin() as connection:
                await connection.execute(
                    update(Session).where(Session.token_hash == digest).values(idle_until=pushed)
                )
        return Principal.from_json(found.data["principal"])

    async def revoke(self, token: str) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(delete(Session).where(Session.token_hash == token_hash(token)))

    async def revoke_all(self, principal_id: str) -> int:
        async with self.engine.begin() as connection:
            result = await connection.execute(
                delete(Session).where(Session.principal == principal_id)
            )
        return int(result.rowcount or 0)

    async def close(self) -> None:
        return None


class Remembered:
    """A store whose answers this process reuses for a moment.

    Resolving a token is a round trip per request; reusing an answer for half a second saves
    most of them while a session ended on another replica still stops working within a second
    (the promise for revocation). Ending a session here forgets it here at once.
    """

    SECONDS = 0.5
    MAX = 10_000

    def __init__(self, inner: TokenStore) -> None:
        self.inner = inner
        self._seen: OrderedDict[str, tuple[float, Principal]] = OrderedDict()

    async def issue(self, principal: Principal, *, lifetime: timedelta, idle: timedelta) -> Issued:
        return await self.inner.issue(principal, lifetime=lifetime, idle=idle)

    async def resolve(self, token: str, now: datetime | None = None) -> Principal | None:
        digest = token_hash(token)
        remembered = self._seen.get(digest)
        if remembered is not None and now is None and time.monotonic() < remembered[0]:
            return remembered[1]
        found = await self.inner.resolve(token, now)
        if found is None:
            self._seen.pop(digest, None)
            return None
        self._seen[digest] = (time.monotonic() + self.SECONDS, found)
        self._seen.move_to_end(digest)
        while len(self._seen) > self.MAX:
            self._seen.popitem(last=False)
        return found

    async def revoke(self, token: str) -> None:
        self._seen.pop(token_hash(token), None)
        await self.inner.revoke(token)

    async def revoke_all(self, principal_id: str) -> int:
        for digest in [d for d, (_, p) in self._seen.items() if p.id == principal_id]:
            del self._seen[digest]
        return await self.inner.revoke_all(principal_id)

    async def close(self) -> None:
        await self.inner.close()


def token_store(engine: AsyncEngine, redis_url: str | None) -> TokenStore:
    """Redis when configured, else the gateway database; answers reused for half a second."""
    inner: TokenStore = RedisTokens(redis_url) if redis_url else SqlTokens(engine)
    return Remembered(inner)
