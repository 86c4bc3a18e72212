"""A closed-loop HTTP/1.1 load generator: N keep-alive connections POSTing one body, for a time.

    .venv/bin/python benchmarks/loadgen.py --url http://127.0.0.1:8000/graphql --body '{...}'
        [--duration 10] [--concurrency 16] [--warmup 2]

Prints one JSON object: requests, errors, req/s of error-free answers and latency percentiles
(of every answer) in milliseconds.
Requests are written and responses read on raw asyncio streams rather than through httpx: an
httpx client spends a few hundred microseconds of CPU on each request, which on a small machine
would cap the rate of the fastest server and flatten the ratios being measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass(slots=True)
class Tally:
    """Answers that arrived inside the measured window, and every request sent."""

    latencies: list[float] = field(default_factory=list)
    ok: int = 0
    errors: int = 0
    sent: int = 0  # warm-up and requests cut off at the end included: what the server served


def request_bytes(
    host: str, port: int, path: str, body: bytes, headers: Sequence[str] = ()
) -> bytes:
    """One POST request with a JSON body (and extra ``Name: value`` headers), kept alive."""
    extra = "".join(f"{header}\r\n" for header in headers)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Accept: application/json\r\n{extra}Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    """Send one request, read one response (Content-Length framing only)."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = None
    for line in head.lower().split(b"\r\n"):
        if line.startswith(b"content-length:"):
            length = int(line[15:])
    if length is None:
        raise RuntimeError(f"response without Content-Length: {head[:200]!r}")
    return status, await reader.readexactly(length)


async def worker(host: str, port: int, request: bytes, warm_until: float, tally: Tally) -> None:
    """Send requests back to back on one connection until cancelled; reconnect if it drops."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while True:
            start = time.perf_counter()
            tally.sent += 1
            try:
                status, body = await exchange(reader, writer, request)
            except (asyncio.IncompleteReadError, ConnectionError):
                tally.errors += start >= warm_until
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                continue
            end = time.perf_counter()
            if end >= warm_until:
                tally.latencies.append(end - start)
                # A GraphQL error still comes with 200 and a body naming "errors".
                if status != 200 or b'"errors"' in body:
                    tally.errors += 1
                else:
                    tally.ok += 1
    finally:
        writer.close()


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile of sorted values."""
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


async def run(
    url: str,
    body: bytes,
    *,
    duration: float,
    concurrency: int,
    warmup: float,
    headers: Sequence[str] = (),
) -> dict[str, float]:
    """Load ``url`` with ``concurrency`` connections; count answers arriving in the ``duration``
    seconds that follow ``warmup``, so slow answers started during warm-up are not lost."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = request_bytes(host, port, parts.path or "/", body, headers)
    tally = Tally()
    warm_until = time.perf_counter() + warmup
    workers = [
        asyncio.create_task(worker(host, port, request, warm_until, tally))
        for _ in range(concurrency)
    ]
    await asyncio.sleep(warmup + duration)
    for task in workers:
        task.cancel()
    for outcome in await asyncio.gather(*workers, return_exceptions=True):
        if not isinstance(outcome, asyncio.CancelledError):
            raise RuntimeError(f"a worker failed: {outcome!r}")
    ordered = sorted(tally.latencies)
    return {
        "requests": len(ordered),
        "sent": tally.sent,
        "errors": tally.errors,
        "rps": tally.ok / duration,  # answers without errors: failing fast is no throughput
        "p50_ms": percentile(ordered, 0.50) * 1000,
        "p90_ms": percentile(ordered, 0.90) * 1000,
        "p99_ms": percentile(ordered, 0.99) * 1000,
        "max_ms": (ordered[-1] if ordered else float("nan")) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--body", required=True, help="the JSON request body")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--header", action="append", default=[], help="Name: value (repeatable)")
    args = parser.parse_args()
    result = asyncio.run(
        run(
            args.url,
            args.body.encode(),
            duration=args.duration,
            concurrency=args.concurrency,
            warmup=args.warmup,
            headers=args.header,
        )
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
