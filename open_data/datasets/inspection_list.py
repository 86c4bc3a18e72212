"""检查实施清单: how each matter is inspected, public by rule (R1, R8)."""

from open_data.spec import CONTROL_COLUMNS, Column, DatasetSpec, Keep, drop

SPEC = DatasetSpec(
    name="inspection-list",
    title="西安市检查实施清单",
    description="监管事项的检查实施清单：检查对象、方式、内容、依据与层级。依“谁执法谁公示”原则公开。",
    source="supervision",
    table="inspection_items",
    tags=("检查实施清单", "互联网+监管"),
    public_by_rule=True,
    columns=(
        *(
            Column(name, Keep())
            for name in (
                "item_code",
                "matter_code",
                "name",
                "department_code",
                "administrative_type",
                "supervised_object",
                "method",
                "content",
                "basis",
                "level",
                "valid_from",
                "valid_to",
            )
        ),
        Column("provider", Keep(), "数据提供部门"),
        *drop(*(c for c in CONTROL_COLUMNS if c != "provider")),
    ),
)
