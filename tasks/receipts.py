"""Receipts (回执) that make a task legally delivered (R11): signed, verifiable offline, printable.

When a task reaches a recipient the system writes a delivery receipt, and one for every later
step (opened, claimed, started, done, returned, …). A receipt binds the task's content hash,
the recipient, the event, the time and the position in the audit chain (seq and head hash,
given by the caller that appended the audit entry), signed with the system's SM2 key.

The document, a JSON object (``docs/tasks.md`` gives the same, for implementers elsewhere)::

    {"format": "jianguan-task-receipt/1",
     "receipt": {field: value, …},           the fields of ``Receipt``, times as UTC ISO-8601
     "digests": {field: SM3(canonical(value)), …},
     "public_key": "<128 hex>", "signature": "<128 hex>"}

``canonical(v)`` is orjson's serialisation with sorted keys: UTF-8, no whitespace, non-ASCII
characters as they are. The signature is SM2 with SM3 (default user ID ``1234567812345678``)
over the 32 bytes of ``H = SM3(canonical({"format": …, "digests": …}))``. A verifier that finds
a field not matching its digest can say which field was altered; one that changes a field and
its digest breaks the signature.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import orjson

from audit.keys import Signer, verify_signature
from audit.log import sm3_hex
from standard.workdays import aware
from tasks.errors import (
    AlteredReceipt,
    BadSignature,
    ForeignKey,
    InvalidTask,
    MalformedReceipt,
    UnknownReceiptFormat,
)
from tasks.lifecycle import Action, Task

FORMAT = "jianguan-task-receipt/1"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX128 = re.compile(r"[0-9a-f]{128}")
_UTC_ISO = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


class Event(StrEnum):
    """What a receipt records: delivery, opening, and each later step of the life cycle."""

    DELIVERED = "delivered"
    OPENED = "opened"
    CLAIMED = "claimed"
    STARTED = "started"
    DONE = "done"
    RETURNED = "returned"
    REASSIGNED = "reassigned"
    ESCALATED = "escalated"
    REISSUED = "reissued"

    @property
    def zh(self) -> str:
        return _EVENT_ZH[self]

    @classmethod
    def of(cls, action: Action) -> Event:
        """The event a move records."""
        return _OF_ACTION[action]


_EVENT_ZH = {
    Event.DELIVERED: "已送达",
    Event.OPENED: "已查阅",
    Event.CLAIMED: "已认领",
    Event.STARTED: "开始办理",
    Event.DONE: "已办结",
    Event.RETURNED: "已退回",
    Event.REASSIGNED: "已改派",
    Event.ESCALATED: "已上报",
    Event.REISSUED: "已重新下达",
}
_OF_ACTION = {
    Action.DELIVER: Event.DELIVERED,
    Action.CLAIM: Event.CLAIMED,
    Action.START: Event.STARTED,
    Action.FINISH: Event.DONE,
    Action.RETURN: Event.RETURNED,
    Action.REASSIGN: Event.REASSIGNED,
    Action.ESCALATE: Event.ESCALATED,
    Action.REISSUE: Event.REISSUED,
}


def canonical(value: Any) -> bytes:
    """The canonical JSON of ``value``: orjson, keys sorted, UTF-8, no whitespace."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def utc_text(instant: datetime) -> str:
    """An aware instant as UTC ISO-8601 with microseconds: ``2026-02-13T02:00:00.000000Z``."""
    return aware(instant).astimezone(UTC).strftime(_TIME_FORMAT)


def task_content(task: Task) -> dict[str, Any]:
    """What a task asks, as the content hash covers it: not its state, version or officers.

    Recipients, subjects and matters are sets, so sorted; attachments keep their order.
    """
    return {
        "id": task.id,
        "title": task.title,
        "issuer": task.issuer,
        "recipients": sorted(task.recipients),
        "subjects": sorted(task.subjects),
        "matters": sorted(task.matters),
        "legal_basis": task.legal_basis,
        "attachments": [{"name": a.name, "size": a.size, "sm3": a.sm3} for a in task.attachments],
        "issued_at": utc_text(task.issued_at),
        "deadline_working_days": task.deadline_working_days,
    }


def content_hash(task: Task) -> str:
    """SM3 of the canonical JSON of ``task_content(task)``."""
    return sm3_hex(canonical(task_content(task)))


@dataclass(frozen=True, slots=True)
class Receipt:
    """One receipted event of one task, as signed."""

    task_id: str
    title: str  # what the task is called (its content hash covers the rest)
    task_version: int  # the version the event produced
    content_hash: str
    issuer: str
    recipient: str  # the party the task reached (or that acted on it)
    event: Event
    actor: str  # who acted: an officer, or "system" for delivery
    at: datetime  # aware; written as UTC ISO-8601
    audit_seq: int
    audit_head: str
    reason: str | None = None


FIELDS = tuple(f.name for f in fields(Receipt))


def receipt_for(
    task: Task,
    *,
    event: Event,
    recipient: str,
    actor: str,
    at: datetime,
    audit_seq: int,
    audit_head: str,
) -> Receipt:
    """The receipt of ``event`` on ``task`` (the task as the event left it)."""
    if event in (Event.DELIVERED, Event.OPENED) and recipient not in task.recipients:
        raise InvalidTask("recipient", f"{recipient} 不是承办部门", f"{recipient} is no recipient")
    if at.utcoffset() is None:
        raise InvalidTask("at", "须带时区", "must carry a time zone")
    if audit_seq < 1 or not _HEX64.fullmatch(audit_head):
        raise InvalidTask(
            "audit", "审计链位置无效", "the audit position needs seq >= 1 and a 64-hex head hash"
        )
    return Receipt(
        task_id=task.id,
        title=task.title,
        task_version=task.version,
        content_hash=content_hash(task),
        issuer=task.issuer,
        recipient=recipient,
        event=event,
        actor=actor,
        at=at.astimezone(UTC),
        audit_seq=audit_seq,
        audit_head=audit_head,
        reason=task.reason
        if event in (Event.RETURNED, Event.ESCALATED, Event.REASSIGNED)
        else None,
    )


