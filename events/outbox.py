"""Writing an event in the transaction of the change it reports (the transactional outbox).

The caller passes its own connection, inside its own transaction: the event is kept exactly
when the change is, and nothing is sent before the transaction commits, since delivery reads
only committed rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from standard.tables.gateway import OutboxEvent

_OUTBOX = cast(Table, OutboxEvent.__table__)


@dataclass(frozen=True, slots=True)
class Event:
    """A change to report. ``aggregate`` names what it is about ("task:42"): the events of one
    aggregate reach each subscriber in the order they were written. ``resource`` and
    ``provider`` decide who may see it, as for a read of that resource's rows; ``audience``
    names the parties who see it besides, by their domain's own rule (a task's issuer and
    recipients: tasks are not read through the policy's table scopes)."""

    kind: str
    aggregate: str
    resource: str
    provider: str
    payload: Mapping[str, Any]
    audience: tuple[str, ...] = ()


def new_id() -> str:
    """An event's id, sent as ``webhook-id``: receivers drop a second delivery by it."""
    return f"evt_{uuid.uuid4().hex}"


async def record(conn: AsyncConnection, event: Event, *, at: datetime) -> str:
    """Add ``event`` to the outbox within the caller's transaction; its id."""
    if at.tzinfo is None:
        raise ValueError("an event's time needs a time zone")
    event_id = new_id()
    await conn.execute(
        insert(_OUTBOX).values(
            id=event_id,
            kind=event.kind,
            aggregate=event.aggregate,
            resource=event.resource,
            provider=event.provider,
            payload=dict(event.payload),
            audience=list(event.audience),
            at=at,
        )
    )
    return event_id
