"""Random inspections over GraphQL (双随机、一公开): plans, their pools' snapshots, draws (a
repeat beside the first), drawn subjects and results; drawing a plan.

Resolvers only translate: ``inspections.plans`` decides who sees a plan (its departments, the
city office) and ``inspections.store`` who may draw it; their refusals reach the client coded by
``resolvers.graph.errors``. Lists are Relay connections (``first``/``after``, 1-100): plans and
results by their place in the list, drawn subjects and snapshot rows by their position.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Generic, TypeVar

import orjson
import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from inspections import plans as stored
from inspections.draw import Drawn
from inspections.issuing import issue_draw_tasks
from inspections.results import Result, publish_result
from inspections.service import draw_plan
from inspections.snapshot import INSPECTORS, SUBJECTS
from resolvers.context import Context, Services
from resolvers.graph import ids
from resolvers.graph.relations import MAX_PAGE
from resolvers.graph.root import PageInfo
from standard.errors import Forbidden, InputError, Unauthenticated
from tasks.lifecycle import Actor

N = TypeVar("N")
RESOURCE = "inspections"  # reads of it are audited like any non-public read


def _note(info: Info[Context, None], rows: int, departments: Any) -> None:
    info.context.sources.note(RESOURCE, rows, departments)


def _actor(info: Info[Context, None]) -> Actor:
    principal = info.context.principal
    if principal.kind == "public" or principal.party is None:
        raise Unauthenticated("Sign in to see random-inspection plans (双随机抽查计划).")
    return Actor(
        officer=principal.id,
        party=principal.party,
        city_office=principal.party_kind == "city_office",
    )


def _services(info: Info[Context, None]) -> Services:
    services = info.context.services
    if services is None:
        raise Forbidden("Random inspections are not available here.")
    return services


def now_of(info: Info[Context, None]) -> datetime:
    """The instant a request acts at: the services' one clock (the tasks' store holds it), so a
    test sets the day a draw, a result or a publication happens."""
    now = _services(info).tasks.clock()
    if now.utcoffset() is None:
        raise ValueError("the services' clock must give aware datetimes")
    return now


def _size(first: int) -> int:
    if not 1 <= first <= MAX_PAGE:
        raise InputError(f"first must be between 1 and {MAX_PAGE}, got {first}")
    return first


def _after(after: str | None, kind: str) -> int:
    if after is None:
        return 0
    found, position = ids.decode(after)
    if found != kind:
        raise ids.BadId(f"after is a cursor of {found}, not of {kind}")
    return position


@strawberry.type(description="Relay edge: an item and its cursor.")
class Edge(Generic[N]):
    node: N = strawberry.field(description="The item.")
    cursor: str = strawberry.field(description="Opaque cursor for `after`.")


@strawberry.type(description="A page of items (Relay cursor connection).")
class Connection(Generic[N]):
    edges: list[Edge[N]] = strawberry.field(description="The page's items.")
    page_info: PageInfo = strawberry.field(description="Where this page lies.")


def _page(kind: str, items: list[tuple[int, Any]], more: bool, after: int) -> Any:
    edges = [Edge(node=node, cursor=ids.encode(kind, position)) for position, node in items]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=more,
            has_previous_page=after > 0,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )


@strawberry.type(description="随机抽查事项清单条目: one list item of a plan.")
class InspectionListItem:
    item_code: str = strawberry.field(description="检查实施清单编码: inspection item code.")
    matter_code: str = strawberry.field(description="监管事项编码: matter code.")
    department: str = strawberry.field(description="实施部门: the department.")
    name: str = strawberry.field(description="事项名称: name.")
    legal_basis: str = strawberry.field(description="设定依据: legal basis.")
    criteria: JSON = strawberry.field(
        description="适用对象范围: industries, divisions, licences, statuses it applies to."
    )


@strawberry.type(description="抽查执法人员组: a department's drawn inspectors for one subject.")
class InspectorTeam:
    department: str = strawberry.field(description="部门: the department.")
    certificates: list[str] = strawberry.field(description="执法证号: certificates, in order.")


@strawberry.type(description="抽中对象: one drawn subject, its items and its inspectors.")
class DrawnSubject:
    uscc: str = strawberry.field(description="统一社会信用代码: the subject.")
    rank: str = strawberry.field(description="排序值: SM3(seed ‖ 'subject' ‖ 0x1F ‖ USCC), hex.")
    risk: str = strawberry.field(description="信用风险分类 A-D: credit risk class.")
    items: list[str] = strawberry.field(description="检查事项: items it is inspected for.")
    inspectors: list[InspectorTeam] = strawberry.field(description="执法人员: per department.")

    @classmethod
    def of(cls, one: Drawn) -> DrawnSubject:
        teams = [InspectorTeam(department=d, certificates=list(c)) for d, c in one.inspectors]
        return cls(uscc=one.id, rank=one.rank, risk=one.risk, items=list(one.items),
                   inspectors=teams)  # fmt: skip


@strawberry.type(description="抽取记录: one draw of a plan; a repeat has a reason.")
class InspectionDraw:
    plan_code: str = strawberry.field(description="计划编号: the plan.")
    number: int = strawberry.field(description="第几次抽取: 1 is the first draw.")
    seed: str = strawberry.field(description="随机种子 (hex), revealed at the draw.")
    commitment: str = strawberry.field(description="种子承诺: SM3 of the seed.")
    reason: str | None = strawberry.field(description="重新抽取理由: why a repeat was made.")
    result_hash: str = strawberry.field(description="结果哈希: SM3 of the result lines.")
    subject_count: int = strawberry.field(description="抽中对象数: subjects drawn.")
    drawn_at: datetime = strawberry.field(description="抽取时间: when.")
    drawn_by: str = strawberry.field(description="抽取人: who.")
    departments: strawberry.Private[tuple[str, ...]]

    @strawberry.field(description="抽中对象: the drawn subjects in order of rank.")
    async def subjects(
        self, info: Info[Context, None], first: int = 20, after: str | None = None
    ) -> Connection[DrawnSubject]:
        start = _after(after, "DrawnSubject")
        rows, more = await stored.drawn_page(
            _services(info).engine, self.plan_code, self.number, viewer=_actor(info),
            first=_size(first), after=start,
        )  # fmt: skip
        items = [(p, DrawnSubject.of(Drawn.from_line(raw))) for p, raw in rows]
        _note(info, len(items), self.departments)
        return _page("DrawnSubject", items, more, start)  # type: ignore[no-any-return]

    @classmethod
    def of(cls, one: stored.StoredDraw, departments: tuple[str, ...]) -> InspectionDraw:
        return cls(
            plan_code=one.plan, number=one.number, seed=one.seed, commitment=one.commitment,
            reason=one.reason, result_hash=one.result_hash, subject_count=one.subject_count,
            drawn_at=one.drawn_at, drawn_by=one.drawn_by, departments=departments,
        )  # fmt: skip


@strawberry.type(description="抽查结果: a drawn subject's result, recorded as a regulatory act.")
class InspectionResult:
    subject_uscc: str = strawberry.field(description="统一社会信用代码: the subject.")
    department: str = strawberry.field(description="检查部门: the inspecting department.")
    draw_number: int = strawberry.field(description="抽取次序: the draw it came from.")
    task_id: str | None = strawberry.field(description="监管任务: the task it answered.")
    action_no: str = strawberry.field(description="监管行为编号: the act recording it.")
    result: str = strawberry.field(description="检查结果: result code.")
    inspected_on: date = strawberry.field(description="检查日期: day of the inspection.")
    published_on: date | None = strawberry.field(description="公示日期: day it is published.")


@strawberry.type(description="名录快照行: one canonical row of a pool's snapshot.")
class SnapshotRow:
    position: int = strawberry.field(description="行号: line number, from 1.")
    row: JSON = strawberry.field(description="内容: the row as stored and hashed.")


@strawberry.type(description="双随机抽查计划: a random-inspection plan as approved.")
class InspectionPlan:
    code: str = strawberry.field(description="计划编号: plan code.")
    name: str = strawberry.field(description="计划名称: name.")
    draw_day: date = strawberry.field(description="抽取日: the draw day.")
    departments: list[str] = strawberry.field(description="参与部门: its departments.")
    joint: bool = strawberry.field(description="联合抽查: several departments' items.")
    status: str = strawberry.field(description="状态: approved or drawn.")
    items: list[InspectionListItem] = strawberry.field(description="清单事项: its items.")
    rules_version: str = strawberry.field(description="细则版本: version of the rules.")
    rules_hash: str = strawberry.field(description="细则哈希: SM3 of the rules.")
    subjects_hash: str = strawberry.field(description="检查对象名录快照哈希 (SM3).")
    subjects_count: int = strawberry.field(description="检查对象名录行数.")
    inspectors_hash: str = strawberry.field(description="执法人员名录快照哈希 (SM3).")
    inspectors_count: int = strawberry.field(description="执法人员名录行数.")
    commitment: str = strawberry.field(description="种子承诺: SM3 of the seed, fixed at approval.")
    approved_at: datetime = strawberry.field(description="批准时间.")
    approved_by: str = strawberry.field(description="批准人.")

    @strawberry.field(description="抽取记录: every draw, a repeat beside the first.")
    async def draws(self, info: Info[Context, None]) -> list[InspectionDraw]:
        found = await stored.draws_of(_services(info).engine, self.code, viewer=_actor(info))
        _note(info, len(found), self.departments)
        return [InspectionDraw.of(one, tuple(self.departments)) for one in found]

    @strawberry.field(description="检查结果: the recorded results.")
    async def results(self, info: Info[Context, None]) -> list[InspectionResult]:
        found = await stored.results_of(_services(info).engine, self.code, viewer=_actor(info))
        _note(info, len(found), self.departments)
        return [
            InspectionResult(
                subject_uscc=r.subject, department=r.department, draw_number=r.draw_number,
                task_id=r.task_id, action_no=r.action_no, result=r.result,
                inspected_on=r.inspected_on, published_on=r.published_on,
            )
            for r in found
        ]  # fmt: skip

    @strawberry.field(description="名录快照: the subjects or inspectors pool as approved.")
    async def snapshot(
        self, info: Info[Context, None], pool: str, first: int = 20, after: str | None = None
    ) -> Connection[SnapshotRow]:
        if pool not in (SUBJECTS, INSPECTORS):
            raise InputError(f"pool must be {SUBJECTS} or {INSPECTORS}, not {pool!r}")
        start = _after(after, "SnapshotRow")
        rows, more = await stored.snapshot_page(
            _services(info).engine, self.code, pool, viewer=_actor(info), first=_size(first),
            after=start,
        )  # fmt: skip
        items = [(p, SnapshotRow(position=p, row=orjson.loads(raw))) for p, raw in rows]
        _note(info, len(items), self.departments)
        return _page("SnapshotRow", items, more, start)  # type: ignore[no-any-return]

    @classmethod
    def of(cls, plan: stored.StoredPlan) -> InspectionPlan:
        spec, approval = plan.plan, plan.approval
        return cls(
            code=spec.code, name=spec.name, draw_day=spec.draw_day,
            departments=list(spec.departments), joint=spec.joint, status=plan.status,
            items=[
                InspectionListItem(
                    item_code=i.item_code, matter_code=i.matter_code, department=i.department,
                    name=i.name, legal_basis=i.legal_basis,
                    criteria=i.criteria.document(),  # type: ignore[arg-type]  # JSON scalar
                )
                for i in spec.items
            ],
            rules_version=plan.rules.version, rules_hash=approval.rules_hash,
            subjects_hash=approval.subjects_hash, subjects_count=approval.subjects_count,
            inspectors_hash=approval.inspectors_hash, inspectors_count=approval.inspectors_count,
            commitment=approval.commitment, approved_at=plan.approved_at,
            approved_by=plan.approved_by,
        )  # fmt: skip


async def inspection_plans(
    info: Info[Context, None], first: int = 20, after: str | None = None
) -> Connection[InspectionPlan]:
    actor, engine = _actor(info), _services(info).engine
    start, size = _after(after, "InspectionPlan"), _size(first)
    codes = await stored.visible_plans(engine, viewer=actor)
    chosen = codes[start : start + size]
    async with engine.connect() as conn:
        found = [await stored.load_plan(conn, code, actor) for code in chosen]
    items = [(start + n, InspectionPlan.of(plan)) for n, plan in enumerate(found, start=1)]
    _note(info, len(found), {d for plan in found for d in plan.plan.departments})
    return _page("InspectionPlan", items, start + size < len(codes), start)  # type: ignore[no-any-return]


async def inspection_plan(info: Info[Context, None], code: str) -> InspectionPlan:
    actor, engine = _actor(info), _services(info).engine
    async with engine.connect() as conn:
        found = await stored.load_plan(conn, code, actor)
    _note(info, 1, found.plan.departments)
    return InspectionPlan.of(found)


async def draw_inspection_plan(
    info: Info[Context, None], plan: str, seed: str, reason: str | None = None
) -> InspectionDraw:
    actor, services = _actor(info), _services(info)
    try:
        revealed = bytes.fromhex(seed)
    except ValueError:
        raise InputError("seed: 随机种子须为十六进制 / the seed must be hex") from None
    drawn = await draw_plan(
        services.engine, services.source_databases.engine("supervision"), plan_code=plan,
        seed=revealed, by=actor, now=now_of(info), reason=reason,
        calendar=services.calendar, settings=services.settings,
    )  # fmt: skip
    if drawn.number == 1:  # a repeat's tasks are issued on purpose (issueInspectionTasks)
        await issue_draw_tasks(services.tasks, plan_code=plan, number=1, by=actor)
    async with services.engine.connect() as conn:
        departments = (await stored.load_plan(conn, plan, actor)).plan.departments
    _note(info, drawn.subject_count, departments)
    return InspectionDraw.of(drawn, departments)


async def issue_inspection_tasks(info: Info[Context, None], plan: str, number: int) -> int:
    issued = await issue_draw_tasks(
        _services(info).tasks, plan_code=plan, number=number, by=_actor(info)
    )
    return len(issued)


async def record_inspection_result(
    info: Info[Context, None],
    plan: str,
    subject: str,
    subject_name: str,
    department: str,
    organ: str,
    organ_code: str,
    result: str,
    inspected_on: date,
    published_on: date,
    division_code: str,
    task_id: str | None = None,
) -> InspectionResult:
    actor, services = _actor(info), _services(info)
    recorded = Result(
        plan=plan, subject=subject, subject_name=subject_name, department=department,
        organ=organ, organ_code=organ_code, result=result, inspected_on=inspected_on,
        published_on=published_on, division_code=division_code, task_id=task_id,
    )  # fmt: skip
    action_no = await publish_result(
        services.engine, services.source_databases.engine("supervision"), result=recorded,
        by=actor, calendar=services.calendar, settings=services.settings, now=now_of(info),
    )  # fmt: skip
    _note(info, 1, (department,))
    found = await stored.results_of(services.engine, plan, viewer=actor)
    mine = next(r for r in found if r.subject == subject and r.department == department)
    return InspectionResult(
        subject_uscc=mine.subject, department=mine.department, draw_number=mine.draw_number,
        task_id=mine.task_id, action_no=action_no, result=mine.result,
        inspected_on=mine.inspected_on, published_on=mine.published_on,
    )  # fmt: skip


def fields() -> tuple[dict[str, Any], dict[str, Any]]:
    """The query and mutation fields of random inspections."""
    query = {
        "inspection_plans": strawberry.field(
            resolver=inspection_plans,
            description="双随机抽查计划: the plans of your department (each department of a joint "
            "plan), all of them for the city office; newest draw day first.",
        ),
        "inspection_plan": strawberry.field(
            resolver=inspection_plan, description="双随机抽查计划: one plan by its code."
        ),
    }
    mutation: dict[str, Any] = {
        "draw_inspection_plan": strawberry.field(
            resolver=draw_inspection_plan,
            description="随机抽取: draw a plan with its revealed seed (hex). The first draw's seed "
            "must match the approved commitment; a repeat needs a reason and a new seed, is "
            "audited and kept beside the first.",
        ),
        "issue_inspection_tasks": strawberry.field(
            resolver=issue_inspection_tasks,
            description="下达抽查任务: issue and deliver a task for each subject of draw `number` "
            "that has none yet, to its inspectors (the first draw's are issued as it is drawn; a "
            "repeat's, or those a failure left, here); how many were issued.",
        ),
        "record_inspection_result": strawberry.field(
            resolver=record_inspection_result,
            description="登记抽查结果: the inspecting department records a drawn subject's result "
            "as a regulatory act (an inspection), published from the inspection to its 20th "
            "working day after (一公开); result is an inspection result code (no_problem, "
            "rectify …).",
        ),
    }
    return query, mutation
