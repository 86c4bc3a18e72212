"""Chinese working days (State Council holiday notices) for the five-working-day delivery rule."""

from __future__ import annotations

import re
import tomllib
from bisect import bisect_left
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar

from standard.errors import Misconfigured

SHANGHAI = ZoneInfo("Asia/Shanghai")

_YEAR_KEY = re.compile(r"[1-9][0-9]{3}")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_FIELDS = frozenset({"notice", "holidays", "workdays"})


class HolidaysFileError(Misconfigured):
    """A holidays file that cannot be read or breaks the format; the message says where."""


@dataclass(frozen=True, slots=True)
class Delay:
    """Working days between two instants; ``provisional`` when a year had no holiday data."""

    working_days: int
    provisional: bool


@dataclass(frozen=True, slots=True)
class YearCalendar:
    """One year's State Council notice: weekdays off and weekend days worked (调休)."""

    year: int
    holidays: frozenset[date]
    workdays: frozenset[date]
    notice: str = ""


@dataclass(frozen=True, slots=True)
class _YearTable:
    """Cumulative working days of one year: ``cum[i]`` counts days 1..i of the year."""

    base: int  # ordinal of 31 December of the year before, so cum[d.toordinal() - base]
    cum: tuple[int, ...]
    provisional: bool


class WorkCalendar:
    """Counts Chinese working days; file overrides first, then chinese_calendar, else weekends."""

    def __init__(
        self,
        overrides: Mapping[int, YearCalendar] | None = None,
        *,
        built_in: Callable[[date], bool] = chinese_calendar.is_workday,
    ) -> None:
        self._overrides = dict(overrides or {})
        # The notices a year has without a file: chinese_calendar's, which grows a year each
        # autumn; tests pass a fixed set so that an upgrade cannot change their answers.
        self._built_in = built_in
        for year, calendar in self._overrides.items():
            if calendar.year != year:
                raise ValueError(f"override for {year} holds the calendar of {calendar.year}")
        # Filled lazily; a race between threads only builds the same table twice.
        self._tables: dict[int, _YearTable] = {}

    @classmethod
    def load(
        cls, path: Path | None, *, built_in: Callable[[date], bool] = chinese_calendar.is_workday
    ) -> WorkCalendar:
        """Build a calendar from a holidays file; ``None`` means built-in data only."""
        overrides = None if path is None else parse_holidays_file(path)
        return cls(overrides, built_in=built_in)

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` is a working day; in a year without data, whether it is a weekday."""
        table = self._table(day.year)
        i = day.toordinal() - table.base
        return table.cum[i] > table.cum[i - 1]

    def has_data(self, year: int) -> bool:
        """Whether ``year`` has a holiday notice, from a file or from chinese_calendar."""
        return not self._table(year).provisional

    def between(self, start: datetime, end: datetime) -> Delay:
        """Working days d with date(start) < d <= date(end), dates taken in Asia/Shanghai."""
        a, b = shanghai_date(start), shanghai_date(end)
        if b < a:
            delay = self._count(b, a)
            return Delay(-delay.working_days, delay.provisional)
        return self._count(a, b)

    def nth_working_day(self, day: date, n: int) -> tuple[date, bool]:
        """The ``n``-th working day after ``day`` (``n`` >= 1), and whether a day counted lies
        in a year without a holiday notice (weekends only taken off). Reads the yearly
        cumulative counts: a bisection per year, not a walk day by day."""
        if n < 1:
            raise ValueError(f"count at least one working day, not {n}")
        table = self._table(day.year)
        start = table.cum[day.toordinal() - table.base]
        target, year = start + n, day.year
        provisional = table.provisional and table.cum[-1] > start
        while table.cum[-1] < target:  # not within this year: on into the next
            target -= table.cum[-1]
            year += 1
            table = self._table(year)
            provisional = provisional or table.provisional
        return date.fromordinal(table.base + bisect_left(table.cum, target)), provisional

    def is_late(
        self, produced: datetime, received: datetime, *, limit: int = 5
    ) -> tuple[bool, Delay]:
        """Whether a record arrived more than ``limit`` working days after it was produced."""
        delay = self.between(produced, received)
        return delay.working_days > limit, delay

    def _count(self, a: date, b: date) -> Delay:
        # Difference of cumulative counts; only whole years strictly between a and b are
        # summed, so a span of days or weeks costs O(1).
        first = self._table(a.year)
        i = a.toordinal() - first.base
        if a.year == b.year:
            days = first.cum[b.toordinal() - first.base] - first.cum[i]
            return Delay(days, first.provisional and a < b)
        last_index = len(first.cum) - 1
        days = first.cum[last_index] - first.cum[i]
        # A year is provisional only if one of its days is counted: a on 31 December counts none.
        provisional = first.provisional and i < last_index
        for year in range(a.year + 1, b.year):
            middle = self._table(year)
            days += middle.cum[-1]
            provisional = provisional or middle.provisional
        last = self._table(b.year)
        days += last.cum[b.toordinal() - last.base]
        return Delay(days, provisional or last.provisional)

    def _table(self, year: int) -> _YearTable:
        table = self._tables.get(year)
        if table is None:
            table = self._tables[year] = self._build(year)
        return table

    def _build(self, year: int) -> _YearTable:
        first = date(year, 1, 1)
        days = [first + timedelta(n) for n in range((date(year, 12, 31) - first).days + 1)]
        override = self._overrides.get(year)
        if override is not None:
            flags = [
                d in override.workdays or (d.weekday() < 5 and d not in override.holidays)
                for d in days
            ]
            provisional = False
        else:
            try:
                flags = [bool(self._built_in(d)) for d in days]
                provisional = False
            except NotImplementedError:  # chinese_calendar's way of saying "no notice that year"
                flags = [d.weekday() < 5 for d in days]
                provisional = True
        cum = [0]
        for flag in flags:
            cum.append(cum[-1] + flag)
        return _YearTable(first.toordinal() - 1, tuple(cum), provisional)


def aware(instant: datetime) -> datetime:
    """``instant``, refused if naive: it would silently be read as the server's local time."""
    if instant.utcoffset() is None:
        raise ValueError(f"naive datetime {instant.isoformat()}: a time zone is required")
    return instant


def shanghai_date(instant: datetime) -> date:
    """The day an aware instant falls on in Beijing time (the days every rule counts)."""
    aware(instant)
    return instant.astimezone(SHANGHAI).date()


def parse_holidays_file(path: Path) -> dict[int, YearCalendar]:
    """Read and validate a TOML holidays file: one table per year of a State Council notice."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise HolidaysFileError(f"{path}: cannot read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise HolidaysFileError(f"{path}: not valid TOML: {exc}") from exc
    calendars = [_parse_year(path, key, value) for key, value in data.items()]
    return {calendar.year: calendar for calendar in calendars}


def _parse_year(path: Path, key: str, table: Any) -> YearCalendar:
    if not _YEAR_KEY.fullmatch(key):
        raise HolidaysFileError(f"{path}: [{key}]: table name must be a four-digit year")
    if not isinstance(table, dict):
        raise HolidaysFileError(f"{path}: [{key}]: must be a table, got {table!r}")
    year = int(key)
    where = f"{path}: [{year}]"
    unknown = sorted(set(table) - _FIELDS)
    if unknown:
        raise HolidaysFileError(f"{where}: unknown key {unknown[0]!r} (expected {sorted(_FIELDS)})")
    notice = table.get("notice", "")
    if not isinstance(notice, str):
        raise HolidaysFileError(f"{where} notice: must be a string, got {notice!r}")
    if "holidays" not in table:
        raise HolidaysFileError(f"{where}: missing 'holidays' (every notice lists some)")
    holidays = _parse_dates(where, "holidays", year, table["holidays"])
    workdays = _parse_dates(where, "workdays", year, table.get("workdays", []))
    for day in sorted(workdays):
        if day.weekday() < 5:
            raise HolidaysFileError(
                f"{where} workdays: {day.isoformat()} is a {day:%A}; only a Saturday or Sunday "
                "can be a make-up working day"
            )
    both = sorted(holidays & workdays)
    if both:
        raise HolidaysFileError(
            f"{where}: {both[0].isoformat()} is in both 'holidays' and 'workdays'"
        )
    return YearCalendar(year, holidays, workdays, notice)


def _parse_dates(where: str, field: str, year: int, entries: Any) -> frozenset[date]:
    if not isinstance(entries, list):
        raise HolidaysFileError(f"{where} {field}: must be a list, got {entries!r}")
    days: set[date] = set()
    for entry in entries:
        if isinstance(entry, date) and not isinstance(entry, datetime):
            first = last = entry  # an unquoted TOML date
        elif isinstance(entry, str):
            ends = entry.split("..")
            if len(ends) > 2:
                raise HolidaysFileError(f"{where} {field}: {entry!r} is not a date or a range a..b")
            first = _parse_date(where, field, entry, ends[0])
            last = _parse_date(where, field, entry, ends[-1])
        else:
            raise HolidaysFileError(f"{where} {field}: {entry!r} is not a date or a range a..b")
        if last < first:
            raise HolidaysFileError(f"{where} {field}: range {entry!r} ends before it starts")
        for day in (first, last):
            if day.year != year:
                raise HolidaysFileError(
                    f"{where} {field}: {day.isoformat()} (in {entry!r}) is outside {year}"
                )
        days.update(first + timedelta(n) for n in range((last - first).days + 1))
    return frozenset(days)


def _parse_date(where: str, field: str, entry: str, text: str) -> date:
    text = text.strip()
    # fromisoformat alone also takes forms such as 20270101; notices are written YYYY-MM-DD.
    try:
        day = date.fromisoformat(text) if _ISO_DATE.fullmatch(text) else None
    except ValueError:  # e.g. 2027-02-30
        day = None
    if day is None:
        raise HolidaysFileError(f"{where} {field}: {entry!r}: {text!r} is not a date (YYYY-MM-DD)")
    return day
