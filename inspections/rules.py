"""The list (随机抽查事项清单), the rules (抽查细则) and a plan, as pure values.

A list item says which inspection item of the catalogue is drawn at random, by which
department, on what legal basis, and which subjects it applies to (``PoolCriteria``: industry,
division, licence held, registration status). The rules are versioned: per item a ratio for
each credit risk class (higher risk, higher ratio) and a yearly frequency with the interval
within which a subject is not drawn again for the item; for every draw the inspectors per
department and subject (at least two) and the recusal window in months.

The rules and the plan have canonical JSON forms (``canonical``); the plan records their SM3
hashes, so an outside party checks it holds the very rules the draw used.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import orjson

from inspections.errors import InvalidInspection
from standard.codes import check_item_code, check_matter_code
from standard.sm3 import new_sm3

RISK_CLASSES = ("A", "B", "C", "D")
"""信用风险分类, lowest risk first (A 守信 … D 严重失信)."""
MIN_INSPECTORS = 2  # 每个检查对象至少两名执法人员
ACTIVE = "active"


def sm3_hex(data: bytes) -> str:
    digest = new_sm3()
    digest.update(data)
    return str(digest.hexdigest())


def canonical(document: Any) -> bytes:
    """Canonical JSON: keys sorted, no spaces, UTF-8 (orjson's OPT_SORT_KEYS)."""
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)


@dataclass(frozen=True, slots=True)
class PoolCriteria:
    """Which subjects an item applies to; an empty tuple admits any value."""

    industries: tuple[str, ...] = ()  # GB/T 4754 code prefixes ("F52": retail)
    divisions: tuple[str, ...] = ()  # division code prefixes ("610113": Yanta district)
    licences: tuple[str, ...] = ()  # licensing item codes, any one held admits
    statuses: tuple[str, ...] = (ACTIVE,)

    def admits(self, row: Mapping[str, Any]) -> bool:
        """Whether a subject snapshot row (``snapshot.subject_document``) is in the pool."""
        if self.statuses and row["status"] not in self.statuses:
            return False
        industry = row["industry"] or ""
        if self.industries and not industry.startswith(self.industries):
            return False
        if self.divisions and not str(row["division"]).startswith(self.divisions):
            return False
        return not self.licences or not set(self.licences).isdisjoint(row["licences"])

    def document(self) -> dict[str, Any]:
        return {
            "industries": sorted(self.industries),
            "divisions": sorted(self.divisions),
            "licences": sorted(self.licences),
            "statuses": sorted(self.statuses),
        }


@dataclass(frozen=True, slots=True)
class ListItem:
    """One entry of a department's 随机抽查事项清单."""

    item_code: str  # 检查实施清单编码
    matter_code: str  # 监管事项编码
    department: str  # the department's party code (its provider code)
    name: str
    legal_basis: str
    criteria: PoolCriteria = field(default_factory=PoolCriteria)

    def __post_init__(self) -> None:
        where = f"清单事项 {self.item_code}"
        finding = check_item_code(self.item_code)
        if finding is not None:
            raise InvalidInspection(where, "检查实施清单编码无效", finding.reason)
        finding = check_matter_code(self.matter_code)
        if finding is not None:
            raise InvalidInspection(where, "监管事项编码无效", finding.reason)
        for name in ("department", "name", "legal_basis"):
            if not getattr(self, name).strip():
                raise InvalidInspection(where, f"{name} 不能为空", f"{name} must not be empty")

    def document(self) -> dict[str, Any]:
        return {
            "item": self.item_code,
            "matter": self.matter_code,
            "department": self.department,
            "name": self.name,
            "legal_basis": self.legal_basis,
            "criteria": self.criteria.document(),
        }


@dataclass(frozen=True, slots=True)
class ItemRule:
    """The rule for one list item: a ratio per risk class, a yearly frequency, an interval."""

    ratios: Mapping[str, Decimal]  # risk class → share drawn, 0 < r ≤ 1
    times_per_year: int = 1  # plans per year for this item
    interval_days: int = 365  # a subject drawn for the item is not drawn again within this

    def check(self, item: str) -> None:
        where = f"细则事项 {item}"
        if set(self.ratios) != set(RISK_CLASSES):
            raise InvalidInspection(
                where, "须为 A、B、C、D 各风险类别设定抽查比例", "needs a ratio for each of A-D"
            )
        previous = Decimal(0)
        for risk in RISK_CLASSES:
            ratio = self.ratios[risk]
            if not Decimal(0) < ratio <= Decimal(1):
                raise InvalidInspection(
                    where,
                    f"{risk} 类比例须在 0 与 1 之间",
                    f"class {risk}: ratio must be in (0, 1]",
                )
            if ratio < previous:
                raise InvalidInspection(
                    where,
                    f"风险越高比例应越高：{risk} 类比例低于上一类",
                    f"higher risk, higher ratio: class {risk} is below the class before",
                )
            previous = ratio
        if not 1 <= self.times_per_year <= 12:
            raise InvalidInspection(where, "年度频次须为 1 至 12", "times per year must be 1-12")
        if not 0 <= self.interval_days <= 3 * 366:
            raise InvalidInspection(where, "间隔天数须为 0 至 1098", "interval must be 0-1098 days")


