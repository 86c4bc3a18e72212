"""行政处罚决定: penalty decisions, following the rules for publishing them online.

Hidden for natural persons: address, contacts, ID numbers, bank accounts, health (the source has
no health or bank columns); names of third parties (free-text facts are not published); and
minors' cases are not published at all.
"""

from collections.abc import Mapping
from datetime import date
from typing import Any

from open_data.spec import (
    CONTROL_COLUMNS,
    Column,
    DatasetSpec,
    Drop,
    Generalise,
    Keep,
    MaskPerson,
    drop,
)
from sources.base import Filter
from standard.codes import check_id_number


def minor(row: Mapping[str, Any]) -> bool:
    """A natural person under 18 on the day of the decision (birth date from the ID number)."""
    if row.get("counterparty_nature") != "natural_person":
        return False
    code = str(row.get("counterparty_id") or "")
    if check_id_number(code) is not None:
        return True  # no readable birth date: published only when we can tell, so not at all
    born = date(int(code[6:10]), int(code[10:12]), int(code[12:14]))
    decided = row.get("decision_date") or date.today()
    age = decided.year - born.year - ((decided.month, decided.day) < (born.month, born.day))
    return age < 18


SPEC = DatasetSpec(
    name="administrative-penalties",
    title="西安市行政处罚决定信息",
    description="行政处罚决定书的公开信息。自然人仅公开姓氏，不公开住址、联系方式、证件号码；"
    "不公开第三人姓名及未成年人案件；处罚日期精确到年。",
    source="supervision",
    table="actions",
    where=(Filter("kind", "eq", "penalty"),),
    exclude=minor,
    exclude_reason="未成年人案件不公开",
    tags=("行政处罚", "双公示", "互联网+监管"),
    quasi=("division_code", "counterparty_nature", "decision_date"),
    columns=(
        *(
            Column(name, Keep())
            for name in (
                "kind",
                "action_no",
                "name",
                "matter_code",
                "implementing_org",
                "implementing_org_code",
                "counterparty_nature",
                "counterparty_id_type",
                "division_code",
                "legal_basis",
                "decision_no",
                "penalty_types",
                "fine_amount",
            )
        ),
        Column("subject_uscc", MaskPerson()),
        Column("subject_name", MaskPerson()),
        Column("counterparty_name", MaskPerson()),
        Column("counterparty_id", Drop()),
        Column("address", Drop()),
        Column("decision_date", Generalise("year"), "处罚年份"),
        Column("provider", Keep(), "数据提供部门"),
        *drop(
            "inspection_item_code",
            "plan_code",
            "related_action_no",
            "officer_certificates",
            "result",
            "facts",
            "measure_type",
            "measure_start",
            "measure_end",
            "closed_on",
            "extra",
        ),
        *drop(*(c for c in CONTROL_COLUMNS if c != "provider")),
    ),
)
