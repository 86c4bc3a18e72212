"""``jianguan events …`` and ``jianguan jobs …`` at the console on the embedded default: every
client's subscriptions, a dead letter listed and replayed with its id, an unknown subscription
refused, each command audited as the operator."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from events.outbox import Event, record
from events.subscriptions import subscribe
from gateway.cli import app
from sources.database import create_engine
from standard.tables.gateway import AuditEntry, WebhookDelivery

runner = CliRunner()
AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    environment = {"JIANGUAN_VAR_DIR": str(tmp_path / "var")}
    for args in (
        ["db", "upgrade"],
        ["party", "add", "P-12345", "--name", "12345", "--kind", "partner"],
        ["client", "add", "hotline", "--name", "热线", "--party", "P-12345"],
    ):
        done = runner.invoke(app, args, env=environment)
        assert done.exit_code == 0, done.output
    return environment


def gateway_db(env: dict[str, str]) -> str:
    return f"sqlite+aiosqlite:///{Path(env['JIANGUAN_VAR_DIR']) / 'gateway.db'}"


async def a_dead_letter(url: str) -> tuple[int, str]:
    """A subscription whose one event was never taken (as after the deliverer's last retry)."""
    engine = create_engine(url)
    try:
        made = await subscribe(
            engine,
            client_id="hotline",
            url="http://127.0.0.1:9/hook",
            kinds=["complaint.closed"],
            created_by="test",
            now=AT,
        )
        async with engine.begin() as conn:
            event = Event("complaint.closed", "complaint:1", "complaints", "P-12345", {})
            event_id = await record(conn, event, at=AT)
            await conn.execute(
                WebhookDelivery.__table__.insert().values(  # type: ignore[attr-defined]
                    subscription_id=made.id,
                    event_seq=1,
                    aggregate="complaint:1",
                    status="dead",
                    attempts=15,
                    next_attempt_at=AT,
                    last_error="HTTP 503",
                )
            )
        return made.id, event_id
    finally:
        await engine.dispose()


async def states(url: str) -> tuple[list[str], list[tuple[str, str | None]]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            status = (await conn.scalars(select(WebhookDelivery.status))).all()
            audit = (
                await conn.execute(
                    select(AuditEntry.actor, AuditEntry.operation).where(
                        AuditEntry.operation.like("events %")
                    )
                )
            ).all()
        return list(status), [(a, o) for a, o in audit]
    finally:
        await engine.dispose()


def test_an_operator_lists_dead_letters_and_replays_them(env: dict[str, str]) -> None:
    sid, event_id = asyncio.run(a_dead_letter(gateway_db(env)))

    listed = runner.invoke(app, ["events", "subscriptions"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "hotline" in listed.output and "complaint.closed" in listed.output
    assert "whsec_" not in listed.output  # never the secret

    dead = runner.invoke(app, ["events", "dead-letters", str(sid)], env=env)
    assert dead.exit_code == 0, dead.output
    assert event_id in dead.output and "HTTP 503" in dead.output

    again = runner.invoke(app, ["events", "replay", str(sid), "--from", "0"], env=env)
    assert again.exit_code == 0, again.output
    assert "1 event(s) to send again" in again.output

    status, audit = asyncio.run(states(gateway_db(env)))
    assert status == ["pending"]  # owed again; the next round sends it
    assert [operation for _, operation in audit] == [
        "events subscriptions",
        "events dead-letters",
        "events replay",
    ]
    assert all(actor.startswith("cli:") for actor, _ in audit)


def test_an_unknown_subscription_is_refused(env: dict[str, str]) -> None:
    for args in (["events", "dead-letters", "42"], ["events", "replay", "42"]):
        done = runner.invoke(app, args, env=env)
        assert done.exit_code == 1
        assert "no subscription 42" in done.output


def test_jobs_setup_on_sqlite_says_there_is_nothing_to_set_up(env: dict[str, str]) -> None:
    done = runner.invoke(app, ["jobs", "setup"], env=env)
    assert done.exit_code == 2
    assert "jianguan serve" in done.output
