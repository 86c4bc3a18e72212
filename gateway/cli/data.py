"""``jianguan db|ingest|seed|demo-credentials|holidays|docs``: the data and its documents."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from gateway.cli.common import (
    console,
    errors,
    require_migrated,
    run_async,
    settings_or_exit,
    sources_named,
)
from gateway.clock import clock_of
from gateway.settings import Settings
from standard.source_names import SOURCE_NAMES

commands = typer.Typer()
db_app = typer.Typer(help="Source database schemas.")
holidays_app = typer.Typer(help="Holiday calendars (国务院节假日安排).")
docs_app = typer.Typer(help="Generated documentation.")


@db_app.command("upgrade")
def db_upgrade(
    source: Annotated[
        str | None, typer.Option(help="Only this source, or 'gateway' for the gateway's own.")
    ] = None,
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Create or migrate each source's schema in its own database, and the gateway's own."""
    from policies.store import ensure_seed
    from sources.database import SourceDatabases, create_engine
    from standard.migrate import GATEWAY, upgrade

    settings = settings_or_exit()
    names = (GATEWAY,) if source == GATEWAY else sources_named(source)
    if source is None:
        names = (GATEWAY, *names)

    async def run() -> None:
        databases = SourceDatabases(settings)
        try:
            for name in names:
                if name == GATEWAY:
                    engine = create_engine(settings.gateway_url)
                    try:
                        await upgrade(engine, name, revision)
                        added = await ensure_seed(engine)
                    finally:
                        await engine.dispose()
                    if added:
                        console.print(f"{name}: {added} seed policy line(s) added")
                else:
                    await upgrade(databases.engine(name), name, revision)
                console.print(f"{name}: at {revision}")
        finally:
            await databases.dispose()

    run_async(run())


@commands.command()
def ingest(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="NDJSON or CSV.")],
    source: Annotated[str, typer.Option(help="Source: " + ", ".join(SOURCE_NAMES))],
    provider: Annotated[str, typer.Option(help="Code of the department or partner pushing.")],
    table: Annotated[str | None, typer.Option(help="Table, when the source has several.")] = None,
    fmt: Annotated[
        str | None, typer.Option("--format", help="ndjson or csv (default: by extension).")
    ] = None,
    encoding: Annotated[str, typer.Option(help="utf-8 (BOM or not) or gbk.")] = "utf-8",
    system: Annotated[str, typer.Option(help="Source system name.")] = "exchange",
    report: Annotated[Path | None, typer.Option(help="Write the full JSON report here.")] = None,
) -> None:
    """Validate and store records; exit 1 when some were rejected, 2 when none could be read."""
    from datetime import datetime

    from ingest.readers import FileError
    from ingest.service import IngestError, IngestOptions, ingest_file
    from sources.database import SourceDatabases
    from standard.registry import UnknownTable, record_table
    from standard.workdays import SHANGHAI, HolidaysFileError, WorkCalendar

    settings = settings_or_exit()
    sources_named(source)
    if fmt not in (None, "ndjson", "csv"):
        errors.print(f"[red]error:[/] --format must be ndjson or csv, not {fmt!r}")
        raise typer.Exit(2)
    try:
        model = record_table(source, table)
        calendar = WorkCalendar.load(settings.holidays_file)
    except (UnknownTable, HolidaysFileError) as exc:
        errors.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None

    async def run() -> Any:
        await _registered_party(settings, provider)
        databases = SourceDatabases(settings)
        options = IngestOptions(
            provider=provider,
            received_at=datetime.now(SHANGHAI),
            calendar=calendar,
            settings=settings,
            system=system,
            file_name=file.name,
            matters=databases.engine("supervision"),
        )
        try:
            report = await ingest_file(
                databases.engine(source),
                file,
                table=model,
                options=options,
                fmt=fmt,  # type: ignore[arg-type]  # checked above
                encoding=encoding,
            )
        finally:
            await databases.dispose()
        await _audit_write(settings, report, provider)
        return report

    try:
        result = run_async(run())
    except (FileError, IngestError) as exc:
        errors.print(f"[red]error:[/] {exc}")
        errors.print("nothing from this file was stored")
        raise typer.Exit(2) from None
    summary = Table(title=f"{result.source}.{result.table} from {provider}, batch {result.batch}")
    for name in ("received", "inserted", "updated", "deleted", "unchanged", "rejected", "late"):
        summary.add_column(name, justify="right")
    summary.add_row(
        *(
            str(getattr(result, n))
            for n in ("received", "inserted", "updated", "deleted", "unchanged", "rejected", "late")
        )
    )
    console.print(summary)
    for error in result.errors[:20]:
        where = f"line {error.line}" + (f", cd_id {error.cd_id}" if error.cd_id else "")
        errors.print(f"  {where}: {error.field or 'record'}: {error.reason}")
    if len(result.errors) > 20:
        errors.print(f"  … and {len(result.errors) - 20} more (see --report)")
    if result.provisional:
        console.print(
            f"{result.provisional} record(s) counted without a holiday calendar (provisional); "
            "load the year's notice with JIANGUAN_HOLIDAYS_FILE"
        )
    if report is not None:
        report.write_bytes(result.to_json())
        console.print(f"report written to {report}")
    if result.rejected:
        raise typer.Exit(1)


