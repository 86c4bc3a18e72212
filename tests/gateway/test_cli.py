"""The ``jianguan`` command line on the embedded default (SQLite under a temporary var/)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from gateway.cli import app
from tests.ingest.factory import Factory

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    environment = {"JIANGUAN_VAR_DIR": str(tmp_path / "var")}
    result = runner.invoke(app, ["db", "upgrade"], env=environment)
    assert result.exit_code == 0, result.output
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
        ).fetchall()
    assert len(entries) == 2
    actor, event, outcome, resources, providers, rows = entries[0]
    assert actor.startswith("cli:") and (event, outcome, rows) == ("write", "partial", 2)
    assert json.loads(resources) == ["complaints"] and json.loads(providers) == ["P-12345"]


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
