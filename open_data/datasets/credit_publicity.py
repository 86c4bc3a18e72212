"""双公示: licence and penalty decisions as the credit platform publicises them.

Natural persons: the name to the surname, ID numbers and legal representatives never (the
legal representative of an organisation is published by the registrar, not here).
"""

from open_data.spec import (
    CONTROL_COLUMNS,
    Column,
    DatasetSpec,
    Drop,
    Generalise,
    Keep,
    MaskPerson,
    RedactNames,
    drop,
)

PERSON = MaskPerson(nature_column="counterparty_category")

LICENCES = DatasetSpec(
    name="licence-publicity",
    title="西安市行政许可信息（双公示）",
    description="行政许可决定的公示信息：决定文书号、许可事项、相对人、许可机关与有效期。"
    "自然人仅公开姓氏，不公开身份证号码。",
    source="credit",
    table="licence_publicity",
    tags=("双公示", "行政许可", "信用"),
    quasi=("division_code", "counterparty_category", "decision_date"),
    columns=(
        *(
            Column(name, Keep())
            for name in (
                "decision_no",
                "item_name",
                "approval_category",
                "content",
                "counterparty_category",
                "valid_from",
                "valid_to",
                "authority_name",
                "authority_uscc",
                "status",
                "division_code",
            )
        ),
        Column("counterparty_name", PERSON),
        Column("counterparty_uscc", PERSON),
        Column("counterparty_id_number", Drop()),
        Column("legal_representative", Drop()),
        Column("decision_date", Generalise("month"), "许可月份"),
        Column("provider", Keep(), "数据提供部门"),
        *drop(*(c for c in CONTROL_COLUMNS if c != "provider")),
    ),
)

PENALTIES = DatasetSpec(
    name="penalty-publicity",
    title="西安市行政处罚信息（双公示）",
    description="行政处罚决定的公示信息：决定文书号、违法类型、处罚种类与金额、处罚机关。"
    "自然人仅公开姓氏（案件名称中亦然），不公开身份证号码；违法事实不公开（可能含第三人信息）。",
    source="credit",
    table="penalty_publicity",
    tags=("双公示", "行政处罚", "信用"),
    quasi=("division_code", "counterparty_category", "decision_date"),
    columns=(
        *(
            Column(name, Keep())
            for name in (
                "decision_no",
                "violation_type",
                "basis",
                "penalty_type",
                "fine_amount",
                "counterparty_category",
                "publicity_until",
                "authority_name",
                "authority_uscc",
                "status",
                "division_code",
            )
        ),
        Column("counterparty_name", PERSON),
        Column(
            "case_name",
            RedactNames(("counterparty_name",), nature_column="counterparty_category"),
            notes="自然人当事人的姓名仅保留姓氏",
        ),
        Column("counterparty_uscc", PERSON),
        Column("counterparty_id_number", Drop()),
        Column("legal_representative", Drop()),
        Column("facts", Drop()),
        Column("content", Drop()),
        Column("decision_date", Generalise("year"), "处罚年份"),
        Column("provider", Keep(), "数据提供部门"),
        *drop(*(c for c in CONTROL_COLUMNS if c != "provider")),
    ),
)
