"""Webhooks over GraphQL: a partner client subscribes its endpoints to events, and sees and
manages its own subscriptions only (another's is not found, as if it did not exist).

Only machine clients subscribe: a webhook is one system telling another, and what it is sent
is what that client's scope may read (``events.visibility``). Every read here is noted for the
audit log (``webhook_subscriptions``, the client's party as provider); every mutation is
audited as a write. A delivery round follows every mutation (``gateway/deliver_after.py``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import strawberry
from strawberry.types import Info

from events import subscriptions as subs
from events.delivery import dead_letters, replay
from resolvers.context import Context, Services
from standard.errors import Forbidden, Unauthenticated

RESOURCE = "webhook_subscriptions"  # what the audit log says was read


@strawberry.type(
    name="WebhookSubscription",
    description="Webhook 订阅: one of your endpoints and the events it is sent (never its secret).",
)
class SubscriptionNode:
    id: int = strawberry.field(description="订阅编号 / the subscription's number.")
    url: str = strawberry.field(description="接收地址 / the endpoint events are POSTed to.")
    kinds: list[str] = strawberry.field(
        description="事件类型；为空表示全部 / kinds of event sent; empty: every kind."
    )
    active: bool = strawberry.field(description="是否有效 / false once unsubscribed.")
    created_at: datetime = strawberry.field(description="订阅时间 / when it was made.")
    pending: int = strawberry.field(
        description="待投递（含重试中）/ deliveries still to make, retries included."
    )
    dead_letters: int = strawberry.field(
        description="死信数：重试用尽仍未送达 / events the endpoint never took (replayable)."
    )

    @classmethod
    def of(cls, found: subs.Subscription) -> SubscriptionNode:
        return cls(
            id=found.id,
            url=found.url,
            kinds=list(found.kinds),
            active=found.active,
            created_at=found.created_at,
            pending=found.pending,
            dead_letters=found.dead,
        )


@strawberry.type(
    description="新订阅及其签名密钥（仅显示这一次）/ a new subscription and its signing secret, "
    "shown this once: verify each webhook's signature with it (Standard Webhooks)."
)
class SubscribedWebhook:
    subscription: SubscriptionNode = strawberry.field(description="订阅 / the subscription.")
    secret: str = strawberry.field(
        description="签名密钥 whsec_… / the signing secret; keep it: it is never shown again."
    )


@strawberry.type(
    name="WebhookDeadLetter",
    description="死信：重试用尽仍未送达的事件 / an event your endpoint never took.",
)
class DeadLetterNode:
    position: int = strawberry.field(
        description="事件在发件箱中的位置，可作为重放起点 / its outbox position: replay from it."
    )
    event_id: str = strawberry.field(
        description="事件标识，即 webhook-id 请求头 / the event's id, its webhook-id header."
    )
    kind: str = strawberry.field(description="事件类型 / the kind of event.")
    attempts: int = strawberry.field(description="投递次数 / how many times it was sent.")
    last_error: str | None = strawberry.field(
        description="最后一次失败原因 / why the last attempt failed."
    )


def _client(info: Info[Context, None]) -> tuple[str, str, Services]:
    """The calling client's id, its party, and the services; refused for anyone else."""
    principal = info.context.principal
    if principal.kind == "public":
        raise Unauthenticated("请先登录 / sign in first (POST /oauth/token).")
    if principal.kind != "client" or principal.party is None:
        raise Forbidden(
            "Webhook 订阅属于接入系统（机器客户端）/ webhook subscriptions belong to machine"
            " clients: sign in with your system's client credentials."
        )
    services = info.context.services
    if services is None:
        raise Forbidden("Webhooks are not available here.")
    return principal.id.removeprefix("client:"), principal.party, services


def _noted(info: Info[Context, None], party: str, rows: int) -> None:
    info.context.sources.note(RESOURCE, rows, (party,))


async def webhook_subscriptions(info: Info[Context, None]) -> list[SubscriptionNode]:
    client_id, party, services = _client(info)
    found = await subs.subscriptions(services.engine, client_id=client_id)
    _noted(info, party, len(found))
    return [SubscriptionNode.of(s) for s in found]


async def webhook_dead_letters(
    info: Info[Context, None], subscription_id: int
) -> list[DeadLetterNode]:
    client_id, party, services = _client(info)
    await subs.owned(services.engine, subscription_id, client_id=client_id)
    found = await dead_letters(services.engine, subscription_id)
    _noted(info, party, len(found))
    return [
        DeadLetterNode(
            position=d.seq,
            event_id=d.event_id,
            kind=d.kind,
            attempts=d.attempts,
            last_error=d.last_error,
        )
        for d in found
    ]


async def subscribe_webhook(
    info: Info[Context, None], url: str, kinds: list[str] | None = None
) -> SubscribedWebhook:
    client_id, party, services = _client(info)
    principal = info.context.principal
    made = await subs.subscribe(
        services.engine,
        client_id=client_id,
        url=url,
        kinds=kinds or (),
        created_by=principal.id,
        now=datetime.now(UTC),
    )
    _noted(info, party, 1)
    return SubscribedWebhook(
        subscription=SubscriptionNode.of(made.subscription), secret=made.secret
    )


async def replay_webhooks(
    info: Info[Context, None], subscription_id: int, from_position: int = 0
) -> int:
    client_id, party, services = _client(info)
    await subs.owned(services.engine, subscription_id, client_id=client_id)
    again = await replay(services.engine, subscription_id, from_position, now=datetime.now(UTC))
    _noted(info, party, again)
    return again


async def unsubscribe_webhook(info: Info[Context, None], subscription_id: int) -> bool:
    client_id, party, services = _client(info)
    ended = await subs.unsubscribe(services.engine, subscription_id, client_id=client_id)
    _noted(info, party, 1)
    return ended


def fields() -> tuple[dict[str, Any], dict[str, Any]]:
    """The query and mutation fields of webhooks."""
    query = {
        "webhook_subscriptions": strawberry.field(
            resolver=webhook_subscriptions,
            description="我的 Webhook 订阅 / your system's webhook subscriptions.",
        ),
        "webhook_dead_letters": strawberry.field(
            resolver=webhook_dead_letters,
            description="订阅的死信，最早的在前 / a subscription's dead letters, oldest first.",
        ),
    }
    mutation = {
        "subscribe_webhook": strawberry.field(
            resolver=subscribe_webhook,
            description="订阅事件：向 url 推送您可读取的事件，按 Standard Webhooks 签名 / send "
            "events your scope may read to url, signed per Standard Webhooks; kinds such as "
            "task.claimed, none for all. The secret is shown once.",
        ),
        "replay_webhooks": strawberry.field(
            resolver=replay_webhooks,
            description="从某一位置起重发（已送达的和死信一并重发，webhook-id 不变）/ send again "
            "from an outbox position, delivered events and dead letters alike, with the same "
            "webhook-id so your receiver keeps one of each; how many.",
        ),
        "unsubscribe_webhook": strawberry.field(
            resolver=unsubscribe_webhook,
            description="取消订阅（记录保留）/ end a subscription (its record is kept); false if "
            "it had ended already.",
        ),
    }
    return query, mutation
