"""The joins: how a row of one source leads to rows of the same or another source.

Declared as data; each becomes a field whose resolver goes through a per-request batch loader,
so a page of any size costs one round trip per relation.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import strawberry
from strawberry.types import Info

from resolvers.context import Context
from resolvers.graph.plan import UNREAD, plain_read
from resolvers.graph.types import TableInfo, to_node
from sources.base import Row, SourceUnavailable
from standard.errors import InputError

MAX_PAGE = 100


@dataclass(frozen=True, slots=True)
class Relation:
    """``field`` on ``table`` lists ``target`` rows whose ``remote`` equals our ``local``."""

    table: str
    field: str
    target: str
    local: str
    remote: str
    many: bool
    zh: str
    en: str


R = Relation
RELATIONS: tuple[Relation, ...] = (
    # The subject dossier: everything about one regulated subject, from all four sources.
    R("subjects", "licences", "licences", "uscc", "applicant_uscc", True, "行政许可决定", "Licence decisions"),
    R("subjects", "licence_publicity", "licence_publicity", "uscc", "counterparty_uscc", True, "行政许可双公示", "Licence publicity"),
    R("subjects", "penalty_publicity", "penalty_publicity", "uscc", "counterparty_uscc", True, "行政处罚双公示", "Penalty publicity"),
    R("subjects", "credit_list_entries", "credit_lists", "uscc", "subject_uscc", True, "信用名单", "Dishonesty and red-list entries"),
    R("subjects", "credit_ratings", "credit_ratings", "uscc", "subject_uscc", True, "信用评价", "Credit ratings"),
    R("subjects", "complaints", "complaints", "uscc", "subject_uscc", True, "投诉举报", "Complaints and reports about it"),
    R("subjects", "actions", "actions", "uscc", "subject_uscc", True, "监管行为", "Regulatory acts concerning it"),
    R("matters", "inspection_items", "inspection_items", "matter_code", "matter_code", True, "检查实施清单", "How the matter is inspected"),
    R("matters", "licensing_item", "licensing_items", "licensing_item_code", "item_code", False, "对应许可事项", "Linked licensing item (government services)"),
    R("matters", "department", "departments", "department_code", "code", False, "监管部门", "Responsible department"),
    R("inspection_items", "matter", "matters", "matter_code", "matter_code", False, "监管事项", "The matter"),
    R("actions", "matter", "matters", "matter_code", "matter_code", False, "监管事项", "The matter acted on"),
    R("actions", "subject", "subjects", "subject_uscc", "uscc", False, "监管对象", "The subject"),
    R("actions", "officers", "officers", "officer_certificates", "certificate_no", True, "执法人员", "Officers who acted"),
    R("actions", "plan", "plans", "plan_code", "plan_code", False, "监管计划", "The plan it carried out"),
    R("officers", "department", "departments", "department_code", "code", False, "所属部门", "Department"),
    R("plans", "department", "departments", "department_code", "code", False, "制定部门", "Department"),
    R("complaints", "subject", "subjects", "subject_uscc", "uscc", False, "被投诉对象", "The subject complained about"),
    R("licences", "subject", "subjects", "applicant_uscc", "uscc", False, "申请人", "The applicant as a regulated subject"),
    R("licences", "licensing_item", "licensing_items", "item_code", "item_code", False, "许可事项", "The licensing item"),
    R("licensing_items", "matters", "matters", "item_code", "licensing_item_code", True, "对应监管事项", "Matters linked to this item"),
    R("licence_publicity", "subject", "subjects", "counterparty_uscc", "uscc", False, "行政相对人", "The subject"),
    R("penalty_publicity", "subject", "subjects", "counterparty_uscc", "uscc", False, "行政相对人", "The subject"),
    R("credit_lists", "subject", "subjects", "subject_uscc", "uscc", False, "主体", "The subject"),
    R("credit_ratings", "subject", "subjects", "subject_uscc", "uscc", False, "主体", "The subject"),
)  # fmt: skip


def check_first(first: int) -> None:
    """Lists are paged: 1 to 100 items."""
    if not 1 <= first <= MAX_PAGE:
        raise InputError(f"first must be between 1 and {MAX_PAGE}, got {first}")


def keys_of(value: Any) -> list[Hashable]:
    """The join keys a column holds: none, one, or a list of them."""
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def newest(rows: list[Row]) -> Row:
    """Several rows may share a key (versions, or several providers): the newest wins."""
    return max(rows, key=lambda r: r["id"])


def related(
    rel: Relation, target: type, info_of: TableInfo, rows: list[Row], first: int | None
) -> Any:
    """A relation field's value for one parent: its first rows, or its newest row."""
    if rel.many:
        return [to_node(target, info_of, row) for row in rows[:first]]
    return to_node(target, info_of, newest(rows)) if rows else None


