"""The sources and their tables, by name: the one place that lists them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import MetaData

from standard.errors import InputError
from standard.exchange import EXCHANGE_FILTERS, ExchangeRecord
from standard.source_names import SOURCE_NAMES
from standard.tables import complaints as complaints
from standard.tables import credit as credit
from standard.tables import gov_services as gov_services
from standard.tables import supervision as supervision


@dataclass(frozen=True, slots=True)
class Source:
    """One source database: its name, Chinese title, metadata and record tables."""

    name: str
    zh: str
    metadata: MetaData
    tables: Mapping[str, type[ExchangeRecord]]


def _source(name: str, zh: str, metadata: MetaData, *models: type[ExchangeRecord]) -> Source:
    return Source(name, zh, metadata, {m.__tablename__: m for m in models})  # type: ignore[attr-defined]


SOURCES: Mapping[str, Source] = {
    s.name: s
    for s in (
        _source(
            "supervision",
            "监管数据中心",
            supervision.Base.metadata,
            supervision.Department,
            supervision.Subject,
            supervision.Matter,
            supervision.InspectionItem,
            supervision.Plan,
            supervision.Officer,
            supervision.Action,
        ),
        _source("complaints", "投诉举报", complaints.Base.metadata, complaints.Complaint),
        _source(
            "credit",
            "信用信息",
            credit.Base.metadata,
            credit.LicencePublicity,
            credit.PenaltyPublicity,
            credit.CreditListEntry,
            credit.CreditRating,
        ),
        _source(
            "gov_services",
            "政务服务",
            gov_services.Base.metadata,
            gov_services.LicensingItem,
            gov_services.Licence,
        ),
    )
}
if tuple(SOURCES) != SOURCE_NAMES:  # pragma: no cover  # fails at import, in every test
    raise RuntimeError(f"the registry has {tuple(SOURCES)}, standard.source_names {SOURCE_NAMES}")

TABLES: Mapping[str, type[ExchangeRecord]] = {
    table: model for s in SOURCES.values() for table, model in s.tables.items()
}
"""Every record table by name, across the sources (table names are unique)."""


def declared_problems(tables: Mapping[str, type[ExchangeRecord]]) -> list[str]:
    """What the tables' own declarations name but do not have: a filter, subject or join
    column, or a join's target table. Checked when the registry loads."""
    problems = []
    for table, model in tables.items():
        columns = model.__table__.c  # type: ignore[attr-defined]
        named = [("filter", c) for c in model.__filters__]
        if model.__subject__ is not None:
            named.append(("subject", model.__subject__))
        for join in model.__joins__:
            named.append((f"join {join.field}", join.local))
            target = tables.get(join.target)
            if target is None:
                problems.append(f"{table}: join {join.field} targets no table {join.target!r}")
            elif join.remote not in target.__table__.c:  # type: ignore[attr-defined]
                problems.append(f"{table}: join {join.field}: {join.target} has no {join.remote}")
        problems += [f"{table}: {what}: no column {c!r}" for what, c in named if c not in columns]
    return problems


if _problems := declared_problems(TABLES):  # pragma: no cover  # fails at import
    raise RuntimeError("; ".join(_problems))


def filters(model: type[ExchangeRecord]) -> tuple[str, ...]:
    """The columns a table's lists can be filtered by, in the order the filter input shows them."""
    first, last = EXCHANGE_FILTERS
    return (*first, *model.__filters__, *last)


def subject_column(table: str) -> str | None:
    """The column of ``table`` naming the subject a record is about, if it has one."""
    model = TABLES.get(table)
    return None if model is None else model.__subject__


class UnknownTable(InputError):
    """A source or table name that the data standard does not have."""


def source(name: str) -> Source:
    """The source called ``name``."""
    try:
        return SOURCES[name]
    except KeyError:
        raise UnknownTable(f"unknown source {name!r}; sources are {', '.join(SOURCES)}") from None


def record_table(source_name: str, table: str | None) -> type[ExchangeRecord]:
    """The record table ``table`` of a source; a source with one table needs no name."""
    src = source(source_name)
    if table is None:
        if len(src.tables) == 1:
            return next(iter(src.tables.values()))
        raise UnknownTable(
            f"source {source_name!r} has several tables; name one of: {', '.join(src.tables)}"
        )
    try:
        return src.tables[table]
    except KeyError:
        raise UnknownTable(
            f"source {source_name!r} has no table {table!r}; its tables are {', '.join(src.tables)}"
        ) from None
