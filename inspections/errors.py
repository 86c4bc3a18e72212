"""What can go wrong with a random inspection, each error named for what happened; drawn in the
project's one tree (``standard.errors``). Messages are Chinese first, then English: staff read
them, and an outsider checking a draw reads the same words."""

from __future__ import annotations

from standard.errors import Forbidden, InputError, NotFound


class InvalidInspection(InputError):
    """A list item, rule, plan or pool row that breaks the rules; the message names where."""

    def __init__(self, where: str, zh: str, en: str) -> None:
        self.where = where
        super().__init__(f"双随机抽查 {where}：{zh} / random inspection {where}: {en}")


class InvalidSnapshot(InputError):
    """A pool snapshot that is not in its canonical form (line out of order, not canonical)."""

    def __init__(self, pool: str, line: int, zh: str, en: str) -> None:
        self.pool = pool
        self.line = line
        super().__init__(f"{pool} 名录快照第 {line} 行：{zh} / {pool} snapshot, line {line}: {en}")


class SeedMismatch(InputError):
    """The seed revealed at the draw is not the one the approved plan committed to."""

    def __init__(self, plan: str, commitment: str, found: str) -> None:
        self.plan = plan
        super().__init__(
            f"计划 {plan} 的随机种子与批准时的承诺不符"
            f"（承诺 {commitment}，种子的 SM3 为 {found}）/ "
            f"plan {plan}: the seed does not match the approved commitment "
            f"(committed {commitment}, the seed's SM3 is {found})"
        )


class TooFewInspectors(InputError):
    """Fewer eligible inspectors than the rules require for one drawn subject."""

    def __init__(self, subject: str, department: str, found: int, needed: int) -> None:
        self.subject = subject
        self.department = department
        super().__init__(
            f"检查对象 {subject}：{department} 符合条件（持有效执法证、具备资格、无需回避）"
            f"的执法人员只有 {found} 名，细则要求至少 {needed} 名 / "
            f"subject {subject}: {department} has {found} eligible inspectors "
            f"(valid certificate, qualified, not recused), "
            f"the rules need {needed}"
        )


class DrawRefused(InputError):
    """A draw that may not be made now (the plan is not approved, or a repeat gives no reason)."""

    def __init__(self, plan: str, zh: str, en: str) -> None:
        self.plan = plan
        super().__init__(f"计划 {plan} 不能抽取：{zh} / plan {plan} cannot be drawn: {en}")


class PlanNotFound(NotFound):
    """No random-inspection plan has that code, or none the caller may see."""

    def __init__(self, plan: str) -> None:
        self.plan = plan
        super().__init__(f"没有抽查计划 {plan} / no random-inspection plan {plan}")


class PlanForbidden(Forbidden):
    """The caller's department is not one of the plan's (and it is not the city office)."""

    def __init__(self, plan: str, party: str, act: str) -> None:
        self.plan = plan
        super().__init__(
            f"{party} 不是计划 {plan} 的参与部门，不能{act} / "
            f"{party} is not a department of plan {plan}: it may not {act}"
        )


class ApprovalForbidden(Forbidden):
    """A plan approved by someone other than its one department, or a joint plan by anyone but
    the city office."""

    def __init__(self, plan: str, party: str, joint: bool) -> None:
        self.plan = plan
        if joint:
            zh, en = "联合抽查计划由市级统筹部门批准", "a joint plan is approved by the city office"
        else:
            zh, en = "计划由其事项所属部门批准", "a plan is approved by the department of its items"
        super().__init__(
            f"{party} 不能批准计划 {plan}：{zh} / {party} may not approve plan {plan}: {en}"
        )
