"""Regulatory tasks over GraphQL (监管任务, R11): inbox, issued, overdue, one task, its receipts,
and the life-cycle mutations, each with the ``version`` the caller saw.

Resolvers only translate: who sees what is ``tasks.access``, every change ``tasks.store``; their
refusals (``TransitionRefused`` naming the state, ``ConcurrentChange``, ``ActorRefused``,
``TaskNotFound``) reach the client coded by ``resolvers.graph.errors``. Every read is noted
for the operation's audit entry; every change writes its own.
"""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from resolvers.context import Context
from resolvers.graph import ids
from resolvers.graph.root import PageInfo
from resolvers.graph.task_types import (
    TYPE,
    IssueTaskInput,
    TaskAttachmentInput,
    TaskConnection,
    TaskEdge,
    TaskNode,
    TaskReceiptNode,
    TaskStateEnum,
    actor_of,
    store_of,
)
from standard.errors import Forbidden, InputError, Unauthenticated
from tasks import access, complaints
from tasks.lifecycle import Actor, Attachment, State
from tasks.rows import Stored
from tasks.store import TaskStore


def _after(after: str | None) -> int | None:
    if after is None:
        return None
    kind, seq = ids.decode(after)
    if kind != TYPE:
        raise InputError(f"after: {after!r} is not a cursor of tasks")
    return seq


def _connection(info: Info[Context, None], page: access.Page) -> TaskConnection:
    info.context.sources.note("tasks", len(page.items), page.providers)
    now = store_of(info).clock()
    edges = [TaskEdge(node=TaskNode.of(s, now), cursor=ids.encode(TYPE, s.seq)) for s in page.items]
    return TaskConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next,
            has_previous_page=False,  # forward pages only: `first` and `after`
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )


def _node(info: Info[Context, None], stored: Stored) -> TaskNode:
    info.context.sources.note("tasks", 1, [stored.task.issuer])
    return TaskNode.of(stored, store_of(info).clock())


def _attachments(given: list[TaskAttachmentInput] | None) -> tuple[Attachment, ...]:
    return tuple(Attachment(a.name, a.size, a.sm3) for a in given or ())


async def task_inbox(
    info: Info[Context, None],
    first: int = 20,
    after: str | None = None,
    states: list[TaskStateEnum] | None = None,
) -> TaskConnection:
    wanted = [State(s.value) for s in states or ()]
    page = await access.inbox(
        store_of(info).engine, actor_of(info), first=first, after=_after(after), states=wanted
    )
    return _connection(info, page)


async def tasks_issued(
    info: Info[Context, None], first: int = 20, after: str | None = None, issuer: str | None = None
) -> TaskConnection:
    page = await access.issued(
        store_of(info).engine, actor_of(info), first=first, after=_after(after), issuer=issuer
    )
    return _connection(info, page)


async def tasks_overdue(
    info: Info[Context, None], first: int = 20, after: str | None = None
) -> TaskConnection:
    store = store_of(info)
    page = await access.overdue_for(
        store.engine, actor_of(info), now=store.clock(), first=first, after=_after(after)
    )
    return _connection(info, page)


async def task(info: Info[Context, None], id: strawberry.ID) -> TaskNode:
    store, actor = store_of(info), actor_of(info)
    stored = await access.one(store.engine, actor, str(id))
    if actor.party in stored.task.recipients:
        stored = await store.open(stored.id, by=actor)  # 查阅: receipted the first time
    return _node(info, stored)


async def task_receipts(info: Info[Context, None], task_id: strawberry.ID) -> list[TaskReceiptNode]:
    documents = await access.receipts(store_of(info).engine, actor_of(info), str(task_id))
    info.context.sources.note("tasks", len(documents), {d["receipt"]["issuer"] for d in documents})
    return [TaskReceiptNode.of(d) for d in documents]


async def _visible(info: Info[Context, None], task_id: strawberry.ID) -> tuple[TaskStore, Actor]:
    """The store and the actor, once the actor may see the task (else ``TaskNotFound``)."""
    store, actor = store_of(info), actor_of(info)
    await access.one(store.engine, actor, str(task_id))
    return store, actor


async def issue_task(info: Info[Context, None], input: IssueTaskInput) -> TaskNode:
    store, actor = store_of(info), actor_of(info)
    stored = await store.issue(
        by=actor,
        title=input.title,
        recipients=input.recipients,
        subjects=input.subjects,
        matters=input.matters,
        legal_basis=input.legal_basis,
        deadline_working_days=input.deadline_working_days,
        attachments=_attachments(input.attachments),
        note=input.note,
    )
    # Sent through the system, it is in the recipients' inboxes at once (R11): delivered.
    stored = await store.deliver(stored.id, by=actor, expected_version=stored.task.version)
    return _node(info, stored)


async def deliver_task(info: Info[Context, None], id: strawberry.ID, version: int) -> TaskNode:
    store, actor = await _visible(info, id)
    return _node(info, await store.deliver(str(id), by=actor, expected_version=version))


async def claim_task(info: Info[Context, None], id: strawberry.ID, version: int) -> TaskNode:
    store, actor = await _visible(info, id)
    return _node(info, await store.claim(str(id), by=actor, expected_version=version))


async def start_task(
    info: Info[Context, None],
    id: strawberry.ID,
    version: int,
    note: str | None = None,
    attachments: list[TaskAttachmentInput] | None = None,
) -> TaskNode:
    store, actor = await _visible(info, id)
    stored = await store.start(
        str(id),
        by=actor,
        expected_version=version,
        note=note,
        attachments=_attachments(attachments),
    )
    return _node(info, stored)


