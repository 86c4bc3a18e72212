"""A task to move through the tests, and the actors around it."""

from __future__ import annotations

from datetime import datetime

from standard.workdays import SHANGHAI
from tasks.lifecycle import Actor, Attachment, Task

ISSUER = "XA-SCJGJ"  # the city market regulation bureau
RECIPIENTS = ("XA-YTSCJ", "XA-BLSCJ")  # two district bureaux
CITY = "XA-ZWB"

ISSUER_STAFF = Actor(officer="user:issuer", party=ISSUER)
RECIPIENT_STAFF = Actor(officer="user:yanta-1", party=RECIPIENTS[0])
OTHER_RECIPIENT_STAFF = Actor(officer="user:beilin-1", party=RECIPIENTS[1])
CITY_STAFF = Actor(officer="user:city-1", party=CITY, city_office=True)
OUTSIDER = Actor(officer="user:outsider", party="XA-SWJ")  # a department not on the task

# Valid codes (GB 32100 check characters, 14-digit matter codes).
SUBJECTS = ("916101004JURQ28308", "91610100FQEFLCR617")
MATTERS = ("17066907439150",)


def task(**changes: object) -> Task:
    """A freshly issued task: Thursday 12 February 2026, 10:00 Shanghai, 3 working days."""
    fields: dict[str, object] = {
        "id": "T-2026-000001",
        "title": "春节前食品安全专项检查",
        "issuer": ISSUER,
        "recipients": RECIPIENTS,
        "subjects": SUBJECTS,
        "matters": MATTERS,
        "legal_basis": "《中华人民共和国食品安全法》第一百一十条",
        "issued_at": datetime(2026, 2, 12, 10, 0, tzinfo=SHANGHAI),
        "deadline_working_days": 3,
        "attachments": (Attachment("检查表.pdf", 20480, "ab" * 32),),
    }
    fields.update(changes)
    return Task(**fields)  # type: ignore[arg-type]  # the fields above, as the test wrote them
