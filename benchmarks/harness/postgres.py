"""Scratch PostgreSQL databases on the server ``JIANGUAN_TEST_POSTGRES`` names."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

import asyncpg  # type: ignore[import-untyped]  # no stubs

ADMIN = os.environ.get("JIANGUAN_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


async def admin_connection() -> asyncpg.Connection:
    return await asyncpg.connect(ADMIN, timeout=5)


def url_of(database: str) -> str:
    """SQLAlchemy's URL of ``database`` on the same server (asyncpg driver)."""
    return f"{ADMIN.rsplit('/', 1)[0]}/{database}".replace("postgresql://", "postgresql+asyncpg://")


def dsn(url: str) -> str:
    """asyncpg's DSN of a SQLAlchemy URL."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def create(databases: Iterable[str]) -> None:
    admin = await admin_connection()
    try:
        for database in databases:
            await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close()


async def drop(databases: Iterable[str]) -> None:
    admin = await admin_connection()
    try:
        for database in databases:
            await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await admin.close()


@asynccontextmanager
async def scratch(databases: Iterable[str]) -> AsyncIterator[dict[str, str]]:
    """Empty databases, made now and dropped at the end (on failure too): name -> URL."""
    names = list(databases)
    await create(names)
    try:
        yield {name: url_of(name) for name in names}
    finally:
        await drop(names)
