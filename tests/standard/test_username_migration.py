"""gateway_0002: user names become case-insensitive. Accounts that differ only in case stop the
upgrade, named, with nothing changed; the others get their key."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.settings import Settings
from sources.database import create_engine
from standard.migrate import upgrade

ACCOUNT = (
    "INSERT INTO accounts (username, real_name, party_code, role, password_hash,"
    " password_changed_at, must_change_password, failed_logins, disabled, created_at,"
    " created_by) VALUES (:name, 'x', 'XA-STHJ', 'staff', 'h', CURRENT_TIMESTAMP, true, 0,"
    " false, CURRENT_TIMESTAMP, 'cli:test')"
)


async def _at_0001(tmp_path: Path, names: list[str]) -> AsyncEngine:
    engine = create_engine(Settings(var_dir=tmp_path).gateway_url)
    await upgrade(engine, "gateway", "gateway_0001")
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO parties (code, name, kind, disabled, created_at)"
                " VALUES ('XA-STHJ', 'x', 'department', false, CURRENT_TIMESTAMP)"
            )
        )
        for name in names:
            await connection.execute(text(ACCOUNT), {"name": name})
    return engine


async def _revision(engine: AsyncEngine) -> str:
    async with engine.connect() as connection:
        return str(
            (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalar()
        )


async def test_names_differing_only_in_case_stop_the_upgrade(tmp_path: Path) -> None:
    engine = await _at_0001(tmp_path, ["xa.sthj.staff", "XA.STHJ.STAFF", "li.na"])
    try:
        with pytest.raises(RuntimeError, match=r"XA\.STHJ\.STAFF, xa\.sthj\.staff") as refused:
            await upgrade(engine, "gateway")
        assert "li.na" not in str(refused.value)
        assert await _revision(engine) == "gateway_0001"
    finally:
        await engine.dispose()


async def test_distinct_names_get_their_folded_key(tmp_path: Path) -> None:
    engine = await _at_0001(tmp_path, ["Li.Na", "wang.fang"])
    try:
        await upgrade(engine, "gateway")
        async with engine.connect() as connection:
            keys = (
                await connection.execute(
                    text("SELECT username, username_key FROM accounts ORDER BY id")
                )
            ).all()
        assert [tuple(k) for k in keys] == [("Li.Na", "li.na"), ("wang.fang", "wang.fang")]
    finally:
        await engine.dispose()
