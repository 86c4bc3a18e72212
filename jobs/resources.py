"""What the jobs reach: the gateway database, a webhook deliverer, and the working-day calendar.

Made once per worker (``jianguan jobs worker``, or the serving process on the embedded
default) and handed to every job through the worker's context, so a job opens no engine of
its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from events.delivery import Deliverer
from events.visibility import ClientScopes
from policies.store import PolicyHolder
from standard.workdays import WorkCalendar


@dataclass(frozen=True, slots=True)
class Resources:
    """The parts one worker's jobs share."""

    engine: AsyncEngine  # the gateway database: outbox, subscriptions, tasks
    deliverer: Deliverer
    calendar: WorkCalendar  # the one tasks are issued under (JIANGUAN_HOLIDAYS_FILE)

    @classmethod
    def over(
        cls,
        engine: AsyncEngine,
        http: httpx.AsyncClient,
        policies: PolicyHolder,
        calendar: WorkCalendar,
    ) -> Resources:
        """The jobs' parts over the gateway database: webhooks sent with ``http`` to clients
        whose scope under ``policies`` lets them see each event."""
        deliverer = Deliverer(engine, http, ClientScopes(engine, policies))
        return cls(engine=engine, deliverer=deliverer, calendar=calendar)
