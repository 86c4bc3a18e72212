"""Chinese working days: real notice counts, holidays files, and counting properties."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import chinese_calendar
import pytest
from hypothesis import given
from hypothesis import strategies as st

from standard.workdays import (
    SHANGHAI,
    Delay,
    HolidaysFileError,
    WorkCalendar,
    YearCalendar,
    parse_holidays_file,
)

EXAMPLE_FILE = Path(__file__).parents[2] / "docs" / "examples" / "holidays.toml"

# An invented 2027 notice: Jan 1 and Feb 5–13 off; Sun Jan 31 and Sat Feb 20 worked.
FILE_2027 = """
[2027]
notice = "test notice"
holidays = ["2027-01-01", "2027-02-05..2027-02-13"]
workdays = ["2027-01-31", "2027-02-20"]
"""
YEAR_2027 = YearCalendar(
    2027,
    holidays=frozenset({date(2027, 1, 1)} | {date(2027, 2, 5) + timedelta(n) for n in range(9)}),
    workdays=frozenset({date(2027, 1, 31), date(2027, 2, 20)}),
)
# The notices these tests know: chinese_calendar's up to 2026, as when they were written. A newer
# release that knows 2027 or 2028 (one comes each autumn) must not change their answers.
LAST_NOTICE_YEAR = 2026


def notices_until_2026(day: date) -> bool:
    if day.year > LAST_NOTICE_YEAR:
        raise NotImplementedError(f"no notice for {day.year} in these tests")
    return bool(chinese_calendar.is_workday(day))


BUILT_IN = WorkCalendar(built_in=notices_until_2026)
WITH_2027 = WorkCalendar({2027: YEAR_2027}, built_in=notices_until_2026)


def cst(text: str) -> datetime:
    """An instant written as Shanghai wall time, e.g. "2026-10-01 09:00"."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "holidays.toml"
    path.write_text(text, encoding="utf-8")
    return path


def oracle(day: date) -> bool:
    """Independent answer: chinese_calendar, the 2027 test notice, else weekdays."""
    if day.year == 2027:
        return day in YEAR_2027.workdays or (day.weekday() < 5 and day not in YEAR_2027.holidays)
    try:
        return notices_until_2026(day)
    except NotImplementedError:
        return day.weekday() < 5


def count_by_hand(start: date, end: date) -> int:
    return sum(oracle(start + timedelta(n)) for n in range(1, (end - start).days + 1))


# (start, end, working days) from the 2025 and 2026 notices, counted day by day.
NOTICE_SPANS = [
    # National Day 2025: Oct 1–8 off; Sun Sep 28 and Sat Oct 11 worked.
    pytest.param("2025-09-30 10:00", "2025-10-09 10:00", 1, id="2025-national-day-through"),
    pytest.param("2025-09-26 17:00", "2025-10-10 09:00", 5, id="2025-sep28-counts"),
    pytest.param("2025-09-26 17:00", "2025-10-11 09:00", 6, id="2025-oct11-counts"),
    pytest.param("2025-10-01 00:00", "2025-10-08 23:59", 0, id="2025-inside-holiday"),
    # National Day 2026: Oct 1–7 off; Sun Sep 20 and Sat Oct 10 worked; Fri Sep 25 中秋 off.
    pytest.param("2026-09-30 10:00", "2026-10-08 10:00", 1, id="2026-national-day-through"),
    pytest.param("2026-09-18 10:00", "2026-09-30 10:00", 8, id="2026-sep20-and-mid-autumn"),
    pytest.param("2026-09-30 10:00", "2026-10-12 10:00", 4, id="2026-oct10-counts"),
    # Spring Festival 2026: Feb 15–23 off; Sat Feb 14 and Sat Feb 28 worked.
    pytest.param("2026-02-13 10:00", "2026-02-24 10:00", 2, id="2026-spring-festival"),
    pytest.param("2026-02-12 10:00", "2026-03-02 10:00", 8, id="2026-spring-both-make-ups"),
    # New Year 2026 across the year boundary: Jan 1–3 off; Sun Jan 4 worked.
    pytest.param("2025-12-31 10:00", "2026-01-05 10:00", 2, id="across-new-year"),
    # Ordinary weeks.
    pytest.param("2026-03-03 09:00", "2026-03-03 23:00", 0, id="same-day"),
    pytest.param("2026-03-06 18:00", "2026-03-08 18:00", 0, id="weekend-only"),
    pytest.param("2026-03-06 18:00", "2026-03-09 08:00", 1, id="over-a-weekend"),
    pytest.param("2026-03-02 10:00", "2026-03-16 10:00", 10, id="two-weeks"),
]


