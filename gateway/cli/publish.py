"""``jianguan publish``: release open datasets, each through extract → desensitise → check →
publish (a directory, or a CKAN portal), with a summary table; exit 1 when a release was
refused, 2 when the portal refused or could not be reached."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select

from audit.keys import signer_for
from audit.log import AuditEvent, AuditLog
from gateway.settings import Settings, SettingsError
from open_data import pipeline
from open_data.approvals import dataset_scope
from open_data.datasets import DATASETS, UnknownDataset, dataset
from open_data.errors import PortalError, PublishError, ReleaseRefused
from open_data.keys import pseudonym_key
from open_data.pipeline import STAGES, prepare
from open_data.spec import DatasetSpec
from open_data.targets import Chosen, TargetError, choose
from policies.access import RequestSources
from policies.actor import operator
from policies.store import load_policy
from sources.database import create_engine
from sources.guard import Sources
from standard.tables.gateway import Party

console = Console()
errors = Console(stderr=True)


def publish(
    datasets: Annotated[
        list[str] | None, typer.Option("--dataset", help="Only these (repeatable).")
    ] = None,
    target: Annotated[str, typer.Option(help="dir:PATH (files and metadata), or ckan.")] = (
        "dir:var/open-data"
    ),
    dry_run: Annotated[bool, typer.Option(help="Prepare and check; publish nothing.")] = False,
) -> None:
    """Publish open datasets (开放数据): desensitised, checked, approved by their providers."""
    try:
        settings = Settings.from_env()
        specs = [dataset(name) for name in datasets] if datasets else list(DATASETS.values())
    except (SettingsError, UnknownDataset, PublishError) as exc:
        errors.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    try:
        chosen = choose(target, settings)
    except TargetError as exc:
        said = f"is {' or '.join(exc.known)}, not {target!r}" if exc.unknown else str(exc)
        errors.print(f"[red]error:[/] --target {said}")
        raise typer.Exit(2) from None
    try:
        outcomes = asyncio.run(_run(settings, specs, chosen, dry_run))
    except PortalError as exc:
        errors.print(f"[red]error:[/] {exc.reason}")
        raise typer.Exit(2) from None
    table = Table(title=f"open data → {target}{' (dry run)' if dry_run else ''}")
    for column in ("dataset", "providers", "rows in", "rows out", "suppressed", "k", "outcome"):
        table.add_column(column)
    refused = 0
    for name, row in outcomes.items():
        table.add_row(name, *row)
        refused += row[-1].startswith("refused")
    console.print(table)
    if refused:
        raise typer.Exit(1)


async def _run(
    settings: Settings, specs: list[DatasetSpec], chosen: Chosen, dry_run: bool
) -> dict[str, tuple[str, ...]]:
    engine = create_engine(settings.gateway_url)
    async with engine.connect() as connection:
        titles = dict((await connection.execute(select(Party.code, Party.name))).all())
    target = None if dry_run else chosen.open(titles)
    audit = AuditLog(engine, signer=signer_for(settings))
    sources = Sources(settings)
    key = pseudonym_key(settings)
    outcomes: dict[str, tuple[str, ...]] = {}
    try:
        policy = await load_policy(engine)
        with (
            tempfile.TemporaryDirectory(prefix="jianguan-publish-") as work,
            Progress(
                TextColumn("{task.description:<44}"), BarColumn(), TimeElapsedColumn(),
                console=console,
            ) as progress,
        ):  # fmt: skip
            for spec in specs:
                bar = progress.add_task(spec.name, total=len(STAGES))

                def stage(name: str, bar: TaskID = bar, spec: DatasetSpec = spec) -> None:
                    progress.update(
                        bar, completed=STAGES.index(name), description=f"{spec.name}: {name}"
                    )

                scoped = RequestSources(sources, dataset_scope(spec, policy))
                try:
                    release = await prepare(
                        spec, sources=scoped, key=key, work=Path(work), stage=stage
                    )
                except ReleaseRefused as exc:
                    outcomes[spec.name] = ("", "", "", "", "", f"refused: {exc.reason}")
                    progress.update(bar, description=f"{spec.name}: refused")
                    errors.print(f"[red]refused:[/] {exc}")
                    continue
                stage("publish")
                release.target = target
                done = (await pipeline.publish(release)).outcome
                progress.update(bar, completed=len(STAGES), description=f"{spec.name}: {done}")
                m = release.manifest
                if release.empty and done == "unchanged":
                    done = "not approved by any provider"
                outcomes[spec.name] = (
                    str(len(release.providers)) if release.providers else "—",
                    str(m["rows_in"]),
                    str(m["rows_out"]),
                    str(m["rows_suppressed"]),
                    str(m["k_reached"] or ""),
                    done,
                )
                await audit.append(
                    AuditEvent(
                        actor=operator().name,
                        event="publish",
                        outcome="ok",
                        operation=f"jianguan publish {spec.name}",
                        resources=(spec.table,),
                        providers=tuple(release.providers),
                        rows=int(m["rows_out"]),
                        detail={"target": chosen.name, "outcome": done, "dry_run": dry_run},
                    )
                )
    finally:
        await audit.close()
        await sources.close()
        await engine.dispose()
    return outcomes
