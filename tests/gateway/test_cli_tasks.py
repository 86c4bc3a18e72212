"""``jianguan tasks`` on both backends: receipts written out, verified offline (and refused
when forged), printed; the overdue list at a given instant; every console read audited."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from audit.keys import KEY_FILE_NAME, Signer
from gateway.cli import app
from gateway.clock import Clock as CliClock
from gateway.settings import Settings
from sources.database import SourceDatabases, create_engine
from standard.tables.gateway import AuditEntry
from tasks.store import TaskStore
from tests.tasks.conftest import CALENDAR, Clock, add_parties
from tests.tasks.samples import (
    ISSUER_STAFF,
    MATTERS,
    RECIPIENT_STAFF,
    RECIPIENTS,
    SUBJECTS,
)
from tests.tasks.test_complaints import complaint, push

runner = CliRunner()


class Made:
    def __init__(self, env: dict[str, str], task_id: str, due_at: datetime, key: Path) -> None:
        self.env, self.task_id, self.due_at, self.key = env, task_id, due_at, key


@pytest.fixture
def made(gateway_url: str, tmp_path: Path) -> Made:
    """A delivered and claimed task, signed with the key the gateway's settings name."""
    var = tmp_path / "var"
    signer = Signer.generate(var / KEY_FILE_NAME)

    async def setup() -> tuple[str, datetime]:
        engine = create_engine(gateway_url)
        try:
            await add_parties(engine)
            store = TaskStore(engine, signer=signer, calendar=CALENDAR, clock=Clock())
            task = await store.issue(
                by=ISSUER_STAFF,
                title="春节前食品安全专项检查",
                recipients=RECIPIENTS,
                subjects=SUBJECTS,
                matters=MATTERS,
                legal_basis="《中华人民共和国食品安全法》第一百一十条",
                deadline_working_days=3,
            )
            task = await store.deliver(task.id, by=ISSUER_STAFF, expected_version=1)
            task = await store.claim(task.id, by=RECIPIENT_STAFF, expected_version=2)
            return task.id, task.due_at
        finally:
            await engine.dispose()

    task_id, due_at = asyncio.run(setup())
    env = {"JIANGUAN_VAR_DIR": str(var), "JIANGUAN_DATABASE_URL": gateway_url}
    return Made(env, task_id, due_at, var / KEY_FILE_NAME)


def audited(url: str, operation: str) -> list[Any]:
    async def read() -> list[Any]:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                query = select(AuditEntry).where(AuditEntry.operation == operation)
                return list((await conn.execute(query)).all())
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_receipts_written_verified_offline_and_forgeries_refused(
    made: Made, tmp_path: Path
) -> None:
    listed = runner.invoke(app, ["tasks", "receipt", made.task_id], env=made.env)
    assert listed.exit_code == 0, listed.output
    documents = orjson.loads(listed.output)
    assert [d["receipt"]["event"] for d in documents] == ["delivered", "delivered", "claimed"]
    out = tmp_path / "out"
    written = runner.invoke(
        app,
        ["tasks", "receipt", made.task_id, "--event", "delivered", "--recipient", RECIPIENTS[0],
         "--output", str(out)],
        env=made.env,
    )  # fmt: skip
    assert written.exit_code == 0, written.output
    (file,) = out.iterdir()
    # offline: no database, no settings, only the file and the public key
    offline = {"JIANGUAN_DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:1/none"}
    ok = runner.invoke(
        app, ["tasks", "verify-receipt", str(file), "--key-file", str(made.key)], env=offline
    )
    assert ok.exit_code == 0, ok.output
    assert made.task_id in ok.output and "delivered" in ok.output
    forged = orjson.loads(file.read_bytes())
    forged["receipt"]["recipient"] = RECIPIENTS[1]
    forgery = tmp_path / "forged.json"
    forgery.write_bytes(orjson.dumps(forged))
    refused = runner.invoke(
        app, ["tasks", "verify-receipt", str(forgery), "--key-file", str(made.key)], env=offline
    )
    assert refused.exit_code == 1 and "recipient" in refused.output
    other = Signer.new().public_key
    foreign = runner.invoke(
        app, ["tasks", "verify-receipt", str(file), "--public-key", other], env=offline
    )
    assert foreign.exit_code == 1 and "another key" in foreign.output
    garbage = tmp_path / "garbage.json"
    garbage.write_text("not json")
    bad = runner.invoke(
        app, ["tasks", "verify-receipt", str(garbage), "--key-file", str(made.key)], env=offline
    )
    assert bad.exit_code == 1 and "malformed" in bad.output
    assert len(audited(made.env["JIANGUAN_DATABASE_URL"], "jianguan tasks receipt")) == 2


def test_a_receipt_printed_after_verifying(made: Made) -> None:
    printed = runner.invoke(
        app, ["tasks", "receipt", made.task_id, "--event", "claimed", "--print"], env=made.env
    )
    assert printed.exit_code == 0, printed.output
    assert printed.output.startswith("任务回执（已认领）")
    assert made.task_id in printed.output and "签名已核验" in printed.output
    missing = runner.invoke(app, ["tasks", "receipt", "T-nothing"], env=made.env)
    assert missing.exit_code == 1 and "no task T-nothing" in missing.output


def test_the_overdue_list_at_a_given_instant(made: Made) -> None:
    before = CliClock(now=lambda: made.due_at - timedelta(seconds=1))
    none = runner.invoke(app, ["tasks", "overdue"], env=made.env, obj=before)
    assert none.exit_code == 0, none.output
    assert "没有逾期任务" in none.output
    after = CliClock(now=lambda: made.due_at)
    listed = runner.invoke(app, ["tasks", "overdue"], env=made.env, obj=after)
    assert listed.exit_code == 0, listed.output
    assert made.task_id in listed.output and "2026-02-25 00:00" in listed.output
    assert "1 项逾期" in listed.output
    entries = audited(made.env["JIANGUAN_DATABASE_URL"], "jianguan tasks overdue")
    assert [(e.event, e.rows, e.resources) for e in entries] == [
        ("read", 0, ["tasks"]),
        ("read", 1, ["tasks"]),
    ]


def test_a_dispatched_complaint_becomes_a_task_from_the_console(made: Made) -> None:
    upgraded = runner.invoke(app, ["db", "upgrade"], env=made.env)  # the sources' databases
    assert upgraded.exit_code == 0, upgraded.output
    dispatched, received = complaint(21), complaint(22, status="received")

    async def pushing() -> None:
        dbs = SourceDatabases(Settings(var_dir=Path(made.env["JIANGUAN_VAR_DIR"])))
        try:
            await push(dbs, dispatched, received)
        finally:
            await dbs.dispose()

    asyncio.run(pushing())
    first = runner.invoke(app, ["tasks", "from-complaint", dispatched["ticket_no"]], env=made.env)
    assert first.exit_code == 0, first.output
    assert f"delivered to {RECIPIENTS[0]}" in first.output
    again = runner.invoke(app, ["tasks", "from-complaint", dispatched["ticket_no"]], env=made.env)
    assert again.exit_code == 0 and "already" in again.output
    refused = runner.invoke(app, ["tasks", "from-complaint", received["ticket_no"]], env=made.env)
    assert refused.exit_code == 1 and "not dispatched" in refused.output
