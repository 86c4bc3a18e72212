"""The time the CLI's commands act at: the real clock, unless whoever invokes them sets another.

Commands that compare stored times with "now" (audit retention, for one) take it from here, so a
test can run them at a moment of its choosing: ``CliRunner().invoke(app, args, obj=Clock(...))``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import typer


def _system_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Clock:
    """A source of aware datetimes; the system's by default."""

    now: Callable[[], datetime] = field(default=_system_now)


def clock_of(ctx: typer.Context) -> Clock:
    """The clock the invoker put in the context object, else the system's."""
    obj = ctx.find_object(Clock)
    return obj if obj is not None else Clock()