@pytest.mark.parametrize(("start", "end", "expected"), NOTICE_SPANS)
def test_counts_follow_the_notices(start: str, end: str, expected: int) -> None:
    assert count_by_hand(date.fromisoformat(start[:10]), date.fromisoformat(end[:10])) == expected
    assert BUILT_IN.between(cst(start), cst(end)) == Delay(expected, provisional=False)
    assert BUILT_IN.between(cst(end), cst(start)) == Delay(-expected, provisional=False)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        # 2026-03-02T15:30Z is Mon 23:30 in Shanghai, 16:30Z is Tue 00:30: one day passed.
        pytest.param("2026-03-02T15:30", "2026-03-02T16:30", 1, id="utc-same-date-cst-next-day"),
        # 2026-09-30T16:30Z is already Oct 1 (a holiday) in Shanghai.
        pytest.param("2026-09-30T15:30", "2026-09-30T16:30", 0, id="into-national-day"),
        pytest.param("2026-09-29T16:30", "2026-10-07T16:30", 1, id="oct8-0030-cst"),
        pytest.param("2026-09-29T15:59", "2026-10-07T15:59", 1, id="only-sep30-counts"),
    ],
)
def test_dates_are_taken_in_shanghai(start: str, end: str, expected: int) -> None:
    assert BUILT_IN.between(utc(start), utc(end)).working_days == expected


def test_other_offsets_are_converted() -> None:
    new_york = timezone(timedelta(hours=-5))
    # Mon 2026-03-02 12:00 in New York is Tue 01:00 in Shanghai.
    start = datetime(2026, 3, 2, 12, tzinfo=new_york)
    assert BUILT_IN.between(cst("2026-03-02 10:00"), start).working_days == 1


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        BUILT_IN.between(datetime(2026, 3, 2), cst("2026-03-03 10:00"))
    with pytest.raises(ValueError, match="naive"):
        BUILT_IN.is_late(cst("2026-03-02 10:00"), datetime(2026, 3, 3))


@pytest.mark.parametrize(
    ("received", "late", "days"),
    [
        pytest.param("2025-10-10 23:59", False, 5, id="exactly-5"),
        pytest.param("2025-10-11 00:00", True, 6, id="6-on-make-up-saturday"),
        pytest.param("2025-09-26 08:00", False, 0, id="same-day"),
    ],
)
def test_late_after_more_than_five_working_days(received: str, late: bool, days: int) -> None:
    # A naive weekday count would call both of the first two late: Sep 29 – Oct 10 has 10 weekdays.
    assert BUILT_IN.is_late(cst("2025-09-26 17:00"), cst(received)) == (
        late,
        Delay(days, provisional=False),
    )


def test_limit_is_configurable() -> None:
    late, delay = BUILT_IN.is_late(cst("2026-03-02 10:00"), cst("2026-03-05 10:00"), limit=2)
    assert (late, delay.working_days) == (True, 3)


def test_a_year_without_data_counts_weekends_and_is_provisional() -> None:
    assert not BUILT_IN.has_data(2028)
    assert not BUILT_IN.has_data(2027)
    # 2028-01-31 is a Monday: Tue–Fri, then Mon 7 Feb.
    assert BUILT_IN.between(cst("2028-01-31 10:00"), cst("2028-02-07 10:00")) == Delay(5, True)
    # Thu 2026-12-31 to Mon 2027-01-04: Fri Jan 1 counts as a weekday without a notice.
    assert BUILT_IN.between(cst("2026-12-31 10:00"), cst("2027-01-04 10:00")) == Delay(2, True)
    assert BUILT_IN.is_late(cst("2028-01-31 10:00"), cst("2028-02-08 10:00")) == (
        True,
        Delay(6, True),
    )


def test_provisional_only_when_a_counted_day_lacks_data() -> None:
    assert BUILT_IN.between(cst("2028-03-01 10:00"), cst("2028-03-01 20:00")) == Delay(0, False)
    # 2026-12-31 itself is not counted; Jan 1–3 2027 are.
    assert BUILT_IN.between(cst("2026-12-30 10:00"), cst("2026-12-31 10:00")) == Delay(1, False)
    assert BUILT_IN.between(cst("2026-12-31 10:00"), cst("2027-01-01 10:00")).provisional
    assert BUILT_IN.between(cst("2025-06-02 10:00"), cst("2029-06-02 10:00")).provisional