def _prefetched(node: Any, slot: tuple[str, int | None]) -> Any:
    found = node.__dict__.get("_prefetched", {}).get(slot, _MISSING)
    if isinstance(found, SourceUnavailable):
        # the prefetch's failure, reported on this field (a new one: many fields may say it)
        raise SourceUnavailable(found.source, found.reason)
    return found


_MISSING = object()


def _ready(node: Any, slot: tuple[str, int | None]) -> Any:
    """The prefetched value, or ``UNREAD`` when the resolver must load it or report why not."""
    found = node.__dict__.get("_prefetched", _NONE).get(slot, UNREAD)
    return UNREAD if isinstance(found, SourceUnavailable) else found


_NONE: dict[Any, Any] = {}


def _resolver(rel: Relation, target: type, info_of: TableInfo) -> Any:
    source = info_of.source

    async def load(
        info: Info[Context, None], keys: list[Hashable], per_key: int | None
    ) -> list[Row]:
        info.context.lazy_loads += 1
        loader = info.context.loaders.by(source, rel.target, rel.remote, per_key=per_key)
        groups = await loader.load_many(keys)
        return [row for group in groups for row in group]

    # Sync resolvers: a page's relations are usually prefetched (see prefetch.py) and returned
    # as they are; otherwise they hand graphql-core a coroutine that loads them.
    if rel.many:

        async def load_many(self: Any, info: Info[Context, None], first: int) -> list[Any]:
            rows = await load(info, keys_of(getattr(self, rel.local)), first)
            return related(rel, target, info_of, rows, first)  # type: ignore[no-any-return]

        def read_many(self: Any, first: Any) -> Any:
            if type(first) is not int or not 1 <= first <= MAX_PAGE:
                return UNREAD
            return _ready(self, (rel.field, first))

        @plain_read(read_many)  # a page's completion plan reads prefetched values directly
        def many(self: Any, info: Info[Context, None], first: int) -> Any:
            check_first(first)
            found = _prefetched(self, (rel.field, first))
            return load_many(self, info, first) if found is _MISSING else found

        many.__annotations__ = {"info": Info, "first": int, "return": list[target] | None}  # type: ignore[valid-type]
        return many

    async def load_one(self: Any, info: Info[Context, None]) -> Any:
        rows = await load(info, keys_of(getattr(self, rel.local)), None)
        return related(rel, target, info_of, rows, None)

    @plain_read(lambda self: _ready(self, (rel.field, None)))
    def one(self: Any, info: Info[Context, None]) -> Any:
        found = _prefetched(self, (rel.field, None))
        return load_one(self, info) if found is _MISSING else found

    one.__annotations__ = {"info": Info, "return": target | None}
    return one


def attach(classes: dict[str, type], infos: dict[str, TableInfo]) -> None:
    """Add every relation field to the (not yet decorated) classes."""
    for rel in RELATIONS:
        target = classes[rel.target]
        resolver = _resolver(rel, target, infos[rel.target])
        description = f"{rel.zh}: {rel.en}."
        if rel.many:
            description += " At most `first` (1-100), oldest first."
        setattr(
            classes[rel.table],
            rel.field,
            strawberry.field(resolver=resolver, description=description),
        )
