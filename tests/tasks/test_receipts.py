"""Receipts: signed, verified offline with only the public key, forgeries refused by name."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives import hashes
from gmssl import sm2  # type: ignore[import-untyped]  # pure Python, no type hints
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from audit.keys import Signer, public_key_of
from standard.workdays import SHANGHAI
from tasks.errors import (
    AlteredReceipt,
    BadSignature,
    ForeignKey,
    InvalidTask,
    MalformedReceipt,
    ReceiptRefused,
    UnknownReceiptFormat,
)
from tasks.lifecycle import Action, Task, move
from tasks.printed import render_receipt
from tasks.receipts import (
    FORMAT,
    Event,
    Receipt,
    canonical,
    content_hash,
    dumps,
    receipt_for,
    sign_receipt,
    utc_text,
    verify_receipt,
)
from tests.tasks.samples import (
    ISSUER_STAFF,
    OTHER_RECIPIENT_STAFF,
    RECIPIENT_STAFF,
    RECIPIENTS,
    task,
)

SIGNER = Signer.new()
OTHER = Signer.new()
HEAD = "c3" * 32
# The receipt's fields as docs/tasks.md lists them.
RECEIPT_FIELDS = """task_id title task_version content_hash issuer recipient event actor at
audit_seq audit_head reason"""
AT = datetime(2026, 2, 12, 10, 0, 5, 123456, tzinfo=SHANGHAI)


def sm3(data: bytes) -> str:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize().hex()


def standard_json(value: Any) -> bytes:
    """The canonical form as docs/tasks.md states it, by the standard library, not orjson."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def delivered() -> Task:
    return move(task(), Action.DELIVER, by=ISSUER_STAFF, expected_version=1)


def delivery(**changes: Any) -> Receipt:
    fields: dict[str, Any] = {
        "event": Event.DELIVERED,
        "recipient": RECIPIENTS[0],
        "actor": "system",
        "at": AT,
        "audit_seq": 42,
        "audit_head": HEAD,
    }
    fields.update(changes)
    return receipt_for(delivered(), **fields)


def signed(receipt: Receipt | None = None, signer: Signer = SIGNER) -> dict[str, Any]:
    # Through the file form, as a verifier receives it.
    document: dict[str, Any] = orjson.loads(dumps(sign_receipt(receipt or delivery(), signer)))
    return document


def test_a_receipt_verifies_offline_with_only_the_public_key(tmp_path: Path) -> None:
    receipt = delivery()
    (tmp_path / "receipt.json").write_bytes(dumps(sign_receipt(receipt, SIGNER)))
    # What an auditor holds: the receipt file and a key file with the public key alone.
    (tmp_path / "key.json").write_bytes(orjson.dumps({"public_key": SIGNER.public_key}))
    public_key = public_key_of(tmp_path / "key.json")
    assert verify_receipt((tmp_path / "receipt.json").read_bytes(), public_key) == receipt
    assert receipt.at == AT and receipt.at.tzinfo is UTC
    assert (receipt.task_version, receipt.content_hash) == (2, content_hash(delivered()))


def test_the_documented_canonical_form_verifies_without_this_code() -> None:
    # docs/tasks.md: digests[f] = SM3(canonical(value)), H = SM3(canonical({"format", "digests"})),
    # signature = SM2-with-SM3 (default ID) over the 32 bytes of H. Done here with json and gmssl.
    document = signed(delivery())
    values, digests = document["receipt"], document["digests"]
    assert set(values) == set(digests) == set(RECEIPT_FIELDS.split())
    for name, value in values.items():
        assert digests[name] == sm3(standard_json(value))
    assert values["at"] == "2026-02-12T02:00:05.123456Z"
    signed_hash = sm3(standard_json({"format": FORMAT, "digests": digests}))
    crypt = sm2.CryptSM2(private_key="", public_key="")
    crypt.public_key = SIGNER.public_key
    assert crypt.verify_with_sm3(document["signature"], bytes.fromhex(signed_hash))


def test_the_content_hash_is_sm3_of_the_documented_content() -> None:
    t = delivered()
    content = {
        "id": t.id,
        "title": t.title,
        "issuer": t.issuer,
        "recipients": sorted(t.recipients),
        "subjects": sorted(t.subjects),
        "matters": sorted(t.matters),
        "legal_basis": t.legal_basis,
        "attachments": [{"name": "检查表.pdf", "size": 20480, "sm3": "ab" * 32}],
        "issued_at": "2026-02-12T02:00:00.000000Z",
        "deadline_working_days": 3,
    }
    assert content_hash(t) == sm3(standard_json(content))
    # A set is a set; the life cycle does not change what was asked.
    assert content_hash(task(recipients=tuple(reversed(RECIPIENTS)))) == content_hash(t)
    claimed = move(t, Action.CLAIM, by=RECIPIENT_STAFF, expected_version=2)
    assert content_hash(claimed) == content_hash(t)
    assert content_hash(task(subjects=t.subjects[:1])) != content_hash(t)
    assert content_hash(task(legal_basis="另一依据")) != content_hash(t)


