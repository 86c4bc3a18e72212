"""Tables of the complaints source."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from standard.exchange import (
    ExchangeRecord,
    Join,
    UTCDateTime,
    field,
    ingest_runs_table,
    new_metadata,
)


class Base(DeclarativeBase):
    metadata = new_metadata("complaints")


CHANNELS = {
    "hotline_12345": "12345热线",
    "website": "网站",
    "app": "移动端",
    "wechat": "微信",
    "letter": "来信",
    "visit": "来访",
    "other": "其他",
}
COMPLAINT_TYPES = {
    "complaint": "投诉",
    "report": "举报",
    "consultation": "咨询",
    "suggestion": "建议",
}
COMPLAINT_STATUSES = {
    "received": "已受理",
    "dispatched": "已派发",
    "handling": "办理中",
    "closed": "已办结",
    "rejected": "不予受理",
}


class Complaint(ExchangeRecord, Base):
    """投诉举报: a complaint or report; carries the complainant's personal data."""

    __tablename__ = "complaints"
    __doc_zh__ = "投诉举报"
    __filters__ = (
        "division_code",
        "status",
        "matter_code",
        "subject_uscc",
        "channel",
        "complaint_type",
        "category",
    )
    __subject__ = "subject_uscc"
    __joins__ = (
        Join("subject", "subjects", "subject_uscc", "uscc", False, "被投诉对象", "The subject complained about"),
    )  # fmt: skip

    ticket_no: Mapped[str] = mapped_column(
        String(50), index=True, info=field("办件编号", "Ticket number")
    )
    channel: Mapped[str] = mapped_column(
        String(16), info=field("办件来源", "Channel", choices=CHANNELS)
    )
    complaint_type: Mapped[str] = mapped_column(
        String(16),
        info=field("诉求类型", "Complaint, report, consultation", choices=COMPLAINT_TYPES),
    )
    category: Mapped[str] = mapped_column(String(50), info=field("事项大类", "Category"))
    subcategory: Mapped[str | None] = mapped_column(
        String(50), info=field("事项小类", "Subcategory")
    )
    title: Mapped[str] = mapped_column(String(200), info=field("诉求主题", "Subject line"))
    content: Mapped[str] = mapped_column(
        Text, info=field("诉求内容", "What the complainant says", personal=True, max_length=4000)
    )
    subject_uscc: Mapped[str | None] = mapped_column(
        String(18),
        index=True,
        info=field("被投诉对象统一社会信用代码", "Subject complained about", check="uscc"),
    )
    subject_name: Mapped[str | None] = mapped_column(
        String(200), info=field("被投诉对象名称", "Subject name")
    )
    complainant_name: Mapped[str | None] = mapped_column(
        String(50), info=field("诉求人姓名", "Complainant's name", personal=True)
    )
    complainant_phone: Mapped[str | None] = mapped_column(
        String(20), info=field("诉求人电话", "Complainant's mobile", check="mobile", personal=True)
    )
    complainant_id_number: Mapped[str | None] = mapped_column(
        String(18),
        info=field("诉求人身份证号", "Complainant's ID number", check="id_number", personal=True),
    )
    complainant_address: Mapped[str | None] = mapped_column(
        String(400), info=field("诉求人地址", "Complainant's address", personal=True)
    )
    division_code: Mapped[str] = mapped_column(
        String(6), index=True, info=field("行政区划代码", "Division", check="division_code")
    )
    handling_department_code: Mapped[str | None] = mapped_column(
        String(64), index=True, info=field("办理单位编码", "Department handling it")
    )
    matter_code: Mapped[str | None] = mapped_column(
        String(14), info=field("监管事项编码", "Matter concerned", check="matter_code")
    )
    due_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, info=field("承诺完成时间", "Promised completion")
    )
    status: Mapped[str] = mapped_column(
        String(16), info=field("办件状态", "Status", choices=COMPLAINT_STATUSES)
    )
    result: Mapped[str | None] = mapped_column(
        Text, info=field("处理结果", "Outcome", max_length=4000)
    )
    closed_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, info=field("办结时间", "Closed at")
    )


INGEST_RUNS = ingest_runs_table(Base.metadata)
