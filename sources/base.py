"""The one interface every source connector offers, whatever its transport.

Reads only: batch look-ups by key (what the batch loaders call) and keyset-paged listing. Rows come
back as plain dicts of Python values (``date``, ``datetime``, ``Decimal`` …), the same from
SQL and from HTTP, and never include records marked deleted (``cd_operation = 'd'``).

SourceError (a standard.errors.JianguanError; the whole tree is drawn there)
 ├── SourceUnavailable     the source did not answer in time, refused, or answered garbage
 │    └── SourceRefused    it refused a request the gateway found sound (HTTP 400): not retried,
 │                         not counted by the breaker (other requests may still be answered)
 └── BadSourceRequest      the gateway asked for a table, column or operator that does not exist
"""

from __future__ import annotations

from collections.abc import Container, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from standard.errors import JianguanError

Row = dict[str, Any]
Op = Literal["eq", "in", "gte", "lte", "prefix"]
OPS: tuple[Op, ...] = ("eq", "in", "gte", "lte", "prefix")


class SourceError(JianguanError):
    """Base of connector errors."""


class SourceUnavailable(SourceError):
    """A source did not answer in time, refused, or answered garbage."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"source {source!r} is unavailable: {reason}")
        self.source = source
        self.reason = reason


class SourceRefused(SourceUnavailable):
    """The source refused a request the gateway checked and found sound: the two disagree."""


class BadSourceRequest(SourceError):
    """A request names a table, column or operator the source does not have."""


@dataclass(frozen=True, slots=True)
class Filter:
    """``column op value``; ``in`` takes a sequence, ``prefix`` a string."""

    column: str
    op: Op
    value: Any


@dataclass(frozen=True, slots=True)
class AnyOf:
    """Rows meeting at least one alternative, each all of its filters: how a caller's scope
    (own records, granted providers, a grant's district …) reaches a source. No alternatives:
    no rows."""

    alternatives: tuple[tuple[Filter, ...], ...]


Condition = Filter | AnyOf


def flat(where: Sequence[Condition]) -> list[Filter]:
    """Every filter in ``where``, alternatives included (for checking names)."""
    found: list[Filter] = []
    for item in where:
        if isinstance(item, AnyOf):
            found.extend(f for alternative in item.alternatives for f in alternative)
        else:
            found.append(item)
    return found


@dataclass(frozen=True, slots=True)
class PageRequest:
    """A keyset page over ``id``: ``first`` after a cursor, or ``last`` before one."""

    where: tuple[Condition, ...] = ()
    first: int | None = None
    after: int | None = None
    last: int | None = None
    before: int | None = None


@dataclass(frozen=True, slots=True)
class Page:
    """Rows in ascending ``id`` order, and whether more lie beyond each end."""

    rows: list[Row]
    has_next: bool
    has_previous: bool


class Connector(Protocol):
    """What the gateway needs from a source."""

    source: str

    async def lookup(
        self,
        table: str,
        column: str,
        keys: Sequence[Hashable],
        *,
        where: Sequence[Condition] = (),
        per_key: int | None = None,
    ) -> list[Row]:
        """Rows whose ``column`` is one of ``keys``; at most ``per_key`` per key (lowest ids)."""
        ...

    async def page(self, table: str, request: PageRequest) -> Page:
        """One page of ``table`` in ``id`` order."""
        ...

    async def count(self, table: str, where: Sequence[Condition] = ()) -> int:
        """How many rows match."""
        ...

    async def ping(self) -> None:
        """Raise ``SourceUnavailable`` unless the source answers."""
        ...

    async def close(self) -> None:
        """Release pools and clients."""
        ...


def check_request(
    columns: Container[str], table: str, names: Sequence[str], where: Sequence[Condition]
) -> None:
    """Refuse unknown columns and operators before they reach a query."""
    filters = flat(where)
    for name in (*names, *(f.column for f in filters)):
        if name not in columns:
            raise BadSourceRequest(f"table {table!r} has no column {name!r}")
    for f in filters:
        if f.op not in OPS:
            raise BadSourceRequest(f"unknown operator {f.op!r}; operators are {', '.join(OPS)}")
