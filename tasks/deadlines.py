"""A task's deadline in Chinese working days: when it is due, overdue, and due soon.

A task issued with a deadline of N working days is due by the **end of the Nth working day
after the day it was issued**, dates taken in Asia/Shanghai, working days as
``standard.workdays.WorkCalendar`` counts them (holidays, and weekend days made working days by
the State Council notice). The due instant is therefore 00:00 Shanghai time of the day after that
working day; from that instant on a task that is not done is overdue (a Friday deadline is
overdue on the Saturday). ``now`` is always passed in: nothing here reads the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from standard.workdays import SHANGHAI, WorkCalendar, aware, shanghai_date
from tasks.lifecycle import Task


@dataclass(frozen=True, slots=True)
class Due:
    """When a task is due: its last working day and the instant that day ends.

    ``provisional`` when a day counted lies in a year without a holiday notice (weekends only
    were taken off); recompute once that year's notice is loaded.
    """

    day: date
    at: datetime
    provisional: bool


def due(calendar: WorkCalendar, *, issued_at: datetime, working_days: int) -> Due:
    """The deadline of a task issued at ``issued_at`` with ``working_days`` to do it."""
    if working_days < 1:
        raise ValueError(f"a deadline is at least one working day, not {working_days}")
    day, provisional = calendar.nth_working_day(shanghai_date(issued_at), working_days)
    return Due(day, datetime.combine(day + timedelta(days=1), time(), tzinfo=SHANGHAI), provisional)


def due_of(calendar: WorkCalendar, task: Task) -> Due:
    """The deadline of ``task``, counted from its ``issued_at``."""
    return due(calendar, issued_at=task.issued_at, working_days=task.deadline_working_days)


def is_overdue(calendar: WorkCalendar, task: Task, *, now: datetime) -> bool:
    """Whether ``task`` is not done and its due instant has passed at ``now``."""
    aware(now)
    return not task.done and now >= due_of(calendar, task).at


def working_days_left(calendar: WorkCalendar, task: Task, *, now: datetime) -> int:
    """Working days after today (Shanghai) up to and including the due day; 0 on the due day.

    After the due day, minus the working days since it; that is still 0 on a day off right after
    the due day, when the task is already overdue: ``is_overdue`` answers that.
    """
    aware(now)
    last = due_of(calendar, task).day
    end = datetime.combine(last, time(12), tzinfo=SHANGHAI)
    return calendar.between(now, end).working_days


def is_due_soon(calendar: WorkCalendar, task: Task, *, now: datetime, within: int) -> bool:
    """Whether a reminder is due: not done, not overdue, and at most ``within`` working days
    left (``within=0``: only on the due day itself)."""
    if within < 0:
        raise ValueError(f"within is a number of working days, not {within}")
    if task.done or is_overdue(calendar, task, now=now):
        return False
    return working_days_left(calendar, task, now=now) <= within