def test_a_file_for_2027_makes_it_exact(tmp_path: Path) -> None:
    calendar = WorkCalendar.load(write(tmp_path, FILE_2027), built_in=notices_until_2026)
    assert calendar.has_data(2027)
    assert not calendar.has_data(2028)
    # Thu Feb 4 to Mon Feb 22: Feb 5–14 off, Feb 15–19, Sat Feb 20 and Mon Feb 22 worked.
    assert calendar.between(cst("2027-02-04 10:00"), cst("2027-02-22 10:00")) == Delay(7, False)
    assert BUILT_IN.between(cst("2027-02-04 10:00"), cst("2027-02-22 10:00")) == Delay(12, True)
    # Across the year: Jan 1 2027 is off by the file.
    assert calendar.between(cst("2026-12-31 10:00"), cst("2027-01-04 10:00")) == Delay(1, False)
    assert calendar.is_working_day(date(2027, 1, 31))
    assert not calendar.is_working_day(date(2027, 2, 8))
    # Years outside the file still come from chinese_calendar.
    assert calendar.between(cst("2025-09-26 17:00"), cst("2025-10-11 09:00")) == Delay(6, False)


def test_a_file_year_overrides_chinese_calendar(tmp_path: Path) -> None:
    # A corrected 2026 notice without the Sep 20 make-up day and with Sep 25 worked.
    corrected = """
[2026]
holidays = ["2026-10-01..2026-10-07"]
workdays = ["2026-10-10"]
"""
    calendar = WorkCalendar.load(write(tmp_path, corrected), built_in=notices_until_2026)
    assert not calendar.is_working_day(date(2026, 9, 20))
    assert calendar.is_working_day(date(2026, 9, 25))
    # The file replaces the whole year: its 2026 lists no Spring Festival, so Feb 17 is worked.
    assert calendar.is_working_day(date(2026, 2, 17))
    assert BUILT_IN.is_working_day(date(2026, 9, 20))


def test_load_none_uses_built_in_data() -> None:
    calendar = WorkCalendar.load(None)
    assert calendar.has_data(2004)
    assert calendar.has_data(2026)
    assert not calendar.has_data(2003)


def test_override_key_must_match_its_year() -> None:
    with pytest.raises(ValueError, match="2028"):
        WorkCalendar({2028: YEAR_2027})


def test_the_example_file_parses_and_is_marked_as_an_example() -> None:
    years = parse_holidays_file(EXAMPLE_FILE)
    assert set(years) == {2027}
    assert "EXAMPLE" in years[2027].notice
    assert "EXAMPLE" in EXAMPLE_FILE.read_text(encoding="utf-8").splitlines()[0]
    assert all(day.weekday() >= 5 for day in years[2027].workdays)


def test_parse_reads_ranges_single_dates_and_notice(tmp_path: Path) -> None:
    years = parse_holidays_file(write(tmp_path, FILE_2027))
    assert years == {
        2027: YearCalendar(2027, YEAR_2027.holidays, YEAR_2027.workdays, "test notice")
    }


