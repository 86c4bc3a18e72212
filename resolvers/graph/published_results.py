"""The public query of random-inspection results (双随机抽查结果公示, 一公开) for anyone, signed
in or not: ``inspections.public`` decides what is published; this only pages it.

Its visibility is decided here, not by a ``role:public`` line of policies/seed.csv: those lines
name tables of the data standard, from which the public cache derives the types and root fields
it may cache (gateway/cache.py), and these rows are no such table (they join the gateway's
results to the data centre's acts). Nor may the answer be cached as those are: it changes on the
day a result's publication comes, which a cached answer's key does not hold.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import strawberry
from strawberry.types import Info

from inspections.public import PublishedResult, published_results
from resolvers.context import Context
from resolvers.graph.inspections import Connection, _after, _page, _services, _size, now_of
from standard.codes import check_uscc
from standard.errors import InputError
from standard.workdays import shanghai_date

KIND = "PublishedInspectionResult"


@strawberry.type(
    description="双随机抽查结果公示: a published random-inspection result (nothing personal: "
    "a natural person's name and code are masked, officers are not shown)."
)
class PublishedInspectionResult:
    plan_code: str = strawberry.field(description="计划编号: the plan.")
    plan_name: str = strawberry.field(description="计划名称: its name.")
    subject_uscc: str = strawberry.field(description="统一社会信用代码: the inspected subject.")
    subject_name: str = strawberry.field(description="检查对象名称: its name.")
    department: str = strawberry.field(description="检查部门: the inspecting department.")
    result: str = strawberry.field(description="检查结果: result code (no_problem, rectify …).")
    inspected_on: date = strawberry.field(description="检查日期: day of the inspection.")
    published_on: date = strawberry.field(description="公示日期: day it was published.")

    @classmethod
    def of(cls, one: PublishedResult) -> PublishedInspectionResult:
        return cls(
            plan_code=one.plan_code, plan_name=one.plan_name, subject_uscc=one.subject_uscc,
            subject_name=one.subject_name, department=one.department, result=one.result,
            inspected_on=one.inspected_on, published_on=one.published_on,
        )  # fmt: skip


async def published_inspection_results(
    info: Info[Context, None],
    first: int = 20,
    after: str | None = None,
    plan_code: str | None = None,
    subject_uscc: str | None = None,
) -> Connection[PublishedInspectionResult]:
    services = _services(info)
    start, size = _after(after, KIND), _size(first)
    if subject_uscc is not None:
        subject_uscc = subject_uscc.strip().upper()
        finding = check_uscc(subject_uscc, legacy="warn")
        if finding is not None and not finding.warning:
            raise InputError(f"subjectUscc: {finding.reason}")
    found, more = await published_results(
        services.engine, services.source_databases.engine("supervision"),
        today=shanghai_date(now_of(info)), first=size, after=start, plan_code=plan_code,
        subject_uscc=subject_uscc,
    )  # fmt: skip
    items = [(place, PublishedInspectionResult.of(one)) for place, one in found]
    return _page(KIND, items, more, start)  # type: ignore[no-any-return]


def fields() -> dict[str, Any]:
    """The query field of the public results."""
    return {
        "published_inspection_results": strawberry.field(
            resolver=published_inspection_results,
            description="双随机抽查结果公示 (一公开): published random-inspection results, for "
            "anyone without signing in; newest publication first, a result from its "
            "publication day on. Filter by plan code or subject USCC (a natural person's result "
            "is not found by code).",
        ),
    }
