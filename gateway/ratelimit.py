"""Rate limits per principal or partner client, counted in Redis so all replicas share them.

Limits are moving windows ("600/minute" means at most 600 hits in any 60 seconds). Without a
storage URL the counts live in this process: right for one replica and for tests.

When Redis cannot be reached the limiter fails open: every hit is allowed and a warning is
logged at most once a minute. Keeping regulatory data available matters more than enforcing
limits strictly for the length of an outage, and the outage itself shows up in ``/readyz``.
After a failure Redis is left alone for a few seconds, so that a hung server costs one slow
request per replica every few seconds rather than a timeout on every request.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import time
from dataclasses import dataclass

import coredis
from coredis.exceptions import ConnectionError as RedisConnectionError
from coredis.exceptions import RedisError
from coredis.retry import ConstantRetryPolicy
from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter

from standard.errors import InputError

logger = logging.getLogger("jianguan.ratelimit")

KEY_PREFIX = "jianguan"
"""Redis keys look like ``jianguan:ratelimit/<key>/<amount>/<multiples>/<period>``."""

_NAMESPACE = "ratelimit"
_PERIODS = "second, minute, hour, day, month, year"
_WARN_EVERY = 60.0  # seconds between two "Redis unreachable" warnings
_RETRY_EVERY = 5.0  # seconds of failing open, without asking Redis, after a failure
# Redis answers in well under a millisecond on the LAN; a hung connection must not hold every
# request for the operating system's TCP timeout before failing open.
_REDIS_TIMEOUT = 0.5


@dataclass(frozen=True)
class Decision:
    """The outcome of one hit: whether to serve the request, and what to tell the client."""

    allowed: bool
    limit: int
    remaining: int | None  # None when not asked for (``hit(..., count=False)``) and allowed
    retry_after: int  # whole seconds; at least 1 when refused, 0 when allowed


class BadRate(InputError):
    """A rate that is not one '<count>/<period>' with a count of at least 1."""


def parse_rate(text: str) -> str:
    """Validate a rate such as ``600/minute`` or ``10 per 5 seconds``; return its canonical form."""
    item = _item(text)
    if item.multiples == 1:
        return f"{item.amount}/{item.GRANULARITY.name}"
    return f"{item.amount}/{item.multiples} {item.GRANULARITY.name}"


@functools.lru_cache(maxsize=256)
def _item(text: str) -> RateLimitItem:
    # Cached: every request names its rate as text, and rates come from a short configuration.
    try:
        items = parse_many(text)
    except ValueError:  # the limits library's own parse
        raise BadRate(
            f"invalid rate {text!r}: expected '<count>/<period>' such as '600/minute' or"
            f" '10 per 5 seconds' (periods: {_PERIODS})"
        ) from None
    if len(items) != 1:
        raise BadRate(f"invalid rate {text!r}: give exactly one rate, not {len(items)}")
    parsed = items[0]
    if parsed.amount < 1:
        raise BadRate(f"invalid rate {text!r}: the count must be at least 1")
    return type(parsed)(parsed.amount, parsed.multiples, namespace=_NAMESPACE)


class RateLimiter:
    """Moving-window rate limits keyed by principal or client, in Redis or in memory."""

    def __init__(self, storage_url: str | None) -> None:
        self._pool: coredis.ConnectionPool | None = None
        self._storage: MemoryStorage | RedisStorage
        # Errors that mean "storage unreachable"; memory storage has none, so bugs still raise.
        self._outage: tuple[type[BaseException], ...] = ()
        if storage_url is None:
            self._storage = MemoryStorage()
        else:
            url = storage_url.removeprefix("async+")
            if not url.startswith(("redis://", "rediss://")):
                # Only the scheme in the message: the URL may carry a password.
                scheme = storage_url.partition("://")[0] if "://" in storage_url else "no scheme"
                raise ValueError(f"rate limit storage must be a redis:// URL, not {scheme}")
            # Our own pool, so that close() can disconnect it: limits' storage has no close.
            self._pool = coredis.ConnectionPool.from_url(
                url, connect_timeout=_REDIS_TIMEOUT, stream_timeout=_REDIS_TIMEOUT
            )
            # One retry on a dropped connection (a pooled one gone stale after a Redis restart);
            # none on a timeout, where coredis's default of two retries makes a hung server cost
            # each request several timeouts.
            retry = ConstantRetryPolicy((RedisConnectionError,), 1, 0.01)
            self._storage = RedisStorage(
                f"async+{url}",
                key_prefix=KEY_PREFIX,
                # Passed on to coredis.Redis; limits types its options as scalars only.
                connection_pool=self._pool,  # type: ignore[arg-type]
                retry_policy=retry,  # type: ignore[arg-type]
            )
            self._outage = (RedisError, OSError)
        self._strategy = MovingWindowRateLimiter(self._storage)
        self._warned_at: float | None = None
        self._retry_at = 0.0

    async def hit(self, key: str, rate: str, *, count: bool = True) -> Decision:
        """Count one request against ``key`` under ``rate`` and decide whether to serve it.

        ``count=False`` skips reading the window back when the request is allowed: a second
        round trip that the guard in front of ``/graphql`` has no use for (about half of what
        authorisation costs per request).
        """
        item = _item(rate)
        # Nothing is known about the window during an outage; report it as untouched.
        fail_open = Decision(allowed=True, limit=item.amount, remaining=item.amount, retry_after=0)
        if time.monotonic() < self._retry_at:
            return fail_open
        try:
            allowed = await self._strategy.hit(item, key)
            if allowed and not count:
                return Decision(True, item.amount, None, 0)
            # Another replica may hit in between; remaining is advisory, allowed is exact.
            reset_at, remaining = await self._strategy.get_window_stats(item, key)
        except self._outage as exc:
            self._retry_at = time.monotonic() + _RETRY_EVERY
            self._warn_outage(exc)
            return fail_open
        if allowed:
            return Decision(True, item.amount, max(remaining, 0), 0)
        # The oldest hit in the window leaves it at reset_at, freeing one slot.
        retry_after = max(1, math.ceil(reset_at - time.time()))
        return Decision(False, item.amount, 0, retry_after)

    async def check(self) -> bool:
        """Whether the storage answers (always true in memory), for readiness probes."""
        return await self._storage.check()

    async def close(self) -> None:
        """Release the Redis connections, or stop the in-memory expiry task."""
        if self._pool is not None:
            self._pool.disconnect()
        if isinstance(self._storage, MemoryStorage) and self._storage.timer is not None:
            self._storage.timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._storage.timer

    def _warn_outage(self, exc: BaseException) -> None:
        now = time.monotonic()
        if self._warned_at is None or now - self._warned_at >= _WARN_EVERY:
            self._warned_at = now
            logger.warning("rate limits not enforced, Redis unreachable: %r", exc)
