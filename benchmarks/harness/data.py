"""Demo data to measure against: seeded sources on scratch PostgreSQL databases, the gateway's
own database, and the city office as a caller with a ready token."""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]  # no stubs

from benchmarks.harness.postgres import admin_connection, drop, dsn, url_of
from gateway.settings import Settings
from standard.source_names import SOURCE_NAMES

SEED = 42


@dataclass(frozen=True)
class Caller:
    """Who the load generator calls as: the city office, with a ready token."""

    gateway_url: str
    key_file: str
    token: str

    @property
    def header(self) -> str:
        return f"Authorization: Bearer {self.token}"


async def prepare(prefix: str, scale: str) -> dict[str, str]:
    """Four migrated databases ``prefix_<source>`` holding ``scale`` demo data: reused when
    marked complete (``--keep-db``); their URLs by source."""
    from demo.seed import seed
    from sources.database import SourceDatabases
    from standard.migrate import upgrade

    names = {source: f"{prefix}_{source}" for source in SOURCE_NAMES}
    marker = f"jianguan benchmark data: {scale}, seed {SEED}"
    admin = await admin_connection()
    try:
        found = dict(
            await admin.fetch(
                "SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database "
                "WHERE datname = ANY($1::text[])",
                list(names.values()),
            )
        )
        reuse = len(found) == len(names) and set(found.values()) == {marker}
        if found and not reuse:
            raise SystemExit(
                f"database(s) {sorted(found)} exist but do not hold complete benchmark data "
                f"({marker!r}); drop them or choose another --keep-db name"
            )
        if not reuse:
            for database in names.values():
                await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close()
    urls = {source: url_of(database) for source, database in names.items()}
    databases = SourceDatabases(Settings(source_urls=urls))
    try:
        for source in SOURCE_NAMES:
            await upgrade(databases.engine(source), source)
        if reuse:
            print(f"reusing {', '.join(names.values())} ({marker})")
            return urls
        print(f"seeding {scale} demo data into {prefix}_* …", flush=True)

        finished: set[str] = set()

        def progress(table: str, done: int, total: int) -> None:
            if done == total and table not in finished:
                finished.add(table)
                print(f"  {table:<20} {done:>9,}", flush=True)

        await seed(databases, scale=scale, seed=SEED, progress=progress)
        for database in names.values():
            connection = await asyncpg.connect(dsn(url_of(database)))
            try:  # fresh statistics: the planner should see the data as a running system would
                await connection.execute("VACUUM ANALYZE")
            finally:
                await connection.close()
    except BaseException:
        if not reuse:
            await drop(names.values())
        raise
    finally:
        await databases.dispose()
    admin = await admin_connection()
    try:
        for database in names.values():
            await admin.execute(f"COMMENT ON DATABASE \"{database}\" IS '{marker}'")
    finally:
        await admin.close()
    return urls


async def prepare_gateway(prefix: str, work: Path) -> Caller:
    """The gateway's own database ``prefix_gateway`` (policies, the city office, a session)
    and a signing key in ``work``."""
    from datetime import timedelta

    from audit.keys import Signer
    from gateway.services import Services
    from policies.actor import Actor
    from policies.principal import Principal
    from policies.store import ensure_seed
    from sources.database import create_engine
    from standard.migrate import GATEWAY, upgrade

    database = f"{prefix}_gateway"
    await drop([database])
    admin = await admin_connection()
    try:
        await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close()
    key_file = work / "audit-key.json"
    Signer.generate(key_file)
    gateway_url = url_of(database)
    engine = create_engine(gateway_url)
    try:
        await upgrade(engine, GATEWAY)
        await ensure_seed(engine)
    finally:
        await engine.dispose()
    settings = Settings(environment="production", gateway_url=gateway_url, audit_key_file=key_file)
    services = Services.create(settings)
    try:
        await services.admin.add_party(
            Actor("cli:benchmark"), code="XA-ZWB", name="西安市人民政府办公厅", kind="city_office"
        )
        principal = Principal(
            kind="staff", id="user:bench", party="XA-ZWB", party_kind="city_office",
            role="city_office",
        )  # fmt: skip
        issued = await services.tokens.issue(
            principal, lifetime=timedelta(hours=6), idle=timedelta(hours=6)
        )
    finally:
        await services.close()
    return Caller(gateway_url, str(key_file), issued.token)


def add_keep_db(parser: argparse.ArgumentParser) -> None:
    """``--keep-db NAME``: use and keep databases ``NAME_<source>`` (checked by ``parsed``)."""
    parser.add_argument("--keep-db", metavar="NAME", help="use and keep databases NAME_<source>")


def parsed(parser: argparse.ArgumentParser, *hidden: str) -> argparse.Namespace:
    """The arguments, with the options only server processes take hidden from ``--help``, and
    a ``--keep-db`` name that can name PostgreSQL databases."""
    for option in hidden:
        parser.add_argument(option, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if getattr(args, "keep_db", None) and not re.fullmatch(r"[a-z_][a-z0-9_]{0,40}", args.keep_db):
        parser.error("--keep-db takes a lower-case name of letters, digits and _")
    return args
