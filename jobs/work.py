"""The jobs, and their registration on a procrastinate app.

- ``deliver_events``: one ``Deliverer`` round (fan-out, then every due delivery). Every
  ``DELIVER_CRON`` (retries come due on their own) and deferred right after a change. Its
  ``lock`` lets one round run at a time across workers (two would send the same due head twice)
  and its ``queueing_lock`` keeps at most one waiting: a burst of changes costs one round more.
- ``mark_overdue``: ``tasks.reminders.mark_overdue`` every minute (each task once, with its
  ``task.overdue`` event and audit entry); the events are delivered at once.
- ``send_reminders``: each morning, a ``task.due_soon`` event for each task with at most
  ``REMIND_WITHIN`` working days left (``tasks.reminders.due_soon``), all in one transaction,
  so a failed run leaves none behind.

A periodic job's ``now`` is the time it was scheduled for (procrastinate's ``timestamp``), not
the worker's clock: a late run marks what was due then, and tests pass the time they mean.
"""

from __future__ import annotations

from datetime import UTC, datetime

from procrastinate import App, JobContext
from procrastinate.exceptions import AlreadyEnqueued

from events.delivery import Round
from events.outbox import record
from jobs.resources import Resources
from tasks import reminders
from tasks.record import outbox_event

DELIVER = "jianguan.deliver_events"
MARK_OVERDUE = "jianguan.mark_overdue"
SEND_REMINDERS = "jianguan.send_reminders"

# croniter's sixth field is seconds. The first retry of a failed delivery is due after 1 s:
# with a round every 5 s it is sent within 6.
DELIVER_CRON = "* * * * * */5"
MARK_OVERDUE_CRON = "* * * * *"
SEND_REMINDERS_CRON = "30 0 * * *"  # 08:30 in Xi'an (UTC+8), before the working day
REMIND_WITHIN = 1  # working days left: due today or on the next working day
SYSTEM = reminders.SYSTEM  # who the events say acted
RESOURCES = "jianguan"  # the key of the Resources in a worker's additional context


async def deliver_events(resources: Resources) -> Round:
    """One delivery round."""
    return await resources.deliverer.run_once()


async def mark_overdue(resources: Resources, *, now: datetime) -> int:
    """Mark the tasks overdue at ``now`` (each once); how many were newly marked."""
    return await reminders.mark_overdue(resources.engine, now=now)


async def send_reminders(resources: Resources, *, now: datetime) -> int:
    """A ``task.due_soon`` event for each task due within ``REMIND_WITHIN`` working days."""
    due = await reminders.due_soon(
        resources.engine, now=now, within=REMIND_WITHIN, calendar=resources.calendar
    )
    async with resources.engine.begin() as conn:
        for stored in due:
            task = stored.task
            await record(conn, outbox_event(task, "due_soon", SYSTEM, now, task.state), at=now)
    return len(due)


async def defer_delivery(app: App) -> bool:
    """Ask for a delivery round soon; False when one is already waiting (it will do)."""
    try:
        await app.configure_task(DELIVER).defer_async()
    except AlreadyEnqueued:
        return False
    return True


def _resources(context: JobContext) -> Resources:
    found: Resources = context.additional_context[RESOURCES]
    return found


def _scheduled(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def register(app: App) -> None:
    """Add the jobs and their schedules to ``app``."""

    @app.periodic(cron=DELIVER_CRON)
    @app.task(name=DELIVER, pass_context=True, lock=DELIVER, queueing_lock=DELIVER)
    async def deliver(context: JobContext, timestamp: int | None = None) -> None:
        await deliver_events(_resources(context))

    @app.periodic(cron=MARK_OVERDUE_CRON)
    @app.task(name=MARK_OVERDUE, pass_context=True, lock=MARK_OVERDUE)
    async def overdue(context: JobContext, timestamp: int) -> None:
        if await mark_overdue(_resources(context), now=_scheduled(timestamp)):
            await defer_delivery(context.app)

    @app.periodic(cron=SEND_REMINDERS_CRON)
    @app.task(name=SEND_REMINDERS, pass_context=True, lock=SEND_REMINDERS)
    async def remind(context: JobContext, timestamp: int) -> None:
        if await send_reminders(_resources(context), now=_scheduled(timestamp)):
            await defer_delivery(context.app)
