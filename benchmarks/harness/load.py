"""The closed-loop load generator (``benchmarks.loadgen``), run in a process of its own so
that its CPU is not the server's."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

from benchmarks.harness.servers import ROOT, module_command


async def run_loadgen(
    url: str,
    body: str,
    *,
    duration: float,
    concurrency: int,
    warmup: float,
    headers: Sequence[str] = (),
) -> dict[str, float]:
    """POST ``body`` (JSON text) to ``url`` on ``concurrency`` keep-alive connections for
    ``warmup`` + ``duration`` seconds; the generator's figures (``benchmarks/loadgen.py``)."""
    args = ["--url", url, "--body", body, "--duration", str(duration)]
    args += ["--concurrency", str(concurrency), "--warmup", str(warmup)]
    for header in headers:
        args += ["--header", header]
    process = await asyncio.create_subprocess_exec(
        *module_command("benchmarks.loadgen", *args), cwd=ROOT, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"the load generator failed against {url} ({process.returncode})")
    result: dict[str, float] = json.loads(out)
    return result
