"""Issuing a draw's tasks: each drawn subject becomes one task (监管任务) for its inspectors,
issued and delivered through the task store, so it counts as delivered like any task (R11).

The task's contents come from ``to_tasks.tasks_from_draw``. Its issuer is whoever drew: a
department drawing its own plan sends the task to itself, to the inspectors it names; the city
office drawing a joint plan sends it to each department. The draw line records the task in the
task's issuing transaction, so a line is issued once however often (or concurrently) this runs,
and a failure part way leaves the issued ones linked and the rest to issue again.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from inspections.draw import Drawn
from inspections.plans import DRAWN, DRAWS, load_plan
from inspections.to_tasks import tasks_from_draw
from standard.errors import InputError, NotFound
from tasks.lifecycle import Actor
from tasks.rows import Stored
from tasks.store import TaskStore

DEADLINE_WORKING_DAYS = 20  # a month of working days to inspect, the usual plan period


class NoSuchDraw(NotFound):
    """The plan has no draw of that number (or the caller may not see the plan)."""

    def __init__(self, plan: str, number: int) -> None:
        super().__init__(f"计划 {plan} 没有第 {number} 次抽取 / plan {plan} has no draw {number}")


class AlreadyIssued(InputError):
    """Another caller issued this subject's task meanwhile; theirs stands."""


async def issue_draw_tasks(
    store: TaskStore,
    *,
    plan_code: str,
    number: int,
    by: Actor,
    deadline_working_days: int = DEADLINE_WORKING_DAYS,
) -> list[Stored]:
    """Issue and deliver a task for each subject of draw ``number`` that has none yet."""
    async with store.engine.connect() as conn:
        plan = (await load_plan(conn, plan_code, by)).plan
        made_draw = select(DRAWS.c.number).where(
            DRAWS.c.plan_code == plan_code, DRAWS.c.number == number
        )
        if await conn.scalar(made_draw) is None:
            raise NoSuchDraw(plan_code, number)
        waiting = (
            await conn.execute(
                select(DRAWN.c.position, DRAWN.c.line)
                .where(
                    DRAWN.c.plan_code == plan_code,
                    DRAWN.c.number == number,
                    DRAWN.c.task_seq.is_(None),
                )
                .order_by(DRAWN.c.position)
            )
        ).all()
    made: list[Stored] = []
    for position, line in waiting:
        drawn = Drawn.from_line(line.encode())
        (task,) = tasks_from_draw(
            plan,
            [drawn],
            draw_number=number,
            issuer=by.party,
            issued_at=store.clock(),
            deadline_working_days=deadline_working_days,
        )

        async def link(conn: AsyncConnection, seq: int, position: int = position) -> None:
            linked = await conn.execute(
                update(DRAWN)
                .where(
                    DRAWN.c.plan_code == plan_code,
                    DRAWN.c.number == number,
                    DRAWN.c.position == position,
                    DRAWN.c.task_seq.is_(None),
                )
                .values(task_seq=seq)
            )
            if linked.rowcount != 1:  # issued meanwhile: this task rolls back with the link
                raise AlreadyIssued(f"计划 {plan_code} 第 {position} 个对象的任务已下达")

        try:
            issued = await store.issue(
                by=by,
                title=task.title,
                recipients=task.recipients,
                subjects=task.subjects,
                matters=task.matters,
                legal_basis=task.legal_basis,
                deadline_working_days=task.deadline_working_days,
                assignees=task.assignees,
                within=link,
            )
        except AlreadyIssued:
            continue
        made.append(await store.deliver(issued.id, by=by, expected_version=issued.task.version))
    return made