async def _registered_party(settings: Settings, provider: str) -> None:
    """Refuse a push as a party the gateway does not know, or has disabled."""
    from sqlalchemy import select

    from ingest.service import IngestError
    from sources.database import create_engine
    from standard.tables.gateway import Party

    engine = create_engine(settings.gateway_url)
    try:
        async with engine.connect() as connection:
            disabled = await connection.scalar(select(Party.disabled).where(Party.code == provider))
    finally:
        await engine.dispose()
    if disabled is None:
        raise IngestError(
            f"provider {provider!r} is not a registered party "
            f"(register it with: jianguan party add {provider} --name … --kind …)"
        )
    if disabled:
        raise IngestError(f"party {provider!r} is disabled; it cannot push records")


async def _audit_write(settings: Settings, report: Any, provider: str) -> None:
    """Every write is audited (R12), a console import too, as the operating-system user."""
    from audit.keys import signer_for
    from audit.log import AuditEvent, AuditLog
    from policies.actor import operator
    from sources.database import create_engine

    engine = create_engine(settings.gateway_url)
    audit = AuditLog(engine, signer=signer_for(settings))
    try:
        await audit.append(
            AuditEvent(
                actor=operator().name,
                event="write",
                outcome="ok" if not report.rejected else "partial",
                party_code=provider,
                operation="jianguan ingest",
                resources=(report.table,),
                providers=(provider,),
                rows=report.accepted,
                detail={"file": report.file, "batch": report.batch, **report.counts()},
            )
        )
    finally:
        await audit.close()
        await engine.dispose()


