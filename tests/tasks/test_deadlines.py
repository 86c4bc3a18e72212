"""Deadlines in working days: due over the Spring Festival and National Day with make-up days,
overdue and due soon at given instants (never today's date)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import chinese_calendar
import pytest
from hypothesis import given
from hypothesis import strategies as st

from standard.workdays import SHANGHAI, WorkCalendar
from tasks.deadlines import due, due_of, is_due_soon, is_overdue, working_days_left
from tasks.lifecycle import State
from tests.tasks.samples import task

LAST_NOTICE_YEAR = 2026  # as when these were written: a newer chinese_calendar must not matter


def notices_until_2026(day: date) -> bool:
    if day.year > LAST_NOTICE_YEAR:
        raise NotImplementedError(f"no notice for {day.year} in these tests")
    return bool(chinese_calendar.is_workday(day))


CALENDAR = WorkCalendar(built_in=notices_until_2026)


def cst(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def end_of(day: str) -> datetime:
    """00:00 Shanghai of the day after ``day``: when a deadline on ``day`` has passed."""
    return cst(day) + timedelta(days=1)


# (issued, working days, last day), each counted by hand from the State Council notices.
CASES = [
    # Spring Festival 2026: 15–23 February off; Saturdays 14 and 28 February are worked.
    pytest.param("2026-02-12 10:00", 1, "2026-02-13", id="spring-thursday-to-friday"),
    pytest.param("2026-02-12 10:00", 2, "2026-02-14", id="spring-make-up-saturday-counts"),
    pytest.param("2026-02-12 10:00", 3, "2026-02-24", id="spring-over-the-holiday"),
    pytest.param("2026-02-12 10:00", 7, "2026-02-28", id="spring-second-make-up-saturday"),
    pytest.param("2026-02-15 09:00", 1, "2026-02-24", id="spring-issued-on-the-holiday"),
    # National Day 2025: 1–8 October off; Sunday 28 September and Saturday 11 October worked.
    pytest.param("2025-09-26 17:00", 1, "2025-09-28", id="national-make-up-sunday"),
    pytest.param("2025-09-26 17:00", 5, "2025-10-10", id="national-five-days"),
    pytest.param("2025-09-26 17:00", 6, "2025-10-11", id="national-make-up-saturday"),
    pytest.param("2025-09-30 10:00", 1, "2025-10-09", id="national-over-the-holiday"),
    # Ordinary weeks and the new year.
    pytest.param("2026-03-06 18:00", 1, "2026-03-09", id="friday-to-monday"),
    pytest.param("2026-03-02 10:00", 10, "2026-03-16", id="two-weeks"),
    pytest.param("2025-12-31 10:00", 2, "2026-01-05", id="across-new-year"),  # 4 Jan worked
]


@pytest.mark.parametrize(("issued", "days", "last"), CASES)
def test_due_counts_the_notices(issued: str, days: int, last: str) -> None:
    result = due(CALENDAR, issued_at=cst(issued), working_days=days)
    expected = date.fromisoformat(last)
    assert (result.day, result.at, result.provisional) == (expected, end_of(last), False)


def test_the_issue_date_is_taken_in_shanghai() -> None:
    # 16:30 UTC on Friday 13 February is Saturday 14 February, 00:30 in Shanghai (a make-up
    # working day, but the count starts after the day of issue): the first day is the 24th.
    issued = datetime(2026, 2, 13, 16, 30, tzinfo=UTC)
    assert due(CALENDAR, issued_at=issued, working_days=1).day == date(2026, 2, 24)
    issued = datetime(2026, 2, 13, 15, 30, tzinfo=UTC)  # still Friday 23:30 in Shanghai
    assert due(CALENDAR, issued_at=issued, working_days=1).day == date(2026, 2, 14)


def test_a_holidays_file_written_here_is_followed(tmp_path: Path) -> None:
    # An invented 2027 notice: 5–13 February off, Saturday 20 February worked.
    path = tmp_path / "holidays.toml"
    path.write_text(
        '[2027]\nnotice = "test"\nholidays = ["2027-01-01", "2027-02-05..2027-02-13"]\n'
        'workdays = ["2027-01-31", "2027-02-20"]\n',
        encoding="utf-8",
    )
    calendar = WorkCalendar.load(path, built_in=notices_until_2026)
    issued = cst("2027-02-04 10:00")
    assert due(calendar, issued_at=issued, working_days=1).day == date(2027, 2, 15)
    assert due(calendar, issued_at=issued, working_days=5).day == date(2027, 2, 19)
    six = due(calendar, issued_at=issued, working_days=6)
    assert (six.day, six.provisional) == (date(2027, 2, 20), False)
    # Without the file 2027 has no notice: weekends only, and the answer says so.
    guess = due(CALENDAR, issued_at=issued, working_days=1)
    assert (guess.day, guess.provisional) == (date(2027, 2, 5), True)


def test_naive_instants_and_empty_deadlines_are_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        due(CALENDAR, issued_at=datetime(2026, 2, 12, 10), working_days=1)
    with pytest.raises(ValueError, match="at least one"):
        due(CALENDAR, issued_at=cst("2026-02-12 10:00"), working_days=0)
    with pytest.raises(ValueError, match="time zone"):
        is_overdue(CALENDAR, task(), now=datetime(2026, 2, 12, 10))


# The sample task: issued Thursday 12 February 2026, 3 working days → due Tuesday 24 February.
@pytest.mark.parametrize(
    ("now", "left", "overdue", "soon_0", "soon_1", "soon_2"),
    [
        ("2026-02-12 10:00", 3, False, False, False, False),
        ("2026-02-13 09:00", 2, False, False, False, True),
        ("2026-02-14 09:00", 1, False, False, True, True),  # the make-up Saturday
        ("2026-02-20 09:00", 1, False, False, True, True),  # in the holiday
        ("2026-02-24 09:00", 0, False, True, True, True),  # the due day
        ("2026-02-24 23:59:59.999999", 0, False, True, True, True),
        ("2026-02-25 00:00", -1, True, False, False, False),  # overdue from midnight
        ("2026-03-02 09:00", -5, True, False, False, False),  # 25–27, Sat 28 (worked), 2 March
    ],
)
def test_overdue_and_due_soon_at_given_instants(
    now: str, left: int, overdue: bool, soon_0: bool, soon_1: bool, soon_2: bool
) -> None:
    t, instant = task(), cst(now)
    assert due_of(CALENDAR, t).at == end_of("2026-02-24")
    assert working_days_left(CALENDAR, t, now=instant) == left
    assert is_overdue(CALENDAR, t, now=instant) is overdue
    soon = [is_due_soon(CALENDAR, t, now=instant, within=m) for m in (0, 1, 2)]
    assert soon == [soon_0, soon_1, soon_2]


def test_a_done_task_is_never_overdue_nor_due_soon() -> None:
    done = task(state=State.DONE, version=5)
    later = cst("2026-06-01 09:00")
    assert not is_overdue(CALENDAR, done, now=later)
    assert not is_due_soon(CALENDAR, done, now=cst("2026-02-24 09:00"), within=3)
    # Every other state is overdue after the deadline: overdue is a flag, not a state.
    for state in State:
        if state is not State.DONE:
            assert is_overdue(CALENDAR, task(state=state), now=later)


def test_overdue_across_national_day() -> None:
    t = task(issued_at=cst("2025-09-30 10:00"), deadline_working_days=1)
    assert not is_overdue(CALENDAR, t, now=cst("2025-10-08 23:00"))  # the holiday's last day
    assert not is_overdue(CALENDAR, t, now=cst("2025-10-09 23:59"))
    assert is_overdue(CALENDAR, t, now=cst("2025-10-10 00:00"))
    # The same instant written in UTC.
    assert is_overdue(CALENDAR, t, now=datetime(2025, 10, 9, 16, 0, tzinfo=UTC))
    assert not is_overdue(CALENDAR, t, now=datetime(2025, 10, 9, 15, 59, tzinfo=UTC))


def working_by_hand(day: date) -> bool:
    return bool(chinese_calendar.is_workday(day))  # the notices themselves, not WorkCalendar


@given(
    issued=st.datetimes(datetime(2024, 1, 1), datetime(2026, 10, 31), timezones=st.just(UTC)),
    days=st.integers(1, 40),
    offset=st.timedeltas(min_value=timedelta(days=-10), max_value=timedelta(days=10)),
)
def test_due_is_the_nth_working_day_after_issue(
    issued: datetime, days: int, offset: timedelta
) -> None:
    result = due(CALENDAR, issued_at=issued, working_days=days)
    start = issued.astimezone(SHANGHAI).date()
    span = [start + timedelta(n) for n in range(1, (result.day - start).days + 1)]
    assert working_by_hand(result.day)
    assert sum(working_by_hand(d) for d in span) == days
    assert result.at == datetime.combine(result.day + timedelta(1), datetime.min.time(), SHANGHAI)
    t = task(issued_at=issued, deadline_working_days=days)
    now = result.at + offset
    assert is_overdue(CALENDAR, t, now=now) is (now >= result.at)
    left = working_days_left(CALENDAR, t, now=now)
    # On a day off right after the due day it is 0 and already overdue: ask is_overdue.
    assert left <= 0 if now >= result.at else left >= 0
    assert not (is_due_soon(CALENDAR, t, now=now, within=40) and now >= result.at)
