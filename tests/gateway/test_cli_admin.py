"""The operator's commands: bootstrap, parties, accounts, clients, demo credentials."""

from __future__ import annotations

import json
import os
import re
import sqlite3
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from gateway.cli import app
from tests.servers import serve

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    environment = {"JIANGUAN_VAR_DIR": str(tmp_path / "var")}
    result = runner.invoke(app, ["db", "upgrade"], env=environment)
    assert result.exit_code == 0, result.output
    assert "seed policy line(s) added" in result.output
    return environment


def test_a_second_upgrade_keeps_the_seed_policies_as_they_are(env: dict[str, str]) -> None:
    again = runner.invoke(app, ["db", "upgrade"], env=env)
    assert again.exit_code == 0, again.output
    assert "seed policy" not in again.output and "gateway: at head" in again.output


def shown_once(output: str) -> str:
    """The secret or password a command printed after '(shown once):'."""
    found = re.search(r"\(shown once\): (\S+)", output)
    assert found, output
    return found.group(1)


def test_bootstrap_then_parties_accounts_and_clients(env: dict[str, str]) -> None:
    first = runner.invoke(
        app, ["bootstrap", "--username", "city.admin", "--name", "王主任"], env=env
    )
    assert first.exit_code == 0, first.output
    assert len(shown_once(first.output)) >= 12
    again = runner.invoke(app, ["bootstrap", "--username", "other", "--name", "x"], env=env)
    assert again.exit_code == 1 and "accounts exist already" in again.output

    added = runner.invoke(
        app,
        ["party", "add", "XA-SCJG", "--name", "西安市市场监督管理局", "--kind", "department"],
        env=env,
    )
    assert added.exit_code == 0, added.output
    duplicate = runner.invoke(
        app, ["party", "add", "XA-SCJG", "--name", "x", "--kind", "department"], env=env
    )
    assert duplicate.exit_code == 1 and "already exists" in duplicate.output
    wrong = runner.invoke(
        app, ["party", "add", "E-1", "--name", "x", "--kind", "enterprise"], env=env
    )
    assert wrong.exit_code == 1 and "USCC" in wrong.output

    user = runner.invoke(
        app,
        ["user", "add", "li.si", "--name", "李四", "--party", "XA-SCJG", "--role", "dept_admin"],
        env=env,
    )
    assert user.exit_code == 0, user.output
    no_party = runner.invoke(
        app, ["user", "add", "x.y", "--name", "x", "--party", "NOPE", "--role", "staff"], env=env
    )
    assert no_party.exit_code == 1 and "no party 'NOPE'" in no_party.output
    bad_role = runner.invoke(
        app, ["user", "add", "x.z", "--name", "x", "--party", "XA-SCJG", "--role", "boss"], env=env
    )
    assert bad_role.exit_code == 1 and "role must be one of" in bad_role.output
    totp = runner.invoke(app, ["user", "totp", "li.si"], env=env)
    assert totp.exit_code == 0 and "otpauth://totp/" in totp.output
    disabled = runner.invoke(app, ["user", "disable", "li.si"], env=env)
    assert disabled.exit_code == 0 and "disabled" in disabled.output

    runner.invoke(app, ["party", "add", "P-12345", "--name", "12345", "--kind", "partner"], env=env)
    client = runner.invoke(
        app,
        ["client", "add", "hotline", "--name", "12345 热线", "--party", "P-12345",
         "--rate-limit", "100/minute"],
        env=env,
    )  # fmt: skip
    assert client.exit_code == 0, client.output
    secret = shown_once(client.output)
    limited = runner.invoke(
        app, ["client", "set", "hotline", "--rate-limit", "5/minute", "--persisted-only"], env=env
    )
    assert limited.exit_code == 0, limited.output
    bad_rate = runner.invoke(app, ["client", "set", "hotline", "--rate-limit", "lots"], env=env)
    assert bad_rate.exit_code == 2
    with sqlite3.connect(Path(env["JIANGUAN_VAR_DIR"]) / "gateway.db") as db:
        assert db.execute(
            "SELECT rate_limit, persisted_only FROM clients WHERE client_id = 'hotline'"
        ).fetchone() == ("5/minute", 1)
    back = runner.invoke(app, ["client", "set", "hotline", "--default-limit"], env=env)
    assert back.exit_code == 0, back.output
    rotated = runner.invoke(app, ["client", "rotate", "hotline", "--overlap-hours", "1"], env=env)
    assert rotated.exit_code == 0 and shown_once(rotated.output) != secret
    system = runner.invoke(
        app, ["client", "add", "scjg-system", "--name", "执法系统", "--party", "XA-SCJG"], env=env
    )
    assert system.exit_code == 0, system.output  # a department's own system pushes records
    office = runner.invoke(
        app, ["client", "add", "zwb-system", "--name", "x", "--party", "XA-ZWB"], env=env
    )
    assert office.exit_code == 1 and "is a city_office" in office.output
    stopped = runner.invoke(app, ["party", "disable", "P-12345"], env=env)
    assert stopped.exit_code == 0 and "disabled" in stopped.output
    with sqlite3.connect(Path(env["JIANGUAN_VAR_DIR"]) / "gateway.db") as db:
        assert db.execute("SELECT disabled FROM parties WHERE code = 'P-12345'").fetchone() == (1,)
        assert db.execute(
            "SELECT rate_limit FROM clients WHERE client_id = 'hotline'"
        ).fetchone() == (None,)


def test_demo_credentials_give_a_working_token_to_every_principal(
    env: dict[str, str], tmp_path: Path
) -> None:
    assert runner.invoke(app, ["seed", "--scale", "small"], env=env).exit_code == 0
    output = tmp_path / "credentials.json"
    made = runner.invoke(app, ["demo-credentials", "--output", str(output)], env=env)
    assert made.exit_code == 0, made.output
    assert output.stat().st_mode & 0o777 == 0o600
    credentials = json.loads(output.read_text(encoding="utf-8"))
    kinds = {(c["kind"], c["role"]) for c in credentials}
    assert {("staff", "staff"), ("staff", "dept_admin"), ("staff", "city_office")} <= kinds
    assert {("partner", None), ("enterprise", None)} <= kinds
    departments = {c["party"] for c in credentials if c["role"] == "dept_admin"}
    assert len(departments) >= 3
    for c in credentials:
        assert c["token"][:12] in made.output  # the table shows the start of each token

    with serve({**os.environ, **env}) as url:
        for c in credentials:
            answer = httpx.post(
                f"{url}/graphql",
                json={"query": "{ me { kind party uscc } }"},
                headers={"Authorization": f"Bearer {c['token']}"},
            )
            assert answer.status_code == 200, answer.text
            me = answer.json()["data"]["me"]
            assert me["party"] == c["party"] and me["uscc"] == c["uscc"]
