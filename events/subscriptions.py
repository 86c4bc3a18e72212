"""Partner clients' webhook subscriptions: made with a new secret, shown once; listed and
ended by their own client only (another client's subscription is not found, not forbidden:
its existence is nobody else's business)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast
from urllib.parse import urlsplit

from sqlalchemy import Table, case, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from events import webhooks
from standard.errors import InputError, NotFound
from standard.tables.gateway import WebhookDelivery, WebhookSubscription

_SUBS = cast(Table, WebhookSubscription.__table__)
_DELIVERIES = cast(Table, WebhookDelivery.__table__)
MAX_ACTIVE = 20  # per client: enough for one endpoint per kind of event, not a flood
MAX_KINDS = 50
KIND = re.compile(r"^[a-z][a-z_]*\.[a-z][a-z_]*$")  # "task.claimed", "draw.performed"


class BadSubscription(InputError):
    """A subscription that cannot be made; the message says why."""


@dataclass(frozen=True, slots=True)
class Subscription:
    """A subscription as its client sees it (never its secret)."""

    id: int
    client_id: str
    url: str
    kinds: tuple[str, ...]
    active: bool
    created_at: datetime
    pending: int  # deliveries still to make (retries included)
    dead: int  # dead letters


@dataclass(frozen=True, slots=True)
class Subscribed:
    """A new subscription and its secret (the receiver verifies signatures with it)."""

    subscription: Subscription
    secret: str

    @property
    def id(self) -> int:
        return self.subscription.id


async def subscribe(
    engine: AsyncEngine,
    *,
    client_id: str,
    url: str,
    kinds: Sequence[str] = (),
    created_by: str,
    now: datetime,
) -> Subscribed:
    """Subscribe ``client_id``'s endpoint ``url`` to events of ``kinds`` (all when empty)."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise BadSubscription(f"url: an http(s) URL with a host, not {url!r}")
    if len(url) > 500:
        raise BadSubscription(f"url: at most 500 characters, not {len(url)}")
    if len(kinds) > MAX_KINDS:
        raise BadSubscription(f"kinds: at most {MAX_KINDS}, not {len(kinds)}")
    for kind in kinds:
        if not KIND.match(kind):
            raise BadSubscription(f"kinds: {kind!r} is not a kind of event such as 'task.claimed'")
    secret = webhooks.new_secret()
    async with engine.begin() as conn:
        active = await conn.scalar(
            select(func.count())
            .select_from(_SUBS)
            .where(_SUBS.c.client_id == client_id, _SUBS.c.active)
        )
        if active is not None and active >= MAX_ACTIVE:
            raise BadSubscription(
                f"{client_id} has {active} active subscriptions, the most one client may have;"
                " end one first (unsubscribeWebhook)"
            )
        result = await conn.execute(
            insert(_SUBS).values(
                client_id=client_id,
                url=url,
                secret=secret,
                kinds=list(kinds),
                cursor=0,
                active=True,
                created_at=now,
                created_by=created_by,
            )
        )
    subscription_id: int = result.inserted_primary_key[0]  # type: ignore[index]  # one insert
    made = Subscription(subscription_id, client_id, url, tuple(kinds), True, now, 0, 0)
    return Subscribed(made, secret)  # nothing delivered yet: no need to read it back


async def subscriptions(engine: AsyncEngine, *, client_id: str | None) -> list[Subscription]:
    """The subscriptions of ``client_id`` (every client's for None: operators), oldest first."""
    counts = (
        select(
            _DELIVERIES.c.subscription_id,
            func.sum(case((_DELIVERIES.c.status == "pending", 1), else_=0)).label("pending"),
            func.sum(case((_DELIVERIES.c.status == "dead", 1), else_=0)).label("dead"),
        )
        .group_by(_DELIVERIES.c.subscription_id)
        .subquery()
    )
    query = (
        select(_SUBS, counts.c.pending, counts.c.dead)
        .outerjoin(counts, counts.c.subscription_id == _SUBS.c.id)
        .order_by(_SUBS.c.id)
    )
    if client_id is not None:
        query = query.where(_SUBS.c.client_id == client_id)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [
        Subscription(
            id=row.id,
            client_id=row.client_id,
            url=row.url,
            kinds=tuple(row.kinds or ()),
            active=row.active,
            created_at=row.created_at,
            pending=int(row.pending or 0),
            dead=int(row.dead or 0),
        )
        for row in rows
    ]


async def owned(engine: AsyncEngine, subscription_id: int, *, client_id: str | None) -> None:
    """Refuse a subscription that is not ``client_id``'s (None: an operator, any) as not found."""
    query = select(_SUBS.c.client_id).where(_SUBS.c.id == subscription_id)
    async with engine.connect() as conn:
        owner = await conn.scalar(query)
    if owner is None or (client_id is not None and owner != client_id):
        raise NotFound(f"没有编号为 {subscription_id} 的订阅 / no subscription {subscription_id}")


async def unsubscribe(engine: AsyncEngine, subscription_id: int, *, client_id: str | None) -> bool:
    """End a subscription (kept, inactive: what it was sent stays on record); False when it had
    ended already."""
    await owned(engine, subscription_id, client_id=client_id)
    async with engine.begin() as conn:
        ended = await conn.execute(
            update(_SUBS).where(_SUBS.c.id == subscription_id, _SUBS.c.active).values(active=False)
        )
    return bool(ended.rowcount)
