"""One webhook request as the Standard Webhooks specification has it (standardwebhooks signs).

Body: ``{"type": kind, "timestamp": when it happened, "data": payload}``. Headers: ``webhook-id``
(the event's id: the same on every retry and replay, so a receiver keeps one),
``webhook-timestamp`` (seconds, when this attempt was sent) and ``webhook-signature``
(``v1,`` + base64 HMAC-SHA256 over ``id.timestamp.body`` with the subscription's secret).
"""

from __future__ import annotations

import base64
import secrets
from datetime import datetime
from typing import Any

import orjson
from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105  # the specification's prefix, not a secret


def new_secret() -> str:
    """A subscription's signing secret: 32 random bytes, as the specification writes them."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def body(kind: str, at: datetime, payload: Any) -> bytes:
    """The request body of one event."""
    return orjson.dumps(
        {"type": kind, "timestamp": at.isoformat(), "data": payload}, option=orjson.OPT_SORT_KEYS
    )


def headers(secret: str, event_id: str, sent_at: datetime, content: bytes) -> dict[str, str]:
    """The signed headers of one attempt."""
    return {
        "content-type": "application/json",
        "webhook-id": event_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": Webhook(secret).sign(event_id, sent_at, content),
    }
