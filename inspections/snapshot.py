"""The two pools (检查对象名录库, 执法检查人员名录库) as snapshots in a canonical form, their SM3
hashes, and the seed's commitment.

A snapshot is a text file of one JSON document per line, each line the canonical JSON of one
row (keys sorted, no spaces, UTF-8, lists sorted) followed by ``\\n``, the rows in strictly
increasing order of ``id`` (the subject's USCC, the inspector's certificate number). Its hash
is SM3 of the file's bytes. The same bytes are stored, exported and hashed, so an outsider
holding the file checks it with any SM3 tool (``gmssl sm3 < subjects.jsonl``).

Subject line: ``{"division":"610113","id":"<USCC>","industry":"F5211","last":{"<item>":
"2026-03-02"},"licences":["<licensing item>"],"risk":"B","status":"active"}`` — ``last`` is the
day the subject was last drawn for each item, ``risk`` its credit risk class on the draw day.

Inspector line: ``{"barred":["610102"],"conflicts":["<USCC>"],"department":"XA-SCJG",
"id":"<certificate>","items":["<item>"],"recent":{"<USCC>":"2026-01-15"},"status":"active",
"valid_to":"2028-12-31"}`` — the items the officer is qualified for, declared conflicts, the
districts they are barred from, and their latest inspection of each subject.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import orjson

from inspections.errors import InvalidInspection, InvalidSnapshot
from inspections.rules import RISK_CLASSES, canonical, sm3_hex
from standard.sm3 import new_sm3

SUBJECTS = "subjects"
INSPECTORS = "inspectors"
SEED_BYTES = 32


@dataclass(frozen=True, slots=True)
class SubjectRow:
    """A regulated subject as the pool holds it."""

    id: str  # USCC
    risk: str
    division: str
    status: str
    industry: str | None = None
    licences: tuple[str, ...] = ()
    last: Mapping[str, date] = field(default_factory=dict)  # item → last drawn

    def __post_init__(self) -> None:
        if self.risk not in RISK_CLASSES:
            raise InvalidInspection(f"检查对象 {self.id}", "风险类别须为 A-D", "risk must be A-D")

    def document(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "risk": self.risk,
            "division": self.division,
            "status": self.status,
            "industry": self.industry,
            "licences": sorted(set(self.licences)),
            "last": {item: day.isoformat() for item, day in self.last.items()},
        }


@dataclass(frozen=True, slots=True)
class InspectorRow:
    """An enforcement officer as the pool holds them."""

    id: str  # certificate number
    department: str
    status: str
    valid_to: date | None
    items: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()  # USCCs the officer declared a conflict with
    barred: tuple[str, ...] = ()  # division codes the officer may not inspect in
    recent: Mapping[str, date] = field(default_factory=dict)  # USCC → latest inspection

    def document(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "department": self.department,
            "status": self.status,
            "valid_to": self.valid_to.isoformat() if self.valid_to else None,
            "items": sorted(set(self.items)),
            "conflicts": sorted(set(self.conflicts)),
            "barred": sorted(set(self.barred)),
            "recent": {uscc: day.isoformat() for uscc, day in self.recent.items()},
        }


def line(row: SubjectRow | InspectorRow) -> bytes:
    """The canonical line of one row."""
    return canonical(row.document()) + b"\n"


def lines(rows: Iterable[SubjectRow | InspectorRow]) -> Iterator[bytes]:
    """Canonical lines of ``rows``, which come in order of id (checked by ``Digest``)."""
    for row in rows:
        yield line(row)


async def async_lines(rows: AsyncIterable[SubjectRow | InspectorRow]) -> AsyncIterator[bytes]:
    """Canonical lines of rows read from the data centre (``inspections.pools``)."""
    async for row in rows:
        yield line(row)


_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_SHAPES: dict[str, dict[str, str]] = {
    SUBJECTS: {"id": "text", "risk": "risk", "division": "text", "status": "text",
               "industry": "text?", "licences": "texts", "last": "days"},
    INSPECTORS: {"id": "text", "department": "text", "status": "text", "valid_to": "day?",
                 "items": "texts", "conflicts": "texts", "barred": "texts", "recent": "days"},
}  # fmt: skip


def _fits(kind: str, value: Any) -> bool:
    if kind.endswith("?"):
        return value is None or _fits(kind[:-1], value)
    if kind == "text":
        return isinstance(value, str) and bool(value)
    if kind == "risk":
        return value in RISK_CLASSES
    if kind == "day":
        return isinstance(value, str) and _ISO_DAY.fullmatch(value) is not None
    if kind == "texts":
        return isinstance(value, list) and all(_fits("text", v) for v in value)
    return isinstance(value, dict) and all(_fits("day", v) for v in value.values())


def check_row(pool: str, line_no: int, document: Mapping[str, Any]) -> None:
    """A row of ``pool`` has exactly its fields, each of its kind; else ``InvalidSnapshot``."""
    shape = _SHAPES[pool]
    if set(document) != set(shape):
        raise InvalidSnapshot(
            pool, line_no, "字段不符", f"fields must be {', '.join(sorted(shape))}"
        )
    for name, kind in shape.items():
        if not _fits(kind, document[name]):
            raise InvalidSnapshot(pool, line_no, f"字段 {name} 无效", f"{name} is not {kind}")


class Digest:
    """SM3 of a snapshot fed line by line, checking each line is in order of id and, unless
    ``form`` is off, canonical; when ``strict`` (approval, verification) also that each row has
    its pool's fields and kinds. The draw turns ``form`` off: its lines were checked where they
    entered (approval stores them, verification checks a file first), and re-encoding every
    line cost 0.3 s of a 1M draw."""

    def __init__(self, pool: str, *, strict: bool = False, form: bool = True) -> None:
        self.pool = pool
        self.strict = strict
        self.form = form
        self.count = 0
        self._hash = new_sm3()
        self._last: str | None = None

    def add(self, raw: bytes) -> dict[str, Any]:
        """Take the next line; its parsed document."""
        self.count += 1
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise InvalidSnapshot(self.pool, self.count, "不是 JSON", f"not JSON ({exc})") from None
        if not isinstance(document, dict) or not isinstance(document.get("id"), str):
            raise InvalidSnapshot(self.pool, self.count, "缺少 id", "a row needs a string id")
        if self.form and canonical(document) + b"\n" != raw:
            raise InvalidSnapshot(
                self.pool, self.count, "不是规范形式", "not in canonical form (sorted keys, \\n)"
            )
        if self._last is not None and document["id"] <= self._last:
            raise InvalidSnapshot(
                self.pool,
                self.count,
                f"id {document['id']} 未按升序排列或重复",
                f"id {document['id']} is not after {self._last}: out of order or repeated",
            )
        if self.strict:
            check_row(self.pool, self.count, document)
        self._last = document["id"]
        self._hash.update(raw)
        return document

    def hexdigest(self) -> str:
        return str(self._hash.hexdigest())


def snapshot_hash(
    pool: str, raw_lines: Iterable[bytes], *, strict: bool = False
) -> tuple[str, int]:
    """The SM3 hash and the row count of a snapshot, checked line by line."""
    digest = Digest(pool, strict=strict)
    for raw in raw_lines:
        digest.add(raw)
    return digest.hexdigest(), digest.count


def new_seed() -> bytes:
    """A fresh seed (32 bytes from the system's CSPRNG); kept by the drawing officer until the
    draw, only its commitment goes into the approved plan."""
    return secrets.token_bytes(SEED_BYTES)


def commitment(seed: bytes) -> str:
    """The seed's commitment: SM3 of its 32 bytes, 64 hex digits."""
    return sm3_hex(seed)


@dataclass(frozen=True, slots=True)
class Approval:
    """What a plan's approval fixes before the seed is known: the rules' hash, the snapshots'
    hashes and counts, and the seed's commitment."""

    plan: str
    rules_hash: str
    subjects_hash: str
    subjects_count: int
    inspectors_hash: str
    inspectors_count: int
    commitment: str

    def document(self) -> dict[str, Any]:
        return {
            "plan": self.plan,
            "rules_hash": self.rules_hash,
            "subjects_hash": self.subjects_hash,
            "subjects_count": self.subjects_count,
            "inspectors_hash": self.inspectors_hash,
            "inspectors_count": self.inspectors_count,
            "commitment": self.commitment,
        }
