"""Migrations create exactly the models' schema, each source in its own database."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect

from gateway.settings import Settings
from sources.database import SourceDatabases
from standard.migrate import downgrade, upgrade
from standard.registry import SOURCES as REGISTRY
from standard.source_names import SOURCE_NAMES


def _diff(connection: Connection, source: str) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, REGISTRY[source].metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


async def test_migrated_schema_matches_the_models(backend_settings: Settings) -> None:
    dbs = SourceDatabases(backend_settings)
    try:
        for source in SOURCE_NAMES:
            async with dbs.engine(source).connect() as connection:
                assert await connection.run_sync(_diff, source) == []
                tables = await connection.run_sync(_tables)
            # no table of one source lives in another's database
            assert tables == set(REGISTRY[source].metadata.tables)
    finally:
        await dbs.dispose()


async def test_downgrade_and_upgrade_again(tmp_path: Any) -> None:
    dbs = SourceDatabases(Settings(var_dir=tmp_path))
    try:
        for source in SOURCE_NAMES:
            engine = dbs.engine(source)
            await upgrade(engine, source)
            await downgrade(engine, source)
            async with engine.connect() as connection:
                assert await connection.run_sync(_tables) == set()
            await upgrade(engine, source)
            async with engine.connect() as connection:
                assert await connection.run_sync(_diff, source) == []
    finally:
        await dbs.dispose()


async def test_the_gateway_database_matches_its_models(gateway_url: str) -> None:
    from sources.database import create_engine
    from standard.tables.gateway import metadata

    def diff(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    engine = create_engine(gateway_url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(diff) == []
    finally:
        await engine.dispose()
