"""What the jobs reach: the gateway database, a webhook deliverer, and the tasks' reminders.

Made once per worker (``jianguan jobs worker``, or the serving process on the embedded
default) and handed to every job through the worker's context, so a job opens no engine of
its own.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, cast

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from events.delivery import Deliverer
from events.visibility import ClientScopes
from policies.store import PolicyHolder


class DueTask(Protocol):
    """A task whose deadline comes soon: what a reminder names."""

    @property
    def id(self) -> str: ...
    @property
    def issuer(self) -> str: ...


class Reminders(Protocol):
    """The tasks domain's deadline work (``tasks.reminders``)."""

    async def mark_overdue(self, engine: AsyncEngine, *, now: datetime) -> int: ...

    async def due_soon(
        self, engine: AsyncEngine, *, now: datetime, within: timedelta
    ) -> Sequence[DueTask]: ...


def tasks_reminders() -> Reminders | None:
    """``tasks.reminders`` itself, or None before it exists. Imported by name because the
    module is being written beside this one (issue 14 §2); once it is merged this becomes a
    plain import and the None goes."""
    try:
        return cast(Reminders, importlib.import_module("tasks.reminders"))
    except ModuleNotFoundError:
        return None


@dataclass(frozen=True, slots=True)
class Resources:
    """The parts one worker's jobs share."""

    engine: AsyncEngine  # the gateway database: outbox, subscriptions, tasks
    deliverer: Deliverer
    reminders: Reminders | None  # None: the overdue and reminder jobs have nothing to call

    @classmethod
    def over(
        cls, engine: AsyncEngine, http: httpx.AsyncClient, policies: PolicyHolder
    ) -> Resources:
        """The jobs' parts over the gateway database: webhooks sent with ``http`` to clients
        whose scope under ``policies`` lets them see each event."""
        deliverer = Deliverer(engine, http, ClientScopes(engine, policies))
        return cls(engine=engine, deliverer=deliverer, reminders=tasks_reminders())
