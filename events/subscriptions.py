"""Partner clients' webhook subscriptions: made with a new secret, shown once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast
from urllib.parse import urlsplit

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from events import webhooks
from standard.errors import InputError
from standard.tables.gateway import WebhookSubscription

_SUBS = cast(Table, WebhookSubscription.__table__)


@dataclass(frozen=True, slots=True)
class Subscribed:
    """A new subscription and its secret (the receiver verifies signatures with it)."""

    id: int
    secret: str


class BadSubscription(InputError):
    """A subscription that cannot be made; the message says why."""


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
    secret = webhooks.new_secret()
    async with engine.begin() as conn:
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
    return Subscribed(subscription_id, secret)