def test_parse_accepts_unquoted_toml_dates_and_no_workdays(tmp_path: Path) -> None:
    years = parse_holidays_file(write(tmp_path, "[2027]\nholidays = [2027-01-01]\n"))
    assert years[2027] == YearCalendar(2027, frozenset({date(2027, 1, 1)}), frozenset())


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param(
            '[2027]\nholidays = ["2027-02-30"]', "'2027-02-30' is not a date", id="bad-date"
        ),
        pytest.param(
            '[2027]\nholidays = ["27-02-03"]', "'27-02-03' is not a date", id="short-year"
        ),
        pytest.param('[2027]\nholidays = ["20270203"]', "'20270203' is not a date", id="basic-iso"),
        pytest.param(
            '[2027]\nholidays = ["2026-12-31"]', "2026-12-31.*outside 2027", id="other-year"
        ),
        pytest.param(
            '[2027]\nholidays = ["2027-12-30..2028-01-02"]',
            "2028-01-02.*outside 2027",
            id="range-out",
        ),
        pytest.param(
            '[2027]\nholidays = ["2027-02-12..2027-02-06"]', "ends before it starts", id="reversed"
        ),
        pytest.param(
            '[2027]\nholidays = ["2027-02-06..2027-02-08..2027-02-09"]',
            "not a date or a range",
            id="a..b..c",
        ),
        pytest.param(
            '[2027]\nholidays = []\nworkdays = ["2027-02-22"]',
            "2027-02-22 is a Monday",
            id="workday-weekday",
        ),
        pytest.param(
            '[2027]\nholidays = ["2027-02-06..2027-02-12"]\nworkdays = ["2027-02-06"]',
            "2027-02-06 is in both",
            id="in-both-lists",
        ),
        pytest.param("[2027\nholidays = [", "not valid TOML", id="not-toml"),
        pytest.param('[27]\nholidays = ["2027-01-01"]', r"\[27\].*four-digit year", id="year-key"),
        pytest.param("year = 2027", "year.*four-digit year", id="top-level-key"),
        pytest.param('[2027]\nholiday = ["2027-01-01"]', "unknown key 'holiday'", id="typo"),
        pytest.param("[2027]\nworkdays = []", "missing 'holidays'", id="no-holidays"),
        pytest.param('[2027]\nholidays = "2027-01-01"', "must be a list", id="not-a-list"),
        pytest.param("[2027]\nholidays = [20270101]", "20270101 is not a date", id="integer"),
        pytest.param("[2027]\nholidays = []\nnotice = 1", "notice: must be a string", id="notice"),
    ],
)
def test_bad_files_are_refused_with_file_year_and_value(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(HolidaysFileError, match=problem) as caught:
        parse_holidays_file(path)
    assert str(path) in str(caught.value)
    if "TOML" not in problem and "year" not in problem:
        assert "[2027]" in str(caught.value)


def test_missing_file_is_a_holidays_file_error(tmp_path: Path) -> None:
    with pytest.raises(HolidaysFileError, match="cannot read"):
        WorkCalendar.load(tmp_path / "absent.toml")


def test_built_in_days_match_chinese_calendar_and_2027_matches_the_file() -> None:
    day = date(2024, 1, 1)
    while day < date(2030, 1, 1):
        assert WITH_2027.is_working_day(day) == oracle(day), day
        day += timedelta(1)


# Instants from 2024 to 2029: built-in years, a file year (2027) and years without data.
ZONES = st.sampled_from(
    [UTC, SHANGHAI, timezone(timedelta(hours=-10)), timezone(timedelta(hours=14))]
)
INSTANTS = st.datetimes(
    min_value=datetime(2024, 1, 2), max_value=datetime(2029, 12, 30), timezones=ZONES
)


@given(INSTANTS, INSTANTS, INSTANTS)
def test_spans_add_up(a: datetime, b: datetime, c: datetime) -> None:
    ab, bc, ac = WITH_2027.between(a, b), WITH_2027.between(b, c), WITH_2027.between(a, c)
    assert ab.working_days + bc.working_days == ac.working_days
    if a <= b <= c:
        assert ac.provisional == (ab.provisional or bc.provisional)


@given(INSTANTS, INSTANTS)
def test_reversing_a_span_negates_it(a: datetime, b: datetime) -> None:
    forward, backward = WITH_2027.between(a, b), WITH_2027.between(b, a)
    assert forward == Delay(-backward.working_days, backward.provisional)


@given(INSTANTS, INSTANTS)
def test_count_is_bounded_and_matches_a_day_by_day_count(a: datetime, b: datetime) -> None:
    if b < a:
        a, b = b, a
    first, last = a.astimezone(SHANGHAI).date(), b.astimezone(SHANGHAI).date()
    days = [first + timedelta(n) for n in range(1, (last - first).days + 1)]
    delay = WITH_2027.between(a, b)
    assert 0 <= delay.working_days <= len(days)
    assert delay.working_days == sum(WITH_2027.is_working_day(d) for d in days)
    assert delay.working_days == sum(oracle(d) for d in days)
    assert delay.provisional == any(d.year in (2028, 2029) for d in days)


@given(
    start=st.dates(date(2024, 1, 1), date(2027, 12, 31)),
    n=st.integers(1, 400),
)
def test_the_nth_working_day_after_a_day_is_found_by_counting_the_days_one_by_one(
    start: date, n: int
) -> None:
    day, counted, provisional = start, 0, False
    while counted < n:  # the reference: the notices' days walked in order, weekdays after them
        day += timedelta(days=1)
        noticed = day.year <= LAST_NOTICE_YEAR
        if notices_until_2026(day) if noticed else day.weekday() < 5:
            counted += 1
            provisional = provisional or not noticed
    assert BUILT_IN.nth_working_day(start, n) == (day, provisional)


def test_the_nth_working_day_counts_at_least_one() -> None:
    with pytest.raises(ValueError, match="at least one"):
        BUILT_IN.nth_working_day(date(2026, 1, 5), 0)
