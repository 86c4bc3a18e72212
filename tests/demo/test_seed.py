"""Demo seeding on SQLite: determinism, counts, lateness, validity as ingest sees it, refusal."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import Table, func, select

from demo import invalid
from demo.seed import SCALES, NotEmpty, is_seeded, seed
from demo.stamp import WINDOW_END, WINDOW_START, cd_number
from gateway.settings import Settings
from ingest.catalogue import Catalogue
from ingest.digest import content_hash, hashed_columns
from ingest.validate import RecordValidator
from sources.database import SourceDatabases
from standard.codes import checks
from standard.exchange import ExchangeRecord
from standard.migrate import upgrade
from standard.registry import SOURCES
from standard.tables.gov_services import LicensingItem
from standard.tables.supervision import Action, Matter, Subject
from standard.workdays import SHANGHAI

SMALL = SCALES["small"].subjects
TABLES = [(name, model) for name, src in SOURCES.items() for model in src.tables.values()]


async def _migrated(path: Path) -> SourceDatabases:
    databases = SourceDatabases(Settings(var_dir=path))
    for source in SOURCES:
        await upgrade(databases.engine(source), source)
    return databases


async def _rows(databases: SourceDatabases, source: str, model: type[ExchangeRecord]) -> list[Any]:
    core: Table = model.__table__  # type: ignore[attr-defined]
    async with databases.engine(source).connect() as connection:
        result = await connection.execute(select(core).order_by(core.c.id))
        return list(result.mappings())


async def _digest(databases: SourceDatabases) -> dict[str, str]:
    digests = {}
    for source, model in TABLES:
        h = hashlib.blake2b(digest_size=16)
        for row in await _rows(databases, source, model):
            h.update(repr(tuple(row.values())).encode())
        digests[model.__tablename__] = h.hexdigest()  # type: ignore[attr-defined]
    return digests


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def seeded(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[SourceDatabases, dict[str, int]]]:
    """Small-scale demo data, seed 42, in fresh SQLite files."""
    databases = await _migrated(tmp_path_factory.mktemp("demo-42"))
    counts = await seed(databases, scale="small", seed=42)
    yield databases, counts
    await databases.dispose()


async def _seed_fresh(path: Path, seed_value: int) -> dict[str, str]:
    databases = await _migrated(path)
    try:
        await seed(databases, scale="small", seed=seed_value)
        return await _digest(databases)
    finally:
        await databases.dispose()


@pytest.mark.slow
async def test_same_seed_gives_identical_rows(
    seeded: tuple[SourceDatabases, dict[str, int]], tmp_path: Path
) -> None:
    again = await _seed_fresh(tmp_path, 42)
    assert again == await _digest(seeded[0])


@pytest.mark.slow
async def test_another_seed_gives_other_rows(
    seeded: tuple[SourceDatabases, dict[str, int]], tmp_path: Path
) -> None:
    other = await _seed_fresh(tmp_path, 7)
    mine = await _digest(seeded[0])
    assert all(other[name] != mine[name] for name in mine)


@pytest.mark.slow
async def test_every_backend_stores_the_same_rows(
    seeded: tuple[SourceDatabases, dict[str, int]], databases: SourceDatabases
) -> None:
    # On PostgreSQL the rows go through COPY, so this checks its value conversions too.
    await seed(databases, scale="small", seed=42)
    assert await _digest(databases) == await _digest(seeded[0])


async def test_small_scale_counts(seeded: tuple[SourceDatabases, dict[str, int]]) -> None:
    databases, counts = seeded
    assert set(counts) == {model.__tablename__ for _, model in TABLES}  # type: ignore[attr-defined]
    for source, model in TABLES:
        core: Table = model.__table__  # type: ignore[attr-defined]
        async with databases.engine(source).connect() as connection:
            stored = await connection.scalar(select(func.count()).select_from(core))
        assert stored == counts[core.name] > 0
    assert counts["subjects"] == SMALL
    assert 2.5 * SMALL <= counts["actions"] <= 3.5 * SMALL
    assert 0.8 * SMALL <= counts["complaints"] <= 1.2 * SMALL
    assert 1.2 * SMALL <= counts["licences"] <= 1.8 * SMALL
    assert 0.8 * SMALL <= counts["credit_ratings"] <= 1.2 * SMALL
    assert 0.01 * SMALL <= counts["credit_lists"] <= 0.1 * SMALL
    assert 50 <= counts["licensing_items"] <= 70
    assert 8 * 12 <= counts["officers"] <= 11 * 18


async def test_lateness_follows_the_five_working_day_rule(
    seeded: tuple[SourceDatabases, dict[str, int]],
) -> None:
    databases, _ = seeded
    late = total = 0
    for source, model in TABLES:
        for row in await _rows(databases, source, model):
            assert row["late"] == (row["delay_working_days"] > 5)
            assert not row["delay_provisional"]
            assert WINDOW_START <= row["produced_at"].astimezone(SHANGHAI).date() <= WINDOW_END
            assert row["produced_at"] <= row["received_at"] == row["cd_time"]
            assert row["cd_batch"].startswith(f"{row['received_at'].astimezone(SHANGHAI):%Y%m%d}")
            late += row["late"]
            total += 1
    assert 0.02 * total <= late <= 0.09 * total


def _raw(row: Any, model: type[ExchangeRecord]) -> dict[str, Any]:
    """The record as a provider would push it: JSON values, instants in Beijing time."""
    core: Table = model.__table__  # type: ignore[attr-defined]
    raw: dict[str, Any] = {}
    for column in core.columns:
        value = row[column.name]
        if not column.info.get("ingest", True) or value is None:
            continue
        if isinstance(value, datetime):
            value = value.astimezone(SHANGHAI).isoformat()
        elif isinstance(value, date | Decimal):
            value = str(value)
        raw[column.name] = value
    return raw


async def test_only_the_documented_records_are_invalid(
    seeded: tuple[SourceDatabases, dict[str, int]],
) -> None:
    databases, counts = seeded
    async with databases.engine("supervision").connect() as connection:
        catalogue = await Catalogue.load(connection)
    code_checks = checks()
    for source, model in TABLES:
        core: Table = model.__table__  # type: ignore[attr-defined]
        hashed = hashed_columns(core)
        rejected: set[int] = set()
        for row in await _rows(databases, source, model):
            validator = RecordValidator(
                model, provider=row["provider"], checks=code_checks, received_at=row["received_at"]
            )
            checked = validator.validate(_raw(row, model))
            if model is Action and not checked.problems:
                on = row["produced_at"].astimezone(SHANGHAI).date()
                problem = catalogue.problem(row["matter_code"], on)
                checked.problems.extend([("matter_code", problem)] if problem else [])
            if checked.problems:
                rejected.add(cd_number(row["cd_id"]))
            else:  # the digest ingest would store for the same record
                assert row["content_hash"] == content_hash(checked.values, hashed), row["cd_id"]
        rows = counts[core.name]
        if core.name in invalid.TABLES:
            assert rejected == {n for n in range(rows) if invalid.is_invalid(n)}, core.name
            assert 0 < len(rejected) == invalid.invalid_count(rows) <= 0.01 * rows + 1
        else:
            assert rejected == set(), core.name


async def test_some_matters_link_to_missing_or_cancelled_licensing_items(
    seeded: tuple[SourceDatabases, dict[str, int]],
) -> None:
    databases, _ = seeded
    items = {
        r["item_code"]: r["status"] for r in await _rows(databases, "gov_services", LicensingItem)
    }
    links = [
        r["licensing_item_code"]
        for r in await _rows(databases, "supervision", Matter)
        if r["licensing_item_code"] is not None
    ]
    missing = [code for code in links if code not in items]
    cancelled = [code for code in links if items.get(code) == "cancelled"]
    assert 0 < len(missing) <= 8
    assert 0 < len(cancelled) <= 8
    assert len(links) > 10 * (len(missing) + len(cancelled))


async def test_seeding_databases_with_data_is_refused(
    seeded: tuple[SourceDatabases, dict[str, int]], tmp_path: Path
) -> None:
    databases, counts = seeded
    assert await is_seeded(databases)
    with pytest.raises(NotEmpty, match="databases already hold data; seed needs empty databases"):
        await seed(databases, scale="small")
    empty = await _migrated(tmp_path)
    try:
        assert not await is_seeded(empty)
        with pytest.raises(ValueError, match="unknown scale 'huge'"):
            await seed(empty, scale="huge")
    finally:
        await empty.dispose()
    async with databases.engine("supervision").connect() as connection:
        subjects = await connection.scalar(select(func.count()).select_from(Subject))
    assert subjects == counts["subjects"]  # the refused run added nothing
