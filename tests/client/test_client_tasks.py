"""The generated client's task and webhook operations against a real gateway that runs only the
client's persisted documents, over the demo's tasks (demo/work.py)."""

from __future__ import annotations

import pytest
from jianguan_client import GraphQLClientGraphQLMultiError, JianguanClient, TaskState

from tests.client.conftest import bearer


async def test_a_department_claims_handles_and_finishes_a_delivered_task(
    gateway_url: str, tokens: dict[str, str]
) -> None:
    async with JianguanClient(url=gateway_url, headers=bearer(tokens["xa.sthj.staff"])) as staff:
        inbox = await staff.task_inbox(first=50, states=[TaskState.DELIVERED])
        waiting = [e.node for e in inbox.task_inbox.edges]
        assert waiting and {t.state for t in waiting} == {TaskState.DELIVERED}
        task = next(t for t in waiting if t.issuer == "XA-SCJG")
        assert "XA-STHJ" in task.recipients and "claim" in task.allowed_actions

        claimed = (await staff.claim_task(task.id, task.version)).claim_task
        assert (claimed.state, claimed.version) == (TaskState.CLAIMED, task.version + 1)
        with pytest.raises(GraphQLClientGraphQLMultiError) as stale:  # the version seen before
            await staff.claim_task(task.id, task.version)
        assert stale.value.errors[0].extensions["code"] == "CONCURRENT_CHANGE"  # type: ignore[index]

        started = (await staff.start_task(task.id, claimed.version, note="已约谈")).start_task
        done = (await staff.finish_task(task.id, started.version, result="已整改")).finish_task
        assert (done.state, done.result, done.allowed_actions) == (TaskState.DONE, "已整改", [])

        one = (await staff.task(task.id)).task
        assert [m.action for m in one.history][-3:] == ["claim", "start", "finish"]
        receipts = (await staff.task_receipts(task.id)).task_receipts
        # R11: delivery and every later step is receipted, signed, for the acting department.
        assert {"delivered", "claimed", "done"} <= {r.event for r in receipts}
        assert all(r.document["signature"] for r in receipts)


async def test_a_partner_subscribes_lists_replays_and_unsubscribes(
    gateway_url: str, tokens: dict[str, str]
) -> None:
    async with JianguanClient(url=gateway_url, headers=bearer(tokens["p-12345"])) as partner:
        made = (
            await partner.subscribe_webhook(
                "https://hooks.example.cn/jianguan", kinds=["task.done"]
            )
        ).subscribe_webhook
        assert made.secret.startswith("whsec_") and made.subscription.kinds == ["task.done"]
        mine = (await partner.webhook_subscriptions()).webhook_subscriptions
        assert [s.id for s in mine] == [made.subscription.id]
        dead = await partner.webhook_dead_letters(made.subscription.id)
        assert dead.webhook_dead_letters == []
        replayed = await partner.replay_webhooks(made.subscription.id, from_position=0)
        assert replayed.replay_webhooks >= 0
        assert (await partner.unsubscribe_webhook(made.subscription.id)).unsubscribe_webhook
        after = (await partner.webhook_subscriptions()).webhook_subscriptions
        assert [s.active for s in after] == [False]
    async with JianguanClient(url=gateway_url, headers=bearer(tokens["city.office"])) as office:
        with pytest.raises(GraphQLClientGraphQLMultiError) as staff:  # only machine clients
            await office.webhook_subscriptions()
        assert staff.value.errors[0].extensions["code"] == "FORBIDDEN"  # type: ignore[index]
