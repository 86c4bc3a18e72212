"""``jianguan inspections``: export a random-inspection plan's files, and verify a draw from
them as an outsider would (docs/inspections.md)."""

from __future__ import annotations

import asyncio
import getpass
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError

from gateway.cli.common import console, errors, settings_or_exit
from gateway.clock import clock_of
from standard.errors import InputError, NotFound

inspections_app = typer.Typer(
    help="Random inspections (双随机、一公开): export a plan, verify its draw."
)


@inspections_app.command("export")
def export_command(
    ctx: typer.Context,
    plan: Annotated[str, typer.Argument(help="The plan's code (计划编号).")],
    to: Annotated[Path, typer.Option(help="Folder to write the plan's files into.")],
) -> None:
    """Write a plan's snapshots, rules, approval and draws for an outside check (audited)."""
    from audit.log import AuditLog
    from inspections.export import export_plan
    from sources.database import create_engine
    from tasks.lifecycle import Actor

    settings = settings_or_exit()
    # The console's operator oversees every plan, as the city office does; audited by name.
    viewer = Actor(officer=f"cli:{getpass.getuser()}", party="console", city_office=True)

    now = clock_of(ctx).now()

    async def run() -> Path:
        engine = create_engine(settings.gateway_url)
        audit = AuditLog(engine)
        try:
            return await export_plan(engine, audit, code=plan, viewer=viewer, folder=to, now=now)
        finally:
            await audit.close()
            await engine.dispose()

    try:
        path = asyncio.run(run())
    except NotFound as exc:
        errors.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    except (SQLAlchemyError, OSError) as exc:
        errors.print(f"[red]error:[/] the gateway database cannot be used ({exc})")
        raise typer.Exit(2) from None
    console.print(f"exported {plan} to {path.parent}")


@inspections_app.command("verify-draw")
def verify_command(
    folder: Annotated[Path, typer.Argument(help="A folder `jianguan inspections export` wrote.")],
) -> None:
    """Recompute every draw of the exported plan from its snapshots and seed; exit 1 when a
    draw is not reproduced, naming the first difference. Needs no database."""
    from inspections.export import verify_folder

    try:
        checks = verify_folder(folder)
    except (InputError, OSError) as exc:
        errors.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    if not checks:
        console.print("no draw yet: nothing to verify / 尚未抽取")
        return
    failed = False
    for check in checks:
        label = f"draw {check.number}" + (f" (重复抽取: {check.reason})" if check.reason else "")
        if check.verdict.ok:
            drawn = len(check.verdict.draw.drawn) if check.verdict.draw else 0
            console.print(f"[green]reproduced[/] {label}: {drawn} subjects / 结果一致")
        else:
            failed = True
            console.print(f"[red]differs[/] {label}: {check.verdict.difference}")
    if failed:
        raise typer.Exit(1)
