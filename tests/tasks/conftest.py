"""A task store over a fresh gateway database on each backend, with the parties of the samples
registered and a clock the test moves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import chinese_calendar
import pytest_asyncio
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from audit.keys import Signer
from sources.database import create_engine
from standard.tables.gateway import Party
from standard.workdays import SHANGHAI, WorkCalendar
from tasks.store import TaskStore
from tests.tasks.samples import CITY, ISSUER, OUTSIDER, RECIPIENTS

LAST_NOTICE_YEAR = 2026  # as when these were written: a newer chinese_calendar must not matter
START = datetime(2026, 2, 12, 10, 0, tzinfo=SHANGHAI)  # a Thursday before the Spring Festival


def notices_until_2026(day: date) -> bool:
    if day.year > LAST_NOTICE_YEAR:
        raise NotImplementedError(f"no notice for {day.year} in these tests")
    return bool(chinese_calendar.is_workday(day))


CALENDAR = WorkCalendar(built_in=notices_until_2026)
SIGNER = Signer.new()


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


PARTIES = {
    ISSUER: "department",
    RECIPIENTS[0]: "department",
    RECIPIENTS[1]: "department",
    OUTSIDER.party: "department",
    CITY: "city_office",
    "P-12345": "partner",
}


async def add_parties(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        for code, kind in PARTIES.items():
            await conn.execute(
                insert(Party).values(code=code, name=code, kind=kind, created_at=START)
            )


@pytest_asyncio.fixture(loop_scope="session")
async def engine(gateway_url: str) -> AsyncIterator[AsyncEngine]:
    made = create_engine(gateway_url)
    await add_parties(made)
    yield made
    await made.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def clock() -> Clock:
    return Clock()


@pytest_asyncio.fixture(loop_scope="session")
async def store(engine: AsyncEngine, clock: Clock) -> TaskStore:
    return TaskStore(engine, signer=SIGNER, calendar=CALENDAR, clock=clock)
