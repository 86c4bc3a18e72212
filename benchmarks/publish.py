"""Open-data publishing at scale: PostgreSQL → extract → desensitise → check → CKAN DataStore.

    eval "$(devtools/ckan/run.py env)"     # a running CKAN (make ckan), its token and DataStore
    .venv/bin/python -m benchmarks.publish [--sizes 100000,1000000] [--baseline-rows 1000000]

For each size, in a fresh process (so its peak RSS is its own): a scratch PostgreSQL database
gets the small demo data, its inspection records multiplied to the size (names, addresses,
record keys varied, so the personal values the scan looks for grow with the rows); the
``inspection-results`` dataset is approved by its providers, released (extract through the
gateway's scope → desensitise → k-anonymity → files → residual-PII scan) and published to
the CKAN portal with the DataStore loaded by COPY. Then the next night's run: one record in
a hundred updated at the source, released and published again (only those rows change in the
table). Then the naive baseline: the same rows sent with ckanapi ``datastore_upsert`` in
batches of 1,000 into a second table. Prints rows/s per stage (and per phase of the load),
end-to-end time, peak RSS and the CPU-seconds the machine spent. Goal: ≤ 60 s end to end at
1,000,000 rows, memory flat in the row count. Everything made is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # no stubs
import ckanapi

from benchmarks.harness.postgres import dsn, scratch, url_of
from benchmarks.harness.servers import ROOT, module_command
from benchmarks.harness.timing import machine_cpu_s, peak_mib
from demo.seed import seed
from gateway.services import Services
from gateway.settings import Settings
from open_data.approvals import approve, dataset_scope
from open_data.ckan import CkanPortal
from open_data.datasets import dataset
from open_data.datastore import Changes, Loader, csv_rows
from open_data.files import FILES
from open_data.pipeline import prepare
from policies.access import RequestSources
from policies.actor import Actor
from policies.store import ensure_seed, load_policy
from sources.database import SourceDatabases, create_engine
from sources.guard import Sources
from standard.migrate import GATEWAY, upgrade
from standard.source_names import SOURCE_NAMES

KEY = b"benchmark-pseudonym-key-0123456789"
OPERATOR = Actor("cli:benchmark")
BASELINE_BATCH = 1_000
RERUN_EVERY = 100  # the re-run changes one record in a hundred


@asynccontextmanager
async def scratch_sources(tag: str) -> AsyncIterator[tuple[Settings, dict[str, str]]]:
    """Four scratch PostgreSQL databases (migrated by ``make_rows``); dropped at the end."""
    names = {source: f"jg_bench_{tag}_{source}" for source in SOURCE_NAMES}
    async with scratch(names.values()) as urls:
        yield Settings(source_urls={s: urls[n] for s, n in names.items()}), names


async def make_rows(settings: Settings, database: str, rows: int) -> list[str]:
    """The small demo data, its inspection records multiplied to ``rows``; their providers."""
    databases = SourceDatabases(settings)
    for source in SOURCE_NAMES:
        await upgrade(databases.engine(source), source)
    await seed(databases, scale="small", seed=42)
    await databases.dispose()
    db = await asyncpg.connect(dsn(url_of(database)))
    try:
        columns = [
            r["column_name"]
            for r in await db.fetch(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'actions' AND column_name <> 'id' ORDER BY ordinal_position"
            )
        ]
        varied = {  # each copy its own record, and its own personal values
            "cd_id": "a.cd_id || '-' || g",
            "action_no": "a.action_no || '-' || g",
            "counterparty_name": "a.counterparty_name || g",
            "address": "a.address || g || '号'",
        }
        select = ", ".join(varied.get(c, f"a.{c}") for c in columns)
        base = await db.fetchval("SELECT count(*) FROM actions WHERE kind = 'inspection'")
        last = await db.fetchval("SELECT max(id) FROM actions")
        await db.execute(
            f"INSERT INTO actions ({', '.join(columns)}) SELECT {select} "  # noqa: S608
            f"FROM actions a, generate_series(1, {-(-rows // base)}) g "
            f"WHERE a.kind = 'inspection' ORDER BY g, a.id LIMIT {rows}"
        )
        await db.execute("DELETE FROM actions WHERE kind = 'inspection' AND id <= $1", last)
        await db.execute("ANALYZE actions")
        found = await db.fetch(
            "SELECT DISTINCT provider FROM actions WHERE kind = 'inspection' ORDER BY 1"
        )
        return [r["provider"] for r in found]
    finally:
        await db.close()


async def change_rows(database: str, every: int) -> int:
    """One inspection record in ``every`` updated at the source, as the exchange brings an
    update (``cd_operation = 'u'``): its legal basis. Returns how many."""
    db = await asyncpg.connect(dsn(url_of(database)))
    try:
        status = await db.execute(
            "UPDATE actions SET legal_basis = coalesce(legal_basis, '') || '（复查）', "
            "cd_operation = 'u', cd_time = now() WHERE kind = 'inspection' AND id % $1 = 0",
            every,
        )
        return int(status.split()[-1])
    finally:
        await db.close()


class TimedLoader:
    """The portal's loader, timed."""

    def __init__(self, inner: Loader) -> None:
        self.inner, self.seconds = inner, 0.0

    def load(self, resource_id: str, columns: Any, path: Path) -> Changes:
        started = time.perf_counter()
        try:
            return self.inner.load(resource_id, columns, path)
        finally:
            self.seconds += time.perf_counter() - started


