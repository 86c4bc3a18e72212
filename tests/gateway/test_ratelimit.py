"""Rate limits on real Redis (shared by replicas) and in memory, and failing open."""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from gateway.ratelimit import KEY_PREFIX, BadRate, Decision, RateLimiter, parse_rate

REDIS_URL = os.environ.get("JIANGUAN_TEST_REDIS", "redis://127.0.0.1:6379/0")
UNREACHABLE = "redis://127.0.0.1:1/0"
START_REDIS = 'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no'


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def redis() -> AsyncIterator[Redis]:
    """A plain client to inspect and delete this module's keys; fails if Redis is not running."""
    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except RedisConnectionError as exc:
        await client.aclose()
        pytest.fail(
            f"Redis is not reachable at {REDIS_URL} ({exc}). Start it: {START_REDIS}", pytrace=False
        )
    yield client
    await client.aclose()


@pytest_asyncio.fixture(loop_scope="session")
async def prefix(redis: Redis) -> AsyncIterator[str]:
    """A unique key prefix; the test's keys in Redis are deleted afterwards."""
    prefix = f"test-{uuid.uuid4().hex}"
    yield prefix
    keys = [key async for key in redis.scan_iter(f"{KEY_PREFIX}:*{prefix}*")]
    if keys:
        await redis.delete(*keys)


@pytest_asyncio.fixture(loop_scope="session", params=["memory", "redis"])
async def limiter(request: pytest.FixtureRequest, prefix: str) -> AsyncIterator[RateLimiter]:
    """A limiter on each storage."""
    limiter = RateLimiter(None if request.param == "memory" else REDIS_URL)
    yield limiter
    await limiter.close()


@pytest_asyncio.fixture(loop_scope="session")
async def replicas(prefix: str) -> AsyncIterator[tuple[RateLimiter, RateLimiter]]:
    """Two limiters on the same Redis, as two gateway replicas have."""
    first, second = RateLimiter(REDIS_URL), RateLimiter(REDIS_URL)
    yield first, second
    await first.close()
    await second.close()


class Warnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def warnings_logged() -> Iterator[list[logging.LogRecord]]:
    """Warnings from the limiter, caught on its own logger (``jianguan`` may not propagate)."""
    handler, logger = Warnings(), logging.getLogger("jianguan.ratelimit")
    logger.addHandler(handler)
    yield handler.records
    logger.removeHandler(handler)


async def test_n_hits_are_allowed_then_refused(limiter: RateLimiter, prefix: str) -> None:
    key = f"{prefix}:principal:zhang"
    decisions = [await limiter.hit(key, "3/minute") for _ in range(3)]
    assert decisions == [Decision(True, 3, remaining, 0) for remaining in (2, 1, 0)]
    refused = await limiter.hit(key, "3/minute")
    assert not refused.allowed
    assert (refused.limit, refused.remaining) == (3, 0)
    assert 1 <= refused.retry_after <= 60


async def test_the_window_moves_on_after_retry_after(limiter: RateLimiter, prefix: str) -> None:
    key = f"{prefix}:client:bank"
    assert (await limiter.hit(key, "2/second")).allowed
    assert (await limiter.hit(key, "2/second")).allowed
    refused = await limiter.hit(key, "2/second")
    assert (refused.allowed, refused.retry_after) == (False, 1)
    await asyncio.sleep(1.05)
    assert (await limiter.hit(key, "2/second")).allowed


async def test_different_keys_are_independent(limiter: RateLimiter, prefix: str) -> None:
    assert (await limiter.hit(f"{prefix}:a", "1/minute")).allowed
    assert not (await limiter.hit(f"{prefix}:a", "1/minute")).allowed
    assert (await limiter.hit(f"{prefix}:b", "1/minute")).allowed


async def test_each_client_has_its_own_rate(limiter: RateLimiter, prefix: str) -> None:
    rates = {f"{prefix}:client:small": "2/minute", f"{prefix}:client:large": "5/minute"}
    allowed = {
        key: sum([(await limiter.hit(key, rate)).allowed for _ in range(8)])
        for key, rate in rates.items()
    }
    assert allowed == {f"{prefix}:client:small": 2, f"{prefix}:client:large": 5}


async def test_replicas_share_the_count(
    replicas: tuple[RateLimiter, RateLimiter], prefix: str
) -> None:
    first, second = replicas
    key = f"{prefix}:principal:li"
    assert (await first.hit(key, "3/minute")).remaining == 2
    assert (await second.hit(key, "3/minute")).remaining == 1
    assert (await first.hit(key, "3/minute")).remaining == 0
    assert not (await second.hit(key, "3/minute")).allowed
    assert not (await first.hit(key, "3/minute")).allowed


async def test_concurrent_hits_on_replicas_never_exceed_the_limit(
    replicas: tuple[RateLimiter, RateLimiter], prefix: str
) -> None:
    key = f"{prefix}:client:burst"
    decisions = await asyncio.gather(
        *(replica.hit(key, "10/minute") for replica in replicas for _ in range(15))
    )
    assert sum(decision.allowed for decision in decisions) == 10


