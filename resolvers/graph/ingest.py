"""The ingest mutation (R4): a department's or partner's system pushes a batch of records.

The provider of every record is the caller's own party: nobody can write in another
department's name. Records go through the same validation and store as files do
(``ingest.service``): idempotent on (provider, ``cd_id``), each record's outcome returned.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from ingest.readers import Unreadable
from ingest.report import IngestReport
from ingest.service import IngestOptions, ingest_records
from resolvers.context import Context
from standard.errors import Forbidden, InputError, Unauthenticated
from standard.registry import record_table
from standard.workdays import SHANGHAI

MAX_RECORDS = 1_000


@strawberry.enum(description="What happened to a pushed record.")
class RecordStatus(Enum):
    INSERTED = "inserted"
    UPDATED = "updated"
    DELETED = "deleted"
    UNCHANGED = "unchanged"
    REJECTED = "rejected"


@strawberry.type(description="A problem with one record: the field and the reason.")
class RecordProblem:
    field: str | None = strawberry.field(description="字段; null for the record as a whole.")
    reason: str = strawberry.field(description="原因.")


@strawberry.type(description="The outcome of one pushed record.")
class RecordOutcome:
    index: int = strawberry.field(description="Position in `records`, from 0.")
    cd_id: str | None = strawberry.field(description="cd_id of the record, when readable.")
    status: RecordStatus = strawberry.field(description="stored, updated, deleted, … or rejected.")
    late: bool = strawberry.field(description="迟报: received after the deadline (R4).")
    problems: list[RecordProblem] = strawberry.field(description="Why it was rejected.")


@strawberry.type(description="What one pushed batch did.")
class IngestPayload:
    batch: str = strawberry.field(description="批次号 (cd_batch) given to the stored records.")
    received: int = strawberry.field(description="Records received.")
    inserted: int = strawberry.field(description="新增.")
    updated: int = strawberry.field(description="更新.")
    deleted: int = strawberry.field(description="删除.")
    unchanged: int = strawberry.field(description="未变 (already stored as sent).")
    rejected: int = strawberry.field(description="拒收.")
    late: int = strawberry.field(description="迟报.")
    outcomes: list[RecordOutcome] = strawberry.field(description="Each record, in order.")


def _payload(report: IngestReport) -> IngestPayload:
    outcomes = [
        RecordOutcome(
            index=o.line - 1,
            cd_id=o.cd_id,
            status=RecordStatus(o.status),
            late=o.late,
            problems=[RecordProblem(field=e.field, reason=e.reason) for e in o.errors],
        )
        for o in sorted(report.outcomes or [], key=lambda o: o.line)
    ]
    return IngestPayload(
        batch=report.batch,
        received=report.received,
        inserted=report.inserted,
        updated=report.updated,
        deleted=report.deleted,
        unchanged=report.unchanged,
        rejected=report.rejected,
        late=report.late,
        outcomes=outcomes,
    )


async def ingest(
    info: Info[Context, None],
    source: str,
    records: list[JSON],
    table: str | None = None,
    system: str = "exchange",
) -> IngestPayload:
    """Validate and store a batch of records as the caller's own."""
    context = info.context
    principal = context.principal
    if principal.kind == "public" or principal.party is None:
        raise Unauthenticated("Sign in to push records.")
    services = context.services
    if services is None:
        raise Forbidden("Ingest is not available here.")
    model = record_table(source, table)
    name = model.__tablename__  # type: ignore[attr-defined]
    if not context.scope.may("write", name, principal.party):
        raise Forbidden(f"{principal.party} may not push {name} records.")
    if not 1 <= len(records) <= MAX_RECORDS:
        raise InputError(f"send 1 to {MAX_RECORDS} records per call, not {len(records)}")
    options = IngestOptions(
        provider=principal.party,
        received_at=datetime.now(SHANGHAI),
        calendar=services.calendar,
        settings=services.settings,
        system=system,
        keep_outcomes=True,
        matters=services.source_databases.engine("supervision"),
    )
    raw = [
        (index + 1, record if isinstance(record, dict) else _not_object(record))
        for index, record in enumerate(records)
    ]
    report = await ingest_records(
        services.source_databases.engine(source), raw, table=model, options=options
    )
    context.sources.note(name, report.accepted, (principal.party,))
    return _payload(report)


def _not_object(value: Any) -> Unreadable:
    return Unreadable(f"a record must be a JSON object, not {type(value).__name__}")


def fields() -> dict[str, Any]:
    """The mutation field."""
    return {
        "ingest": strawberry.field(
            resolver=ingest,
            description="数据推送 (R4): push up to 1,000 records of one table as your own "
            "department's; idempotent on cd_id; each record's outcome is returned.",
        )
    }
