"""双随机抽查结果公示 (一公开): the results of random inspections, published within 20 working
days of the inspection, desensitised as every inspection result is (R8).

A result is a supervision ``actions`` row of kind inspection that carries ``extra.random_
inspection`` (written by ``inspections.results``): its plan, draw, task, the day of the
inspection and the day it is to be published. A row is published only when that publication day
is on or after the inspection and no later than its 20th working day after it (Chinese holidays
and make-up days counted, ``standard.workdays``); any other row is left out (fail closed).
"""

from collections.abc import Mapping
from datetime import date
from functools import cache
from typing import Any

from open_data.spec import CONTROL_COLUMNS, Column, DatasetSpec, Drop, Keep, MaskPerson, drop
from sources.base import Filter
from standard.workdays import WorkCalendar

PUBLICATION_WORKING_DAYS = 20


@cache
def _calendar() -> WorkCalendar:
    return WorkCalendar()  # the built-in notices; made on first use, not at import


def within_window(inspected_on: date, published_on: date, calendar: WorkCalendar) -> bool:
    """Whether ``published_on`` is no earlier than the inspection and no later than the 20th
    working day after it."""
    last, _ = calendar.nth_working_day(inspected_on, PUBLICATION_WORKING_DAYS)
    return inspected_on <= published_on <= last


def _unpublishable(row: Mapping[str, Any]) -> bool:
    extra = row.get("extra") or {}
    result = extra.get("random_inspection") if isinstance(extra, dict) else None
    if not isinstance(result, dict):
        return True
    try:
        inspected = date.fromisoformat(result["inspected_on"])
        published = date.fromisoformat(result["published_on"])
    except (KeyError, TypeError, ValueError):
        return True
    return not within_window(inspected, published, _calendar())


SPEC = DatasetSpec(
    name="random-inspection-results",
    title="西安市双随机抽查结果公示",
    description="“双随机、一公开”抽查的计划编号、检查事项、检查对象与检查结果，于检查后 20 个"
    "工作日内公示。自然人的姓名仅保留姓氏，证件号码与地址不公开。",
    source="supervision",
    table="actions",
    where=(Filter("kind", "eq", "inspection"),),
    exclude=_unpublishable,
    exclude_reason="不是双随机抽查结果，或公示日不在检查后 20 个工作日内",
    tags=("双随机一公开", "行政检查", "互联网+监管"),
    quasi=("division_code", "counterparty_nature"),
    columns=(
        *(
            Column(name, Keep())
            for name in (
                "kind",
                "action_no",
                "name",
                "matter_code",
                "inspection_item_code",
                "plan_code",
                "implementing_org",
                "implementing_org_code",
                "counterparty_nature",
                "counterparty_id_type",
                "division_code",
                "officer_certificates",
                "result",
                "closed_on",
            )
        ),
        Column("subject_uscc", MaskPerson()),
        Column("subject_name", MaskPerson()),
        Column("counterparty_name", MaskPerson()),
        Column("counterparty_id", Drop()),
        Column("address", Drop()),
        Column("provider", Keep(), "数据提供部门"),
        *drop(
            "related_action_no",
            "facts",
            "legal_basis",
            "decision_no",
            "decision_date",
            "penalty_types",
            "fine_amount",
            "measure_type",
            "measure_start",
            "measure_end",
            "extra",
        ),
        *drop(*(c for c in CONTROL_COLUMNS if c != "provider")),
    ),
)
