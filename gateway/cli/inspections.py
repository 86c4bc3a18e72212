"""``jianguan inspections``: make a seed and its commitment, approve a plan from the data
centre, draw it, export its files, and verify a draw from them as an outsider would
(docs/inspections.md). The console's operator acts as the city office, which oversees every
plan; every step is audited under their name."""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy.exc import SQLAlchemyError

from gateway.cli.common import console, errors, settings_or_exit
from gateway.clock import clock_of
from standard.errors import InputError, JianguanError

T = TypeVar("T")
inspections_app = typer.Typer(
    help="Random inspections (双随机、一公开): seed, approve, draw, export, verify."
)


def _operator() -> Any:
    from tasks.lifecycle import Actor

    return Actor(officer=f"cli:{getpass.getuser()}", party="console", city_office=True)


def _fail(message: object) -> typer.Exit:
    errors.print(f"[red]error:[/] {message}")
    return typer.Exit(2)


@inspections_app.command("seed")
def seed_command() -> None:
    """Make a seed (keep it secret until the draw) and its commitment (goes into the plan)."""
    from inspections.snapshot import commitment, new_seed

    seed = new_seed()
    console.print(f"seed (随机种子, keep it until the draw): {seed.hex()}")
    console.print(f"commitment (种子承诺, for approval):     {commitment(seed)}")


@inspections_app.command("approve")
def approve_command(
    ctx: typer.Context,
    plan_file: Annotated[Path, typer.Argument(help="The plan file (JSON: plan, rules).")],
    commitment: Annotated[str, typer.Option(help="The seed's commitment (`seed` prints it).")],
) -> None:
    """Snapshot both pools from the data centre and approve the plan with the commitment."""
    from inspections.pools import Sources
    from inspections.service import approve_from_sources, read_plan_file
    from sources.database import SourceDatabases, create_engine
    from standard.workdays import WorkCalendar

    settings = settings_or_exit()
    now = clock_of(ctx).now()
    try:
        found = read_plan_file(plan_file)
    except InputError as exc:
        raise _fail(exc) from None

    async def run() -> Any:
        databases = SourceDatabases(settings)
        gateway = create_engine(settings.gateway_url)
        sources = Sources(
            supervision=databases.engine("supervision"),
            credit=databases.engine("credit"),
            gov_services=databases.engine("gov_services"),
            gateway=gateway,
        )
        try:
            return await approve_from_sources(
                sources, plan=found.plan, rules=found.rules,
                declarations=found.declarations, seed_commitment=commitment.lower(),
                by=_operator(), now=now, calendar=WorkCalendar.load(settings.holidays_file),
                settings=settings,
            )  # fmt: skip
        finally:
            await gateway.dispose()
            await databases.dispose()

    approval = _run(run)
    console.print(
        f"approved {approval.plan}: {approval.subjects_count} subjects "
        f"(SM3 {approval.subjects_hash}), {approval.inspectors_count} inspectors "
        f"(SM3 {approval.inspectors_hash}), rules SM3 {approval.rules_hash}"
    )


@inspections_app.command("draw")
def draw_command(
    ctx: typer.Context,
    plan: Annotated[str, typer.Argument(help="The plan's code (计划编号).")],
    seed: Annotated[str, typer.Option(help="The seed (hex) whose commitment was approved.")],
    reason: Annotated[
        str | None, typer.Option(help="Why a repeat draw is made (重新抽取理由).")
    ] = None,
) -> None:
    """Draw the plan with the revealed seed; a repeat needs --reason and a new seed."""
    from inspections.service import draw_plan
    from sources.database import SourceDatabases, create_engine
    from standard.workdays import WorkCalendar

    settings = settings_or_exit()
    now = clock_of(ctx).now()
    try:
        revealed = bytes.fromhex(seed)
    except ValueError:
        raise _fail("--seed must be hexadecimal / 随机种子须为十六进制") from None

    async def run() -> Any:
        databases = SourceDatabases(settings)
        engine = create_engine(settings.gateway_url)
        try:
            return await draw_plan(
                engine, databases.engine("supervision"), plan_code=plan, seed=revealed,
                by=_operator(), now=now, reason=reason,
                calendar=WorkCalendar.load(settings.holidays_file), settings=settings,
            )  # fmt: skip
        finally:
            await engine.dispose()
            await databases.dispose()

    drawn = _run(run)
    console.print(
        f"drew {plan} (draw {drawn.number}): {drawn.subject_count} subjects, "
        f"result SM3 {drawn.result_hash}"
    )


def _run(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``work``; the errors an operator can act on become one line and exit 2."""
    try:
        return asyncio.run(work())
    except JianguanError as exc:
        raise _fail(exc) from None
    except (SQLAlchemyError, OSError) as exc:
        raise _fail(f"a database cannot be used ({exc.__class__.__name__}: {exc})") from None


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

    settings = settings_or_exit()
    now = clock_of(ctx).now()

    async def run() -> Path:
        engine = create_engine(settings.gateway_url)
        audit = AuditLog(engine)
        try:
            return await export_plan(
                engine, audit, code=plan, viewer=_operator(), folder=to, now=now
            )
        finally:
            await audit.close()
            await engine.dispose()

    path = _run(run)
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
