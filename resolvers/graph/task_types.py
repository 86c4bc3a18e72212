"""The GraphQL types of regulatory tasks (监管任务): the task, its history, its receipts, pages
of tasks, and the inputs of the mutations (``resolvers.graph.tasks``)."""

from __future__ import annotations

from collections.abc import Hashable
from datetime import datetime
from enum import Enum
from typing import Any, cast

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from resolvers.context import Context
from resolvers.graph.root import PageInfo
from sources.base import Row
from standard.errors import Forbidden
from tasks import access
from tasks.lifecycle import Actor, allowed
from tasks.rows import Stored, moves_of_many
from tasks.store import TaskStore

TYPE = "Task"


@strawberry.enum(name="TaskState", description="任务状态: where a task is in its life cycle.")
class TaskStateEnum(Enum):
    ISSUED = "issued"
    DELIVERED = "delivered"
    CLAIMED = "claimed"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    RETURNED = "returned"
    REASSIGNED = "reassigned"
    ESCALATED = "escalated"


@strawberry.type(description="任务附件: a file attached to a task, by its SM3 hash.")
class TaskAttachment:
    name: str = strawberry.field(description="附件名称 / file name.")
    size: int = strawberry.field(description="大小（字节） / size in bytes.")
    sm3: str = strawberry.field(description="SM3 哈希 / SM3 hash, 64 hex digits.")


@strawberry.input(description="任务附件 / an attachment, stored by its SM3 hash.")
class TaskAttachmentInput:
    name: str = strawberry.field(description="附件名称 / file name.")
    size: int = strawberry.field(description="大小（字节） / size in bytes.")
    sm3: str = strawberry.field(description="SM3 哈希 / SM3 hash, 64 lower-case hex digits.")


@strawberry.type(description="任务流转记录: one step of a task's history.")
class TaskMove:
    version: int = strawberry.field(description="该步产生的版本 / the version it produced.")
    action: str = strawberry.field(description="操作 / issue, deliver, claim, start, finish, …")
    from_state: str | None = strawberry.field(description="原状态 / the state before.")
    to_state: str = strawberry.field(description="新状态 / the state after.")
    actor: str = strawberry.field(description="操作人 / who acted.")
    party: str | None = strawberry.field(description="操作人所属部门 / their party.")
    at: datetime = strawberry.field(description="时间 / when.")
    note: str | None = strawberry.field(description="办理说明 / the note given.")
    reason: str | None = strawberry.field(description="理由 / the reason given.")
    attachments: list[TaskAttachment] = strawberry.field(description="附件 / files given.")
    audit_seq: int = strawberry.field(description="审计日志序号 / its audit entry.")


async def task_history(root: Any, info: Info[Context, None]) -> list[TaskMove]:
    """A task's moves. The task was read under its visibility rule already (every ``Task`` is),
    so the histories of a page's tasks are read together, in one query."""
    engine = store_of(info).engine

    async def fetch(seqs: list[Hashable]) -> list[list[Row]]:
        async with engine.connect() as conn:
            found = await moves_of_many(conn, [int(cast(int, s)) for s in seqs])
        return [found[int(cast(int, s))] for s in seqs]

    moves = await info.context.loaders.of("task_moves", fetch).load(root.seq)
    info.context.sources.note("tasks", len(moves), [root.issuer])
    return [
        TaskMove(
            **{k: v for k, v in move.items() if k not in ("task_seq", "attachments")},
            attachments=[TaskAttachment(**a) for a in move["attachments"]],
        )
        for move in moves
    ]


