"""GraphQL object types made from the table definitions, so the schema and the data standard
cannot disagree: every column becomes a field with its Chinese name in the description.

Types are built in two steps: plain classes for every table first, so that relation fields
can name any other type, then all of them are made Strawberry types at once.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import strawberry
from strawberry.scalars import JSON as JSONScalar

from resolvers.graph import ids
from standard.exchange import ExchangeRecord, column_kind
from standard.registry import SOURCES

HIDDEN_COLUMNS = frozenset({"id", "content_hash", "cd_operation"})


@strawberry.interface(description="An object with a global ID (Relay).")
class Node:
    id: strawberry.ID = strawberry.field(description="全局标识: opaque global ID.")


@dataclasses.dataclass(frozen=True, slots=True)
class TableInfo:
    """What the graph knows of one table."""

    source: str
    table: str
    model: type[ExchangeRecord]
    type_name: str
    fields: tuple[str, ...]
    blank: dict[str, None]  # every field as null: what a row lacks stays null
    width: int  # columns in the table: a row with as many keys lacks none


PYTHON_TYPES: dict[str, Any] = {
    "instant": datetime,
    "date": date,
    "boolean": bool,
    "integer": int,
    "decimal": Decimal,
    "text": str,
    "list": list[str],
    "object": JSONScalar,
}


def _python_type(column: Any) -> Any:
    py = PYTHON_TYPES[column_kind(column)]
    return py | None if column.nullable or column.info.get("personal") else py


def _description(column: Any) -> str:
    info = column.info
    text = f"{info.get('zh', column.name)}: {info.get('en', '')}".rstrip(": ")
    if "choices" in info:
        text += " (" + "; ".join(f"{k} {v}" for k, v in info["choices"].items()) + ")"
    if info.get("personal"):
        text += ". Personal information: masked unless the provider granted it in clear."
    elif info.get("personal_if"):
        text += (
            ". Personal information where the party is a natural person: masked (names in it"
            " too) unless the provider granted it in clear."
        )
    return text


def plain_classes() -> tuple[dict[str, type], dict[str, TableInfo]]:
    """One undecorated class per table, keyed by table name, and what each holds."""
    classes: dict[str, type] = {}
    infos: dict[str, TableInfo] = {}
    for source in SOURCES.values():
        for table, model in source.tables.items():
            core = model.__table__  # type: ignore[attr-defined]
            name = model.__name__
            annotations: dict[str, Any] = {"pk": strawberry.Private[int]}
            namespace: dict[str, Any] = {}
            shown = [c for c in core.columns if c.name not in HIDDEN_COLUMNS]
            for column in shown:
                annotations[column.key] = _python_type(column)
                namespace[column.key] = strawberry.field(description=_description(column))
            namespace["__annotations__"] = annotations
            namespace["__doc__"] = f"{getattr(model, '__doc_zh__', '')}: {model.__doc__}"
            classes[table] = type(name, (Node,), namespace)
            infos[table] = TableInfo(
                source=source.name,
                table=table,
                model=model,
                type_name=name,
                fields=tuple(c.key for c in shown),
                blank=dict.fromkeys(c.key for c in shown),
                width=len(core.columns),
            )
    return classes, infos


class GlobalId:
    """A node's ``id``, encoded when first read and kept: most nested nodes never show theirs.

    A non-data descriptor, so the value it stores in the node's ``__dict__`` answers later reads.
    """

    __slots__ = ("type_name",)

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name

    def __get__(self, node: Any, owner: type | None = None) -> Any:
        if node is None:
            return self
        value = node.__dict__["id"] = ids.encode(self.type_name, node.pk)
        return value


def decorate(classes: dict[str, type], infos: dict[str, TableInfo]) -> None:
    """Make every class a Strawberry type (in place) once relations are attached."""
    for table, cls in classes.items():
        strawberry.type(cls, description=(cls.__doc__ or "").strip())
        cls.id = GlobalId(infos[table].type_name)  # type: ignore[attr-defined]


def to_node(cls: type, info: TableInfo, row: dict[str, Any]) -> Any:
    """A row as a GraphQL object (personal fields arrive masked as the scope says: the
    request's sources mask them, so every path agrees).

    The row becomes the object's attributes as it is (no per-field copy through ``__init__``:
    this runs for every row of every page); fields a source does not send read as null. The
    row's ``id`` becomes ``pk``; the global ``id`` is encoded when read (``GlobalId``).
    Connectors send only the table's columns, so a row with as many keys as the table has
    columns lacks none (SQL rows always; a source's API may leave some out).
    """
    node: Any = object.__new__(cls)
    values = node.__dict__
    if len(row) != info.width:
        values.update(info.blank)
    values.update(row)
    values["pk"] = values.pop("id")
    return node
