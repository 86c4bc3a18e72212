"""Tables of the supervision source: departments, subjects, the matter catalogue, plans, officers,
actions."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, Integer, Numeric, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from standard.exchange import (
    CATALOGUE_STATUSES,
    PARTY_KINDS,
    ExchangeRecord,
    Join,
    JSONValue,
    field,
    ingest_runs_table,
    new_metadata,
)


class Base(DeclarativeBase):
    metadata = new_metadata("supervision")


DEPARTMENT_LEVELS = {"city": "市级", "district": "区县级"}
SUBJECT_TYPES = {
    "enterprise": "企业",
    "individual_business": "个体工商户",
    "farmer_cooperative": "农民专业合作社",
    "institution": "事业单位",
    "social_organisation": "社会组织",
    "natural_person": "自然人",
    "other": "其他",
}
SUBJECT_STATUSES = {"active": "存续", "revoked": "吊销", "cancelled": "注销", "moved": "迁出"}
PERMIT_TYPES = {"first": "第一类", "second": "第二类", "third": "第三类", "other": "其他"}
ACTION_KINDS = {
    "inspection": "行政检查",
    "penalty": "行政处罚",
    "coercive": "行政强制",
    "other": "其他行为",
}
PLAN_TYPES = {
    "random": "双随机抽查",
    "routine": "日常检查",
    "special": "专项检查",
    "key": "重点监管",
    "joint": "联合检查",
}
PLAN_STATUSES = {"draft": "草拟", "issued": "已下达", "in_progress": "执行中", "finished": "已完成"}
OFFICER_STATUSES = {"active": "在岗", "suspended": "暂扣", "revoked": "注销"}
ID_TYPES = {"uscc": "统一社会信用代码", "id_card": "居民身份证", "other": "其他证件"}
INSPECTION_RESULTS = {
    "no_problem": "未发现问题",
    "rectify": "责令整改",
    "problem_found": "发现问题待处理",
    "not_found": "未找到检查对象",
    "other": "其他情形",
}


class Department(ExchangeRecord, Base):
    """监管部门: a regulatory department, city or district level."""

    __tablename__ = "departments"
    __doc_zh__ = "监管部门"
    __filters__ = ("division_code", "uscc", "code")

    code: Mapped[str] = mapped_column(
        String(64), index=True, info=field("部门编码", "Department code, also its provider code")
    )
    name: Mapped[str] = mapped_column(String(100), info=field("部门名称", "Department name"))
    uscc: Mapped[str] = mapped_column(
        String(18), info=field("统一社会信用代码", "Unified social credit code", check="uscc")
    )
    division_code: Mapped[str] = mapped_column(
        String(6), info=field("行政区划代码", "Division code", check="division_code")
    )
    level: Mapped[str] = mapped_column(
        String(16), info=field("层级", "City or district", choices=DEPARTMENT_LEVELS)
    )
    parent_code: Mapped[str | None] = mapped_column(
        String(64), info=field("上级部门编码", "Code of the supervising department")
    )


class Subject(ExchangeRecord, Base):
    """监管对象: a regulated subject."""

    __tablename__ = "subjects"
    __doc_zh__ = "监管对象"
    __filters__ = ("division_code", "status", "uscc", "subject_type")
    __subject__ = "uscc"
    __joins__ = (
        Join("licences", "licences", "uscc", "applicant_uscc", True, "行政许可决定", "Licence decisions"),
        Join("licence_publicity", "licence_publicity", "uscc", "counterparty_uscc", True, "行政许可双公示", "Licence publicity"),
        Join("penalty_publicity", "penalty_publicity", "uscc", "counterparty_uscc", True, "行政处罚双公示", "Penalty publicity"),
        Join("credit_list_entries", "credit_lists", "uscc", "subject_uscc", True, "信用名单", "Dishonesty and red-list entries"),
        Join("credit_ratings", "credit_ratings", "uscc", "subject_uscc", True, "信用评价", "Credit ratings"),
        Join("complaints", "complaints", "uscc", "subject_uscc", True, "投诉举报", "Complaints and reports about it"),
        Join("actions", "actions", "uscc", "subject_uscc", True, "监管行为", "Regulatory acts concerning it"),
    )  # fmt: skip

    uscc: Mapped[str] = mapped_column(
        String(18),
        index=True,
        info=field("统一社会信用代码", "Unified social credit code", check="uscc"),
    )
    name: Mapped[str] = mapped_column(String(200), info=field("名称", "Registered name"))
    subject_type: Mapped[str] = mapped_column(
        String(24), info=field("对象类型", "Kind of subject", choices=SUBJECT_TYPES)
    )
    legal_representative: Mapped[str | None] = mapped_column(
        String(50), info=field("法定代表人", "Legal representative or operator", personal=True)
    )
    division_code: Mapped[str] = mapped_column(
        String(6),
        index=True,
        info=field("行政区划代码", "Division of the registered address", check="division_code"),
    )
    address: Mapped[str | None] = mapped_column(
        String(400), info=field("住所(经营场所)", "Registered or business address")
    )
    industry_code: Mapped[str | None] = mapped_column(
        String(5), info=field("国民经济行业代码", "Industry (GB/T 4754)", check="industry_code")
    )
    registered_on: Mapped[date | None] = mapped_column(Date, info=field("成立日期", "Founded"))
    status: Mapped[str] = mapped_column(
        String(16), info=field("登记状态", "Registration status", choices=SUBJECT_STATUSES)
    )


class Matter(ExchangeRecord, Base):
    """监管事项目录清单: one version of one item of the matter catalogue."""

    __tablename__ = "matters"
    __doc_zh__ = "监管事项目录清单"
    __filters__ = ("division_code", "status", "matter_code", "department_code")
    __joins__ = (
        Join("inspection_items", "inspection_items", "matter_code", "matter_code", True, "检查实施清单", "How the matter is inspected"),
        Join("licensing_item", "licensing_items", "licensing_item_code", "item_code", False, "对应许可事项", "Linked licensing item (government services)"),
        Join("department", "departments", "department_code", "code", False, "监管部门", "Responsible department"),
    )  # fmt: skip

    matter_code: Mapped[str] = mapped_column(
        String(14), index=True, info=field("事项编码", "14-digit matter code", check="matter_code")
    )
    parent_code: Mapped[str | None] = mapped_column(
        String(14), info=field("父级事项编码", "Main item of a sub-item", check="matter_code")
    )
    name: Mapped[str] = mapped_column(String(500), info=field("事项名称", "Matter name"))
    department_code: Mapped[str] = mapped_column(
        String(64), index=True, info=field("监管部门编码", "Responsible department")
    )
    permit_type: Mapped[str | None] = mapped_column(
        String(8), info=field("对应许可事项类型", "Licensing type", choices=PERMIT_TYPES)
    )
    licensing_item_code: Mapped[str | None] = mapped_column(
        String(64),
        index=True,
        info=field("对应许可事项编码", "Linked licensing item in the government-service catalogue"),
    )
    basis: Mapped[str | None] = mapped_column(
        Text, info=field("设定依据", "Legal basis", max_length=2000)
    )
    status: Mapped[str] = mapped_column(
        String(16), info=field("事项状态", "Status", choices=CATALOGUE_STATUSES)
    )
    version: Mapped[str] = mapped_column(
        String(14), info=field("版本号", "Catalogue version (14 characters)")
    )
    valid_from: Mapped[date] = mapped_column(Date, info=field("生效日期", "First day in force"))
    valid_to: Mapped[date | None] = mapped_column(
        Date, info=field("失效日期", "Last day in force; empty while in force")
    )
    division_code: Mapped[str] = mapped_column(
        String(6),
        info=field("层级区划代码", "Division whose catalogue lists it", check="division_code"),
    )


class InspectionItem(ExchangeRecord, Base):
    """检查实施清单: how a matter is inspected."""

    __tablename__ = "inspection_items"
    __doc_zh__ = "检查实施清单"
    __filters__ = ("matter_code", "department_code", "item_code")
    __joins__ = (
        Join("matter", "matters", "matter_code", "matter_code", False, "监管事项", "The matter"),
    )  # fmt: skip

    item_code: Mapped[str] = mapped_column(
        String(40),
        index=True,
        info=field(
            "检查实施清单编码", "USCC of the organ + type digit + sequence", check="item_code"
        ),
    )
    matter_code: Mapped[str] = mapped_column(
        String(14),
        index=True,
        info=field("监管事项编码", "Matter it implements", check="matter_code"),
    )
    name: Mapped[str] = mapped_column(String(500), info=field("子项名称", "Sub-item name"))
    department_code: Mapped[str] = mapped_column(
        String(64), info=field("实施部门编码", "Implementing department")
    )
    administrative_type: Mapped[str] = mapped_column(
        String(16), info=field("行为类别", "Kind of regulatory act", choices=ACTION_KINDS)
    )
    supervised_object: Mapped[str | None] = mapped_column(
        String(400), info=field("监管对象", "Who is inspected")
    )
    method: Mapped[str | None] = mapped_column(String(400), info=field("监管方式", "How"))
    content: Mapped[str | None] = mapped_column(
        Text, info=field("检查内容", "What is checked", max_length=2000)
    )
    basis: Mapped[str | None] = mapped_column(
        Text, info=field("设定依据", "Legal basis", max_length=2000)
    )
    level: Mapped[str | None] = mapped_column(String(50), info=field("监管层级", "Level"))
    valid_from: Mapped[date] = mapped_column(Date, info=field("生效日期", "First day in force"))
    valid_to: Mapped[date | None] = mapped_column(Date, info=field("失效日期", "Last day in force"))


class Plan(ExchangeRecord, Base):
    """监管计划: a supervision plan, including random-inspection (双随机) plans."""

    __tablename__ = "plans"
    __doc_zh__ = "监管计划"
    __filters__ = ("status", "department_code", "plan_type")
    __joins__ = (
        Join("department", "departments", "department_code", "code", False, "制定部门", "Department"),
    )  # fmt: skip

    plan_code: Mapped[str] = mapped_column(
        String(50), index=True, info=field("计划编号", "Plan number")
    )
    name: Mapped[str] = mapped_column(String(200), info=field("计划名称", "Plan name"))
    plan_type: Mapped[str] = mapped_column(
        String(16), info=field("计划类型", "Kind of plan", choices=PLAN_TYPES)
    )
    department_code: Mapped[str] = mapped_column(
        String(64), index=True, info=field("制定部门编码", "Department that made it")
    )
    matter_codes: Mapped[list[str]] = mapped_column(
        JSONValue,
        info=field(
            "涉及事项编码",
            "Matter codes covered",
            check="matter_code",
            max_length=14,
            max_items=200,
        ),
    )
    year: Mapped[int] = mapped_column(Integer, info=field("计划年度", "Year"))
    start_date: Mapped[date] = mapped_column(Date, info=field("开始日期", "Start"))
    end_date: Mapped[date] = mapped_column(Date, info=field("结束日期", "End"))
    sampling_ratio: Mapped[Decimal | None] = mapped_column(
        Numeric(5, 2), info=field("抽查比例(%)", "Share of subjects drawn, percent")
    )
    subject_count: Mapped[int | None] = mapped_column(
        Integer, info=field("检查对象数", "Subjects to inspect")
    )
    status: Mapped[str] = mapped_column(
        String(16), info=field("计划状态", "Status", choices=PLAN_STATUSES)
    )


class Officer(ExchangeRecord, Base):
    """执法人员: an enforcement officer (public information, 谁执法谁公示)."""

    __tablename__ = "officers"
    __doc_zh__ = "执法人员"
    __filters__ = ("division_code", "status", "department_code", "certificate_no")
    __joins__ = (
        Join("department", "departments", "department_code", "code", False, "所属部门", "Department"),
    )  # fmt: skip

    certificate_no: Mapped[str] = mapped_column(
        String(32), index=True, info=field("执法证号", "Law-enforcement certificate number")
    )
    name: Mapped[str] = mapped_column(String(50), info=field("姓名", "Name"))
    department_code: Mapped[str] = mapped_column(
        String(64), index=True, info=field("所属部门编码", "Department")
    )
    division_code: Mapped[str] = mapped_column(
        String(6), info=field("执法区域", "Area of enforcement", check="division_code")
    )
    enforcement_field: Mapped[str | None] = mapped_column(
        String(100), info=field("执法门类", "Field of enforcement")
    )
    status: Mapped[str] = mapped_column(
        String(16), info=field("状态", "Status", choices=OFFICER_STATUSES)
    )
    valid_to: Mapped[date | None] = mapped_column(Date, info=field("证件有效期至", "Valid until"))


class Action(ExchangeRecord, Base):
    """监管行为: an inspection, penalty, coercive measure or other regulatory act."""

    __tablename__ = "actions"
    __doc_zh__ = "监管行为"
    __filters__ = ("division_code", "kind", "matter_code", "subject_uscc")
    __subject__ = "subject_uscc"
    __joins__ = (
        Join("matter", "matters", "matter_code", "matter_code", False, "监管事项", "The matter acted on"),
        Join("subject", "subjects", "subject_uscc", "uscc", False, "监管对象", "The subject"),
        Join("officers", "officers", "officer_certificates", "certificate_no", True, "执法人员", "Officers who acted"),
        Join("plan", "plans", "plan_code", "plan_code", False, "监管计划", "The plan it carried out"),
    )  # fmt: skip

    kind: Mapped[str] = mapped_column(
        String(16), index=True, info=field("行为类别", "Kind of act", choices=ACTION_KINDS)
    )
    action_no: Mapped[str] = mapped_column(
        String(50), index=True, info=field("行为编号", "Act number")
    )
    name: Mapped[str] = mapped_column(String(500), info=field("行为名称", "Act name"))
    matter_code: Mapped[str] = mapped_column(
        String(14),
        index=True,
        info=field("监管事项目录编码", "Matter acted on (R1)", check="matter_code"),
    )
    inspection_item_code: Mapped[str | None] = mapped_column(
        String(40),
        info=field(
            "检查实施清单编码", "Inspection item; required for inspections", check="item_code"
        ),
    )
    plan_code: Mapped[str | None] = mapped_column(
        String(50), info=field("双随机计划编号", "Random-inspection plan")
    )
    related_action_no: Mapped[str | None] = mapped_column(
        String(50), info=field("检查行为编号", "Inspection this act follows from")
    )
    implementing_org: Mapped[str] = mapped_column(String(100), info=field("实施机构", "Organ"))
    implementing_org_code: Mapped[str] = mapped_column(
        String(20), info=field("实施机构编码", "Organ's USCC", check="uscc")
    )
    subject_uscc: Mapped[str | None] = mapped_column(
        String(18), index=True, info=field("监管对象统一社会信用代码", "Subject", check="uscc")
    )
    subject_name: Mapped[str] = mapped_column(String(200), info=field("监管对象", "Subject name"))
    counterparty_name: Mapped[str] = mapped_column(
        String(200),
        info=field(
            "行政相对人",
            "Counterparty (organisation or person)",
            personal_if="counterparty_nature",
        ),
    )
    counterparty_nature: Mapped[str] = mapped_column(
        String(24), info=field("行政相对人性质", "Nature", choices=PARTY_KINDS)
    )
    counterparty_id_type: Mapped[str] = mapped_column(
        String(8), info=field("行政相对人证件类型", "Id type", choices=ID_TYPES)
    )
    counterparty_id: Mapped[str] = mapped_column(
        String(20),
        info=field("行政相对人证件号码", "USCC or citizen ID number", personal=True),
    )
    address: Mapped[str | None] = mapped_column(
        String(400), info=field("经营地址", "Address", personal=True)
    )
    division_code: Mapped[str] = mapped_column(
        String(6), index=True, info=field("行政区划代码", "Division", check="division_code")
    )
    officer_certificates: Mapped[list[str]] = mapped_column(
        JSONValue,
        info=field(
            "执法证号", "Certificates of the officers who acted", max_length=32, max_items=20
        ),
    )
    result: Mapped[str | None] = mapped_column(
        String(16), info=field("检查结果", "Inspection result", choices=INSPECTION_RESULTS)
    )
    facts: Mapped[str | None] = mapped_column(
        Text,
        info=field(
            "违法事实",
            "Facts found",
            personal_if="counterparty_nature",
            names=("counterparty_name",),
            max_length=5000,
        ),
    )
    legal_basis: Mapped[str | None] = mapped_column(
        Text, info=field("处罚/强制依据", "Basis", max_length=2000)
    )
    decision_no: Mapped[str | None] = mapped_column(
        String(100), info=field("决定文书号", "Decision document number")
    )
    decision_date: Mapped[date | None] = mapped_column(Date, info=field("决定日期", "Decided on"))
    penalty_types: Mapped[list[str] | None] = mapped_column(
        JSONValue, info=field("处罚种类", "Kinds of penalty", max_length=50, max_items=10)
    )
    fine_amount: Mapped[Decimal | None] = mapped_column(
        Numeric(14, 2), info=field("罚没金额(元)", "Fine and confiscation, yuan")
    )
    measure_type: Mapped[str | None] = mapped_column(
        String(100), info=field("强制措施类型", "Coercive measure")
    )
    measure_start: Mapped[date | None] = mapped_column(Date, info=field("措施起始日期", "From"))
    measure_end: Mapped[date | None] = mapped_column(Date, info=field("措施结束日期", "To"))
    closed_on: Mapped[date | None] = mapped_column(Date, info=field("结案日期", "Closed on"))
    extra: Mapped[dict[str, Any] | None] = mapped_column(
        JSONValue,
        info={
            **field("其他信息", "Further exchange fields, kept as sent", max_length=8000),
            "json": "object",
        },
    )


INGEST_RUNS = ingest_runs_table(Base.metadata)
