"""Tables of the credit source."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Date, Numeric, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from standard.exchange import (
    PARTY_KINDS,
    ExchangeRecord,
    Join,
    field,
    ingest_runs_table,
    new_metadata,
)


class Base(DeclarativeBase):
    metadata = new_metadata("credit")


PUBLICITY_STATUSES = {"valid": "有效", "revoked": "撤销", "expired": "过期"}
LIST_TYPES = {
    "dishonest": "严重失信主体名单",
    "abnormal_operation": "经营异常名录",
    "serious_violation": "严重违法失信名单",
    "red": "守信红名单",
}
RATINGS = {"A": "A级(守信)", "B": "B级(基本守信)", "C": "C级(失信)", "D": "D级(严重失信)"}


class LicencePublicity(ExchangeRecord, Base):
    """行政许可双公示: publicity of an administrative licence decision."""

    __tablename__ = "licence_publicity"
    __doc_zh__ = "行政许可信息(双公示)"
    __filters__ = ("division_code", "status", "counterparty_uscc")
    __subject__ = "counterparty_uscc"
    __joins__ = (
        Join("subject", "subjects", "counterparty_uscc", "uscc", False, "行政相对人", "The subject"),
    )  # fmt: skip

    decision_no: Mapped[str] = mapped_column(
        String(100), index=True, info=field("行政许可决定文书号", "Decision number")
    )
    item_name: Mapped[str] = mapped_column(String(200), info=field("许可项目名称", "Licence item"))
    approval_category: Mapped[str | None] = mapped_column(
        String(50), info=field("许可类别", "普通/特许/认可/核准/登记/其他")
    )
    content: Mapped[str | None] = mapped_column(
        Text, info=field("许可内容", "What is licensed", max_length=4000)
    )
    counterparty_name: Mapped[str] = mapped_column(
        String(200), info=field("行政相对人名称", "Licensee", personal_if="counterparty_category")
    )
    counterparty_category: Mapped[str] = mapped_column(
        String(24), info=field("行政相对人类别", "Category", choices=PARTY_KINDS)
    )
    counterparty_uscc: Mapped[str | None] = mapped_column(
        String(18), index=True, info=field("统一社会信用代码", "Licensee's USCC", check="uscc")
    )
    counterparty_id_number: Mapped[str | None] = mapped_column(
        String(18),
        info=field("证件号码", "Natural person's ID number", check="id_number", personal=True),
    )
    legal_representative: Mapped[str | None] = mapped_column(
        String(50), info=field("法定代表人", "Legal representative", personal=True)
    )
    decision_date: Mapped[date] = mapped_column(Date, info=field("许可决定日期", "Decided on"))
    valid_from: Mapped[date] = mapped_column(Date, info=field("有效期自", "Valid from"))
    valid_to: Mapped[date | None] = mapped_column(Date, info=field("有效期至", "Valid to"))
    authority_name: Mapped[str] = mapped_column(String(200), info=field("许可机关", "Authority"))
    authority_uscc: Mapped[str] = mapped_column(
        String(18), info=field("许可机关统一社会信用代码", "Authority's USCC", check="uscc")
    )
    status: Mapped[str] = mapped_column(
        String(16), info=field("当前状态", "Status", choices=PUBLICITY_STATUSES)
    )
    division_code: Mapped[str] = mapped_column(
        String(6), index=True, info=field("地方编码", "Division", check="division_code")
    )


class PenaltyPublicity(ExchangeRecord, Base):
    """行政处罚双公示: publicity of an administrative penalty decision."""

    __tablename__ = "penalty_publicity"
    __doc_zh__ = "行政处罚信息(双公示)"
    __filters__ = ("division_code", "status", "counterparty_uscc")
    __subject__ = "counterparty_uscc"
    __joins__ = (
        Join("subject", "subjects", "counterparty_uscc", "uscc", False, "行政相对人", "The subject"),
    )  # fmt: skip

    decision_no: Mapped[str] = mapped_column(
        String(100), index=True, info=field("行政处罚决定书文号", "Decision number")
    )
    case_name: Mapped[str] = mapped_column(
        String(500),
        info=field(
            "案件名称", "Case", personal_if="counterparty_category", names=("counterparty_name",)
        ),
    )
    violation_type: Mapped[str | None] = mapped_column(
        String(200), info=field("违法行为类型", "Kind of violation")
    )
    facts: Mapped[str] = mapped_column(
        Text,
        info=field(
            "违法事实",
            "Facts",
            personal_if="counterparty_category",
            names=("counterparty_name",),
            max_length=5000,
        ),
    )
    basis: Mapped[str] = mapped_column(Text, info=field("处罚依据", "Legal basis", max_length=2000))
    penalty_type: Mapped[str] = mapped_column(String(100), info=field("处罚类别", "Kind"))
    content: Mapped[str] = mapped_column(
        Text, info=field("处罚内容", "Penalty imposed", max_length=4000)
    )
    fine_amount: Mapped[Decimal | None] = mapped_column(
        Numeric(14, 2), info=field("罚款金额(万元)", "Fine, 10,000 yuan")
    )
    counterparty_name: Mapped[str] = mapped_column(
        String(200),
        info=field("行政相对人名称", "Punished party", personal_if="counterparty_category"),
    )
    counterparty_category: Mapped[str] = mapped_column(
        String(24), info=field("行政相对人类别", "Category", choices=PARTY_KINDS)
    )
    counterparty_uscc: Mapped[str | None] = mapped_column(
        String(18), index=True, info=field("统一社会信用代码", "Party's USCC", check="uscc")
    )
    counterparty_id_number: Mapped[str | None] = mapped_column(
        String(18),
        info=field("证件号码", "Natural person's ID number", check="id_number", personal=True),
    )
    legal_representative: Mapped[str | None] = mapped_column(
        String(50), info=field("法定代表人", "Legal representative", personal=True)
    )
    decision_date: Mapped[date] = mapped_column(Date, info=field("处罚决定日期", "Decided on"))
    publicity_until: Mapped[date | None] = mapped_column(
        Date, info=field("公示截止期", "Publicity ends")
    )
    authority_name: Mapped[str] = mapped_column(String(200), info=field("处罚机关", "Authority"))
    authority_uscc: Mapped[str] = mapped_column(
        String(18), info=field("处罚机关统一社会信用代码", "Authority's USCC", check="uscc")
    )
    status: Mapped[str] = mapped_column(
        String(16), info=field("当前状态", "Status", choices=PUBLICITY_STATUSES)
    )
    division_code: Mapped[str] = mapped_column(
        String(6), index=True, info=field("地方编码", "Division", check="division_code")
    )


class CreditListEntry(ExchangeRecord, Base):
    """失信/红名单: an entry on a dishonesty list, the abnormal-operation list or a red list."""

    __tablename__ = "credit_lists"
    __doc_zh__ = "信用名单(失信/红名单)"
    __filters__ = ("subject_uscc", "list_type")
    __subject__ = "subject_uscc"
    __joins__ = (
        Join("subject", "subjects", "subject_uscc", "uscc", False, "主体", "The subject"),
    )  # fmt: skip

    list_type: Mapped[str] = mapped_column(
        String(24), index=True, info=field("名单类型", "Which list", choices=LIST_TYPES)
    )
    subject_uscc: Mapped[str] = mapped_column(
        String(18), index=True, info=field("统一社会信用代码", "Subject", check="uscc")
    )
    subject_name: Mapped[str] = mapped_column(String(200), info=field("主体名称", "Subject name"))
    reason: Mapped[str] = mapped_column(Text, info=field("列入原因", "Why listed", max_length=2000))
    basis: Mapped[str | None] = mapped_column(
        Text, info=field("列入依据", "Legal basis", max_length=2000)
    )
    listed_on: Mapped[date] = mapped_column(Date, info=field("列入日期", "Listed on"))
    removed_on: Mapped[date | None] = mapped_column(Date, info=field("移出日期", "Removed on"))
    authority_name: Mapped[str] = mapped_column(
        String(200), info=field("认定部门", "Listing authority")
    )


class CreditRating(ExchangeRecord, Base):
    """信用评价: a credit rating of a subject."""

    __tablename__ = "credit_ratings"
    __doc_zh__ = "信用评价"
    __filters__ = ("subject_uscc", "rating")
    __subject__ = "subject_uscc"
    __joins__ = (
        Join("subject", "subjects", "subject_uscc", "uscc", False, "主体", "The subject"),
    )  # fmt: skip

    subject_uscc: Mapped[str] = mapped_column(
        String(18), index=True, info=field("统一社会信用代码", "Subject", check="uscc")
    )
    subject_name: Mapped[str] = mapped_column(String(200), info=field("主体名称", "Subject name"))
    rating: Mapped[str] = mapped_column(
        String(1), info=field("信用等级", "Rating A-D", choices=RATINGS)
    )
    score: Mapped[Decimal | None] = mapped_column(
        Numeric(5, 1), info=field("信用分值", "Score 0-100")
    )
    rated_on: Mapped[date] = mapped_column(Date, info=field("评价日期", "Rated on"))
    valid_to: Mapped[date | None] = mapped_column(Date, info=field("有效期至", "Valid to"))
    authority_name: Mapped[str] = mapped_column(
        String(200), info=field("评价部门", "Rating authority")
    )


INGEST_RUNS = ingest_runs_table(Base.metadata)
