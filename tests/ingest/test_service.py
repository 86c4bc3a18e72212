"""Ingest end to end on PostgreSQL and SQLite: counts, end state, idempotency, R1, lateness."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from gateway.settings import Settings
from ingest.readers import RawRecord, Unreadable
from ingest.report import IngestReport
from ingest.service import IngestError, IngestOptions, ingest_records
from sources.database import SourceDatabases
from standard.codes import make_item_code
from standard.exchange import ExchangeRecord
from standard.tables.complaints import Complaint
from standard.tables.supervision import Action, InspectionItem, Matter, Plan
from standard.workdays import SHANGHAI, WorkCalendar
from tests.ingest.factory import RECEIVED, Factory

CALENDAR = WorkCalendar()


@pytest.fixture
def factory() -> Factory:
    return Factory()


def numbered(records: list[dict[str, Any] | Unreadable]) -> list[RawRecord]:
    return list(enumerate(records, start=1))


async def push(
    dbs: SourceDatabases,
    records: list[dict[str, Any] | Unreadable],
    *,
    table: type[ExchangeRecord] = Complaint,
    provider: str = "P-12345",
    received_at: datetime = RECEIVED,
    batch_size: int | None = None,
    keep_outcomes: bool = False,
) -> IngestReport:
    settings: Settings = dbs._settings
    if batch_size is not None:
        settings = dataclasses.replace(settings, ingest_batch_size=batch_size)
    source = _source_of(table)
    options = IngestOptions(
        provider=provider,
        received_at=received_at,
        calendar=CALENDAR,
        settings=settings,
        keep_outcomes=keep_outcomes,
        matters=dbs.engine("supervision"),
    )
    return await ingest_records(dbs.engine(source), numbered(records), table=table, options=options)


def _source_of(table: type[ExchangeRecord]) -> str:
    return "supervision" if table in (Action, Matter, Plan, InspectionItem) else "complaints"


async def stored(dbs: SourceDatabases, table: type[Any] = Complaint) -> list[Any]:
    source = _source_of(table)
    async with dbs.sessions(source)() as session:
        return list((await session.scalars(select(table).order_by(table.cd_id))).all())


async def test_good_file_is_stored_whole(databases: SourceDatabases, factory: Factory) -> None:
    records = [factory.complaint(n) for n in range(5)]
    report = await push(databases, records)
    assert (report.received, report.inserted, report.rejected, report.late) == (5, 5, 0, 0)
    rows = await stored(databases)
    assert [r.cd_id for r in rows] == [f"c-{n:06d}" for n in range(5)]
    first = rows[0]
    assert first.provider == "P-12345"
    assert first.complainant_name == "张三"
    assert first.cd_source == "610000|P-12345"
    assert first.cd_batch == report.batch and report.batch == "2026101500001"
    assert first.received_at == RECEIVED
    assert first.produced_at == datetime(2026, 10, 14, 9, 30, tzinfo=SHANGHAI)
    assert first.delay_working_days == 1 and not first.late and not first.delay_provisional


async def test_bad_records_are_rejected_with_line_field_and_reason(
    databases: SourceDatabases, factory: Factory
) -> None:
    good = factory.complaint(1)
    bad_uscc = factory.complaint(2, subject_uscc=good["subject_uscc"][:-1] + "0")
    if bad_uscc["subject_uscc"] == good["subject_uscc"]:
        bad_uscc["subject_uscc"] = good["subject_uscc"][:-1] + "1"
    bad_id = factory.complaint(3, complainant_id_number="11010519491231002Y")
    missing = factory.complaint(4)
    del missing["title"]
    unknown = factory.complaint(5, colour="red")
    wrong_choice = factory.complaint(6, channel="fax")
    report = await push(
        databases,
        [good, bad_uscc, bad_id, missing, unknown, wrong_choice, Unreadable("not valid JSON")],
    )
    assert (report.inserted, report.rejected) == (1, 6)
    problems = {(e.line, e.cd_id, e.field) for e in report.errors}
    assert problems == {
        (2, "c-000002", "subject_uscc"),
        (3, "c-000003", "complainant_id_number"),
        (4, "c-000004", "title"),
        (5, "c-000005", "colour"),
        (6, "c-000006", "channel"),
        (7, None, None),
    }
    reasons = {e.field: e.reason for e in report.errors}
    assert "check character" in reasons["subject_uscc"]
    assert reasons["title"] == "is required"
    assert "not a field of complaints" in reasons["colour"]
    assert "hotline_12345" in reasons["channel"]
    assert [r.cd_id for r in await stored(databases)] == ["c-000001"]


async def test_values_are_normalised_and_chinese_labels_accepted(
    databases: SourceDatabases, factory: Factory
) -> None:
    record = factory.complaint(1, channel="12345热线", status="已办结")
    record["complainant_phone"] = "+86 " + record["complainant_phone"]
    record["complainant_id_number"] = record["complainant_id_number"].lower()
    record["closed_at"] = "2026-10-14 18:00:00"
    report = await push(databases, [record])
    assert report.inserted == 1, report.errors
    (row,) = await stored(databases)
    assert (row.channel, row.status) == ("hotline_12345", "closed")
    assert len(row.complainant_phone) == 11
    assert row.complainant_id_number == record["complainant_id_number"].upper()
    assert row.closed_at == datetime(2026, 10, 14, 18, tzinfo=SHANGHAI)  # no offset: Beijing


async def test_rerun_is_idempotent(databases: SourceDatabases, factory: Factory) -> None:
    records = [factory.complaint(n) for n in range(4)]
    first = await push(databases, records)
    before = [(r.cd_id, r.content_hash, r.received_at, r.cd_batch) for r in await stored(databases)]
    second = await push(databases, records, received_at=RECEIVED.replace(hour=11))
    after = [(r.cd_id, r.content_hash, r.received_at, r.cd_batch) for r in await stored(databases)]
    assert (first.inserted, second.inserted, second.unchanged, second.updated) == (4, 0, 4, 0)
    assert second.batch == "2026101500002"
    assert before == after


async def test_the_same_instant_in_another_offset_is_unchanged(
    databases: SourceDatabases, factory: Factory
) -> None:
    record = factory.complaint(1, produced_at="2026-10-14T09:30:00+08:00")
    await push(databases, [record])
    again = await push(databases, [dict(record, produced_at="2026-10-14T01:30:00Z")])
    assert (again.unchanged, again.updated) == (1, 0)


async def test_two_versions_of_one_record_in_a_push_are_refused_naming_both_lines(
    databases: SourceDatabases, factory: Factory
) -> None:
    first = factory.complaint(1, title="第一次")
    again = dict(first, title="第二次")
    other = factory.complaint(2)
    report = await push(databases, [first, other, again, dict(first)])
    assert (report.inserted, report.updated, report.unchanged, report.rejected) == (2, 0, 1, 1)
    (error,) = report.errors
    assert (error.line, error.cd_id, error.field) == (3, "c-000001", "cd_id")
    assert "line 1" in error.reason and "line 3" in error.reason
    assert {r.cd_id: r.title for r in await stored(databases)} == {
        "c-000001": "第一次",
        "c-000002": other["title"],
    }


@pytest.mark.parametrize("batch_size", [1, 2, 100])
async def test_insert_update_delete(
    databases: SourceDatabases, factory: Factory, batch_size: int
) -> None:
    a, b, c = (factory.complaint(n) for n in (1, 2, 3))
    await push(databases, [a, b, c], batch_size=batch_size)
    changes = [
        dict(a, cd_operation="u", status="closed", closed_at="2026-10-14T17:00:00+08:00"),
        {"cd_id": b["cd_id"], "cd_operation": "d"},
        {"cd_id": "c-999999", "cd_operation": "d"},
        {"cd_id": b["cd_id"], "cd_operation": "d"},
        dict(c),
    ]
    report = await push(databases, changes, batch_size=batch_size)
    assert (report.updated, report.deleted, report.unchanged, report.rejected) == (1, 1, 2, 1)
    assert report.errors[0].cd_id == "c-999999" and "no stored record" in report.errors[0].reason
    rows = {r.cd_id: r for r in await stored(databases)}
    assert rows[a["cd_id"]].status == "closed"
    assert rows[b["cd_id"]].cd_operation == "d"
    assert rows[c["cd_id"]].cd_operation == "i"
    # a deleted record pushed again comes back
    back = await push(databases, [b], batch_size=batch_size)
    assert back.updated == 1
    assert {r.cd_id: r.cd_operation for r in await stored(databases)}[b["cd_id"]] == "i"


async def test_records_received_after_five_working_days_are_late(
    databases: SourceDatabases, factory: Factory
) -> None:
    # Received Thursday 2026-10-15; Saturday Oct 10 is a make-up working day after National Day.
    on_time = factory.complaint(1, produced_at="2026-10-09T09:00:00+08:00")
    late = factory.complaint(2, produced_at="2026-09-28T09:00:00+08:00")
    report = await push(databases, [on_time, late])
    assert (report.inserted, report.late) == (2, 1)
    rows = {r.cd_id: r for r in await stored(databases)}
    expected_on_time = CALENDAR.between(
        datetime(2026, 10, 9, 9, tzinfo=SHANGHAI), RECEIVED
    ).working_days
    assert rows["c-000001"].delay_working_days == expected_on_time <= 5
    assert not rows["c-000001"].late
    assert rows["c-000002"].late and rows["c-000002"].delay_working_days > 5
    assert report.late_records == [(2, "c-000002", rows["c-000002"].delay_working_days)]


async def test_future_records_are_rejected(databases: SourceDatabases, factory: Factory) -> None:
    report = await push(databases, [factory.complaint(1, produced_at="2026-10-16T09:00:00+08:00")])
    assert report.rejected == 1 and report.errors[0].field == "produced_at"
    assert "future" in report.errors[0].reason


async def test_r1_actions_need_an_active_matter(
    databases: SourceDatabases, factory: Factory
) -> None:
    active, cancelled, later, expired_in_time = (factory.matter_code() for _ in range(4))
    missing = factory.matter_code()
    matters = [
        factory.matter(active),
        factory.matter(cancelled, status="cancelled"),
        factory.matter(later, valid_from="2027-01-01"),
        factory.matter(expired_in_time, status="cancelled", valid_to="2026-10-31"),
    ]
    loaded = await push(databases, matters, table=Matter, provider="XA-SCJG")
    assert loaded.inserted == 4, loaded.errors
    actions = [
        factory.inspection(1, active),
        factory.inspection(2, cancelled),
        factory.inspection(3, later),
        factory.inspection(4, missing),
        factory.inspection(5, expired_in_time),
    ]
    report = await push(databases, actions, table=Action, provider="XA-SCJG")
    assert (report.inserted, report.rejected) == (2, 3), report.errors
    reasons = {e.cd_id: e.reason for e in report.errors}
    assert set(reasons) == {"a-000002", "a-000003", "a-000004"}
    assert all(e.field == "matter_code" for e in report.errors)
    assert "not in the matter catalogue" in reasons["a-000004"]
    assert "not in force until 2027-01-01" in reasons["a-000003"]
    assert "取消" in reasons["a-000002"]


async def test_action_kind_rules(databases: SourceDatabases, factory: Factory) -> None:
    code = factory.matter_code()
    await push(databases, [factory.matter(code)], table=Matter, provider="XA-SCJG")
    no_item = factory.inspection(1, code, inspection_item_code=None)
    penalty = factory.inspection(2, code, kind="penalty")
    person = factory.inspection(
        3,
        code,
        counterparty_nature="natural_person",
        counterparty_id_type="id_card",
        counterparty_id="11010519491231002X",
    )
    wrong_person = dict(person, cd_id="a-000004", counterparty_id="110105194912310021")
    report = await push(
        databases, [no_item, penalty, person, wrong_person], table=Action, provider="XA-SCJG"
    )
    assert report.inserted == 1
    fields = {(e.cd_id, e.field) for e in report.errors}
    assert ("a-000001", "inspection_item_code") in fields
    assert {("a-000002", f) for f in ("decision_no", "decision_date", "penalty_types")} <= fields
    assert ("a-000004", "counterparty_id") in fields


async def test_a_crash_mid_file_leaves_whole_records_and_rerun_completes(
    databases: SourceDatabases, factory: Factory
) -> None:
    records = [factory.complaint(n) for n in range(10)]

    class Crash(Exception):
        pass

    def crashing() -> Iterator[RawRecord]:
        for line, record in numbered(list(records)):
            if line == 8:
                raise Crash
            yield line, record

    settings = dataclasses.replace(databases._settings, ingest_batch_size=3)
    options = IngestOptions(
        provider="P-12345",
        received_at=RECEIVED,
        calendar=CALENDAR,
        settings=settings,
        matters=databases.engine("supervision"),
    )
    with pytest.raises(Crash):
        await ingest_records(
            databases.engine("complaints"), crashing(), table=Complaint, options=options
        )
    partial = await stored(databases)
    assert len(partial) == 6  # two whole batches of three; the third never committed
    assert all(r.content_hash and r.complainant_name == "张三" for r in partial)
    report = await push(databases, records, batch_size=3)
    assert (report.inserted, report.unchanged) == (4, 6)
    clean = await stored(databases)
    assert [r.cd_id for r in clean] == sorted(r["cd_id"] for r in records)


async def test_outcomes_are_kept_on_request(databases: SourceDatabases, factory: Factory) -> None:
    report = await push(
        databases,
        [factory.complaint(1), factory.complaint(2, channel="fax")],
        keep_outcomes=True,
    )
    assert report.outcomes is not None
    assert [(o.cd_id, o.status) for o in report.outcomes] == [
        ("c-000002", "rejected"),
        ("c-000001", "inserted"),
    ]


async def test_provider_code_is_checked(databases: SourceDatabases, factory: Factory) -> None:
    with pytest.raises(IngestError, match="provider code"):
        await push(databases, [factory.complaint(1)], provider="bad provider!")


async def test_r1_holds_for_every_record_that_names_a_matter(
    databases: SourceDatabases, factory: Factory
) -> None:
    """Complaints (in another database than the catalogue), plans and inspection items too."""
    active, missing = factory.matter_code(), factory.matter_code()
    loaded = await push(databases, [factory.matter(active)], table=Matter, provider="XA-SCJG")
    assert loaded.inserted == 1, loaded.errors
    complaints = [
        factory.complaint(1, matter_code=active),
        factory.complaint(2, matter_code=missing),
        factory.complaint(3),  # names no matter: nothing to check
    ]
    report = await push(databases, complaints)
    assert (report.inserted, report.rejected) == (2, 1), report.errors
    (error,) = report.errors
    assert (error.cd_id, error.field) == ("c-000002", "matter_code")
    assert f"matter {missing} is not in the matter catalogue" in error.reason

    def plan(n: int, codes: list[str]) -> dict[str, Any]:
        return {
            "cd_id": f"p-{n}",
            "produced_at": "2026-10-14T09:00:00+08:00",
            "plan_code": f"JH-2026-{n}",
            "name": "食品经营双随机抽查",
            "plan_type": "random",
            "department_code": "XA-SCJG",
            "matter_codes": codes,
            "year": 2026,
            "start_date": "2026-10-15",
            "end_date": "2026-12-31",
            "status": "issued",
        }

    plans = await push(
        databases, [plan(1, [active]), plan(2, [active, missing])], table=Plan, provider="XA-SCJG"
    )
    assert (plans.inserted, plans.rejected) == (1, 1), plans.errors
    assert [(e.cd_id, e.field) for e in plans.errors] == [("p-2", "matter_codes")]
    assert missing in plans.errors[0].reason

    item = {
        "cd_id": "ii-1",
        "produced_at": "2026-10-14T09:00:00+08:00",
        "item_code": make_item_code(factory.organ, 1, 1),
        "matter_code": missing,
        "name": "食品经营许可事项检查",
        "department_code": "XA-SCJG",
        "administrative_type": "inspection",
        "valid_from": "2026-01-01",
    }
    items = await push(databases, [item], table=InspectionItem, provider="XA-SCJG")
    assert items.rejected == 1 and items.errors[0].field == "matter_code"


async def test_division_codes_are_checked_against_the_official_list(
    databases: SourceDatabases, factory: Factory
) -> None:
    """610199 has Shaanxi's prefix and names no division; 110101 is Beijing's."""
    records = [
        factory.complaint(1, division_code="610113"),  # 雁塔区
        factory.complaint(2, division_code="610199"),
        factory.complaint(3, division_code="110101"),
    ]
    report = await push(databases, records)
    assert (report.inserted, report.rejected) == (1, 2), report.errors
    reasons = {e.cd_id: e.reason for e in report.errors}
    assert all(e.field == "division_code" for e in report.errors)
    assert "not in the official list" in reasons["c-000002"] and "2023-06-30" in reasons["c-000002"]
    assert "outside 陕西省" in reasons["c-000003"]
