"""The life cycle of a regulatory task (监管任务, R11): states, the moves between them, who moves.

The allowed moves are data (``MOVES``: state × action → next state and the roles that may act);
``move`` applies one to a ``Task`` and returns the next version of it, or refuses naming the
state, the action and what is allowed from there. Pure: no clock, no database. The store added
next runs the same ``move`` inside ``UPDATE … WHERE id = :id AND version = :version``, so of two
staff claiming at once exactly one wins and the other gets ``ConcurrentChange``.

Overdue is not a state: it is derived from the deadline and a given instant (``deadlines.py``).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from standard.codes import check_matter_code, check_uscc
from tasks.errors import (
    ActorRefused,
    ConcurrentChange,
    DetailRequired,
    InvalidTask,
    TransitionRefused,
)

_SM3 = re.compile(r"[0-9a-f]{64}")
MAX_DEADLINE_WORKING_DAYS = 250  # about a year of working days; a longer "task" is a plan


class State(StrEnum):
    ISSUED = "issued"
    DELIVERED = "delivered"
    CLAIMED = "claimed"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    RETURNED = "returned"
    REASSIGNED = "reassigned"
    ESCALATED = "escalated"

    @property
    def zh(self) -> str:
        return _STATE_ZH[self]


class Action(StrEnum):
    DELIVER = "deliver"  # the task reaches the recipients' inboxes
    CLAIM = "claim"  # 认领: a recipient's staff member takes it
    START = "start"  # 办理: handling begins
    FINISH = "finish"  # 办结: done, with the result and the acts it produced
    RETURN = "return"  # 退回: sent back, with a reason
    REASSIGN = "reassign"  # 改派: to other officers (or, by the city office, other departments)
    ESCALATE = "escalate"  # 上报: to the city office
    REISSUE = "reissue"  # 重新下达: the issuer sends a returned task again

    @property
    def zh(self) -> str:
        return _ACTION_ZH[self]


class Role(StrEnum):
    ISSUER = "issuer"  # staff of the issuing department (or office)
    RECIPIENT = "recipient"  # staff of one of the recipient departments
    CITY_OFFICE = "city_office"  # the city office, which supervises every task (R13)

    @property
    def zh(self) -> str:
        return _ROLE_ZH[self]


_STATE_ZH = {
    State.ISSUED: "已下达",
    State.DELIVERED: "已送达",
    State.CLAIMED: "已认领",
    State.IN_PROGRESS: "办理中",
    State.DONE: "已办结",
    State.RETURNED: "已退回",
    State.REASSIGNED: "已改派",
    State.ESCALATED: "已上报",
}
_ACTION_ZH = {
    Action.DELIVER: "送达",
    Action.CLAIM: "认领",
    Action.START: "办理",
    Action.FINISH: "办结",
    Action.RETURN: "退回",
    Action.REASSIGN: "改派",
    Action.ESCALATE: "上报",
    Action.REISSUE: "重新下达",
}
_ROLE_ZH = {
    Role.ISSUER: "下达部门",
    Role.RECIPIENT: "承办部门人员",
    Role.CITY_OFFICE: "市级管理机构",
}


@dataclass(frozen=True, slots=True)
class Move:
    """Where an action leads from a state, and who may take it."""

    to: State
    by: frozenset[Role]


def _move(to: State, *roles: Role) -> Move:
    return Move(to, frozenset(roles))


I, R, C = Role.ISSUER, Role.RECIPIENT, Role.CITY_OFFICE  # noqa: E741  # the table reads as a grid
MOVES: Mapping[State, Mapping[Action, Move]] = {
    State.ISSUED: {Action.DELIVER: _move(State.DELIVERED, I, C)},
    State.DELIVERED: {
        Action.CLAIM: _move(State.CLAIMED, R),
        Action.RETURN: _move(State.RETURNED, R),
        Action.ESCALATE: _move(State.ESCALATED, R, I),
    },
    State.CLAIMED: {
        Action.START: _move(State.IN_PROGRESS, R),
        Action.RETURN: _move(State.RETURNED, R),
        Action.REASSIGN: _move(State.REASSIGNED, R, C),
        Action.ESCALATE: _move(State.ESCALATED, R, I),
    },
    State.IN_PROGRESS: {
        Action.FINISH: _move(State.DONE, R),
        Action.RETURN: _move(State.RETURNED, R),
        Action.REASSIGN: _move(State.REASSIGNED, R, C),
        Action.ESCALATE: _move(State.ESCALATED, R, I),
    },
    State.REASSIGNED: {
        Action.CLAIM: _move(State.CLAIMED, R),
        Action.RETURN: _move(State.RETURNED, R),
        Action.ESCALATE: _move(State.ESCALATED, R, I),
    },
    State.ESCALATED: {
        Action.REASSIGN: _move(State.REASSIGNED, C),
        Action.RETURN: _move(State.RETURNED, C),
    },
    State.RETURNED: {Action.REISSUE: _move(State.ISSUED, I, C)},
    State.DONE: {},
}
"""Every allowed move; anything else is refused. ``done`` is final."""
del I, R, C


def allowed(state: State) -> tuple[Action, ...]:
    """The actions allowed from ``state``, in the order of ``Action``."""
    return tuple(action for action in Action if action in MOVES[state])


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file attached to a task, stored by its SM3 hash."""

    name: str
    size: int
    sm3: str

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise InvalidTask("attachments", "附件名称不能为空", "an attachment needs a name")
        if self.size < 0:
            raise InvalidTask("attachments", f"附件 {self.name} 大小为负", f"{self.name}: size < 0")
        if not _SM3.fullmatch(self.sm3):
            raise InvalidTask(
                "attachments",
                f"附件 {self.name} 的 SM3 哈希须为 64 位小写十六进制",
                f"{self.name}: the SM3 hash must be 64 lower-case hex digits",
            )


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: an officer of a party (department), or of the city office."""

    officer: str
    party: str
    city_office: bool = False


@dataclass(frozen=True, slots=True)
class Task:
    """One regulatory task, as of one version; a move returns the next version."""

    id: str
    title: str
    issuer: str  # the issuing party (a department or the city office)
    recipients: tuple[str, ...]  # the parties it is sent to
    subjects: tuple[str, ...]  # USCCs of the regulated subjects
    matters: tuple[str, ...]  # matter catalogue codes (14 digits)
    legal_basis: str
    issued_at: datetime
    deadline_working_days: int
    attachments: tuple[Attachment, ...] = ()
    assignees: tuple[str, ...] = ()  # officers of the recipients handling it
    state: State = State.ISSUED
    version: int = 1
    reason: str | None = None  # why it was last returned, reassigned or escalated
    result: str | None = None  # the outcome, once done
    acts: tuple[str, ...] = ()  # the regulatory acts (supervision actions) it produced

    def __post_init__(self) -> None:
        for name in ("id", "title", "issuer", "legal_basis"):
            if not str(getattr(self, name)).strip():
                raise InvalidTask(name, "不能为空", "must not be empty")
        if not self.recipients:
            raise InvalidTask("recipients", "至少一个承办部门", "at least one recipient is needed")
        for name in ("recipients", "subjects", "matters", "assignees"):
            values = getattr(self, name)
            if len(set(values)) != len(values):
                raise InvalidTask(name, "有重复项", "holds a value twice")
        for uscc in self.subjects:
            finding = check_uscc(uscc)
            if finding is not None:
                raise InvalidTask("subjects", f"{uscc} 不是有效的统一社会信用代码", finding.reason)
        for code in self.matters:
            finding = check_matter_code(code)
            if finding is not None:
                raise InvalidTask("matters", f"{code} 不是有效的监管事项编码", finding.reason)
        if self.issued_at.utcoffset() is None:
            raise InvalidTask("issued_at", "须带时区", "must carry a time zone")
        if not 1 <= self.deadline_working_days <= MAX_DEADLINE_WORKING_DAYS:
            raise InvalidTask(
                "deadline_working_days",
                f"期限须为 1 至 {MAX_DEADLINE_WORKING_DAYS} 个工作日",
                f"must be 1 to {MAX_DEADLINE_WORKING_DAYS} working days",
            )
        if self.version < 1:
            raise InvalidTask("version", "版本号从 1 开始", "versions start at 1")

    @property
    def done(self) -> bool:
        return self.state is State.DONE


def roles_of(task: Task, actor: Actor) -> frozenset[Role]:
    """The roles ``actor`` holds on ``task``."""
    roles = set()
    if actor.party == task.issuer:
        roles.add(Role.ISSUER)
    if actor.party in task.recipients:
        roles.add(Role.RECIPIENT)
    if actor.city_office:
        roles.add(Role.CITY_OFFICE)
    return frozenset(roles)


def move(
    task: Task,
    action: Action,
    *,
    by: Actor,
    expected_version: int,
    reason: str | None = None,
    assignees: tuple[str, ...] | None = None,
    recipients: tuple[str, ...] | None = None,
    result: str | None = None,
    acts: tuple[str, ...] = (),
) -> Task:
    """The task after ``action`` by ``by``, at version + 1; refused with the reason why.

    Checked in this order: the version the caller saw (a stale one is ``ConcurrentChange``,
    whatever else is wrong), the state (``TransitionRefused``), the actor (``ActorRefused``),
    then what the action needs (``DetailRequired``): a reason to return or escalate, officers
    or departments to reassign to, a result to finish.
    """
    if expected_version != task.version:
        raise ConcurrentChange(task.id, expected_version, task.version)
    rule = MOVES[task.state].get(action)
    if rule is None:
        moves = allowed(task.state)
        raise TransitionRefused(
            task.id,
            task.state.value,
            action.value,
            [a.value for a in moves],
            state_zh=task.state.zh,
            action_zh=action.zh,
            allowed_zh=[a.zh for a in moves],
        )
    if not rule.by & roles_of(task, by):
        roles = sorted(rule.by)
        raise ActorRefused(task.id, action.value, by.officer, roles, [r.zh for r in roles])
    return _apply(
        task,
        action,
        rule.to,
        by=by,
        reason=reason,
        assignees=assignees,
        recipients=recipients,
        result=result,
        acts=acts,
    )


def _apply(
    task: Task,
    action: Action,
    to: State,
    *,
    by: Actor,
    reason: str | None,
    assignees: tuple[str, ...] | None,
    recipients: tuple[str, ...] | None,
    result: str | None,
    acts: tuple[str, ...],
) -> Task:
    # What each action changes besides the state and version; the rest of the task stays.
    new_assignees, new_recipients = task.assignees, task.recipients
    new_reason, new_result, new_acts = task.reason, task.result, task.acts
    if action in (Action.RETURN, Action.ESCALATE):
        if not (reason and reason.strip()):
            zh = f"{action.zh}须说明理由"
            raise DetailRequired(action.value, "a reason", zh, "give the reason")
        new_reason = reason
    elif action is Action.CLAIM:
        # The claimant handles it; officers named before stay on it after them.
        new_assignees = (by.officer, *(a for a in task.assignees if a != by.officer))
    elif action is Action.REASSIGN:
        if recipients is not None and Role.CITY_OFFICE not in roles_of(task, by):
            roles = [Role.CITY_OFFICE]
            zh_roles = [r.zh for r in roles]
            raise ActorRefused(
                task.id, "reassign to other departments", by.officer, roles, zh_roles
            )
        if not assignees and not recipients:
            raise DetailRequired(
                action.value,
                "officers or departments",
                "改派须指定承办人员或部门",
                "name the officers (or, for the city office, the departments) to reassign to",
            )
        new_assignees, new_reason = assignees or (), reason
        new_recipients = recipients or task.recipients
    elif action is Action.FINISH:
        if not (result and result.strip()):
            raise DetailRequired(action.value, "a result", "办结须填写办理结果", "give the result")
        new_result, new_acts = result, acts
    elif action is Action.REISSUE:
        new_assignees, new_reason = (), None
    return dataclasses.replace(
        task,
        state=to,
        version=task.version + 1,
        assignees=new_assignees,
        recipients=new_recipients,
        reason=new_reason,
        result=new_result,
        acts=new_acts,
    )