# -- forgeries, each refused naming what is wrong --------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("recipient", RECIPIENTS[1]),
        ("at", "2026-02-11T02:00:05.123456Z"),
        ("content_hash", "00" * 32),
        ("event", "claimed"),
        ("audit_seq", 41),
        ("task_version", 3),
    ],
)
def test_a_changed_field_is_refused_naming_it(field: str, value: Any) -> None:
    document = signed()
    document["receipt"][field] = value
    with pytest.raises(AlteredReceipt) as refused:
        verify_receipt(document, SIGNER.public_key)
    assert refused.value.field == field
    assert refused.value.reason == "altered field"
    assert f"字段 {field}" in str(refused.value) and f"field {field!r}" in str(refused.value)


JSON_VALUES = st.recursive(
    # orjson writes integers of 64 bits (docs/tasks.md says so); receipts hold small ones.
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
GENUINE = signed()


@settings(max_examples=40, deadline=None)
@given(field=st.sampled_from(sorted(GENUINE["receipt"])), value=JSON_VALUES)
def test_any_change_to_any_field_is_refused(field: str, value: Any) -> None:
    document = orjson.loads(orjson.dumps(GENUINE))
    old = document["receipt"][field]
    assume(not (old == value and type(old) is type(value)))  # a change, not the same value
    document["receipt"][field] = value
    with pytest.raises(AlteredReceipt) as refused:
        verify_receipt(document, SIGNER.public_key)
    assert refused.value.field == field


@given(value=JSON_VALUES)
def test_the_canonical_form_is_the_standard_librarys(value: Any) -> None:
    # What docs/tasks.md promises other implementers: sorted keys, no whitespace, UTF-8 as is.
    assert canonical(value) == standard_json(value)


def test_a_value_that_is_not_json_is_refused() -> None:
    document = signed()
    document["receipt"]["at"] = object()
    with pytest.raises(MalformedReceipt, match="no JSON value"):
        verify_receipt(document, SIGNER.public_key)


@pytest.mark.parametrize("field", ["recipient", "at", "content_hash"])
def test_a_changed_field_with_its_digest_recomputed_breaks_the_signature(field: str) -> None:
    document = signed()
    value = {"recipient": RECIPIENTS[1], "at": utc_text(AT - timedelta(days=1))}.get(
        field, "0" * 64
    )
    document["receipt"][field] = value
    document["digests"][field] = sm3(standard_json(value))
    with pytest.raises(BadSignature, match="bad signature"):
        verify_receipt(document, SIGNER.public_key)


def test_a_signature_from_another_key_is_refused() -> None:
    genuine, forged = signed(), signed(signer=OTHER)
    # The forger's signature over the same receipt, presented as the system's.
    document = {**genuine, "signature": forged["signature"]}
    with pytest.raises(BadSignature):
        verify_receipt(document, SIGNER.public_key)
    # Or the forged document as it is, naming the forger's key.
    with pytest.raises(ForeignKey, match="another key"):
        verify_receipt(forged, SIGNER.public_key)
    assert verify_receipt(forged, OTHER.public_key) == delivery()  # it is the other key's


def test_a_flipped_signature_digit_is_refused() -> None:
    document = signed()
    last = document["signature"][-1]
    document["signature"] = document["signature"][:-1] + ("0" if last != "0" else "1")
    with pytest.raises(BadSignature):
        verify_receipt(document, SIGNER.public_key)


@pytest.mark.parametrize("version", ["jianguan-task-receipt/2", None, 1])
def test_an_unknown_format_version_is_refused(version: Any) -> None:
    document = signed()
    document["format"] = version
    with pytest.raises(UnknownReceiptFormat, match="unknown format version"):
        verify_receipt(document, SIGNER.public_key)


def _drop_reason(document: dict[str, Any]) -> None:
    del document["receipt"]["reason"]


def _extra_key(document: dict[str, Any]) -> None:
    document["note"] = "x"


def _bad_signature_shape(document: dict[str, Any]) -> None:
    document["signature"] = "zz"


@pytest.mark.parametrize("damage", [_drop_reason, _extra_key, _bad_signature_shape])
def test_a_malformed_document_is_refused(damage: Any) -> None:
    document = signed()
    damage(document)
    with pytest.raises(MalformedReceipt, match="malformed"):
        verify_receipt(document, SIGNER.public_key)


@pytest.mark.parametrize("text", [b"not json", b"[1, 2]", "{"])
def test_what_is_not_a_json_object_is_refused(text: bytes | str) -> None:
    with pytest.raises(MalformedReceipt):
        verify_receipt(text, SIGNER.public_key)


# -- every step is receipted the same way ---------------------------------------------------


def test_every_step_of_the_life_cycle_is_receipted() -> None:
    t, seq, steps = task(), 100, []
    t = move(t, Action.DELIVER, by=ISSUER_STAFF, expected_version=t.version)
    for recipient in RECIPIENTS:  # one delivery receipt per recipient, then its opening
        steps.append((t, Event.DELIVERED, recipient, "system"))
        steps.append((t, Event.OPENED, recipient, f"user:{recipient}"))
    for action, by, extra in [
        (Action.CLAIM, RECIPIENT_STAFF, {}),
        (Action.REASSIGN, RECIPIENT_STAFF, {"assignees": ("user:yanta-2",), "reason": "休假"}),
        (Action.CLAIM, OTHER_RECIPIENT_STAFF, {}),
        (Action.START, OTHER_RECIPIENT_STAFF, {}),
        (Action.FINISH, OTHER_RECIPIENT_STAFF, {"result": "已检查", "acts": ("ACT-9",)}),
    ]:
        t = move(t, action, by=by, expected_version=t.version, **extra)  # type: ignore[arg-type]
        steps.append((t, Event.of(action), by.party, by.officer))
    versions = []
    for n, (state, event, recipient, actor) in enumerate(steps):
        at = AT + timedelta(minutes=n)
        receipt = receipt_for(
            state,
            event=event,
            recipient=recipient,
            actor=actor,
            at=at,
            audit_seq=seq + n,
            audit_head=sm3(str(n).encode()),
        )
        assert verify_receipt(dumps(sign_receipt(receipt, SIGNER)), SIGNER.public_key) == receipt
        assert receipt.reason == ("休假" if event is Event.REASSIGNED else None)
        versions.append(receipt.task_version)
    assert versions == sorted(versions) and versions[-1] == 7
    assert {Event.of(a) for a in Action} | {Event.OPENED} == set(Event)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    actor=st.text(min_size=1, max_size=20),
    reason=st.text(min_size=1, max_size=40).filter(str.strip),  # a blank reason is refused
    seq=st.integers(1, 2**53),
    at=st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31), timezones=st.just(UTC)),
)
def test_any_receipt_round_trips(actor: str, reason: str, seq: int, at: datetime) -> None:
    t = move(delivered(), Action.RETURN, by=RECIPIENT_STAFF, expected_version=2, reason=reason)
    receipt = receipt_for(
        t,
        event=Event.RETURNED,
        recipient=RECIPIENTS[0],
        actor=actor,
        at=at,
        audit_seq=seq,
        audit_head=HEAD,
    )
    assert verify_receipt(dumps(sign_receipt(receipt, SIGNER)), SIGNER.public_key) == receipt
    assert receipt.reason == reason


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"recipient": "XA-SWJ"}, "recipient"),  # not a recipient of the task
        ({"event": Event.OPENED, "recipient": "XA-SWJ"}, "recipient"),
        ({"at": datetime(2026, 2, 12, 10)}, "at"),  # naive
        ({"audit_seq": 0}, "audit"),
        ({"audit_head": "C3" * 32}, "audit"),
    ],
)
def test_a_receipt_is_written_only_for_what_happened(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidTask) as refused:
        delivery(**changes)
    assert refused.value.field == field


