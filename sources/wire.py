"""The JSON of the source-exchange API: rows and filters, encoded and decoded in one place.

Server and client both use this module, so a value leaves and arrives as the same Python type:
dates and instants travel as ISO 8601 strings (instants with their offset), decimals as strings,
and the column types of the registry model say how to read them back.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, cast

import orjson

from sources.base import AnyOf, BadSourceRequest, Condition, Filter, Op, Row, check_request
from standard.exchange import column_kind
from standard.registry import SOURCES

Kind = Literal["instant", "date", "decimal", "boolean", "integer", "string", "strings", "json"]
FILTER_KEYS = frozenset({"column", "op", "value"})
INT64 = (-(2**63), 2**63 - 1)


class Malformed(BadSourceRequest):
    """JSON whose shape or values are not what the wire format says."""


def dumps(payload: Any) -> bytes:
    """Encode with orjson; decimals become strings, instants keep their offset."""
    # SQLAlchemy labels some row keys with str subclasses, which orjson takes only with this.
    return orjson.dumps(payload, default=_default, option=orjson.OPT_NON_STR_KEYS)


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} cannot be sent as JSON")


def loads(content: bytes) -> Any:
    """Decode JSON; anything that is not JSON is ``Malformed``."""
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        raise Malformed("the body is not valid JSON") from None


def encode_filters(where: Sequence[Condition]) -> list[dict[str, Any]]:
    """Filters as JSON objects; ``in`` sends a list and ``prefix`` a string, as SQL reads them.
    Alternatives (a caller's scope) travel as ``{"any": [[filter, …], …]}``."""
    encoded: list[dict[str, Any]] = []
    for item in where:
        if isinstance(item, AnyOf):
            encoded.append({"any": [encode_filters(alt) for alt in item.alternatives]})
            continue
        f = item
        value = list(f.value) if f.op == "in" else str(f.value) if f.op == "prefix" else f.value
        encoded.append({"column": f.column, "op": f.op, "value": value})
    return encoded


@functools.cache
def codec(source: str, table: str) -> TableCodec:
    """The codec of one table of one source; unknown names are a ``BadSourceRequest``."""
    tables = SOURCES[source].tables if source in SOURCES else {}
    if table not in tables:
        raise BadSourceRequest(f"source {source!r} has no table {table!r}")
    model = tables[table]
    columns = model.__table__.columns  # type: ignore[attr-defined]
    return TableCodec(
        table,
        {c.name: WIRE_KINDS[column_kind(c)] for c in columns},
        required=frozenset(c.name for c in columns if not c.nullable),
    )


WIRE_KINDS: dict[str, Kind] = {
    "instant": "instant",
    "date": "date",
    "boolean": "boolean",
    "integer": "integer",
    "decimal": "decimal",
    "text": "string",
    "list": "strings",
    "object": "json",
}


class TableCodec:
    """Reads one table's JSON values back into the Python types its columns hold."""

    def __init__(
        self, table: str, kinds: Mapping[str, Kind], *, required: frozenset[str] = frozenset()
    ) -> None:
        self.table = table
        self.kinds = kinds
        self.required = required  # NOT NULL columns: a row lacking one is not a row of the table

    def value(self, column: str, raw: Any) -> Any:
        """One JSON value of ``column`` as its Python type; ``None`` stays ``None``."""
        if raw is None:
            return None
        kind = self.kinds[column]
        try:
            return _DECODERS[kind](raw)
        except (TypeError, ValueError, InvalidOperation):
            raise Malformed(
                f"column {column!r} of table {self.table!r} needs {_EXPECTED[kind]},"
                f" not {_short(raw)}"
            ) from None

    def row(self, raw: Any) -> Row:
        """A row object; columns the table does not have are left out, nullable ones it lacks
        read as null (a source may be a version behind), NOT NULL ones it lacks are refused."""
        if not isinstance(raw, dict):
            raise Malformed("a row must be a JSON object")
        for column in self.required:
            if raw.get(column) is None:
                raise Malformed(f"a row of table {self.table!r} lacks column {column!r}")
        return {k: self.value(k, v) for k, v in raw.items() if k in self.kinds}

    def rows(self, raw: Any) -> list[Row]:
        """A list of row objects."""
        if not isinstance(raw, list):
            raise Malformed("rows must be a JSON list")
        return [self.row(item) for item in raw]

    def filters(self, raw: Any) -> tuple[Condition, ...]:
        """Filter objects, checked like SQL checks them, their values read by column type."""
        if raw is None:
            return ()
        if not isinstance(raw, list):
            raise Malformed("'where' must be a list of filters")
        conditions: list[Condition] = []
        for item in raw:
            if isinstance(item, dict) and set(item) == {"any"}:
                if not isinstance(item["any"], list) or not all(
                    isinstance(alt, list) for alt in item["any"]
                ):
                    raise Malformed("'any' must be a list of lists of filters")
                conditions.append(AnyOf(tuple(self._conjunction(alt) for alt in item["any"])))
            else:
                conditions.extend(self._conjunction([item]))
        return tuple(conditions)

    def _conjunction(self, raw: list[Any]) -> tuple[Filter, ...]:
        shaped = tuple(self._shape(item) for item in raw)
        check_request(self.kinds, self.table, (), shaped)
        return tuple(self._decoded(f) for f in shaped)

    @staticmethod
    def _shape(raw: Any) -> Filter:
        if not isinstance(raw, dict) or set(raw) != FILTER_KEYS:
            raise Malformed('a filter must be an object {"column", "op", "value"}')
        column, op = raw["column"], raw["op"]
        if not isinstance(column, str) or not isinstance(op, str):
            raise Malformed("a filter's column and op must be strings")
        return Filter(column, cast(Op, op), raw["value"])  # check_request refuses unknown ops

    def _decoded(self, f: Filter) -> Filter:
        if f.op == "in":
            if not isinstance(f.value, list):
                raise Malformed(f"'in' on column {f.column!r} needs a list of values")
            return Filter(f.column, f.op, tuple(self.value(f.column, v) for v in f.value))
        if f.op == "prefix":
            if not isinstance(f.value, str):
                raise Malformed(f"'prefix' on column {f.column!r} needs a string")
            return f
        return Filter(f.column, f.op, self.value(f.column, f.value))


def _instant(raw: Any) -> datetime:
    value = datetime.fromisoformat(_string(raw))
    if value.tzinfo is None:
        raise ValueError("an instant needs an offset")
    return value.astimezone(UTC)


def _date(raw: Any) -> date:
    return date.fromisoformat(_string(raw))


def _decimal(raw: Any) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise TypeError
    value = Decimal(str(raw))
    if not value.is_finite():
        raise ValueError("not a finite number")
    return value


def _string(raw: Any) -> str:
    if not isinstance(raw, str):
        raise TypeError
    return raw


def _integer(raw: Any) -> int:
    # Out of BIGINT range is the caller's mistake, not a failure of the database.
    if isinstance(raw, bool) or not isinstance(raw, int) or not INT64[0] <= raw <= INT64[1]:
        raise TypeError
    return raw


def _strings(raw: Any) -> list[str]:
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise TypeError
    return raw


def _boolean(raw: Any) -> bool:
    if not isinstance(raw, bool):
        raise TypeError
    return raw


def _short(raw: Any) -> str:
    text = repr(raw)
    return text if len(text) <= 40 else text[:37] + "..."


_DECODERS: Mapping[Kind, Callable[[Any], Any]] = {
    "instant": _instant,
    "date": _date,
    "decimal": _decimal,
    "boolean": _boolean,
    "integer": _integer,
    "string": _string,
    "strings": _strings,
    "json": lambda raw: raw,
}
_EXPECTED: Mapping[Kind, str] = {
    "instant": "an ISO 8601 instant with offset",
    "date": "an ISO 8601 date",
    "decimal": "a decimal number as a string",
    "boolean": "true or false",
    "integer": "a whole number within 64 bits",
    "string": "a string",
    "strings": "a list of strings",
    "json": "JSON",
}
