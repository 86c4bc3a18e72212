"""Every text, list and object field of the data standard has a maximum, checked at ingest."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.fields import FieldProblem, field_specs
from sources.database import SourceDatabases
from standard.exchange import column_kind, limits
from standard.registry import SOURCES
from tests.ingest.factory import Factory
from tests.ingest.test_service import push, stored

TABLES = [table for source in SOURCES.values() for table in source.tables.values()]
BOUNDED = [
    (table, column)
    for table in TABLES
    for column in table.__table__.columns  # type: ignore[attr-defined]
    if column_kind(column) in ("text", "list", "object") and column.info.get("ingest", True)
]
FREE = [  # free values: no code check or fixed list bounds them already
    (table, column)
    for table, column in BOUNDED
    if "check" not in column.info and "choices" not in column.info
]


def _id(pair: tuple[Any, Any]) -> str:
    return f"{pair[0].__tablename__}.{pair[1].key}"


@pytest.mark.parametrize("pair", BOUNDED, ids=[_id(p) for p in BOUNDED])
def test_every_text_list_and_object_field_declares_its_maximum(pair: tuple[Any, Any]) -> None:
    _, column = pair
    length, items = limits(column)
    assert length >= 1
    assert (items is not None and items >= 1) == (column_kind(column) == "list")


def _value(kind: str, length: int, items: int) -> Any:
    if kind == "text":
        return "字" * length
    if kind == "list":
        return ["x" * length] * items
    # an object whose JSON text is exactly `length` characters: {"k":"…"} is 8 + the value
    return {"k": "a" * (length - 8)}


@pytest.mark.parametrize("pair", FREE, ids=[_id(p) for p in FREE])
def test_a_value_at_the_maximum_is_taken_and_one_over_is_refused(pair: tuple[Any, Any]) -> None:
    table, column = pair
    (spec,) = [s for s in field_specs(table) if s.name == column.key]
    kind = column_kind(column)
    length, items = limits(column)
    at_max = _value(kind, length, items or 1)
    if kind == "object":
        assert len(orjson.dumps(at_max)) == length
    assert spec.parse(at_max) is not None
    overs = [_value(kind, length + 1, items or 1)]
    if kind == "list":
        overs.append(_value(kind, length, (items or 1) + 1))
    for over in overs:
        with pytest.raises(FieldProblem, match="at most"):
            spec.parse(over)


@given(extra=st.integers(1, 10_000))
def test_long_complaint_content_is_refused_with_both_lengths(extra: int) -> None:
    from standard.tables.complaints import Complaint

    (spec,) = [s for s in field_specs(Complaint) if s.name == "content"]
    limit = limits(Complaint.__table__.c.content)[0]  # type: ignore[attr-defined]
    with pytest.raises(FieldProblem) as refused:
        spec.parse("诉" * (limit + extra))
    assert f"is {limit + extra} characters long; at most {limit} allowed" in str(refused.value)


async def test_a_ten_megabyte_field_loses_only_its_record(databases: SourceDatabases) -> None:
    factory = Factory()
    huge = factory.complaint(2, content="x" * 10_000_000)
    report = await push(databases, [factory.complaint(1), huge, factory.complaint(3)])
    assert (report.inserted, report.rejected) == (2, 1)
    (error,) = report.errors
    assert (error.line, error.field) == (2, "content")
    assert "10000000 characters long" in error.reason
    assert [r.cd_id for r in await stored(databases)] == ["c-000001", "c-000003"]
