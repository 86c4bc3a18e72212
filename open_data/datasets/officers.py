"""执法人员: enforcement officers' public fields (R8: officer information is published)."""

from open_data.spec import CONTROL_COLUMNS, Column, DatasetSpec, Keep, drop

SPEC = DatasetSpec(
    name="enforcement-officers",
    title="西安市行政执法人员名录",
    description="持证行政执法人员的公开信息：执法证号、姓名、所属部门、执法领域与状态。",
    source="supervision",
    table="officers",
    tags=("执法人员", "互联网+监管"),
    public_by_rule=True,
    columns=(
        *(
            Column(name, Keep())
            for name in (
                "certificate_no",
                "name",
                "department_code",
                "division_code",
                "enforcement_field",
                "status",
                "valid_to",
            )
        ),
        Column("provider", Keep(), "数据提供部门"),
        *drop(*(c for c in CONTROL_COLUMNS if c != "provider")),
    ),
)
