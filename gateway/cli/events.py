"""``jianguan events subscriptions|dead-letters|replay``: operators look after webhooks.

An operator sees every client's subscriptions (never their secrets); each command is audited
as ``cli:<operating-system user>``, like the other console commands.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from audit.log import AuditEvent
from events import subscriptions as subs
from events.delivery import dead_letters, replay
from gateway.cli.admin import _with_services
from gateway.cli.common import errors
from gateway.services import Services
from policies.actor import operator
from standard.errors import NotFound

T = TypeVar("T")
events_app = typer.Typer(
    help="Webhooks to partner systems (事件推送): subscriptions, dead letters."
)
RESOURCE = "webhook_subscriptions"
console = Console(soft_wrap=True)  # one line per row, however long its URL


async def _audited(services: Services, event: str, command: str, rows: int) -> None:
    await services.audit.append(
        AuditEvent(
            actor=operator().name,
            event=event,
            outcome="ok",
            operation=f"events {command}",
            resources=(RESOURCE,),
            rows=rows,
        )
    )


@events_app.command("subscriptions")
def list_subscriptions(
    client: Annotated[str | None, typer.Option(help="Only this client's.")] = None,
) -> None:
    """Every webhook subscription: its endpoint, kinds, and what is still owed to it."""

    async def work(services: Services) -> list[subs.Subscription]:
        found = await subs.subscriptions(services.engine, client_id=client)
        await _audited(services, "read", "subscriptions", len(found))
        return found

    # one line each, whole: an operator greps them, and a URL is never cut
    console.print("id\tclient\tactive\tpending\tdead letters\tkinds\turl")
    for s in _with_services(work):
        kinds = ",".join(s.kinds) or "(all)"
        active = "yes" if s.active else "no"
        console.print(
            f"{s.id}\t{escape(s.client_id)}\t{active}\t{s.pending}\t{s.dead}\t{kinds}\t"
            f"{escape(s.url)}"
        )


@events_app.command("dead-letters")
def list_dead_letters(
    subscription: Annotated[int, typer.Argument(help="Subscription id.")],
) -> None:
    """A subscription's dead letters (events its endpoint never took), oldest first."""

    async def work(services: Services) -> list[tuple[int, str, str, int, str]]:
        await subs.owned(services.engine, subscription, client_id=None)
        found = await dead_letters(services.engine, subscription)
        await _audited(services, "read", "dead-letters", len(found))
        return [(d.seq, d.event_id, d.kind, d.attempts, d.last_error or "") for d in found]

    console.print("position\tevent id (webhook-id)\tkind\tattempts\tlast error")
    for row in _or_not_found(work):
        console.print("\t".join(escape(str(value)) for value in row))


@events_app.command("replay")
def replay_from(
    subscription: Annotated[int, typer.Argument(help="Subscription id.")],
    from_position: Annotated[
        int, typer.Option("--from", help="Outbox position to send again from (0: all).")
    ] = 0,
) -> None:
    """Send a subscription's events again from a position, with their own webhook-ids."""

    async def work(services: Services) -> int:
        await subs.owned(services.engine, subscription, client_id=None)
        again = await replay(services.engine, subscription, from_position, now=datetime.now(UTC))
        await _audited(services, "write", "replay", again)
        if again and services.jobs.postgres:
            await services.jobs.deliver_soon()
        return again

    again = _or_not_found(work)
    console.print(
        f"{again} event(s) to send again; the next delivery round sends them"
        " (within 5 s of a running worker or `jianguan serve`)"
    )


def _or_not_found(work: Callable[[Services], Awaitable[T]]) -> T:
    try:
        return _with_services(work)
    except NotFound as exc:
        errors.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None
