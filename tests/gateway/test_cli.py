"""The ``jianguan`` command line on the embedded default (SQLite under a temporary var/)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from gateway.cli import LAZY, app
from tests.ingest.factory import Factory
from tests.servers import ROOT, free_port, jianguan

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    environment = {"JIANGUAN_VAR_DIR": str(tmp_path / "var")}
    result = runner.invoke(app, ["db", "upgrade"], env=environment)
    assert result.exit_code == 0, result.output
    for code, kind in (("P-12345", "partner"), ("XA-SCJG", "department")):
        added = runner.invoke(
            app, ["party", "add", code, "--name", code, "--kind", kind], env=environment
        )
        assert added.exit_code == 0, added.output
    return environment


def write_ndjson(path: Path, records: list[dict[str, object]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


def test_db_upgrade_creates_one_database_per_source_and_the_gateways(env: dict[str, str]) -> None:
    var = Path(env["JIANGUAN_VAR_DIR"])
    assert sorted(p.name for p in var.glob("*.db")) == [
        "complaints.db",
        "credit.db",
        "gateway.db",
        "gov_services.db",
        "supervision.db",
    ]


def test_ingest_prints_a_summary_and_writes_the_report(env: dict[str, str], tmp_path: Path) -> None:
    factory = Factory()
    bad = factory.complaint(2, complainant_phone="12345")
    path = write_ndjson(tmp_path / "in.ndjson", [factory.complaint(1), bad, factory.complaint(3)])
    report = tmp_path / "report.json"
    args = [
        "ingest",
        str(path),
        "--source",
        "complaints",
        "--provider",
        "P-12345",
        "--report",
        str(report),
    ]
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 1  # some records were rejected; the others are kept
    assert "line 2, cd_id c-000002: complainant_phone" in result.output
    data = json.loads(report.read_text(encoding="utf-8"))
    assert (data["inserted"], data["rejected"], data["accepted"]) == (2, 1, 2)
    assert data["errors"] == [
        {
            "line": 2,
            "cd_id": "c-000002",
            "field": "complainant_phone",
            "reason": data["errors"][0]["reason"],
        }
    ]
    again = runner.invoke(app, args[:-2], env=env)
    assert again.exit_code == 1 and "unchanged" in again.output
    # Each import is in the audit log, as the operator's write.
    with sqlite3.connect(Path(env["JIANGUAN_VAR_DIR"]) / "gateway.db") as db:
        entries = db.execute(
            "SELECT actor, event, outcome, resources, providers, rows FROM audit_log"
            " WHERE event = 'write'"
        ).fetchall()
    assert len(entries) == 2
    actor, event, outcome, resources, providers, rows = entries[0]
    assert actor.startswith("cli:") and (event, outcome, rows) == ("write", "partial", 2)
    assert json.loads(resources) == ["complaints"] and json.loads(providers) == ["P-12345"]


@pytest.mark.parametrize(
    ("provider", "says"),
    [("NOPE-X", "'NOPE-X' is not a registered party"), ("XA-OLD", "'XA-OLD' is disabled")],
)
def test_ingest_as_a_party_the_gateway_does_not_take_stores_nothing(
    env: dict[str, str], tmp_path: Path, provider: str, says: str
) -> None:
    added = runner.invoke(
        app, ["party", "add", "XA-OLD", "--name", "旧部门", "--kind", "department"], env=env
    )
    assert added.exit_code == 0, added.output
    assert runner.invoke(app, ["party", "disable", "XA-OLD"], env=env).exit_code == 0
    path = write_ndjson(tmp_path / "in.ndjson", [Factory().complaint(1)])
    args = ["ingest", str(path), "--source", "complaints", "--provider", provider]
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 2, result.output
    assert says in result.output and "nothing from this file was stored" in result.output
    with sqlite3.connect(Path(env["JIANGUAN_VAR_DIR"]) / "complaints.db") as db:
        assert db.execute("SELECT count(*) FROM complaints").fetchone() == (0,)


def test_ingest_needs_a_table_when_the_source_has_several(
    env: dict[str, str], tmp_path: Path
) -> None:
    path = write_ndjson(tmp_path / "in.ndjson", [{"cd_id": "x"}])
    result = runner.invoke(
        app, ["ingest", str(path), "--source", "supervision", "--provider", "XA-SCJG"], env=env
    )
    assert result.exit_code == 2
    assert "several tables" in result.output and "actions" in result.output


def test_ingest_of_a_file_in_the_wrong_encoding_stores_nothing(
    env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes("cd_id,title\nc-1,餐馆卫生\n".encode("gbk"))
    result = runner.invoke(
        app, ["ingest", str(path), "--source", "complaints", "--provider", "P-12345"], env=env
    )
    assert result.exit_code == 2
    assert (
        "--encoding gbk" in result.output and "nothing from this file was stored" in result.output
    )


def test_bad_settings_are_reported(tmp_path: Path) -> None:
    result = runner.invoke(app, ["db", "upgrade"], env={"JIANGUAN_USCC_LEGACY": "maybe"})
    assert result.exit_code == 2 and "JIANGUAN_USCC_LEGACY" in result.output


def test_holidays_check(tmp_path: Path) -> None:
    example = Path(__file__).parents[2] / "docs" / "examples" / "holidays.toml"
    result = runner.invoke(app, ["holidays", "check", str(example)])
    assert result.exit_code == 0 and "2027:" in result.output
    broken = tmp_path / "h.toml"
    broken.write_text('[2027]\nholidays = ["2027-02-30"]\n', encoding="utf-8")
    result = runner.invoke(app, ["holidays", "check", str(broken)])
    assert result.exit_code == 1 and "2027-02-30" in result.output


# -- first steps: one clear line, exit 2 -----------------------------------------------------


def _child_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith("JIANGUAN_")}
    return {**keep, "JIANGUAN_VAR_DIR": str(tmp_path / "var"), **extra}


def test_seed_before_db_upgrade_says_so_in_one_line(tmp_path: Path) -> None:
    done = jianguan("seed", "--if-empty", env=_child_env(tmp_path))
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "jianguan db upgrade" in line and "supervision" in line
    assert "Traceback" not in done.stdout + done.stderr
    # Nothing was created: the next `db upgrade` starts from nothing.
    assert not (tmp_path / "var").exists() or not list((tmp_path / "var").glob("*.db"))


def test_serve_in_production_without_an_audit_key_says_so_in_one_line(tmp_path: Path) -> None:
    env = _child_env(tmp_path, JIANGUAN_ENVIRONMENT="production")
    done = jianguan("serve", "--port", str(free_port()), env=env)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "JIANGUAN_AUDIT_KEY_FILE" in line and "jianguan audit keygen" in line


def test_demo_credentials_before_seeding_says_so_in_one_line(env: dict[str, str]) -> None:
    done = jianguan("demo-credentials", env={**os.environ, **env})
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "jianguan seed" in line


# -- jianguan --help is quick: nothing heavy is imported for it -------------------------------

HEAVY = (
    "sqlalchemy",
    "alembic",
    "strawberry",
    "starlette",
    "uvicorn",
    "redis",
    "coredis",
    "casbin",
    "psycopg",
    "asyncpg",
    "httpx",
    "gateway.cli.publish",
    "accounts.admin",
    "gateway.cli.audit",
    "gateway.cli.admin",
    "resolvers",
)


def test_help_imports_none_of_the_heavy_modules() -> None:
    probe = (
        "import json, sys\n"
        "from gateway.cli import app\n"
        "try:\n"
        "    app(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"heavy = {HEAVY!r}\n"
        "found = sorted(m for m in sys.modules if m.split('.')[0] in heavy or m in heavy)\n"
        "print(json.dumps(found), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "publish" in done.stdout and "audit" in done.stdout  # every command is listed
    assert json.loads(done.stderr.strip().splitlines()[-1]) == []


@pytest.mark.parametrize("name", sorted(LAZY))
def test_a_lazy_commands_listed_help_is_its_own(name: str) -> None:
    # The list shows LAZY's text; the command itself must say the same.
    command = typer.main.get_command(app)
    assert isinstance(command, TyperGroup)
    loaded = command.get_command(typer.Context(command), name)
    assert loaded is not None and loaded.help is not None
    assert loaded.help.strip().splitlines()[0] == LAZY[name][2]
    assert runner.invoke(app, [name, "--help"]).exit_code == 0
