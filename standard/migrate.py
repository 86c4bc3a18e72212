"""Apply the Alembic migrations of each source to its own database (``jianguan db upgrade``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, MetaData
from sqlalchemy.ext.asyncio import AsyncEngine

from standard import migrations

MIGRATIONS = Path(migrations.__file__).parent
GATEWAY = "gateway"
"""The gateway's own database (identities, grants, audit) migrates beside the four sources."""


def alembic_config(source: str) -> Config:
    """An Alembic config whose only version folder is that of ``source``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", str(MIGRATIONS / "versions" / source))
    config.attributes["source"] = source
    return config


def _run(
    connection: Connection,
    source: str,
    action: str,
    revision: str,
    message: str,
    metadata: MetaData | None = None,
) -> None:
    config = alembic_config(source)
    config.attributes["connection"] = connection
    config.attributes["metadata"] = metadata  # only autogenerate compares with the models
    if action == "upgrade":
        command.upgrade(config, revision)
    elif action == "downgrade":
        command.downgrade(config, revision)
    else:
        command.revision(config, message=message, autogenerate=True, rev_id=revision)


async def upgrade(engine: AsyncEngine, source: str, revision: str = "head") -> None:
    """Bring ``source``'s database up to ``revision``."""
    async with engine.begin() as connection:
        await connection.run_sync(_run, source, "upgrade", revision, "")


async def downgrade(engine: AsyncEngine, source: str, revision: str = "base") -> None:
    """Take ``source``'s database down to ``revision``."""
    async with engine.begin() as connection:
        await connection.run_sync(_run, source, "downgrade", revision, "")


async def autogenerate(
    engine: AsyncEngine, source: str, rev_id: str, message: str, metadata: MetaData
) -> None:
    """Write a new revision for ``source`` from its ``metadata`` (developers only).

    The caller passes the models (``registry.source(name).metadata``, or the gateway's): this
    layer knows no layer above it."""
    async with engine.begin() as connection:
        await connection.run_sync(_run, source, "revision", rev_id, message, metadata)
