"""Timing and memory: µs per call, CPU of this process, of a child and of the machine."""

from __future__ import annotations

import contextlib
import os
import resource
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Cost:
    """µs per call: elapsed, and this process's CPU (the rest is waiting on Redis or SQL)."""

    wall: float
    cpu: float


async def timed(call: Callable[[], Awaitable[object]], n: int, repeats: int = 5) -> Cost:
    """Medians over ``repeats`` runs of ``n`` calls."""
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(n):
            await call()
        walls.append((time.perf_counter() - wall) / n * 1e6)
        cpus.append((time.process_time() - cpu) / n * 1e6)
    return Cost(statistics.median(walls), statistics.median(cpus))


def timed_sync(call: Callable[[], object], n: int, repeats: int = 5) -> float:
    """Median µs per call over ``repeats`` runs of ``n`` calls (CPU work: wall = CPU)."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(n):
            call()
        samples.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(samples)


def process_cpu(pid: int) -> float:
    """Seconds of CPU a process's threads have used, to the nanosecond (Linux schedstat)."""
    total = 0
    for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        with contextlib.suppress(OSError):  # a thread that just ended
            total += int(stat.read_text().split()[0])
    return total / 1e9


def machine_cpu_s() -> float:
    """CPU-seconds the whole machine has been busy (every process: PostgreSQL's too); 0 where
    /proc/stat is missing."""
    try:
        with open("/proc/stat") as stat:
            ticks = [int(t) for t in stat.readline().split()[1:]]
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq = ticks[:7]  # steal and guest: not ours
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def peak_mib() -> float:
    """This process's peak resident memory so far, MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
