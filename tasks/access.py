"""Who sees which task: its issuer and its recipients; the city office every task (R13, for
oversight); nobody else. Decided in the query (``WHERE issuer = :party``, ``… IN inbox``),
never by reading a task and then checking it.

A task not yet delivered is not in any inbox: its recipients see it from delivery on. A task
the caller may not see is ``TaskNotFound``, as if it did not exist. Every read here is of
non-public data: callers record it in the audit log (GraphQL through ``sources.note``, which
the operation audit writes; the CLI with its own entry).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from policies.principal import Principal
from standard.errors import Forbidden, InputError, Unauthenticated
from standard.workdays import aware
from tasks.errors import TaskNotFound
from tasks.lifecycle import Actor, State
from tasks.rows import (
    RECIPIENTS,
    TASKS,
    Stored,
    fetch,
    overdue_by,
    receipts_of,
    tasks_query,
)

TASK_PARTIES = ("department", "city_office")
MAX_PAGE = 100


def actor_of(principal: Principal) -> Actor:
    """The task actor a principal is: staff (or a department's own system) of a department or
    of the city office; the city office's overseers (role ``city_office``) see every task."""
    if principal.kind == "public":
        raise Unauthenticated("登录后才能查看或办理任务 / sign in to see or act on tasks")
    if principal.party is None or principal.party_kind not in TASK_PARTIES:
        raise Forbidden("任务只在监管部门之间流转 / tasks pass between departments only")
    if principal.role == "auditor":  # the audit log and public data, nothing else (seed.csv)
        raise Forbidden("安全审计员不办理任务 / security auditors do not see tasks")
    return Actor(
        officer=principal.id, party=principal.party, city_office=principal.role == "city_office"
    )


@dataclass(frozen=True, slots=True)
class Page:
    """One page of tasks, oldest first, and whether more follow."""

    items: list[Stored]
    has_next: bool

    @property
    def providers(self) -> set[str]:
        """Whose tasks were read (their issuers), for the audit entry."""
        return {s.task.issuer for s in self.items}


def _in_inbox(party: str) -> ColumnElement[bool]:
    mine = select(RECIPIENTS.c.task_seq).where(
        RECIPIENTS.c.task_seq == TASKS.c.seq, RECIPIENTS.c.party == party
    )
    return exists(mine).where(TASKS.c.state != State.ISSUED.value)


def visible_to(actor: Actor) -> ColumnElement[bool] | None:
    """The condition on ``tasks`` rows ``actor`` may see; None: all of them (the city office)."""
    if actor.city_office:
        return None
    return or_(TASKS.c.issuer == actor.party, _in_inbox(actor.party))


async def _page(engine: AsyncEngine, query: Select[Any], *, first: int, after: int | None) -> Page:
    if not 1 <= first <= MAX_PAGE:
        raise InputError(f"first 须为 1 至 {MAX_PAGE} / first must be 1 to {MAX_PAGE}, not {first}")
    if after is not None:
        query = query.where(TASKS.c.seq > after)
    async with engine.connect() as conn:
        rows = await fetch(conn, query.order_by(TASKS.c.seq).limit(first + 1))
    return Page(rows[:first], len(rows) > first)


async def inbox(
    engine: AsyncEngine,
    actor: Actor,
    *,
    first: int,
    after: int | None = None,
    states: Sequence[State] = (),
) -> Page:
    """收件箱: the delivered tasks sent to ``actor``'s party, in ``states`` if given."""
    query = tasks_query().where(_in_inbox(actor.party))
    if states:
        query = query.where(TASKS.c.state.in_([s.value for s in states]))
    return await _page(engine, query, first=first, after=after)


async def issued(
    engine: AsyncEngine,
    actor: Actor,
    *,
    first: int,
    after: int | None = None,
    issuer: str | None = None,
) -> Page:
    """已下达: the tasks ``actor``'s party issued; the city office may name another issuer."""
    party = issuer or actor.party
    if party != actor.party and not actor.city_office:
        raise Forbidden(
            f"只能查看本部门下达的任务 / you see the tasks {actor.party} issued, not {party}'s"
        )
    query = tasks_query().where(TASKS.c.issuer == party)
    return await _page(engine, query, first=first, after=after)


async def overdue_for(
    engine: AsyncEngine, actor: Actor, *, now: datetime, first: int, after: int | None = None
) -> Page:
    """逾期任务: the city office sees every overdue task; an issuer, those it issued."""
    aware(now)
    query = tasks_query().where(overdue_by(now))
    if not actor.city_office:
        query = query.where(TASKS.c.issuer == actor.party)
    return await _page(engine, query, first=first, after=after)


async def one(engine: AsyncEngine, actor: Actor, task_id: str) -> Stored:
    """The task ``task_id`` if ``actor`` may see it; else ``TaskNotFound``."""
    query = tasks_query().where(TASKS.c.id == task_id)
    condition = visible_to(actor)
    if condition is not None:
        query = query.where(condition)
    async with engine.connect() as conn:
        found = await fetch(conn, query)
    if not found:
        raise TaskNotFound(task_id)
    return found[0]


async def receipts(engine: AsyncEngine, actor: Actor, task_id: str) -> list[dict[str, Any]]:
    """The signed receipts of a task ``actor`` may see, oldest first."""
    stored = await one(engine, actor, task_id)
    async with engine.connect() as conn:
        return await receipts_of(conn, stored.seq)
