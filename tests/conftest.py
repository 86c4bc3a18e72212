"""Fixtures: real PostgreSQL databases (one per source) and SQLite files, migrated once."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio
from sqlalchemy import text

from demo.seed import seed
from gateway.settings import Settings
from sources.database import SourceDatabases
from standard.migrate import upgrade
from standard.registry import SOURCES as REGISTRY
from standard.source_names import SOURCE_NAMES

ADMIN_DSN = os.environ.get(
    "JIANGUAN_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
START_HINT = (
    "PostgreSQL must answer at {dsn} for the tests ({error}). Run `make test` (it starts it), or "
    "start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
)


# Production's source timeout (3 s) and request deadline (10 s) are settings, not assertions: on
# a loaded two-core machine a test's honest read can take longer. Tests that are about timeouts
# set their own; every other test gets these, so load alone cannot fail them.
TEST_TIMEOUTS = {"source_timeout": 60.0, "request_timeout": 120.0}


def _pg_url(database: str) -> str:
    base = ADMIN_DSN.rsplit("/", 1)[0]
    return f"{base}/{database}".replace("postgresql://", "postgresql+asyncpg://", 1)


async def _admin() -> asyncpg.Connection:
    try:
        return await asyncpg.connect(ADMIN_DSN, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.exit(START_HINT.format(dsn=ADMIN_DSN, error=exc), returncode=3)


async def _pg_databases(tmp: Path) -> tuple[Settings, dict[str, str]]:
    """Four fresh PostgreSQL databases, migrated to head."""
    run = uuid.uuid4().hex[:8]
    names = {source: f"jg_test_{run}_{source}" for source in SOURCE_NAMES}
    admin = await _admin()
    try:
        for database in names.values():
            await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close()
    settings = Settings(
        var_dir=tmp,
        source_urls={source: _pg_url(db) for source, db in names.items()},
        **TEST_TIMEOUTS,
    )
    databases = SourceDatabases(settings)
    for source in SOURCE_NAMES:
        await upgrade(databases.engine(source), source)
    await databases.dispose()
    return settings, names


async def _drop(names: dict[str, str]) -> None:
    admin = await _admin()
    try:
        for database in names.values():
            await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def pg_settings(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Settings]:
    """Settings whose four sources are four fresh PostgreSQL databases, migrated to head."""
    settings, names = await _pg_databases(tmp_path_factory.mktemp("pg-var"))
    yield settings
    await _drop(names)


async def _sqlite_databases(tmp: Path) -> Settings:
    settings = Settings(var_dir=tmp, **TEST_TIMEOUTS)
    databases = SourceDatabases(settings)
    for source in SOURCE_NAMES:
        await upgrade(databases.engine(source), source)
    await databases.dispose()
    return settings


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def seeded_pg(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Settings]:
    """PostgreSQL sources holding the small demo data set (seed 42), shared read-only."""
    settings, names = await _pg_databases(tmp_path_factory.mktemp("seeded-pg"))
    databases = SourceDatabases(settings)
    await seed(databases, scale="small", seed=42)
    await databases.dispose()
    yield settings
    await _drop(names)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def seeded_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """SQLite sources holding the small demo data set (seed 42), shared read-only."""
    settings = await _sqlite_databases(tmp_path_factory.mktemp("seeded-sqlite"))
    databases = SourceDatabases(settings)
    await seed(databases, scale="small", seed=42)
    await databases.dispose()
    return settings


@pytest.fixture(params=["postgresql", "sqlite"])
def seeded_settings(request: pytest.FixtureRequest) -> Settings:
    """Demo data on each backend (read-only: tests must not write to it)."""
    name = "seeded_pg" if request.param == "postgresql" else "seeded_sqlite"
    settings: Settings = request.getfixturevalue(name)
    return settings


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def sqlite_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings on the embedded default: one SQLite file per source, migrated to head."""
    return await _sqlite_databases(tmp_path_factory.mktemp("sqlite-var"))


@pytest.fixture(params=["postgresql", "sqlite"])
def backend_settings(request: pytest.FixtureRequest) -> Settings:
    """Run a test on PostgreSQL and on the SQLite default."""
    name = "pg_settings" if request.param == "postgresql" else "sqlite_settings"
    settings: Settings = request.getfixturevalue(name)
    return settings


@pytest_asyncio.fixture(loop_scope="session")
async def databases(backend_settings: Settings) -> AsyncIterator[SourceDatabases]:
    """Empty, migrated source databases on each backend; emptied again after the test."""
    dbs = SourceDatabases(backend_settings)
    await _empty(dbs)
    yield dbs
    await _empty(dbs)
    await dbs.dispose()


async def _empty(dbs: SourceDatabases) -> None:
    for source in SOURCE_NAMES:
        tables = list(REGISTRY[source].metadata.tables)
        async with dbs.engine(source).begin() as connection:
            if connection.dialect.name == "postgresql":
                quoted = ", ".join(f'"{t}"' for t in tables)
                await connection.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY"))
            else:
                for table in tables:
                    await connection.execute(text(f'DELETE FROM "{table}"'))


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """Sample files shipped with the tests."""
    yield Path(__file__).parent / "data"


# The gateway's own database (identities, grants, audit). Each test gets a fresh copy of a
# migrated template: the audit log refuses deletes, so emptying it in place is not an option.
REDIS_URL = os.environ.get("JIANGUAN_TEST_REDIS", "redis://127.0.0.1:6379/0")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def gateway_template(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[dict[str, str]]:
    """A migrated gateway database on each backend, copied for every test."""
    from sources.database import create_engine
    from standard.migrate import GATEWAY

    run = uuid.uuid4().hex[:8]
    name = f"jg_test_{run}_gateway_tmpl"
    admin = await _admin()
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    sqlite = tmp_path_factory.mktemp("gateway-tmpl") / "gateway.db"
    for url in (_pg_url(name), f"sqlite+aiosqlite:///{sqlite}"):
        engine = create_engine(url)
        await upgrade(engine, GATEWAY)
        await engine.dispose()
    yield {"postgresql": name, "sqlite": str(sqlite)}
    await _drop({"tmpl": name})


@pytest_asyncio.fixture(loop_scope="session", params=["postgresql", "sqlite"])
async def gateway_url(
    request: pytest.FixtureRequest, gateway_template: dict[str, str], tmp_path: Path
) -> AsyncIterator[str]:
    """A fresh, migrated gateway database URL on each backend, dropped after the test."""
    if request.param == "sqlite":
        copy = tmp_path / "gateway.db"
        shutil.copyfile(gateway_template["sqlite"], copy)
        yield f"sqlite+aiosqlite:///{copy}"
        return
    name = f"jg_test_{uuid.uuid4().hex[:10]}_gateway"
    admin = await _admin()
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{gateway_template["postgresql"]}"')
    finally:
        await admin.close()
    yield _pg_url(name)
    await _drop({"db": name})


@pytest.fixture
def pg_gateway_url(gateway_template: dict[str, str]) -> Iterator[str]:
    """Only PostgreSQL (for tests of several processes sharing one database)."""
    import asyncio

    name = f"jg_test_{uuid.uuid4().hex[:10]}_gateway"

    async def create() -> None:
        admin = await _admin()
        try:
            await admin.execute(
                f'CREATE DATABASE "{name}" TEMPLATE "{gateway_template["postgresql"]}"'
            )
        finally:
            await admin.close()

    asyncio.run(create())
    yield _pg_url(name)
    asyncio.run(_drop({"db": name}))
