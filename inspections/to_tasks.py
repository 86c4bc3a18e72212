"""From a draw to tasks (监管任务): each drawn subject becomes one task for its inspectors.

Pure: the caller stores the tasks (the task store) and issues them. A task goes to the
departments of the items the subject was drawn for (a joint plan: several, one visit), names the
drawn inspectors as assignees, the subject, the items' matters and legal bases, and a deadline
in working days. Its id is the plan's code, the draw's number and the subject's place in the
draw, so issuing the same draw twice gives the same ids (and the store refuses the second).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

from inspections.draw import Drawn
from inspections.rules import PlanSpec
from tasks.lifecycle import Task


def task_id(plan: PlanSpec, draw_number: int, position: int) -> str:
    return f"{plan.code}-{draw_number}-{position:06d}"


def tasks_from_draw(
    plan: PlanSpec,
    drawn: Iterable[Drawn],
    *,
    draw_number: int,
    issuer: str,
    issued_at: datetime,
    deadline_working_days: int,
) -> Iterator[Task]:
    """One task per drawn subject, in the draw's order (streamed: a large draw is not held)."""
    items = {item.item_code: item for item in plan.items}
    for position, one in enumerate(drawn, start=1):
        chosen = [items[code] for code in one.items]
        matters = tuple(dict.fromkeys(item.matter_code for item in chosen))
        yield Task(
            id=task_id(plan, draw_number, position),
            title=f"双随机抽查：{plan.name}（{'、'.join(item.name for item in chosen)}）",
            issuer=issuer,
            recipients=tuple(department for department, _ in one.inspectors),
            subjects=(one.id,),
            matters=matters,
            legal_basis="；".join(dict.fromkeys(item.legal_basis for item in chosen)),
            issued_at=issued_at,
            deadline_working_days=deadline_working_days,
            assignees=tuple(dict.fromkeys(c for _, team in one.inspectors for c in team)),
        )
