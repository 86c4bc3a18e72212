"""投诉举报统计: complaints counted by district, category and month — never single complaints."""

from open_data.spec import CONTROL_COLUMNS, Aggregate, Column, DatasetSpec, Generalise, Keep, drop

SPEC = DatasetSpec(
    name="complaint-statistics",
    title="西安市投诉举报统计",
    description="按区县、类别和月份统计的投诉举报件数。只公开汇总数，不公开任何单件投诉；"
    "件数少于 5 的格子不公开。",
    source="complaints",
    table="complaints",
    tags=("投诉举报", "统计", "互联网+监管"),
    aggregate=Aggregate(by=("division_code", "category", "produced_at"), count_label="件数"),
    columns=(
        Column("division_code", Keep(), "区县代码"),
        Column("category", Keep(), "类别"),
        Column("produced_at", Generalise("month"), "月份"),
        *drop(
            "ticket_no",
            "channel",
            "complaint_type",
            "subcategory",
            "title",
            "content",
            "subject_uscc",
            "subject_name",
            "complainant_name",
            "complainant_phone",
            "complainant_id_number",
            "complainant_address",
            "handling_department_code",
            "matter_code",
            "due_at",
            "status",
            "result",
            "closed_at",
        ),
        *drop(*(c for c in CONTROL_COLUMNS if c != "produced_at")),
    ),
)