@commands.command()
def seed(
    scale: Annotated[str, typer.Option(help="small, medium or large.")] = "small",
    seed_value: Annotated[int, typer.Option("--seed", help="Random seed.")] = 42,
    if_empty: Annotated[bool, typer.Option(help="Do nothing when data exists.")] = False,
) -> None:
    """Fill the four source databases with deterministic Xi'an demo data."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from demo.seed import SCALES, NotEmpty, is_seeded
    from demo.seed import seed as run_seed
    from sources.database import SourceDatabases

    if scale not in SCALES:
        errors.print(f"[red]error:[/] --scale must be one of {', '.join(SCALES)}")
        raise typer.Exit(2)
    settings = settings_or_exit()
    require_migrated(settings, SOURCE_NAMES)

    async def run() -> dict[str, int] | None:
        databases = SourceDatabases(settings)
        try:
            if if_empty and await is_seeded(databases):
                return None
            with Progress(
                TextColumn("{task.description:<20}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
            ) as progress:
                tasks: dict[str, Any] = {}

                def report(table: str, done: int, total: int) -> None:
                    if table not in tasks:
                        tasks[table] = progress.add_task(table, total=total)
                    progress.update(tasks[table], completed=done, total=total)

                return await run_seed(databases, scale=scale, seed=seed_value, progress=report)
        finally:
            await databases.dispose()

    try:
        counts = run_async(run())
    except NotEmpty as exc:
        errors.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    if counts is None:
        console.print("demo data already present; nothing to do")
        return
    console.print(f"seeded {sum(counts.values()):,} records ({scale}, seed {seed_value})")


@commands.command("demo-credentials")
def demo_credentials(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option(help="Where to write.")] = Path(
        "var/demo-credentials.json"
    ),
) -> None:
    """Create the demo's principals and grants, and write a ready token for each; then the
    demo's regulatory work (tasks in every state, one overdue; a joint random inspection drawn,
    its tasks issued) unless there is some already."""
    from demo.principals import NoDemoData, write_credentials
    from demo.principals import demo_credentials as make
    from demo.work import demo_inspection, demo_tasks
    from gateway.services import Services
    from standard.migrate import GATEWAY

    settings = settings_or_exit()
    if settings.environment == "production":
        errors.print("[red]error:[/] demo credentials are for development, not production")
        raise typer.Exit(2)
    require_migrated(settings, (GATEWAY, "supervision"))

    async def run() -> Any:
        services = Services.create(settings)
        try:
            made = await make(services)
            tasks = await demo_tasks(services, now=clock_of(ctx).now())
            if tasks:
                console.print(f"demo work: {tasks} tasks in every state, one overdue")
            drawn = await demo_inspection(services, now=clock_of(ctx).now())
            if drawn:
                console.print(f"demo work: a joint random inspection drew {drawn} subjects")
            return made
        finally:
            await services.close()

    try:
        made = run_async(run())
    except NoDemoData as exc:
        errors.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    write_credentials(made, output)
    table = Table(title=f"Demo principals (tokens valid 12 h; full list in {output})")
    for column in ("name", "kind", "role", "party / USCC", "token"):
        table.add_column(column)
    for c in made:
        table.add_row(c.name, c.kind, c.role or "", c.uscc or c.party, c.token[:12] + "…")
    console.print(table)
    client = next(c for c in made if c.client_secret)
    console.print(
        f"Machine clients also have a client id and secret ({output}: name, client_secret),\n"
        "to exchange for a token as docs/partners.md shows:\n"
        f'  SECRET=$(python3 -c \'import json; print(next(c["client_secret"] for c in '
        f'json.load(open("{output}")) if c["name"] == "{client.name}"))\')\n'
        f"  curl -s http://127.0.0.1:{os.environ.get('PORT', '8000')}/oauth/token"
        f' -u "{client.name}:$SECRET" '
        "-d grant_type=client_credentials",
        soft_wrap=True,
        markup=False,
        highlight=False,
    )


@holidays_app.command("check")
def holidays_check(file: Annotated[Path, typer.Argument(help="Holidays TOML file.")]) -> None:
    """Check a holidays file and list the years it covers."""
    from standard.workdays import HolidaysFileError, parse_holidays_file

    try:
        years = parse_holidays_file(file)
    except HolidaysFileError as exc:
        errors.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None
    for year, calendar in sorted(years.items()):
        console.print(
            f"{year}: {len(calendar.holidays)} holidays, {len(calendar.workdays)} make-up "
            f"working days  {calendar.notice}"
        )


@docs_app.command("data-standard")
def docs_data_standard(
    output: Annotated[Path, typer.Option(help="Where to write.")] = Path("docs/data-standard.md"),
    check: Annotated[bool, typer.Option(help="Fail when the file is out of date.")] = False,
) -> None:
    """Write docs/data-standard.md from the table definitions."""
    from standard.document import render

    text = render()
    if check:
        if not output.exists() or output.read_text(encoding="utf-8") != text:
            errors.print(f"{output} is out of date: run `jianguan docs data-standard`")
            raise typer.Exit(1)
        return
    output.write_text(text, encoding="utf-8")
    console.print(f"wrote {output}")
