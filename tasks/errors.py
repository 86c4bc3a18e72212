"""What can go wrong with a regulatory task, each error named for what happened; drawn in the
project's one tree (``standard.errors``). Every message is Chinese first, then English, because
staff read them."""

from __future__ import annotations

from collections.abc import Iterable

from standard.errors import Forbidden, InputError, NotFound


class InvalidTask(InputError):
    """A task record that breaks the rules; the message names the field."""

    def __init__(self, field: str, zh: str, en: str) -> None:
        self.field = field
        super().__init__(f"任务字段 {field}：{zh} / task field {field}: {en}")


class DetailRequired(InputError):
    """An action was asked for without what it needs (a reason, officers, a result)."""

    def __init__(self, action: str, detail: str, zh: str, en: str) -> None:
        self.action = action
        self.detail = detail
        super().__init__(f"{zh} / {action} needs {detail}: {en}")


class TransitionRefused(InputError):
    """The action is not one of those allowed from the task's current state."""

    def __init__(
        self,
        task_id: str,
        state: str,
        action: str,
        allowed: Iterable[str],
        *,
        state_zh: str,
        action_zh: str,
        allowed_zh: Iterable[str],
    ) -> None:
        self.task_id = task_id
        self.state = state
        self.action = action
        self.allowed = tuple(allowed)
        zh_allowed = "、".join(allowed_zh) or "无（已办结）"
        en_allowed = ", ".join(self.allowed) or "none (the task is done)"
        super().__init__(
            f"任务 {task_id} 处于「{state_zh}」状态，不能「{action_zh}」；"
            f"可执行的操作：{zh_allowed} / "
            f"task {task_id} is {state}: {action} is not allowed; allowed from {state}: "
            f"{en_allowed}"
        )


class ActorRefused(Forbidden):
    """The action is allowed from this state, but the actor holds none of the roles it needs."""

    def __init__(
        self, task_id: str, action: str, actor: str, roles: Iterable[str], roles_zh: Iterable[str]
    ) -> None:
        self.task_id = task_id
        self.action = action
        self.actor = actor
        self.roles = tuple(roles)
        super().__init__(
            f"{actor} 无权对任务 {task_id} 执行该操作，只有{'或'.join(roles_zh)}可以 / "
            f"{actor} may not {action} task {task_id}: only {' or '.join(self.roles)} may"
        )


class ConcurrentChange(InputError):
    """The caller acted on a version of the task that is no longer the current one."""

    def __init__(self, task_id: str, expected: int, current: int) -> None:
        self.task_id = task_id
        self.expected = expected
        self.current = current
        super().__init__(
            f"任务 {task_id} 已被他人修改（您看到的是第 {expected} 版，当前为第 {current} 版），"
            f"请刷新后重试 / task {task_id} changed meanwhile: you saw version {expected}, "
            f"it is at version {current}; reload and try again"
        )


class ReceiptRefused(InputError):
    """A receipt document that does not verify; ``reason`` is a short code for the cause."""

    reason = "refused"

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(f"回执无效：{zh} / receipt refused ({self.reason}): {en}")


class UnknownReceiptFormat(ReceiptRefused):
    reason = "unknown format version"


class MalformedReceipt(ReceiptRefused):
    reason = "malformed"


class AlteredReceipt(ReceiptRefused):
    reason = "altered field"

    def __init__(self, field: str) -> None:
        self.field = field
        super().__init__(
            f"字段 {field} 在签名后被改动",
            f"field {field!r} does not match its signed digest: it was changed after signing",
        )


class ForeignKey(ReceiptRefused):
    reason = "another key"


class BadSignature(ReceiptRefused):
    reason = "bad signature"


class TaskNotFound(NotFound):
    """No task has that id, or none the caller may see (the two are not told apart)."""

    def __init__(self, task_id: str) -> None:
        self.task_id = task_id
        super().__init__(f"没有编号为 {task_id} 的任务 / no task {task_id}")