# -- the printed form -------------------------------------------------------------------------


def test_the_printed_receipt_is_chinese_first_and_verified() -> None:
    document = signed()
    text = render_receipt(document, SIGNER.public_key)
    lines = text.splitlines()
    assert lines[0].startswith("送达回执") and "Delivery receipt" in lines[0]
    assert f"承办部门 Recipient:            {RECIPIENTS[0]}" in lines
    assert "2026-02-12 10:00:05 北京时间" in text and "2026-02-12T02:00:05.123456Z" in text
    assert "任务名称 Title:                春节前食品安全专项检查" in lines
    assert "第 42 条" in text and HEAD in text and document["signature"] in text
    assert text.index("签名已核验") < text.index("the signature was verified")
    document["receipt"]["recipient"] = RECIPIENTS[1]
    with pytest.raises(ReceiptRefused):
        render_receipt(document, SIGNER.public_key)


def test_a_later_step_prints_as_a_task_receipt_with_its_reason() -> None:
    t = move(delivered(), Action.RETURN, by=RECIPIENT_STAFF, expected_version=2, reason="非本部门")
    receipt = receipt_for(
        t,
        event=Event.RETURNED,
        recipient=RECIPIENTS[0],
        actor=RECIPIENT_STAFF.officer,
        at=AT,
        audit_seq=7,
        audit_head=HEAD,
    )
    text = render_receipt(dumps(sign_receipt(receipt, SIGNER)), SIGNER.public_key)
    assert text.startswith("任务回执（已退回）  Task receipt (returned)")
    assert "理由 Reason:                   非本部门" in text


def test_the_openssl_and_cryptography_sm3_agree_where_both_exist() -> None:
    # The test's own SM3 must be SM3: the GB/T 32905 example "abc".
    expected = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    assert sm3(b"abc") == expected
    if "sm3" in hashlib.algorithms_available:
        assert hashlib.new("sm3", b"abc").hexdigest() == expected