async def test_keys_are_namespaced_in_redis(redis: Redis, prefix: str) -> None:
    limiter = RateLimiter(REDIS_URL)
    try:
        await limiter.hit(f"{prefix}:principal:wang", "600/minute")
    finally:
        await limiter.close()
    keys = [key async for key in redis.scan_iter(f"*{prefix}*")]
    assert keys == [f"jianguan:ratelimit/{prefix}:principal:wang/600/1/minute".encode()]


async def test_an_unreachable_redis_fails_open_and_warns_once(
    warnings_logged: list[logging.LogRecord],
) -> None:
    limiter = RateLimiter(UNREACHABLE)
    try:
        started = time.monotonic()
        decisions = [await limiter.hit("principal:zhang", "1/minute") for _ in range(3)]
        assert time.monotonic() - started < 2
        assert not await limiter.check()
    finally:
        await limiter.close()
    assert decisions == [Decision(allowed=True, limit=1, remaining=1, retry_after=0)] * 3
    assert [record.getMessage()[:43] for record in warnings_logged] == [
        "rate limits not enforced, Redis unreachable"
    ]


async def test_a_hung_redis_costs_one_timeout_then_is_left_alone(
    warnings_logged: list[logging.LogRecord],
) -> None:
    async def accept_and_never_answer(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await reader.read()  # until the limiter hangs up
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(accept_and_never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    limiter = RateLimiter(f"redis://127.0.0.1:{port}/0")
    try:
        started = time.monotonic()
        assert (await limiter.hit("principal:zhang", "1/minute")).allowed
        first = time.monotonic() - started
        started = time.monotonic()
        assert (await limiter.hit("principal:zhang", "1/minute")).allowed
        second = time.monotonic() - started
    finally:
        await limiter.close()
        server.close()
        await server.wait_closed()
    assert 0.4 < first < 1.5  # one timeout, no retries
    assert second < 0.05  # not asked again for a few seconds
    assert len(warnings_logged) == 1


async def test_check_reports_a_reachable_storage(limiter: RateLimiter) -> None:
    assert await limiter.check()


async def test_an_invalid_rate_is_an_error_not_a_pass(limiter: RateLimiter) -> None:
    with pytest.raises(BadRate, match="invalid rate"):
        await limiter.hit("principal:zhang", "600/minit")


@pytest.mark.parametrize(
    "url", ["memcached://:s3cret@127.0.0.1:11211", "s3cret@127.0.0.1:6379", "", "http://x"]
)
def test_only_redis_urls_are_storage(url: str) -> None:
    with pytest.raises(ValueError, match="redis:// URL") as caught:
        RateLimiter(url)
    assert "s3cret" not in str(caught.value)


async def test_a_limits_style_url_is_accepted(prefix: str) -> None:
    limiter = RateLimiter(REDIS_URL.replace("redis://", "async+redis://", 1))
    try:
        assert (await limiter.hit(f"{prefix}:a", "1/minute")).allowed
    finally:
        await limiter.close()


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("600/minute", "600/minute"),
        ("600 / Minute", "600/minute"),
        ("10 per 5 seconds", "10/5 second"),
        ("1/day", "1/day"),
        ("100/hours", "100/hour"),
    ],
)
def test_parse_rate(text: str, canonical: str) -> None:
    assert parse_rate(text) == canonical


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected '<count>/<period>'"),
        ("600", "expected '<count>/<period>'"),
        ("600/minit", "expected '<count>/<period>'"),
        ("minute/600", "expected '<count>/<period>'"),
        ("-1/minute", "expected '<count>/<period>'"),
        ("1/second;5/minute", "exactly one rate"),
        ("0/minute", "at least 1"),
    ],
)
def test_parse_rate_refuses(text: str, message: str) -> None:
    with pytest.raises(BadRate, match=message):
        parse_rate(text)


@given(
    amount=st.integers(1, 10**6),
    multiples=st.integers(1, 1000),
    period=st.sampled_from(["second", "minute", "hour", "day", "month", "year"]),
)
def test_canonical_rates_parse_to_themselves(amount: int, multiples: int, period: str) -> None:
    canonical = parse_rate(f"{amount} per {multiples} {period}s")
    assert parse_rate(canonical) == canonical


async def test_without_counting_an_allowed_hit_reads_no_window_but_a_refusal_does(
    limiter: RateLimiter, prefix: str
) -> None:
    key = f"{prefix}:principal:li"
    allowed = [await limiter.hit(key, "2/minute", count=False) for _ in range(2)]
    assert allowed == [Decision(True, 2, None, 0)] * 2
    refused = await limiter.hit(key, "2/minute", count=False)
    assert (refused.allowed, refused.remaining) == (False, 0) and refused.retry_after >= 1
