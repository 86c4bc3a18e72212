"""Parse and check one record's fields, as the table's column definitions say.

A table's ``FieldSpec`` list is built once from its columns (type, length, nullability, and the
``info`` written with ``standard.exchange.field``); parsing a record is then a loop over
precompiled parsers, which keeps validation at tens of thousands of records a second.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
from sqlalchemy.orm import Mapper

from standard.codes import Check
from standard.errors import InputError
from standard.exchange import ExchangeRecord, column_kind, limits
from standard.workdays import SHANGHAI

Parser = Callable[[Any], Any]

UPPER_CODES = frozenset({"uscc", "id_number", "item_code", "industry_code"})
LIST_SEPARATORS = re.compile(r"[;,，；、|]")


class FieldProblem(InputError):
    """A field's value is not acceptable; the message says why."""


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """How to read one field of a record."""

    name: str
    zh: str
    required: bool
    parse: Parser
    check: str | None
    is_list: bool
    upper: bool


def _stripped(value: Any) -> str | None:
    """A text value without its surrounding spaces; None when nothing is left."""
    if not isinstance(value, str):
        raise FieldProblem(f"expected text, got {_kind(value)}")
    return value.strip() or None


def _text(max_length: int) -> Parser:
    def parse(value: Any) -> str | None:
        text = _stripped(value)
        if text is None:
            return None
        if len(text) > max_length:
            raise FieldProblem(f"is {len(text)} characters long; at most {max_length} allowed")
        return text

    return parse


def _choice(choices: Mapping[str, str]) -> Parser:
    by_label = {label: key for key, label in choices.items()}

    def parse(value: Any) -> str | None:
        text = _stripped(value)
        if text is None:
            return None
        if text in choices:
            return text
        if text in by_label:  # Excel users write the Chinese label
            return by_label[text]
        allowed = ", ".join(f"{k} ({v})" for k, v in choices.items())
        raise FieldProblem(f"{text!r} is not one of: {allowed}")

    return parse


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        raise FieldProblem("expected a whole number, got true/false")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip():
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise FieldProblem(f"expected a whole number, got {value!r}")


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        raise FieldProblem("expected a number, got true/false")
    if isinstance(value, int | float | str):
        try:
            number = Decimal(str(value).strip().replace(",", ""))
        except InvalidOperation:
            pass
        else:
            if number.is_finite():
                return number
    raise FieldProblem(f"expected a number, got {value!r}")


def _date(value: Any) -> date | None:
    if isinstance(value, str):
        text = value.strip().replace("/", "-")
        try:
            return date.fromisoformat(text[:10] if len(text) > 10 and text[10] in "T " else text)
        except ValueError:
            pass
    raise FieldProblem(f"expected a date like 2026-03-31, got {value!r}")


def parse_instant(value: Any) -> datetime | None:
    """An ISO 8601 instant; without an offset it is Beijing time (Asia/Shanghai)."""
    if isinstance(value, str):
        text = value.strip().replace("/", "-")
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            pass
        else:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=SHANGHAI)
    raise FieldProblem(f"expected a date and time like 2026-03-31T09:30:00+08:00, got {value!r}")


def _boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "1", "是", "y", "yes"):
            return True
        if text in ("false", "0", "否", "n", "no"):
            return False
    raise FieldProblem(f"expected true or false, got {value!r}")


def _list(max_length: int, max_items: int) -> Parser:
    def parse(value: Any) -> list[str]:
        if isinstance(value, str):
            values = [part.strip() for part in LIST_SEPARATORS.split(value) if part.strip()]
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            values = [v.strip() for v in value if v.strip()]
        else:
            raise FieldProblem("expected a list of text values (in CSV: separated by ';')")
        if len(values) > max_items:
            raise FieldProblem(f"has {len(values)} values; at most {max_items} allowed")
        for n, item in enumerate(values, start=1):
            if len(item) > max_length:
                raise FieldProblem(
                    f"value {n} is {len(item)} characters long; at most {max_length} allowed"
                )
        return values

    return parse


def _object(max_length: int) -> Parser:
    def parse(value: Any) -> dict[str, Any]:
        if isinstance(value, str):
            try:
                value = orjson.loads(value)
            except orjson.JSONDecodeError:
                value = None
        if not isinstance(value, dict):
            raise FieldProblem("expected a JSON object")
        try:
            size = len(orjson.dumps(value).decode())
        except TypeError:
            raise FieldProblem("expected a JSON object") from None
        if size > max_length:
            raise FieldProblem(f"is {size} characters as JSON; at most {max_length} allowed")
        return value

    return parse


def _kind(value: Any) -> str:
    return {bool: "true/false", int: "a number", float: "a number", list: "a list"}.get(
        type(value), type(value).__name__
    )


def _parser(column: Any) -> tuple[Parser, bool]:
    """The parser for a column and whether it holds a list."""
    if "choices" in column.info:
        return _choice(column.info["choices"]), False
    kind = column_kind(column)
    if kind == "text":
        return _text(limits(column)[0]), False
    if kind == "list":
        length, items = limits(column)
        return _list(length, items or 0), True
    if kind == "object":
        return _object(limits(column)[0]), False
    return PARSERS[kind], False


PARSERS: dict[str, Parser] = {
    "instant": parse_instant,
    "date": _date,
    "boolean": _boolean,
    "integer": _integer,
    "decimal": _decimal,
}


def field_specs(table: type[ExchangeRecord]) -> list[FieldSpec]:
    """The fields a record of ``table`` may carry, in column order."""
    mapper: Mapper[Any] = table.__mapper__  # type: ignore[attr-defined]
    specs = []
    for column in mapper.columns:
        info = column.info
        if not info.get("ingest", True):
            continue
        parse, is_list = _parser(column)
        check = info.get("check")
        specs.append(
            FieldSpec(
                name=column.key,
                zh=info.get("zh", column.key),
                required=not column.nullable,
                parse=parse,
                check=check,
                is_list=is_list,
                upper=check in UPPER_CODES,
            )
        )
    return specs


def normalise_code(check: str, value: str) -> str:
    """The canonical form of a code before its check: upper case, mobile without +86."""
    if check in UPPER_CODES:
        return value.upper()
    if check == "mobile":
        digits = value.replace(" ", "").replace("-", "")
        return digits[3:] if digits.startswith("+86") else digits
    return value


Checker = Callable[[Any], tuple[Any, str | None]]


def checker(spec: FieldSpec, checks: Mapping[str, Check]) -> Checker | None:
    """Normalise and check a parsed value: returns it and a warning, or raises ``FieldProblem``."""
    if spec.check is None:
        return None
    name = spec.check
    check = checks[name]

    def one(value: str) -> tuple[str, str | None]:
        value = normalise_code(name, value)
        finding = check(value)
        if finding is None:
            return value, None
        if finding.warning:
            return value, finding.reason
        raise FieldProblem(finding.reason)

    def many(values: list[str]) -> tuple[list[str], str | None]:
        normalised = [normalise_code(name, v) for v in values]
        for item in normalised:
            finding = check(item)
            if finding is not None:
                raise FieldProblem(f"{item!r}: {finding.reason}")
        return normalised, None

    return many if spec.is_list else one
