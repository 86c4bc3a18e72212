"""监管事项目录清单: the matter catalogue, public by rule (R1, R8 "who enforces publicises")."""

from open_data.spec import CONTROL_COLUMNS, Column, DatasetSpec, Keep, drop

SPEC = DatasetSpec(
    name="matter-catalogue",
    title="西安市监管事项目录清单",
    description="各监管部门的监管事项目录清单，含事项编码、名称、实施部门、设定依据与状态。"
    "依“谁执法谁公示”原则公开。",
    source="supervision",
    table="matters",
    tags=("监管事项", "互联网+监管"),
    public_by_rule=True,
    columns=(
        *(
            Column(name, Keep())
            for name in (
                "matter_code",
                "parent_code",
                "name",
                "department_code",
                "permit_type",
                "licensing_item_code",
                "basis",
                "status",
                "version",
                "valid_from",
                "valid_to",
                "division_code",
            )
        ),
        Column("provider", Keep(), "数据提供部门"),
        *drop(*(c for c in CONTROL_COLUMNS if c != "provider")),
    ),
)
