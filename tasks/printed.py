"""The printable form of a receipt (送达回执): the document that proves delivery, Chinese first.

Only a verified receipt is printed: ``render_receipt`` verifies the document with the given
public key first, so a printout never shows a forged receipt as valid.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from standard.workdays import SHANGHAI
from tasks.receipts import Event, utc_text, verify_receipt

_RULE = "─" * 60


def render_receipt(document: Mapping[str, Any] | bytes | str, public_key: str) -> str:
    """The receipt as plain text for printing, after verifying it (``ReceiptRefused`` if not)."""
    receipt = verify_receipt(document, public_key)
    data = document if isinstance(document, Mapping) else orjson.loads(document)
    if receipt.event is Event.DELIVERED:
        title = "送达回执  Delivery receipt"
    else:
        title = f"任务回执（{receipt.event.zh}）  Task receipt ({receipt.event.value})"
    local = receipt.at.astimezone(SHANGHAI)
    lines = [
        title,
        _RULE,
        f"任务编号 Task:                 {receipt.task_id}",
        f"任务名称 Title:                {receipt.title}",
        f"任务版本 Version:              {receipt.task_version}",
        f"任务内容哈希 Content (SM3):    {receipt.content_hash}",
        f"下达部门 Issuer:               {receipt.issuer}",
        f"承办部门 Recipient:            {receipt.recipient}",
        f"事件 Event:                    {receipt.event.zh} {receipt.event.value}",
        f"操作人 Actor:                  {receipt.actor}",
        f"时间 Time:                     {local:%Y-%m-%d %H:%M:%S} 北京时间 Beijing time"
        f" ({utc_text(receipt.at)})",
    ]
    if receipt.reason is not None:
        lines.append(f"理由 Reason:                   {receipt.reason}")
    lines += [
        f"审计链位置 Audit chain:        第 {receipt.audit_seq} 条 entry {receipt.audit_seq},"
        f" {receipt.audit_head}",
        f"签名公钥 SM2 public key:       {data['public_key']}",
        f"签名 SM2 signature:            {data['signature']}",
        _RULE,
        "本回执由系统 SM2 密钥签名，签名已核验。通过系统下达的监管任务视为依法送达，"
        "具有书面文书同等效力（R11）。可凭系统公钥离线核验，方法见 docs/tasks.md。",
        "Signed with the system's SM2 key; the signature was verified. A task sent through the "
        "system counts as legally delivered, with the force of a written document (R11). "
        "Verify it offline with the system's public key as docs/tasks.md describes.",
    ]
    return "\n".join(lines) + "\n"