async def timed_publish(portal: CkanPortal, release: Any) -> tuple[Any, float, dict[str, float]]:
    """Publish ``release``: the outcome, the DataStore load's seconds and its phases' (COPY)."""
    timed = TimedLoader(portal.loader)
    portal.loader = timed
    try:
        outcome = await asyncio.to_thread(portal.publish, release)
    finally:
        portal.loader = timed.inner
    return outcome, timed.seconds, dict(getattr(timed.inner, "seconds", {}))


def baseline(portal_url: str, token: str, package_id: str, path: Path, limit: int) -> float:
    """ckanapi datastore_upsert in batches of 1,000 into a table of its own; seconds."""
    columns = next(csv_rows_header(path))
    with ckanapi.RemoteCKAN(portal_url, apikey=token) as ckan:
        created = ckan.action.datastore_create(
            resource={"package_id": package_id, "name": "baseline"},
            fields=[{"id": c, "type": "text"} for c in columns],
            force=True,
        )
        started = time.perf_counter()
        batch: list[dict[str, Any]] = []
        for n, row in enumerate(csv_rows(path)):
            if n == limit:
                break
            batch.append(dict(zip(columns, row, strict=True)))
            if len(batch) == BASELINE_BATCH:
                ckan.action.datastore_upsert(
                    resource_id=created["resource_id"], records=batch, method="insert", force=True
                )
                batch = []
        if batch:
            ckan.action.datastore_upsert(
                resource_id=created["resource_id"], records=batch, method="insert", force=True
            )
        return time.perf_counter() - started


