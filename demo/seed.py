"""Seed the four empty source databases with the demo data of one scale (``jianguan demo seed``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from sqlalchemy import select

from demo.generate import TABLES
from demo.world import World
from demo.write import write_rows
from sources.database import SourceDatabases
from standard.errors import JianguanError
from standard.registry import SOURCES
from standard.tables.supervision import Subject

Progress = Callable[[str, int, int], None]
"""Called as ``progress(table, done, total)``; ``total`` is an estimate until done == total."""


@dataclass(frozen=True, slots=True)
class Scale:
    """How much demo data to make: the number of subjects drives every other table."""

    name: str
    subjects: int
    note: str


SCALES: Final = {
    "small": Scale("small", 2_000, "about 19,000 records; seconds"),
    "medium": Scale("medium", 50_000, "about 450,000 records; about a minute"),
    "large": Scale("large", 1_000_000, "about 9,000,000 records; a quarter of an hour"),
}


class NotEmpty(JianguanError):
    """The databases already hold records; demo data is never mixed with other data."""


async def is_seeded(databases: SourceDatabases) -> bool:
    """Whether the supervision source already holds subjects."""
    async with databases.engine("supervision").connect() as connection:
        found = await connection.scalar(select(Subject.id).limit(1))
    return found is not None


async def _holds_data(databases: SourceDatabases) -> bool:
    for name, source in SOURCES.items():
        async with databases.engine(name).connect() as connection:
            for model in source.tables.values():
                if await connection.scalar(select(model.id).limit(1)) is not None:
                    return True
    return False


async def seed(
    databases: SourceDatabases,
    *,
    scale: str,
    seed: int = 42,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Write every table of the four sources; return the rows written per table.

    The same scale and seed always give the same rows, ids included.
    """
    try:
        size = SCALES[scale]
    except KeyError:
        raise ValueError(f"unknown scale {scale!r}; scales are {', '.join(SCALES)}") from None
    if await _holds_data(databases):
        raise NotEmpty("databases already hold data; seed needs empty databases")
    world = World(seed, size.subjects)
    counts: dict[str, int] = {}
    for batch, table in enumerate(TABLES, start=1):
        total = table.size(world)
        name = table.name

        def report(done: int, name: str = name, total: int = total) -> None:
            if progress is not None:
                progress(name, done, max(done, total))

        written = await write_rows(
            databases.engine(table.source),
            table.model,
            table.rows(world, batch),
            progress=report,
        )
        if progress is not None:
            progress(name, written, written)
        counts[name] = written
    return counts