async def finish_task(
    info: Info[Context, None],
    id: strawberry.ID,
    version: int,
    result: str,
    acts: list[str] | None = None,
    note: str | None = None,
    attachments: list[TaskAttachmentInput] | None = None,
) -> TaskNode:
    store, actor = await _visible(info, id)
    stored = await store.finish(
        str(id),
        by=actor,
        expected_version=version,
        result=result,
        acts=acts or (),
        note=note,
        attachments=_attachments(attachments),
    )
    return _node(info, stored)


async def return_task(
    info: Info[Context, None], id: strawberry.ID, version: int, reason: str
) -> TaskNode:
    store, actor = await _visible(info, id)
    return _node(
        info, await store.return_(str(id), by=actor, expected_version=version, reason=reason)
    )


async def reassign_task(
    info: Info[Context, None],
    id: strawberry.ID,
    version: int,
    assignees: list[str] | None = None,
    recipients: list[str] | None = None,
    reason: str | None = None,
) -> TaskNode:
    store, actor = await _visible(info, id)
    stored = await store.reassign(
        str(id),
        by=actor,
        expected_version=version,
        assignees=assignees,
        recipients=recipients,
        reason=reason,
    )
    return _node(info, stored)


async def escalate_task(
    info: Info[Context, None], id: strawberry.ID, version: int, reason: str
) -> TaskNode:
    store, actor = await _visible(info, id)
    return _node(
        info, await store.escalate(str(id), by=actor, expected_version=version, reason=reason)
    )


async def reissue_task(info: Info[Context, None], id: strawberry.ID, version: int) -> TaskNode:
    store, actor = await _visible(info, id)
    stored = await store.reissue(str(id), by=actor, expected_version=version)
    # as when first issued: delivered at once
    stored = await store.deliver(stored.id, by=actor, expected_version=stored.task.version)
    return _node(info, stored)


async def task_from_complaint(
    info: Info[Context, None], ticket_no: str, provider: str | None = None
) -> TaskNode:
    principal = info.context.principal
    if principal.kind == "public":
        raise Unauthenticated("登录后才能操作 / sign in to do this")
    hotline = provider or principal.party
    overseer = principal.role == "city_office"
    if hotline is None or (hotline != principal.party and not overseer):
        raise Forbidden(
            f"只有投诉的提供方或市级管理机构可以转办 / only the complaint's provider ({hotline}) "
            "or the city office may turn its complaints into tasks"
        )
    store = store_of(info)  # Forbidden without the gateway's services
    services = info.context.services
    assert services is not None  # noqa: S101  # store_of checked it
    stored, _ = await complaints.task_from_complaint(
        store,
        services.source_databases.engine("complaints"),
        provider=hotline,
        ticket_no=ticket_no,
        officer=principal.id,
    )
    return _node(info, stored)


_VERSION = "version: the version you saw (版本); a stale one is CONCURRENT_CHANGE."


def fields() -> tuple[dict[str, Any], dict[str, Any]]:
    """The query and mutation fields of tasks."""
    query = {
        "task_inbox": strawberry.field(
            resolver=task_inbox,
            description="收件箱: tasks delivered to your department, oldest first.",
        ),
        "tasks_issued": strawberry.field(
            resolver=tasks_issued,
            description="已下达任务: tasks your department issued (the city office: any issuer).",
        ),
        "tasks_overdue": strawberry.field(
            resolver=tasks_overdue,
            description="逾期任务: every overdue task (the city office), or those you issued.",
        ),
        "task": strawberry.field(
            resolver=task,
            description="一项任务: by id, if you issued or received it, or oversee (city office); "
            "a recipient's first look is receipted (已查阅).",
        ),
        "task_receipts": strawberry.field(
            resolver=task_receipts,
            description="任务回执: the signed receipts of a task, oldest first.",
        ),
    }
    mutation = {
        "issue_task": strawberry.field(
            resolver=issue_task,
            description="下达任务: issued by your department and delivered at once, one delivery "
            "receipt per recipient.",
        ),
        "deliver_task": strawberry.field(
            resolver=deliver_task,
            description="送达: a task still issued (its delivery did not happen when it was "
            f"issued) into the recipients' inboxes. {_VERSION}",
        ),
        "claim_task": strawberry.field(
            resolver=claim_task, description=f"认领任务: of two claims at once one wins. {_VERSION}"
        ),
        "start_task": strawberry.field(
            resolver=start_task, description=f"开始办理, with a note and attachments. {_VERSION}"
        ),
        "finish_task": strawberry.field(
            resolver=finish_task,
            description=f"办结: the result and the acts it produced. {_VERSION}",
        ),
        "return_task": strawberry.field(
            resolver=return_task, description=f"退回, with the reason. {_VERSION}"
        ),
        "reassign_task": strawberry.field(
            resolver=reassign_task,
            description="改派 to other officers, or (city office) to other departments. "
            + _VERSION,
        ),
        "escalate_task": strawberry.field(
            resolver=escalate_task, description=f"上报 the city office, with the reason. {_VERSION}"
        ),
        "task_from_complaint": strawberry.field(
            resolver=task_from_complaint,
            description="投诉转任务: a complaint the 12345 hotline dispatched to a department "
            "becomes its task, issued from the hotline and delivered; once only (asked again, "
            "the same task). By the complaint's provider, or the city office naming it.",
        ),
        "reissue_task": strawberry.field(
            resolver=reissue_task,
            description=f"重新下达 a returned task; delivered again at once. {_VERSION}",
        ),
    }
    return query, mutation
