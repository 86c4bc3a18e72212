"""Masking of personal information (PIPL) in what the gateway returns.

Deny by default: every column marked ``personal`` is masked unless the caller's scope shows it
in clear (grants arrive with provider-owns-data authorisation), and so is every column marked
``personal_if`` in rows about a natural person: their name, and their name inside free text.
The masks keep what staff need to tell records apart and nothing that identifies a person.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from standard.codes import check_uscc
from standard.registry import TABLES

HIDDEN = "***"

NATURAL_PERSON = "natural_person"

PERSONAL: Mapping[str, Mapping[str, str | None]] = {
    table: {
        c.name: c.info.get("check")
        for c in model.__table__.columns  # type: ignore[attr-defined]
        if c.info.get("personal")
    }
    for table, model in TABLES.items()
}
"""Every table of the data standard: its always-personal columns and their checks."""

PERSON_FIELDS: Mapping[str, Mapping[str, str]] = {
    table: {
        c.name: c.info["personal_if"]
        for c in model.__table__.columns  # type: ignore[attr-defined]
        if c.info.get("personal_if")
    }
    for table, model in TABLES.items()
}
"""Columns personal only where the party is a natural person: column → the column saying so."""

NAMES_IN: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    table: {
        c.name: tuple(c.info["names"])
        for c in model.__table__.columns  # type: ignore[attr-defined]
        if c.info.get("names")
    }
    for table, model in TABLES.items()
}
"""Free text that may name the party: column → the name columns whose values it may hold."""

MASKED: Mapping[str, frozenset[str]] = {
    table: frozenset(PERSONAL[table]) | frozenset(PERSON_FIELDS[table]) for table in PERSONAL
}
"""What the gateway masks unless a scope shows it: the columns a grant's clear fields name."""


def mask_name(value: str) -> str:
    """张三 → 张*; keeps the surname only."""
    return value[:1] + "*" * max(1, len(value) - 1)


def mask_mobile(value: str) -> str:
    """13812348000 → 138****8000."""
    return value[:3] + "****" + value[-4:] if len(value) >= 8 else HIDDEN


def mask_id_number(value: str) -> str:
    """A citizen ID keeps its division (6) and last character; a valid USCC stays (an
    organisation's code is public); anything else is hidden whole."""
    if len(value) == 18 and value[:17].isdigit():
        return value[:6] + "*" * 11 + value[-1]
    if check_uscc(value) is None:
        return value
    return HIDDEN


# A district or county name ends within the first few characters ("西安市雁塔区", "陕西省西安市
# 蓝田县"); a 区 further on belongs to a street or estate ("幸福小区") and must stay hidden.
_DISTRICT_WITHIN = 12


_NOT_DISTRICT = ("小区", "社区", "园区", "校区", "景区", "街区", "城区")


def _marker(value: str, marker: str) -> int:
    at = value.find(marker)
    while at > 0 and value[at - 1 : at + 1] in _NOT_DISTRICT:
        at = value.find(marker, at + 1)
    return at


def mask_address(value: str) -> str:
    """Keeps the text up to the district or county (区/县), else the city (市); hides the rest."""
    for markers in (("区", "县"), ("市",)):
        found = [at for m in markers if 0 <= (at := _marker(value, m)) < _DISTRICT_WITHIN]
        if found:
            return value[: min(found) + 1] + HIDDEN
    return HIDDEN


def mask(column: str, check: str | None, value: Any) -> Any:
    """The masked form of a personal value, chosen by the column's check and name."""
    if value is None:
        return None
    text = str(value)
    if check == "mobile" or column.endswith("_phone"):
        return mask_mobile(text)
    if check == "id_number" or column.endswith(("_id_number", "counterparty_id")):
        return mask_id_number(text)
    if column.endswith("address"):
        return mask_address(text)
    if column.endswith(("_name", "legal_representative")):
        return mask_name(text)
    return HIDDEN


def redact_names(text: str, names: Iterable[str | None]) -> str:
    """Every occurrence of a name in free text, masked as a name: 当事人杨丽娟… → 当事人杨**…"""
    for name in sorted({n for n in names if n}, key=len, reverse=True):
        text = text.replace(name, mask_name(name))
    return text


def _a_person(row: Mapping[str, Any], nature: str) -> bool:
    # Without the column that says, assume a person: masking fails closed.
    return bool(row.get(nature, NATURAL_PERSON) == NATURAL_PERSON)


def mask_row(table: str, row: dict[str, Any], clear: Iterable[str] = ()) -> None:
    """Mask, in place, every personal field of ``row`` not shown in ``clear``: the always-personal
    ones, and a natural person's name and the free text that names them."""
    shown = frozenset(clear)
    raw = dict(row) if PERSON_FIELDS[table] else row  # texts are redacted from the raw names
    for name, nature in PERSON_FIELDS[table].items():
        if name not in row or name in shown or row[name] is None or not _a_person(raw, nature):
            continue
        sources = NAMES_IN[table].get(name)
        if sources is None:
            row[name] = mask_name(str(row[name]))
        elif all(c in raw for c in sources):
            row[name] = redact_names(str(row[name]), (raw[c] for c in sources))
        else:
            row[name] = HIDDEN  # the names it may hold are unknown here: hide it whole
    for name, check in PERSONAL[table].items():
        if name in row and name not in shown:
            row[name] = mask(name, check, row[name])
