"""监管检查结果: inspections and their results; natural persons desensitised (R8)."""

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

SPEC = DatasetSpec(
    name="inspection-results",
    title="西安市行政检查结果",
    description="各部门行政检查的对象、依据与结果。自然人的姓名仅保留姓氏，证件号码不公开，"
    "地址仅到区县；检查日期精确到月。",
    source="supervision",
    table="actions",
    where=(Filter("kind", "eq", "inspection"),),
    tags=("行政检查", "互联网+监管"),
    quasi=("division_code", "counterparty_nature", "closed_on"),
    columns=(
        *(
            Column(name, Keep())
            for name in (
                "kind",
                "action_no",
                "name",
                "matter_code",
                "inspection_item_code",
                "plan_code",
                "implementing_org",
                "implementing_org_code",
                "counterparty_nature",
                "counterparty_id_type",
                "division_code",
                "officer_certificates",
                "result",
                "legal_basis",
            )
        ),
        Column("subject_uscc", MaskPerson()),
        Column("subject_name", MaskPerson()),
        Column("counterparty_name", MaskPerson()),
        Column("counterparty_id", Drop()),
        Column("address", Generalise("district"), "所在区县"),
        Column("closed_on", Generalise("month"), "检查月份"),
        Column("provider", Keep(), "数据提供部门"),
        *drop(
            "related_action_no",
            "facts",
            "decision_no",
            "decision_date",
            "penalty_types",
            "fine_amount",
            "measure_type",
            "measure_start",
            "measure_end",
            "extra",
        ),
        *drop(*(c for c in CONTROL_COLUMNS if c != "provider")),
    ),
)
