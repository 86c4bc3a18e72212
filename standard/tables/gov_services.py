"""Tables of the government-services source."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from standard.exchange import (
    CATALOGUE_STATUSES,
    PARTY_KINDS,
    ExchangeRecord,
    Join,
    field,
    ingest_runs_table,
    new_metadata,
)


class Base(DeclarativeBase):
    metadata = new_metadata("gov_services")


ITEM_TYPES = {
    "licensing": "行政许可",
    "confirmation": "行政确认",
    "payment": "行政给付",
    "public_service": "公共服务",
    "other": "其他行政权力",
}
OUTCOMES = {
    "issued": "出证办结",
    "refused": "不予许可",
    "void": "作废",
    "deleted": "删除",
    "referred": "转报",
    "returned": "退件",
    "not_accepted": "不予受理",
}


class LicensingItem(ExchangeRecord, Base):
    """政务服务事项: an item of the city's government-service catalogue."""

    __tablename__ = "licensing_items"
    __doc_zh__ = "政务服务事项"
    __filters__ = ("division_code", "status", "department_code", "item_code")
    __joins__ = (
        Join("matters", "matters", "item_code", "licensing_item_code", True, "对应监管事项", "Matters linked to this item"),
    )  # fmt: skip

    item_code: Mapped[str] = mapped_column(
        String(64), index=True, info=field("事项编码", "Item code")
    )
    name: Mapped[str] = mapped_column(String(500), info=field("事项名称", "Item name"))
    item_type: Mapped[str] = mapped_column(
        String(16), info=field("事项类型", "Kind of item", choices=ITEM_TYPES)
    )
    department_code: Mapped[str] = mapped_column(
        String(64), index=True, info=field("实施部门编码", "Implementing department")
    )
    legal_basis: Mapped[str | None] = mapped_column(
        Text, info=field("设定依据", "Legal basis", max_length=2000)
    )
    promised_days: Mapped[int | None] = mapped_column(
        Integer, info=field("承诺办结时限(工作日)", "Promised time, working days")
    )
    status: Mapped[str] = mapped_column(
        String(16), info=field("事项状态", "Status", choices=CATALOGUE_STATUSES)
    )
    version: Mapped[str] = mapped_column(String(14), info=field("版本号", "Catalogue version"))
    valid_from: Mapped[date] = mapped_column(Date, info=field("生效日期", "In force from"))
    valid_to: Mapped[date | None] = mapped_column(Date, info=field("失效日期", "In force until"))
    division_code: Mapped[str] = mapped_column(
        String(6), info=field("行政区划代码", "Division", check="division_code")
    )


class Licence(ExchangeRecord, Base):
    """许可决定: a decision on an application for a licensing item."""

    __tablename__ = "licences"
    __doc_zh__ = "行政许可决定"
    __filters__ = (
        "division_code",
        "department_code",
        "applicant_uscc",
        "item_code",
        "outcome",
        "certificate_no",
    )
    __subject__ = "applicant_uscc"
    __joins__ = (
        Join("subject", "subjects", "applicant_uscc", "uscc", False, "申请人", "The applicant as a regulated subject"),
        Join("licensing_item", "licensing_items", "item_code", "item_code", False, "许可事项", "The licensing item"),
    )  # fmt: skip

    approval_no: Mapped[str] = mapped_column(
        String(100), index=True, info=field("许可决定书文号", "Decision number")
    )
    certificate_no: Mapped[str | None] = mapped_column(
        String(100), info=field("许可证书编号", "Certificate number")
    )
    item_code: Mapped[str] = mapped_column(
        String(64), index=True, info=field("事项编码", "Licensing item")
    )
    applicant_name: Mapped[str] = mapped_column(
        String(200), info=field("申请人名称", "Applicant", personal_if="applicant_category")
    )
    applicant_category: Mapped[str] = mapped_column(
        String(24), info=field("申请人类别", "Category", choices=PARTY_KINDS)
    )
    applicant_uscc: Mapped[str | None] = mapped_column(
        String(18),
        index=True,
        info=field("申请人统一社会信用代码", "Applicant's USCC", check="uscc"),
    )
    applicant_id_number: Mapped[str | None] = mapped_column(
        String(18),
        info=field(
            "申请人身份证号", "Natural person's ID number", check="id_number", personal=True
        ),
    )
    applicant_phone: Mapped[str | None] = mapped_column(
        String(20), info=field("联系电话", "Contact mobile", check="mobile", personal=True)
    )
    outcome: Mapped[str] = mapped_column(
        String(16), info=field("办结结果", "Outcome", choices=OUTCOMES)
    )
    decided_on: Mapped[date] = mapped_column(Date, info=field("决定日期", "Decided on"))
    valid_to: Mapped[date | None] = mapped_column(Date, info=field("有效期至", "Valid to"))
    department_code: Mapped[str] = mapped_column(
        String(64), index=True, info=field("审批部门编码", "Deciding department")
    )
    division_code: Mapped[str] = mapped_column(
        String(6), info=field("行政区划代码", "Division", check="division_code")
    )


INGEST_RUNS = ingest_runs_table(Base.metadata)
