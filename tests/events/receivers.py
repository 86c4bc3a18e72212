"""A partner's webhook endpoint for the tests: keeps what it is sent and checks each signature
with the subscription's secret, as a receiver using standardwebhooks would."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from standardwebhooks import Webhook
from starlette.requests import Request
from starlette.responses import Response


@dataclass
class Receiver:
    """A partner's endpoint: keeps what it is sent, checks each signature; can be made to fail."""

    secrets: dict[str, str] = field(default_factory=dict)  # path → secret
    received: list[dict[str, Any]] = field(default_factory=list)
    failing: bool = False
    real_time: bool = False  # also check the timestamp against this machine's clock

    async def endpoint(self, request: Request) -> Response:
        if self.failing:
            return Response(status_code=503)
        body = await request.body()
        secret = self.secrets.get(request.url.path)
        if secret is None:  # subscribed, but the test has not read the secret yet: retried
            return Response(status_code=503)
        headers = dict(request.headers)
        if self.real_time:
            Webhook(secret).verify(body, headers)  # raises on a bad signature or old timestamp
        sent = datetime.fromtimestamp(int(headers["webhook-timestamp"]), UTC)
        expected = Webhook(secret).sign(headers["webhook-id"], sent, body)
        if not any(hmac.compare_digest(expected, s) for s in headers["webhook-signature"].split()):
            return Response(status_code=401)
        self.received.append(
            {"path": request.url.path, "id": headers["webhook-id"], **orjson.loads(body)}
        )
        return Response(status_code=204)