@dataclass(frozen=True, slots=True)
class Rules:
    """抽查细则, one version of it."""

    version: str
    valid_from: date
    items: Mapping[str, ItemRule]  # by item code
    inspectors_per_department: int = MIN_INSPECTORS
    recusal_months: int = 12  # an inspector who inspected the subject within this is recused

    def __post_init__(self) -> None:
        if not self.version.strip():
            raise InvalidInspection("细则", "须有版本号", "the rules need a version")
        if self.inspectors_per_department < MIN_INSPECTORS:
            raise InvalidInspection(
                f"细则 {self.version}",
                f"每个检查对象至少 {MIN_INSPECTORS} 名执法人员",
                f"at least {MIN_INSPECTORS} inspectors per subject",
            )
        if not 0 <= self.recusal_months <= 120:
            raise InvalidInspection(
                f"细则 {self.version}", "回避月数须为 0 至 120", "recusal months must be 0-120"
            )
        for item, rule in self.items.items():
            rule.check(item)

    def document(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "valid_from": self.valid_from.isoformat(),
            "inspectors_per_department": self.inspectors_per_department,
            "recusal_months": self.recusal_months,
            "items": {
                code: {
                    # Decimal as a string: "0.05", never a binary float
                    "ratios": {risk: str(rule.ratios[risk]) for risk in RISK_CLASSES},
                    "times_per_year": rule.times_per_year,
                    "interval_days": rule.interval_days,
                }
                for code, rule in self.items.items()
            },
        }

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> Rules:
        items = {
            code: ItemRule(
                ratios={risk: Decimal(value) for risk, value in rule["ratios"].items()},
                times_per_year=int(rule["times_per_year"]),
                interval_days=int(rule["interval_days"]),
            )
            for code, rule in document["items"].items()
        }
        return cls(
            version=str(document["version"]),
            valid_from=date.fromisoformat(document["valid_from"]),
            items=items,
            inspectors_per_department=int(document["inspectors_per_department"]),
            recusal_months=int(document["recusal_months"]),
        )

    def hash(self) -> str:
        return sm3_hex(canonical(self.document()))


def ratios(base: Decimal, steps: Mapping[str, Decimal] | None = None) -> dict[str, Decimal]:
    """Ratios per class from a base ratio (class B) and multipliers; the usual 0.5/1/2/4."""
    factors = steps or {
        "A": Decimal("0.5"),
        "B": Decimal(1),
        "C": Decimal(2),
        "D": Decimal(4),
    }
    return {risk: min(Decimal(1), base * factors[risk]) for risk in RISK_CLASSES}


@dataclass(frozen=True, slots=True)
class PlanSpec:
    """A random-inspection plan (双随机抽查计划); joint when its items span departments."""

    code: str
    name: str
    draw_day: date
    items: tuple[ListItem, ...]

    def __post_init__(self) -> None:
        where = f"计划 {self.code}"
        if not self.code.strip() or len(self.code) > 50:
            raise InvalidInspection(where, "计划编号须为 1 至 50 个字符", "code must be 1-50 chars")
        if not self.items:
            raise InvalidInspection(where, "至少一个清单事项", "at least one list item")
        codes = [item.item_code for item in self.items]
        if len(set(codes)) != len(codes):
            raise InvalidInspection(where, "清单事项重复", "a list item appears twice")

    @property
    def departments(self) -> tuple[str, ...]:
        return tuple(sorted({item.department for item in self.items}))

    @property
    def joint(self) -> bool:
        return len(self.departments) > 1

    def check_rules(self, rules: Rules) -> None:
        """The rules must be in force on the draw day and cover every item of the plan."""
        where = f"计划 {self.code}"
        if rules.valid_from > self.draw_day:
            raise InvalidInspection(
                where,
                f"细则 {rules.version} 自 {rules.valid_from} 起施行，晚于抽取日 {self.draw_day}",
                f"rules {rules.version} apply from {rules.valid_from}, after the draw day",
            )
        for item in self.items:
            if item.item_code not in rules.items:
                raise InvalidInspection(
                    where,
                    f"细则 {rules.version} 未规定事项 {item.item_code}",
                    f"rules {rules.version} have no rule for item {item.item_code}",
                )

    def document(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "draw_day": self.draw_day.isoformat(),
            "items": [item.document() for item in self.items],
        }

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> PlanSpec:
        items = tuple(
            ListItem(
                item_code=item["item"],
                matter_code=item["matter"],
                department=item["department"],
                name=item["name"],
                legal_basis=item["legal_basis"],
                criteria=PoolCriteria(**{k: tuple(v) for k, v in item["criteria"].items()}),
            )
            for item in document["items"]
        )
        return cls(
            code=document["code"],
            name=document["name"],
            draw_day=date.fromisoformat(document["draw_day"]),
            items=items,
        )


def check_frequency(item: str, rule: ItemRule, *, year: int, earlier_plans: int) -> None:
    """A plan for ``item`` in ``year`` when ``earlier_plans`` already exist: within the rule."""
    if earlier_plans >= rule.times_per_year:
        raise InvalidInspection(
            f"清单事项 {item}",
            f"{year} 年已有 {earlier_plans} 个计划，细则规定每年 {rule.times_per_year} 次",
            f"{year} has {earlier_plans} plans already; the rules allow {rule.times_per_year}",
        )


def months_before(day: date, months: int) -> date:
    """The same calendar day ``months`` earlier (the month's last day when it has no such day)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def risk_class(*, rating: str | None, listed_dishonest: bool, default: str = "B") -> str:
    """信用风险分类 from the credit source: D when on a dishonesty list in force on the day;
    else the rating in force (A-D); else ``default``."""
    if listed_dishonest:
        return "D"
    if rating in RISK_CLASSES:
        return rating
    return default
