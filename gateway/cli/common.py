"""What the command groups share: the consoles, reading settings, running a coroutine."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console

from gateway.settings import Settings, SettingsError
from standard.source_names import SOURCE_NAMES

T = TypeVar("T")
console = Console()
errors = Console(stderr=True, soft_wrap=True)  # an error is one line, however long


def settings_or_exit() -> Settings:
    """The settings from the environment; a bad one is a one-line error, exit 2."""
    try:
        return Settings.from_env()
    except SettingsError as exc:
        errors.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def unmigrated(settings: Settings, names: tuple[str, ...]) -> list[str]:
    """The databases among ``names`` not at their latest migration (``jianguan db upgrade``)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy import Connection
    from sqlalchemy.engine import make_url

    from sources.database import create_engine
    from standard.migrate import GATEWAY, alembic_config

    def current(connection: Connection) -> set[str]:
        return set(MigrationContext.configure(connection).get_current_heads())

    urls = {n: settings.gateway_url if n == GATEWAY else settings.database_url(n) for n in names}
    # Connecting to a SQLite file that is not there would leave an empty one behind.
    missing = [
        name
        for name, url in urls.items()
        if make_url(url).get_backend_name() == "sqlite"
        and not Path(make_url(url).database or "").exists()
    ]

    async def check() -> list[str]:
        behind = list(missing)
        for name, url in urls.items():
            if name in missing:
                continue
            heads = set(ScriptDirectory.from_config(alembic_config(name)).get_heads())
            engine = create_engine(url)
            try:
                async with engine.connect() as connection:
                    if await connection.run_sync(current) != heads:
                        behind.append(name)
            finally:
                await engine.dispose()
        return behind

    return run_async(check())


def require_migrated(settings: Settings, names: tuple[str, ...]) -> None:
    behind = unmigrated(settings, names)
    if behind:
        errors.print(
            f"[red]error:[/] {', '.join(behind)}: database not created or not up to date;"
            " run `jianguan db upgrade` first"
        )
        raise typer.Exit(2)


def sources_named(source: str | None) -> tuple[str, ...]:
    if source is None:
        return SOURCE_NAMES
    if source not in SOURCE_NAMES:
        errors.print(
            f"[red]error:[/] unknown source {source!r}; sources are {', '.join(SOURCE_NAMES)}"
        )
        raise typer.Exit(2)
    return (source,)