def _values(receipt: Receipt) -> dict[str, Any]:
    values = asdict(receipt)
    values["event"] = receipt.event.value
    values["at"] = utc_text(receipt.at)
    return values


def _digests(values: Mapping[str, Any]) -> dict[str, str]:
    return {name: sm3_hex(canonical(values[name])) for name in FIELDS}


def _signed_hash(digests: Mapping[str, str]) -> str:
    return sm3_hex(canonical({"format": FORMAT, "digests": dict(digests)}))


def sign_receipt(receipt: Receipt, signer: Signer) -> dict[str, Any]:
    """The signed receipt document (a JSON object; ``dumps`` writes it)."""
    values = _values(receipt)
    digests = _digests(values)
    return {
        "format": FORMAT,
        "receipt": values,
        "digests": digests,
        "public_key": signer.public_key,
        "signature": signer.sign(_signed_hash(digests)),
    }


def dumps(document: Mapping[str, Any]) -> bytes:
    """A receipt document as a file: indented JSON, keys sorted (any layout verifies)."""
    return orjson.dumps(dict(document), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def verify_receipt(document: Mapping[str, Any] | bytes | str, public_key: str) -> Receipt:
    """The receipt in ``document`` if it is signed by ``public_key`` and unaltered; else raises
    ``ReceiptRefused`` (``UnknownReceiptFormat``, ``MalformedReceipt``, ``AlteredReceipt``
    naming the field, ``ForeignKey``, ``BadSignature``). Needs nothing but the public key."""
    data = _load(document)
    if data.get("format") != FORMAT:
        raise UnknownReceiptFormat(
            f"格式版本 {data.get('format')!r} 无法识别（应为 {FORMAT}）",
            f"format {data.get('format')!r} is not {FORMAT!r}",
        )
    expected = {"format", "receipt", "digests", "public_key", "signature"}
    if set(data) != expected:
        raise MalformedReceipt(
            "文档的键不符合格式", f"the document's keys are {sorted(data)}, not {sorted(expected)}"
        )
    values, digests = data["receipt"], data["digests"]
    for name, part in (("receipt", values), ("digests", digests)):
        if not isinstance(part, dict) or set(part) != set(FIELDS):
            keys = sorted(part) if isinstance(part, dict) else part
            raise MalformedReceipt(f"{name} 的字段不符合格式", f"{name} holds {keys}")
    if not all(isinstance(d, str) for d in digests.values()):
        raise MalformedReceipt("摘要须为字符串", "every digest must be a string")
    for name in FIELDS:
        try:
            digest = sm3_hex(canonical(values[name]))
        except orjson.JSONEncodeError:  # a mapping handed in directly may hold anything
            zh, en = f"字段 {name} 不是 JSON 值", f"field {name} is no JSON value"
            raise MalformedReceipt(zh, en) from None
        if digest != digests[name]:
            raise AlteredReceipt(name)
    if data["public_key"] != public_key:
        raise ForeignKey(
            "回执由另一把密钥签名",
            f"it names the key {str(data['public_key'])[:16]}…, not the given one",
        )
    signature = data["signature"]
    if not (isinstance(signature, str) and _HEX128.fullmatch(signature)):
        raise MalformedReceipt("签名须为 128 位十六进制", "the signature must be 128 hex digits")
    if not verify_signature(public_key, _signed_hash(digests), signature):
        raise BadSignature("签名验证失败", "the signature is not the given key's over the digests")
    return _parse(values)


def _load(document: Mapping[str, Any] | bytes | str) -> dict[str, Any]:
    if isinstance(document, Mapping):
        return dict(document)
    try:
        data = orjson.loads(document)
    except orjson.JSONDecodeError as exc:
        raise MalformedReceipt("不是 JSON 文档", f"not a JSON document: {exc}") from None
    if not isinstance(data, dict):
        raise MalformedReceipt("不是 JSON 对象", "not a JSON object")
    return data


def _parse(values: Mapping[str, Any]) -> Receipt:
    # Signed by the system's key, so well formed unless the key signed a bad one: still checked,
    # since a verifier must not trust a document further than it checked it.
    def bad(name: str) -> MalformedReceipt:
        return MalformedReceipt(f"字段 {name} 的值无效", f"field {name} holds {values[name]!r}")

    for name in ("task_id", "title", "content_hash", "issuer", "recipient", "actor", "audit_head"):
        if not isinstance(values[name], str):
            raise bad(name)
    for name in ("task_version", "audit_seq"):
        if type(values[name]) is not int:
            raise bad(name)
    if values["reason"] is not None and not isinstance(values["reason"], str):
        raise bad("reason")
    if not (isinstance(values["at"], str) and _UTC_ISO.fullmatch(values["at"])):
        raise bad("at")
    try:
        event = Event(values["event"])
    except ValueError:
        raise bad("event") from None
    at = datetime.strptime(values["at"], _TIME_FORMAT).replace(tzinfo=UTC)
    return Receipt(**{**values, "event": event, "at": at})
