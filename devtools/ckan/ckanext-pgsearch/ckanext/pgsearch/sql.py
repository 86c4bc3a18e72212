"""Query trees as SQL over the ``fields`` column: every indexed field as a JSON list of strings.

Field kinds follow CKAN's Solr schema (``ckan/config/solr/schema.xml``): string fields match
exactly and case-sensitively; text fields match a case-insensitive substring (so Chinese text is
found by any part of it, which CKAN's whitespace-tokenised Solr schema does not do); date fields
compare as timestamps; ranges over numbers compare as numbers.
"""

from __future__ import annotations

import calendar
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .syntax import Bool, Exists, MatchAll, Node, QuerySyntaxError, Range, Term

TEXT_FIELDS = frozenset(
    {
        "title", "notes", "text", "urls", "author", "author_email", "maintainer",
        "maintainer_email", "res_name", "res_description", "title_ngram", "name_ngram",
        "depends_on", "dependency_of", "derives_from", "has_derivation", "links_to",
        "linked_from", "child_of", "parent_of",
    }
)  # fmt: skip
TEXT_PREFIXES = ("extras_", "res_extras_")
DATE_FIELDS = frozenset({"metadata_created", "metadata_modified", "indexed_ts"})

# <copyField source=... dest=...> from the schema; as in Solr, copies do not chain.
COPY_FIELDS = (
    ("url", "urls"), ("ckan_url", "urls"), ("download_url", "urls"), ("res_url", "urls"),
    ("title", "title_ngram"), ("name", "name_ngram"),
    ("extras_*", "text"), ("res_extras_*", "text"), ("vocab_*", "text"), ("urls", "text"),
    ("name", "text"), ("title", "text"), ("text", "text"), ("license", "text"),
    ("notes", "text"), ("tags", "text"), ("groups", "text"), ("organization", "text"),
    ("res_name", "text"), ("res_description", "text"), ("maintainer", "text"),
    ("author", "text"),
)  # fmt: skip
NOT_INDEXED = frozenset({"data_dict", "validated_data_dict"})

_NUMBER = r"^-?[0-9]+(\.[0-9]+)?$"
_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"


def kind(name: str) -> str:
    if name in TEXT_FIELDS or name.startswith(TEXT_PREFIXES):
        return "text"
    if name in DATE_FIELDS or name.endswith("_date"):
        return "date"
    return "string"


def _strings(value: Any) -> list[str]:
    values = value if isinstance(value, list | tuple) else [value]
    out = []
    for item in values:
        if item is None or isinstance(item, dict | list):
            continue
        out.append(("true" if item else "false") if isinstance(item, bool) else str(item))
    return [item for item in out if item != ""]


def indexed_fields(doc: dict[str, Any]) -> dict[str, list[str]]:
    """What Solr would index for ``doc``: each field's values as strings, copy fields added."""
    fields = {key: _strings(value) for key, value in doc.items() if key not in NOT_INDEXED}
    for source, dest in COPY_FIELDS:
        sources = (
            [key for key in doc if key.startswith(source[:-1])]
            if source.endswith("*")
            else [source]
        )
        for key in sources:
            fields.setdefault(dest, [])
            fields[dest] = fields[dest] + _strings(doc.get(key))
    return {key: values for key, values in fields.items() if values}


def like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_UNITS = {
    "YEAR": "years", "MONTH": "months", "DAY": "days", "DATE": "days",
    "HOUR": "hours", "MINUTE": "minutes", "SECOND": "seconds", "MILLI": "milliseconds",
}  # fmt: skip


def _add_months(moment: datetime, months: int) -> datetime:
    year, month = divmod(moment.month - 1 + months, 12)
    year += moment.year
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def _round_down(moment: datetime, unit: str) -> datetime:
    order = ["years", "months", "days", "hours", "minutes", "seconds"]
    keep = order.index(unit) if unit in order else len(order)
    first: dict[str, Any] = {"month": 1, "day": 1, "hour": 0, "minute": 0, "second": 0}
    first["microsecond"] = 0
    return moment.replace(**{name: first[name] for name in list(first)[keep:]})


def date_value(text: str, *, now: datetime | None = None) -> datetime:
    """An ISO date or Solr date math (``NOW-7DAYS/DAY``) as an aware datetime."""
    match = re.fullmatch(r"(NOW|[0-9][^+/]*?)((?:[+-][0-9]+[A-Z]+|/[A-Z]+)*)", text.strip())
    if not match:
        raise QuerySyntaxError(f"not a date: {text!r}")
    base, math = match.groups()
    if base == "NOW":
        moment = now or datetime.now(UTC)
    else:
        try:
            moment = datetime.fromisoformat(base.replace("Z", "+00:00"))
        except ValueError as exc:
            raise QuerySyntaxError(f"not a date: {text!r}") from exc
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    for sign, amount, unit in re.findall(r"([+-]?)([0-9]*)([A-Z]+)", math.replace("/", " /")):
        name = _UNITS.get(unit.rstrip("S"))
        if name is None:
            raise QuerySyntaxError(f"unknown date unit {unit!r} in {text!r}")
        if not amount:  # a "/UNIT" rounding
            moment = _round_down(moment, name)
            continue
        step = int(amount) * (-1 if sign == "-" else 1)
        if name in ("years", "months"):
            moment = _add_months(moment, step * (12 if name == "years" else 1))
        else:
            moment += timedelta(**{name: step})
    return moment


