"""R1: an act may be recorded only against a matter that is in force in the catalogue."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from standard.exchange import CATALOGUE_STATUSES
from standard.tables.supervision import Matter


class Catalogue:
    """The validity windows of every matter code, read once per ingest run."""

    def __init__(self, rows: list[tuple[str, str, date, date | None]]) -> None:
        self.windows: dict[str, list[tuple[str, date, date | None]]] = defaultdict(list)
        for code, status, valid_from, valid_to in rows:
            self.windows[code].append((status, valid_from, valid_to))

    @classmethod
    async def load(cls, connection: AsyncConnection) -> Catalogue:
        """Read the live (not deleted) catalogue entries."""
        result = await connection.execute(
            select(Matter.matter_code, Matter.status, Matter.valid_from, Matter.valid_to).where(
                Matter.cd_operation != "d"
            )
        )
        return cls([tuple(row) for row in result])  # type: ignore[misc]

    def problem(self, matter_code: str, on: date) -> str | None:
        """Why ``matter_code`` cannot be acted on ``on``, or None when it can.

        A matter in use is active from ``valid_from`` to ``valid_to`` (open-ended when empty); a
        cancelled or stopped matter stays active only up to its ``valid_to``, so acts done before
        it was abolished can still be reported.
        """
        windows = self.windows.get(matter_code)
        if not windows:
            return f"matter {matter_code} is not in the matter catalogue (监管事项目录清单)"
        for status, start, end in windows:
            ended = end is not None and on > end
            if start <= on and not ended and (status == "in_use" or end is not None):
                return None
        status, start, end = max(windows, key=lambda w: w[1])
        if on < start:
            return f"matter {matter_code} is not in force until {start.isoformat()}"
        label = CATALOGUE_STATUSES.get(status, status)
        when = f" on {end.isoformat()}" if end is not None else ""
        return f"matter {matter_code} is not active on {on.isoformat()} (status {label}{when})"
