"""``jianguan inspections export`` and ``verify-draw``: an outsider with the exported files
reproduces both draws (the first and a repeat beside it), and any edit to them is named."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from sqlalchemy import select
from typer.testing import CliRunner

from gateway.cli.inspections import inspections_app
from gateway.clock import Clock
from gateway.settings import Settings
from inspections.pools import Sources
from inspections.rules import PoolCriteria
from inspections.snapshot import commitment
from inspections.store import approve_plan, perform_draw
from sources.database import SourceDatabases, create_engine
from standard.tables.gateway import AuditEntry
from standard.tables.supervision import Plan as SupervisionPlan
from tasks.lifecycle import Actor
from tests.inspections.samples import (
    FOOD,
    ITEM_FOOD,
    ITEM_PERMIT,
    PERMIT,
    SCJG,
    STHJ,
    inspectors,
    lines_of,
    plan,
    rules,
    subjects,
)
from tests.inspections.test_pools import S, fill

runner = CliRunner()
NOW = datetime(2026, 5, 20, 9, 0, tzinfo=UTC)
SEED = bytes(range(32))
POOL = subjects(150, seed=21)
IDS = [row.id for row in POOL]
STAFF = Actor(officer="user:scjg-1", party=SCJG)


async def _prepare(url: str) -> None:
    engine = create_engine(url)
    try:
        await approve_plan(
            engine,
            plan=plan(ITEM_FOOD, ITEM_PERMIT),
            rules=rules(),
            subjects=lines_of(POOL),
            inspectors=lines_of(
                inspectors(SCJG, [FOOD], 10, subjects=IDS)
                + inspectors(STHJ, [PERMIT], 10, subjects=IDS)
            ),
            seed_commitment=commitment(SEED),
            by=STAFF,
            now=NOW,
        )
        await perform_draw(engine, plan_code="SJ-2026-001", seed=SEED, by=STAFF, now=NOW)
        await perform_draw(
            engine,
            plan_code="SJ-2026-001",
            seed=b"\x09" * 32,
            by=STAFF,
            now=NOW + timedelta(hours=1),
            reason="首次抽取后发现名录缺漏",
        )
    finally:
        await engine.dispose()


def _edit_line(path: Path, index: int, field: str, value: object) -> None:
    raw = path.read_bytes().splitlines(keepends=True)
    row = orjson.loads(raw[index])
    row[field] = value
    raw[index] = orjson.dumps(row, option=orjson.OPT_SORT_KEYS) + b"\n"
    path.write_bytes(b"".join(raw))


def test_an_exported_plan_is_verified_and_every_edit_is_named(
    gateway_url: str, tmp_path: Path
) -> None:
    asyncio.run(_prepare(gateway_url))
    env = {"JIANGUAN_DATABASE_URL": gateway_url, "JIANGUAN_VAR_DIR": str(tmp_path / "var")}
    folder = tmp_path / "export"
    clock = Clock(now=lambda: NOW + timedelta(days=1))
    result = runner.invoke(
        inspections_app, ["export", "SJ-2026-001", "--to", str(folder)], env=env, obj=clock
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in folder.iterdir()) == [
        "draw-1.jsonl",
        "draw-2.jsonl",
        "inspectors.jsonl",
        "plan.json",
        "subjects.jsonl",
    ]
    result = runner.invoke(inspections_app, ["verify-draw", str(folder)])
    assert result.exit_code == 0, result.output
    assert "reproduced draw 1" in result.output
    assert "reproduced draw 2 (重复抽取: 首次抽取后发现名录缺漏)" in result.output

    missing = runner.invoke(
        inspections_app, ["export", "SJ-2099-404", "--to", str(tmp_path / "x")], env=env
    )
    assert missing.exit_code == 2 and "SJ-2099-404" in missing.output

    _edit_line(folder / "draw-1.jsonl", 2, "risk", "Z")
    result = runner.invoke(inspections_app, ["verify-draw", str(folder)])
    assert result.exit_code == 1
    assert "differs draw 1" in result.output and "line 3" in result.output
    assert "reproduced draw 2" in result.output

    _edit_line(folder / "subjects.jsonl", 0, "status", "cancelled")
    result = runner.invoke(inspections_app, ["verify-draw", str(folder)])
    assert result.exit_code == 1
    assert "subjects snapshot differs" in result.output.replace("\n", " ")

    document = orjson.loads((folder / "plan.json").read_bytes())
    document["draws"][0]["seed"] = "00" * 32
    (folder / "plan.json").write_bytes(orjson.dumps(document))
    result = runner.invoke(inspections_app, ["verify-draw", str(folder)])
    assert result.exit_code == 1 and "commitment" in result.output


def test_the_export_is_audited(gateway_url: str, tmp_path: Path) -> None:
    asyncio.run(_prepare(gateway_url))
    env = {"JIANGUAN_DATABASE_URL": gateway_url, "JIANGUAN_VAR_DIR": str(tmp_path / "var")}
    result = runner.invoke(
        inspections_app, ["export", "SJ-2026-001", "--to", str(tmp_path / "e")], env=env
    )
    assert result.exit_code == 0, result.output

    async def events() -> list[str]:
        engine = create_engine(gateway_url)
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(AuditEntry.__table__.select().order_by("seq"))
                return [row.event for row in rows]
        finally:
            await engine.dispose()

    assert asyncio.run(events())[-1] == "inspection_export"


def test_an_operator_approves_from_the_data_centre_draws_and_verifies(
    databases: SourceDatabases, backend_settings: Settings, gateway_url: str, tmp_path: Path
) -> None:
    asyncio.run(_fill(backend_settings, gateway_url))  # `databases` empties them after
    env = {
        "JIANGUAN_DATABASE_URL": gateway_url,
        "JIANGUAN_VAR_DIR": str(tmp_path / "var"),
        **{
            f"JIANGUAN_{name.upper()}_DATABASE_URL": backend_settings.database_url(name)
            for name in ("supervision", "credit", "gov_services", "complaints")
        },
    }
    made = runner.invoke(inspections_app, ["seed"])
    assert made.exit_code == 0, made.output
    seed = made.output.split("seed (随机种子, keep it until the draw): ")[1].split()[0]
    promise = made.output.split("commitment (种子承诺, for approval):")[1].split()[0]
    assert commitment(bytes.fromhex(seed)) == promise
    everyone = {code: {**rule, "ratios": dict.fromkeys("ABCD", "1")}
                for code, rule in rules().document()["items"].items()}  # fmt: skip
    document = {
        "plan": plan(replace(ITEM_FOOD, criteria=PoolCriteria())).document(),
        "rules": {**rules().document(), "items": everyone},
        "declarations": {"61000002": {"conflicts": [S[2]]}},
    }
    plan_file = tmp_path / "plan.json"
    plan_file.write_bytes(orjson.dumps(document))
    clock = Clock(now=lambda: NOW)
    approved = runner.invoke(
        inspections_app, ["approve", str(plan_file), "--commitment", promise], env=env, obj=clock
    )
    assert approved.exit_code == 0, approved.output
    assert "approved SJ-2026-001: 4 subjects" in approved.output  # S[4] is deleted
    refused = runner.invoke(inspections_app, ["draw", "SJ-2026-001", "--seed", "00" * 32], env=env)
    assert refused.exit_code == 2 and "commitment" in refused.output
    drawn = runner.invoke(inspections_app, ["draw", "SJ-2026-001", "--seed", seed], env=env)
    assert drawn.exit_code == 0 and "3 subjects" in drawn.output, drawn.output  # S[1] cancelled
    again = runner.invoke(inspections_app, ["draw", "SJ-2026-001", "--seed", "ab" * 32], env=env)
    assert again.exit_code == 2 and "reason" in again.output
    folder = tmp_path / "out"
    exported = runner.invoke(
        inspections_app, ["export", "SJ-2026-001", "--to", str(folder)], env=env, obj=clock
    )
    assert exported.exit_code == 0, exported.output
    checked = runner.invoke(inspections_app, ["verify-draw", str(folder)])
    assert checked.exit_code == 0 and "reproduced draw 1: 3 subjects" in checked.output
    held = asyncio.run(_plans_in_data_centre(backend_settings))
    assert held == [("SJ-2026-001", "random", SCJG, "in_progress", 3, "u")]
    drawn_lines = [orjson.loads(raw) for raw in (folder / "draw-1.jsonl").read_bytes().splitlines()]
    teams = {row["id"]: set(row["inspectors"][SCJG]) for row in drawn_lines}
    assert "61000002" not in teams[S[2]]  # the declared conflict


async def _fill(settings: Settings, gateway_url: str) -> None:
    # engines of this event loop: the fixture's belong to the session's
    databases, gateway = SourceDatabases(settings), create_engine(gateway_url)
    try:
        await fill(
            Sources(
                supervision=databases.engine("supervision"),
                credit=databases.engine("credit"),
                gov_services=databases.engine("gov_services"),
                gateway=gateway,
            )
        )
    finally:
        await gateway.dispose()
        await databases.dispose()


def test_a_plan_file_that_is_not_one_is_refused_naming_it(tmp_path: Path) -> None:
    env = {"JIANGUAN_VAR_DIR": str(tmp_path / "var")}
    broken = tmp_path / "broken.json"
    for text in ("{", '{"plan": {}}', orjson.dumps({"plan": plan().document(), "rules": {
        **rules().document(), "items": {FOOD: {"ratios": {"A": "x"}}}}}).decode()):  # fmt: skip
        broken.write_text(text)
        result = runner.invoke(
            inspections_app, ["approve", str(broken), "--commitment", "0" * 64], env=env
        )
        assert result.exit_code == 2, result.output
        assert "broken.json" in result.output and "not a plan file" in result.output


async def _plans_in_data_centre(settings: Settings) -> list[tuple[object, ...]]:
    databases = SourceDatabases(settings)
    try:
        async with databases.engine("supervision").connect() as conn:
            rows = await conn.execute(
                select(SupervisionPlan.plan_code, SupervisionPlan.plan_type,
                       SupervisionPlan.provider, SupervisionPlan.status,
                       SupervisionPlan.subject_count, SupervisionPlan.cd_operation)
            )  # fmt: skip
            return [tuple(row) for row in rows]
    finally:
        await databases.dispose()