@dataclass
class Compiler:
    """Builds one WHERE clause; bind parameters collect in ``params``."""

    default_fields: tuple[str, ...]
    params: dict[str, Any] = field(default_factory=dict)

    def bind(self, value: Any) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f":{name}"

    def where(self, node: Node) -> str:
        if isinstance(node, MatchAll):
            return "TRUE"
        if isinstance(node, Exists):
            return f"(fields -> {self.bind(node.field)}) IS NOT NULL"
        if isinstance(node, Bool):
            return self._bool(node)
        names = (node.field,) if node.field else self.default_fields
        parts = [self._range(name, node) if isinstance(node, Range) else self._term(name, node)
                 for name in names]  # fmt: skip
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def _any_value(self, name: str, condition: str) -> str:
        return (
            f"EXISTS (SELECT FROM jsonb_array_elements_text(fields -> {self.bind(name)}) AS v(x)"
            f" WHERE {condition})"
        )

    def _term(self, name: str, term: Term) -> str:
        if kind(name) == "text":
            pattern = term.wildcard or like_escape(term.value)
            return self._any_value(name, f"x ILIKE {self.bind('%' + pattern + '%')}")
        if term.wildcard is not None:
            return self._any_value(name, f"x LIKE {self.bind(term.wildcard)}")
        return f"fields @> CAST({self.bind(json.dumps({name: [term.value]}))} AS jsonb)"

    def _range(self, name: str, node: Range) -> str:
        bounds = [b for b in (node.low, node.high) if b is not None]
        if kind(name) == "date":
            value = f"(CASE WHEN x ~ '{_DATE}' THEN CAST(x AS timestamptz) END)"
            convert: Any = date_value
        elif all(re.match(_NUMBER, b) for b in bounds):
            value = f"(CASE WHEN x ~ '{_NUMBER}' THEN CAST(x AS numeric) END)"
            convert = float
        else:
            value, convert = 'x COLLATE "C"', str
        conditions = []
        if node.low is not None:
            operator = ">=" if node.include_low else ">"
            conditions.append(f"{value} {operator} {self.bind(convert(node.low))}")
        if node.high is not None:
            operator = "<=" if node.include_high else "<"
            conditions.append(f"{value} {operator} {self.bind(convert(node.high))}")
        return self._any_value(name, " AND ".join(conditions) or "TRUE")

    def _bool(self, node: Bool) -> str:
        must = [self.where(n) for occur, n in node.clauses if occur == "must"]
        must_not = [self.where(n) for occur, n in node.clauses if occur == "must_not"]
        should = [self.where(n) for occur, n in node.clauses if occur == "should"]
        needed = node.minimum_should
        if needed is None:
            needed = 0 if must else 1
        if not must and should:  # a query of SHOULD clauses alone matches at least one
            needed = max(needed, 1)
        parts = must + [f"NOT {part}" for part in must_not]
        if should and needed == 1:
            parts.append("(" + " OR ".join(should) + ")")
        elif should and needed > 1:
            total = " + ".join(f"(CASE WHEN {part} THEN 1 ELSE 0 END)" for part in should)
            parts.append(f"({total}) >= {needed}")
        return "(" + " AND ".join(parts) + ")" if parts else "TRUE"

    def order_by(self, sort: str) -> str:
        """ORDER BY for Solr's ``sort`` (``score desc, metadata_modified desc``); missing last."""
        keys = []
        for item in filter(None, (part.strip() for part in sort.split(","))):
            name, _, direction = item.partition(" ")
            direction = direction.strip().lower()
            if direction not in ("asc", "desc"):
                raise QuerySyntaxError(
                    f"Can't determine a Sort Order (asc or desc) in sort {item!r}"
                )
            if name == "score":  # no relevance ranking here: the next key decides
                continue
            first = f"(fields -> {self.bind(name)} ->> 0)"
            suffix = f" {direction.upper()} NULLS LAST"
            if kind(name) == "date":
                keys.append(f"CASE WHEN {first} ~ '{_DATE}' THEN CAST({first} AS timestamptz) END")
            else:  # numbers as numbers, then everything as code-point ordered text (as Solr)
                keys.append(f"CASE WHEN {first} ~ '{_NUMBER}' THEN CAST({first} AS numeric) END")
                keys[-1] += suffix
                keys.append(f'{first} COLLATE "C"')
            keys[-1] += suffix
        keys.append("index_id")  # stable pages
        return ", ".join(keys)
