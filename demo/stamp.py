"""The exchange columns of a demo record: keys, batch, production and arrival, lateness, digest.

All dates lie in a fixed window so that the data never depends on when it is generated.
Arrival is drawn as a number of working days after production, so that about 95% of records
arrive within the five working days of R4; the stored delay is then computed by the same
``WorkCalendar.is_late`` that ingest uses, so the two always agree.
"""

from __future__ import annotations

import bisect
import hashlib
import random
from datetime import date, datetime, time, timedelta
from typing import Any, Final

from sqlalchemy import Table

from ingest.digest import content_hash, hashed_columns
from standard.exchange import ExchangeRecord
from standard.workdays import SHANGHAI, WorkCalendar

WINDOW_START: Final = date(2025, 1, 1)
WINDOW_END: Final = date(2026, 10, 31)
PROVINCE: Final = "610000"
LATE_AFTER: Final = 5

# Working days from production to arrival: (days, weight); 6 and more (5% in all) are late.
_DELAYS: Final = (
    (0, 30),
    (1, 25),
    (2, 15),
    (3, 10),
    (4, 8),
    (5, 7),
    (6, 1.5),
    (7, 1.0),
    (8, 0.8),
    (10, 0.6),
    (15, 0.6),
    (22, 0.5),
)
_DELAY_DAYS: Final = tuple(d for d, _ in _DELAYS)
_DELAY_CUM: Final = tuple(
    sum(w for _, w in _DELAYS[: i + 1]) / sum(w for _, w in _DELAYS) for i in range(len(_DELAYS))
)

Row = dict[str, Any]


def derive(seed: int, *parts: object) -> int:
    """A 64-bit seed for one part of the data, independent of every other part."""
    text = ":".join(str(p) for p in (seed, *parts)).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


def shanghai(day: date, hour: int, minute: int, second: int = 0) -> datetime:
    """An instant on ``day`` in Beijing time."""
    return datetime.combine(day, time(hour, minute, second), SHANGHAI)


class Timeline:
    """Working days of the window and a little beyond, for drawing dates and arrival times."""

    def __init__(self, calendar: WorkCalendar) -> None:
        self.calendar = calendar
        last = WINDOW_END + timedelta(days=400)
        days = [WINDOW_START + timedelta(n) for n in range((last - WINDOW_START).days + 1)]
        self._workdays = [d for d in days if calendar.is_working_day(d)]
        self._ordinals = [d.toordinal() for d in self._workdays]
        self._in_window = [d for d in self._workdays if d <= WINDOW_END]
        self._span = (WINDOW_END - WINDOW_START).days

    def workday(self, rng: random.Random, start: date = WINDOW_START) -> date:
        """A working day of the window on or after ``start``."""
        if start <= WINDOW_START:
            return rng.choice(self._in_window)
        first = bisect.bisect_left(self._ordinals, start.toordinal())
        last = len(self._in_window) - 1
        return self._in_window[min(rng.randint(first, max(first, last)), last)]

    def day(self, rng: random.Random) -> date:
        """Any day of the window."""
        return WINDOW_START + timedelta(rng.randint(0, self._span))

    def add_workdays(self, day: date, count: int) -> date:
        """The ``count``-th working day after ``day`` (``day`` itself for 0)."""
        if count == 0:
            return day
        index = bisect.bisect_right(self._ordinals, day.toordinal())
        return self._workdays[index + count - 1]

    def office_time(self, day: date, rng: random.Random) -> datetime:
        """An instant in office hours (08:30-17:30) of ``day``."""
        minute = rng.randint(8 * 60 + 30, 17 * 60 + 30)
        return shanghai(day, minute // 60, minute % 60, rng.randint(0, 59))

    def any_time(self, day: date, rng: random.Random) -> datetime:
        """An instant between 07:00 and 22:59 of ``day`` (hotlines and apps)."""
        minute = rng.randint(7 * 60, 22 * 60 + 59)
        return shanghai(day, minute // 60, minute % 60, rng.randint(0, 59))

    def receive(self, produced: datetime, rng: random.Random) -> datetime:
        """When the data centre receives a record produced at ``produced``."""
        days = _DELAY_DAYS[bisect.bisect_left(_DELAY_CUM, rng.random())]
        local = produced.astimezone(SHANGHAI)
        if days == 0:
            left = (23 * 60 + 30) - (local.hour * 60 + local.minute)
            return local + timedelta(minutes=rng.randint(min(5, left), max(5, left)))
        # Exchange jobs run around the clock; online entry happens in office hours.
        minute = rng.randint(30, 23 * 60 + 30)
        day = self.add_workdays(local.date(), days)
        return shanghai(day, minute // 60, minute % 60, rng.randint(0, 59))


class Stamper:
    """Fills in the exchange columns of one table's rows and their content digest."""

    def __init__(
        self, model: type[ExchangeRecord], *, prefix: str, batch: int, timeline: Timeline
    ) -> None:
        core: Table = model.__table__  # type: ignore[attr-defined]
        self.prefix = prefix
        self.hashed = hashed_columns(core)
        self.batch = batch
        self.timeline = timeline

    def __call__(
        self,
        row: Row,
        *,
        n: int,
        provider: str,
        system: str,
        produced: datetime,
        rng: random.Random,
        received: datetime | None = None,
    ) -> Row:
        """Complete ``row``, the ``n``-th of its table, as ``provider`` would have sent it."""
        if received is None:
            received = self.timeline.receive(produced, rng)
        late, delay = self.timeline.calendar.is_late(produced, received, limit=LATE_AFTER)
        row["provider"] = provider
        row["source_system"] = system
        row["cd_id"] = f"{self.prefix}-{n:08d}"
        row["cd_source"] = f"{PROVINCE}|{provider}"
        row["cd_batch"] = f"{received:%Y%m%d}{self.batch:05d}"
        row["cd_operation"] = "i"
        row["cd_time"] = received
        row["produced_at"] = produced
        row["received_at"] = received
        row["delay_working_days"] = delay.working_days
        row["delay_provisional"] = delay.provisional
        row["late"] = late
        # Instants stay in Beijing time: ingest hashes what providers send, +08:00 offsets.
        row["content_hash"] = content_hash(row, self.hashed)
        return row


def cd_number(cd_id: str) -> int:
    """The row position encoded in a demo ``cd_id``."""
    return int(cd_id.rsplit("-", 1)[1])
