"""Record factories for ingest tests: valid records of each kind, built from real codes."""

from __future__ import annotations

import random
from datetime import date, datetime
from typing import Any

from standard.codes import make_id_number, make_item_code, make_matter_code, make_mobile, make_uscc
from standard.workdays import SHANGHAI

# Thursday 2026-10-15 10:00 Beijing time: after National Day, before any year without data.
RECEIVED = datetime(2026, 10, 15, 10, 0, tzinfo=SHANGHAI)


class Factory:
    """Builds valid raw records; tests then break the one thing they are about."""

    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.organ = make_uscc(self.rng, division="610100", authority="1", category="1")

    def uscc(self) -> str:
        return make_uscc(self.rng, division="610113")

    def complaint(self, n: int, **changes: Any) -> dict[str, Any]:
        record = {
            "cd_id": f"c-{n:06d}",
            "cd_operation": "i",
            "produced_at": "2026-10-14T09:30:00+08:00",
            "ticket_no": f"12345-2026-{n:06d}",
            "channel": "hotline_12345",
            "complaint_type": "complaint",
            "category": "食品安全",
            "title": "餐馆卫生问题",
            "content": "反映某餐馆后厨卫生条件差。",
            "subject_uscc": self.uscc(),
            "subject_name": "西安某某餐饮有限公司",
            "complainant_name": "张三",
            "complainant_phone": make_mobile(self.rng),
            "complainant_id_number": make_id_number(
                self.rng, division="610113", birth=date(1985, 3, 2), female=False
            ),
            "complainant_address": "西安市雁塔区小寨东路1号",
            "division_code": "610113",
            "status": "received",
        }
        record.update(changes)
        return record

    def matter(self, code: str, **changes: Any) -> dict[str, Any]:
        record = {
            "cd_id": f"m-{code}",
            "produced_at": "2025-01-01T00:00:00+08:00",
            "matter_code": code,
            "name": "食品生产经营监督检查",
            "department_code": "XA-SCJG",
            "status": "in_use",
            "version": "20250101000001",
            "valid_from": "2025-01-01",
            "division_code": "610100",
        }
        record.update(changes)
        return record

    def matter_code(self) -> str:
        return make_matter_code(self.rng)

    def inspection(self, n: int, matter_code: str, **changes: Any) -> dict[str, Any]:
        record = {
            "cd_id": f"a-{n:06d}",
            "produced_at": "2026-10-13T15:00:00+08:00",
            "kind": "inspection",
            "action_no": f"JC-2026-{n:06d}",
            "name": "日常监督检查",
            "matter_code": matter_code,
            "inspection_item_code": make_item_code(self.organ, 1, n),
            "implementing_org": "西安市市场监督管理局",
            "implementing_org_code": self.organ,
            "subject_uscc": (uscc := self.uscc()),
            "subject_name": "西安某某食品有限公司",
            "counterparty_name": "西安某某食品有限公司",
            "counterparty_nature": "legal_person",
            "counterparty_id_type": "uscc",
            "counterparty_id": uscc,
            "division_code": "610113",
            "officer_certificates": ["61010020230001", "61010020230002"],
            "result": "no_problem",
        }
        record.update(changes)
        return record
