"""``jianguan audit``: verify, checkpoint and prune the audit log; make its signing key."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.cli.common import errors, settings_or_exit
from gateway.clock import clock_of
from gateway.settings import Settings

T = TypeVar("T")

audit_app = typer.Typer(help="Tamper-evident audit log (审计日志).")
console = Console()


def _fail(message: str, code: int = 2) -> typer.Exit:
    errors.print(f"[red]error:[/] {message}")
    return typer.Exit(code)


def _on_database(settings: Settings, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """Run ``work`` on the gateway database; its errors become a clear exit 2."""
    from sources.database import create_engine

    async def run() -> T:
        engine = create_engine(settings.gateway_url)
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except (SQLAlchemyError, OSError) as exc:
        raise _fail(
            f"the gateway database cannot be used ({exc.__class__.__name__}: {exc})"
        ) from None


def _trust_anchor(settings: Settings, public_key: str | None) -> str | None:
    """The key checkpoints must be signed with: given, or the configured key file's."""
    from audit.keys import KEY_FILE_NAME, AuditKeyError, public_key_of

    if public_key is not None:
        return public_key.lower()
    path = settings.audit_key_file or settings.var_dir / KEY_FILE_NAME
    if not path.exists():
        console.print(
            "[yellow]no trust anchor:[/] signatures are checked against the keys stored in the "
            "checkpoints; pass --public-key to check who signed them"
        )
        return None
    try:
        return public_key_of(path)
    except AuditKeyError as exc:
        raise _fail(str(exc)) from None


@audit_app.command("verify")
def verify_command(
    ctx: typer.Context,
    public_key: Annotated[
        str | None,
        typer.Option(help="The signer's public key (hex); default: the configured key file's."),
    ] = None,
    against: Annotated[
        list[str] | None,
        typer.Option(
            help="Published chain heads (the audit-chain-heads dataset): a file, a release "
            "folder or an http(s) URL; repeatable."
        ),
    ] = None,
) -> None:
    """Walk the whole chain; exit 1 and name the first broken entry if anything was altered,
    a checkpoint that must exist is missing, or the chain no longer leads to a published head."""
    from audit.verify import Head, Schedule, verify
    from audit.witness import WitnessError, load_heads

    settings = settings_or_exit()
    anchor = _trust_anchor(settings, public_key)
    heads: dict[int, Head] = {}
    for source in against or ():
        try:
            loaded = load_heads(source)
        except WitnessError as exc:
            raise _fail(str(exc)) from None
        for head in loaded:
            if heads.setdefault(head.seq, head) != head:
                raise _fail(f"{source}: its head for entry {head.seq} differs from another's")
    schedule = Schedule(every=settings.audit_checkpoint_every, now=clock_of(ctx).now())
    result = _on_database(
        settings,
        lambda engine: verify(
            engine, public_key=anchor, schedule=schedule, heads=list(heads.values())
        ),
    )
    if result.ok:
        published = f" and {result.heads} published heads" if against else ""
        console.print(
            f"[green]audit log intact:[/] {result.entries} entries and "
            f"{result.checkpoints} signed checkpoints checked{published}"
        )
        if against and len(heads) > result.heads:
            console.print(f"({len(heads) - result.heads} published heads are for pruned entries)")
        return
    console.print(f"[red]audit log broken at {result.first_broken}:[/] {result.reason}")
    console.print(f"({result.entries} entries checked before it)")
    raise typer.Exit(1)


@audit_app.command("checkpoint")
def checkpoint_command(ctx: typer.Context) -> None:
    """Sign the chain's current head now (the gateway also signs every minute with new
    entries, every N entries, and at shutdown)."""
    from audit.keys import AuditKeyError, signer_for
    from audit.log import write_checkpoint

    settings = settings_or_exit()
    try:
        signer = signer_for(settings)
    except AuditKeyError as exc:
        raise _fail(str(exc)) from None
    now = clock_of(ctx).now()
    seq = _on_database(settings, lambda engine: write_checkpoint(engine, signer, now=now))
    if seq is None:
        console.print("the audit log is empty: nothing to sign")
    else:
        console.print(f"checkpoint at {seq} signed by {signer.public_key[:16]}…")


@audit_app.command("keygen")
def keygen_command(
    output: Annotated[
        Path | None,
        typer.Option(help="Where to write the key; default JIANGUAN_AUDIT_KEY_FILE or var/."),
    ] = None,
) -> None:
    """Create the SM2 key pair that signs checkpoints (refuses to overwrite an existing one)."""
    from audit.keys import KEY_FILE_NAME, AuditKeyError, Signer

    settings = settings_or_exit()
    path = output or settings.audit_key_file or settings.var_dir / KEY_FILE_NAME
    try:
        signer = Signer.generate(path)
    except AuditKeyError as exc:
        raise _fail(str(exc), code=1) from None
    console.print(f"signing key written to {path} (mode 0600); set JIANGUAN_AUDIT_KEY_FILE={path}")
    console.print("public key, for auditors (jianguan audit verify --public-key):")
    console.print(signer.public_key, soft_wrap=True)


@audit_app.command("prune")
def prune_command(
    ctx: typer.Context,
    retention_days: Annotated[
        int | None,
        typer.Option(
            help="Keep this many days (at least 180); default JIANGUAN_AUDIT_RETENTION_DAYS."
        ),
    ] = None,
) -> None:
    """Delete entries past the retention, up to the newest checkpoint before the cut-off."""
    from audit.retention import PruneRefused, prune

    settings = settings_or_exit()
    days = settings.audit_retention_days if retention_days is None else retention_days
    now = clock_of(ctx).now()
    try:
        deleted = _on_database(settings, lambda engine: prune(engine, retention_days=days, now=now))
    except PruneRefused as exc:
        raise _fail(str(exc)) from None
    console.print(f"{deleted} audit entries older than {days} days deleted")
