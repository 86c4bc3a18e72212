"""Validated ingest into PostgreSQL: records per second and peak memory.

    .venv/bin/python -m benchmarks.ingest [--records 100000] [--batch-size 5000]

Creates a scratch database, writes an NDJSON file of valid complaints (personal data and codes
included, so every validator runs), ingests it twice (first run inserts, second finds every
record unchanged), prints the figures, and drops the database. Goal: >= 20,000 records/s.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import tempfile
import time
import uuid
from pathlib import Path

import orjson

from benchmarks.harness.postgres import scratch
from benchmarks.harness.timing import peak_mib
from gateway.settings import Settings
from ingest.readers import read_records
from ingest.service import IngestOptions, ingest_file
from ingest.validate import RecordValidator
from sources.database import SourceDatabases
from standard.codes import checks
from standard.migrate import upgrade
from standard.tables.complaints import Complaint
from standard.workdays import WorkCalendar
from tests.ingest.factory import RECEIVED, Factory


def write_file(path: Path, count: int) -> None:
    factory = Factory(seed=1)
    with path.open("wb") as handle:
        for n in range(count):
            handle.write(orjson.dumps(factory.complaint(n)) + b"\n")


async def main(records: int, batch_size: int) -> None:
    name = f"jg_bench_{uuid.uuid4().hex[:8]}"
    async with scratch([name]) as urls:
        settings = Settings(source_urls={"complaints": urls[name]}, ingest_batch_size=batch_size)
        databases = SourceDatabases(settings)
        try:
            await measure(databases, settings, records, batch_size)
        finally:
            await databases.dispose()


async def measure(
    databases: SourceDatabases, settings: Settings, records: int, batch_size: int
) -> None:
    engine = databases.engine("complaints")
    await upgrade(engine, "complaints")
    await upgrade(databases.engine("supervision"), "supervision")  # the matter catalogue
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "complaints.ndjson"
        write_file(path, records)
        size = path.stat().st_size / 1e6
        print(f"{records:,} complaints, {size:.1f} MB NDJSON, batches of {batch_size}")

        validator = RecordValidator(
            Complaint, provider="P-12345", checks=checks(), received_at=RECEIVED
        )
        start = time.perf_counter()
        for _, raw in read_records(path, fmt="ndjson"):
            validator.validate(raw)  # type: ignore[arg-type]
        parse = time.perf_counter() - start
        print(f"read + validate only    {records / parse:>10,.0f} records/s")

        options = IngestOptions(
            provider="P-12345",
            received_at=RECEIVED,
            calendar=WorkCalendar(),
            settings=settings,
            matters=databases.engine("supervision"),
        )
        before = peak_mib()
        for label in ("ingest (insert)", "ingest (unchanged)"):
            start = time.perf_counter()
            report = await ingest_file(engine, path, table=Complaint, options=options)
            elapsed = time.perf_counter() - start
            assert report.rejected == 0, report.errors[:3]
            print(f"{label:<22}  {records / elapsed:>10,.0f} records/s  ({elapsed:.2f} s)")
            options = dataclasses.replace(options)
        print(f"peak RSS {peak_mib():.0f} MiB (before ingest {before:.0f} MiB)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=5000)
    args = parser.parse_args()
    asyncio.run(main(args.records, args.batch_size))
