"""A receiver down for a while, through the job path on PostgreSQL (the webhook benchmark's
measurement, short): afterwards everything is delivered, in order per task, and nothing twice
under another webhook-id; checked here from what the receiver got against what was written."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from benchmarks.webhooks import measure
from sources.database import create_engine
from standard.tables.gateway import WebhookDelivery


async def test_nothing_is_lost_reordered_or_doubled_across_a_receiver_outage(
    pg_gateway_url: str, tmp_path: Path
) -> None:
    result = await measure(
        pg_gateway_url,
        events=300,
        tasks=10,
        batch=25,
        outage=2.0,
        outage_events=100,
        log=str(tmp_path / "worker.log"),
    )
    written, received = result.written, result.received
    assert len(written) == 400

    first: dict[str, int] = {}  # each id's first receipt
    for place, receipt in enumerate(received):
        first.setdefault(receipt.event_id, place)
    assert set(first) == set(written)  # everything delivered

    by_task: dict[int, list[int]] = {}
    for event_id in sorted(first, key=first.__getitem__):
        by_task.setdefault(written[event_id].task, []).append(written[event_id].n)
    assert by_task == {task: list(range(40)) for task in range(10)}  # in order, none missing

    ids_of: dict[tuple[int, int], set[str]] = {}
    for receipt in received:
        ids_of.setdefault((receipt.task, receipt.n), set()).add(receipt.event_id)
    assert all(len(ids) == 1 for ids in ids_of.values())  # a repeat keeps its webhook-id

    engine = create_engine(pg_gateway_url)
    try:
        async with engine.connect() as conn:
            states = set((await conn.scalars(select(WebhookDelivery.status))).all())
    finally:
        await engine.dispose()
    assert states == {"delivered"}
    assert result.drained_after is not None