def csv_rows_header(path: Path) -> Iterator[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        yield handle.readline().rstrip("\r\n").split(",")


async def one(rows: int, baseline_rows: int) -> dict[str, Any]:
    """One size, in this process: the figures as a dict."""
    url, token = os.environ["CKAN_URL"], os.environ["CKAN_API_TOKEN"]
    write_url = os.environ.get("CKAN_DATASTORE_WRITE_URL")
    tag = uuid.uuid4().hex[:8]
    figures: dict[str, Any] = {"rows": rows}
    async with scratch_sources(tag) as (settings, names):
        started = time.perf_counter()
        providers = await make_rows(settings, names["supervision"], rows)
        figures["generate_s"] = time.perf_counter() - started
        with tempfile.TemporaryDirectory(prefix="jg-bench-publish-") as tmp:
            work = Path(tmp)
            settings = replace(settings, gateway_url=f"sqlite+aiosqlite:///{work / 'gw.db'}")
            engine = create_engine(settings.gateway_url)
            await upgrade(engine, GATEWAY)
            await ensure_seed(engine)
            services = Services.create(settings)
            spec = replace(dataset("inspection-results"), name=f"bench-inspections-{tag}")
            for code in providers:
                await services.admin.add_party(OPERATOR, code=code, name=code, kind="department")
                await approve(services.grants, OPERATOR, spec, code)
            sources = Sources(settings)
            scoped = RequestSources(sources, dataset_scope(spec, await load_policy(engine)))
            rss_before = peak_mib()
            started, cpu = time.perf_counter(), machine_cpu_s()
            release = await prepare(spec, sources=scoped, key=KEY, work=work / "release")
            figures["prepare_s"] = time.perf_counter() - started
            figures["prepare_cpu_s"] = machine_cpu_s() - cpu
            figures["stages_s"] = release.seconds
            figures["rows_out"] = release.manifest["rows_out"]
            figures["rss_prepare_mib"] = peak_mib()
            figures["rss_start_mib"] = rss_before

            portal = CkanPortal(url, token, datastore_url=write_url)
            figures["loader"] = "copy" if write_url else "api"
            started, cpu = time.perf_counter(), machine_cpu_s()
            try:
                outcome, load_s, phases = await timed_publish(portal, release)
                figures["publish_s"] = time.perf_counter() - started
                figures["publish_cpu_s"] = machine_cpu_s() - cpu
                figures["load_s"], figures["load_phases_s"] = load_s, phases
                figures["changes"] = str(outcome)
                figures["rss_publish_mib"] = peak_mib()
                figures["csv_mib"] = (release.folder / FILES["csv"][0]).stat().st_size / 2**20
                # The next night: one record in a hundred updated at the source, released and
                # published again. Only those rows change in the table.
                figures["rerun_changed"] = await change_rows(names["supervision"], RERUN_EVERY)
                started = time.perf_counter()
                again = await prepare(spec, sources=scoped, key=KEY, work=work / "release")
                figures["rerun_prepare_s"] = time.perf_counter() - started
                started = time.perf_counter()
                outcome, figures["rerun_load_s"], _ = await timed_publish(portal, again)
                figures["rerun_publish_s"] = time.perf_counter() - started
                figures["rerun_changes"] = str(outcome)
                if baseline_rows:
                    with ckanapi.RemoteCKAN(url, apikey=token) as ckan:
                        package = ckan.action.package_show(id=spec.name)
                    limit = min(baseline_rows, release.manifest["rows_out"])
                    seconds = await asyncio.to_thread(
                        baseline, url, token, package["id"], release.folder / "data.csv", limit
                    )
                    figures["baseline_rows"], figures["baseline_s"] = limit, seconds
            finally:
                await sources.close()
                await services.close()
                await engine.dispose()
                portal.purge(spec.name)  # its tables too, the baseline's among them
    return figures


def report(results: list[dict[str, Any]]) -> None:
    print()
    print("| rows | stage | seconds | rows/s |")
    print("|---:|---|---:|---:|")
    for r in results:
        n = r["rows"]
        stages = dict(r["stages_s"])
        stages["DataStore load (" + r["loader"] + ")"] = r["load_s"]
        for phase, seconds in r["load_phases_s"].items():
            stages[f"  load: {phase}"] = seconds
        stages["file uploads + CKAN calls"] = r["publish_s"] - r["load_s"]
        for stage, seconds in stages.items():
            rate = f"{n / seconds:,.0f}" if seconds else "—"
            print(f"| {n:,} | {stage} | {seconds:.1f} | {rate} |")
    print()
    print(
        "| rows in | rows out | generate s | prepare s | publish s | end to end s "
        "| peak RSS after prepare MiB | after publish MiB | baseline (upsert ×1,000) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in results:
        end = r["prepare_s"] + r["publish_s"]
        base = ""
        if "baseline_s" in r:
            rate = r["baseline_rows"] / r["baseline_s"]
            base = (
                f"{r['baseline_rows']:,} rows in {r['baseline_s']:.1f} s = {rate:,.0f} rows/s; "
                f"{r['rows_out']:,} rows ≈ {r['rows_out'] / rate:.0f} s for the load alone"
            )
        print(
            f"| {r['rows']:,} | {r['rows_out']:,} | {r['generate_s']:.1f} | {r['prepare_s']:.1f} "
            f"| {r['publish_s']:.1f} | {end:.1f} | {r['rss_prepare_mib']:.0f} "
            f"| {r['rss_publish_mib']:.0f} | {base} |"
        )
    print()
    print(
        "| rows | re-run: records changed at the source | prepare s | publish s | load s "
        "| table changes |"
    )
    print("|---:|---:|---:|---:|---:|---|")
    for r in results:
        print(
            f"| {r['rows']:,} | {r['rerun_changed']:,} | {r['rerun_prepare_s']:.1f} "
            f"| {r['rerun_publish_s']:.1f} | {r['rerun_load_s']:.1f} | {r['rerun_changes']} |"
        )
    for r in results:
        print(
            f"{r['rows']:,} rows: table changes {r['changes']}, CSV {r['csv_mib']:.0f} MiB; "
            f"the machine's CPU-seconds (all processes, PostgreSQL's included): "
            f"prepare {r['prepare_cpu_s']:.0f}, publish {r['publish_cpu_s']:.0f}, "
            f"on {os.cpu_count()} cores"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100000,1000000", help="row counts, comma-separated")
    parser.add_argument(
        "--baseline-rows",
        type=int,
        default=1_000_000,
        help="rows the naive baseline sends at the largest size (0: none)",
    )
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a child's single size
    args = parser.parse_args()
    if not (os.environ.get("CKAN_URL") and os.environ.get("CKAN_API_TOKEN")):
        sys.exit('needs a CKAN: make ckan && eval "$(devtools/ckan/run.py env)"')
    if args.one is not None:
        print(json.dumps(asyncio.run(one(args.one, args.baseline_rows))))
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    results = []
    for size in sizes:
        rows = args.baseline_rows if size == max(sizes) else 0
        print(f"… {size:,} rows", file=sys.stderr)
        child = subprocess.run(
            module_command("benchmarks.publish", "--one", str(size), "--baseline-rows", str(rows)),
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if child.returncode != 0:
            sys.exit(f"{size} rows failed:\n{child.stderr[-4000:]}")
        results.append(json.loads(child.stdout.strip().splitlines()[-1]))
    report(results)


if __name__ == "__main__":
    main()