@strawberry.type(name="Task", description="监管任务: a regulatory task; legally delivered (R11).")
class TaskNode:
    id: strawberry.ID = strawberry.field(description="任务编号 / task id.")
    title: str = strawberry.field(description="任务名称 / title.")
    issuer: str = strawberry.field(description="下达部门 / the issuing party.")
    recipients: list[str] = strawberry.field(description="承办部门 / the parties it is sent to.")
    subjects: list[str] = strawberry.field(description="监管对象（统一社会信用代码） / USCCs.")
    matters: list[str] = strawberry.field(description="监管事项编码 / matter codes.")
    legal_basis: str = strawberry.field(description="法律依据 / legal basis.")
    attachments: list[TaskAttachment] = strawberry.field(description="附件 / attachments.")
    issued_at: datetime = strawberry.field(description="下达时间 / issued at.")
    deadline_working_days: int = strawberry.field(description="期限（工作日） / working days.")
    due_at: datetime = strawberry.field(description="截止时刻 / overdue from this instant.")
    due_provisional: bool = strawberry.field(
        description="截止时刻暂定 / counted over a year without a holiday notice yet."
    )
    overdue: bool = strawberry.field(description="已逾期 / not done and past its due instant.")
    state: TaskStateEnum = strawberry.field(description="状态 / state.")
    version: int = strawberry.field(description="版本 / pass it back to act on the task.")
    allowed_actions: list[str] = strawberry.field(
        description="当前可执行的操作 / actions allowed from this state (by someone)."
    )
    assignees: list[str] = strawberry.field(description="承办人员 / officers handling it.")
    reason: str | None = strawberry.field(description="理由 / why returned, reassigned, escalated.")
    result: str | None = strawberry.field(description="办理结果 / the result, once done.")
    acts: list[str] = strawberry.field(description="产生的监管行为 / acts it produced.")
    updated_at: datetime = strawberry.field(description="最后变更 / last changed.")

    seq: strawberry.Private[int]  # its row, for the history's batch
    history: list[TaskMove] = strawberry.field(
        resolver=task_history,
        description="流转记录 / the task's history, oldest first.",
    )

    @classmethod
    def of(cls, stored: Stored, now: datetime) -> TaskNode:
        task = stored.task
        return cls(
            seq=stored.seq,
            id=strawberry.ID(task.id),
            title=task.title,
            issuer=task.issuer,
            recipients=list(task.recipients),
            subjects=list(task.subjects),
            matters=list(task.matters),
            legal_basis=task.legal_basis,
            attachments=[
                TaskAttachment(name=a.name, size=a.size, sm3=a.sm3) for a in task.attachments
            ],
            issued_at=task.issued_at,
            deadline_working_days=task.deadline_working_days,
            due_at=stored.due_at,
            due_provisional=stored.due_provisional,
            overdue=stored.overdue(now),
            state=TaskStateEnum(task.state.value),
            version=task.version,
            allowed_actions=[a.value for a in allowed(task.state)],
            assignees=list(task.assignees),
            reason=task.reason,
            result=task.result,
            acts=list(task.acts),
            updated_at=stored.updated_at,
        )


@strawberry.type(description="An edge in a Task connection.")
class TaskEdge:
    node: TaskNode = strawberry.field(description="The item.")
    cursor: str = strawberry.field(description="Opaque cursor for `after`.")


@strawberry.type(description="A page of tasks (Relay cursor connection), oldest first.")
class TaskConnection:
    edges: list[TaskEdge] = strawberry.field(description="The page's items.")
    page_info: PageInfo = strawberry.field(description="Where this page lies.")


@strawberry.type(description="回执: a signed receipt; `document` verifies offline.")
class TaskReceiptNode:
    task_version: int = strawberry.field(description="任务版本 / the version it receipts.")
    event: str = strawberry.field(description="事件 / delivered, opened, claimed, …")
    recipient: str = strawberry.field(description="承办部门 / the party it reached or that acted.")
    actor: str = strawberry.field(description="操作人 / who acted; system for delivery.")
    at: datetime = strawberry.field(description="时间 / when.")
    audit_seq: int = strawberry.field(description="审计链位置 / its audit entry.")
    document: JSON = strawberry.field(
        description="签名回执文档 / the signed document: save it as JSON and check it with "
        "`jianguan tasks verify-receipt FILE`."
    )

    @classmethod
    def of(cls, document: dict[str, Any]) -> TaskReceiptNode:
        r = document["receipt"]
        return cls(
            task_version=r["task_version"],
            event=r["event"],
            recipient=r["recipient"],
            actor=r["actor"],
            at=datetime.fromisoformat(r["at"].replace("Z", "+00:00")),
            audit_seq=r["audit_seq"],
            document=document,  # type: ignore[arg-type]  # a JSON object
        )


@strawberry.input(description="下达任务 / a task to issue; it is delivered at once.")
class IssueTaskInput:
    title: str = strawberry.field(description="任务名称 / title.")
    recipients: list[str] = strawberry.field(description="承办部门 / department codes.")
    legal_basis: str = strawberry.field(description="法律依据 / legal basis.")
    deadline_working_days: int = strawberry.field(description="期限（工作日） / 1 to 250.")
    subjects: list[str] = strawberry.field(
        default_factory=list, description="监管对象 / USCCs of the subjects."
    )
    matters: list[str] = strawberry.field(
        default_factory=list, description="监管事项编码 / matter codes (14 digits)."
    )
    attachments: list[TaskAttachmentInput] = strawberry.field(
        default_factory=list, description="附件 / attachments."
    )
    note: str | None = strawberry.field(default=None, description="说明 / a note.")


def store_of(info: Info[Context, None]) -> TaskStore:
    services = info.context.services
    if services is None:
        raise Forbidden("任务在此不可用 / tasks are not available here")
    return services.tasks


def actor_of(info: Info[Context, None]) -> Actor:
    return access.actor_of(info.context.principal)
