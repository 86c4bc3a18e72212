"""``jianguan serve|source-api|export-schema|check-schema``: running and the served schema."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gateway.cli.common import console, errors, settings_or_exit, sources_named
from standard.errors import Misconfigured
from standard.source_names import SOURCE_NAMES

commands = typer.Typer()


@commands.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="PORT", help="Port (PORT overrides).")] = 8000,
) -> None:
    """Serve the gateway over HTTP."""
    import uvicorn

    from audit.keys import AuditKeyError
    from gateway.app import create_app, settle_heap
    from gateway.observability import LOG_CONFIG, configure_logging

    settings = settings_or_exit()
    configure_logging()
    try:
        gateway = create_app(settings)
    except AuditKeyError as exc:
        errors.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    console.print(f"Jianguan Gateway on http://{host}:{port}/graphql ({settings.environment})")
    settle_heap()
    uvicorn.run(
        gateway,
        host=host,
        port=port,
        log_config=LOG_CONFIG,  # JSON lines from uvicorn's loggers too
        # Forwarded addresses are the app's business, from JIANGUAN_TRUSTED_PROXIES only;
        # uvicorn would otherwise believe any X-Forwarded-For from 127.0.0.1.
        proxy_headers=False,
    )


@commands.command("source-api")
def source_api(
    source: Annotated[str, typer.Option(help="Source: " + ", ".join(SOURCE_NAMES))],
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8101,
) -> None:
    """Serve one source's exchange database over the source-exchange HTTP API."""
    from sources.api import serve_source_api

    (name,) = sources_named(source)
    settings = settings_or_exit()
    if not settings.source_api_token:
        errors.print("[red]error:[/] set JIANGUAN_SOURCE_API_TOKEN (clients must present it)")
        raise typer.Exit(2)
    try:
        serve_source_api(settings, name, host=host, port=port, token=settings.source_api_token)
    except Misconfigured as exc:  # a setting, the token among them
        errors.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None


@commands.command("export-schema")
def export_schema(
    output: Annotated[Path, typer.Option(help="Where to write.")] = Path("schema.graphql"),
) -> None:
    """Write the GraphQL schema in SDL."""
    from resolvers.schema import schema_sdl

    output.write_text(schema_sdl(), encoding="utf-8")
    console.print(f"wrote {output}")


@commands.command("check-schema")
def check_schema(
    against: Annotated[str, typer.Option(help="Git revision holding the old schema.")] = "HEAD",
    schema: Annotated[str, typer.Option(help="Schema file in --repo.")] = "schema.graphql",
    repo: Annotated[Path, typer.Option(help="Git working tree to read from.")] = Path("."),
) -> None:
    """Compare the code's schema with the committed one; exit 1 on a breaking change."""
    from rich.markup import escape

    from gateway.schema_check import SchemaCheckError, committed_schema, compare_schemas
    from resolvers.schema import schema_sdl

    try:
        old = committed_schema(against, schema, repo=repo)
        if old is None:
            console.print(f"{schema} does not exist at {against}; nothing to compare")
            return
        changes = compare_schemas(old, schema_sdl())
    except SchemaCheckError as exc:
        errors.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None
    for change in changes:
        # Descriptions hold list types such as [String]; escape them so Rich prints them as text.
        if change.breaking:
            console.print(f"[red]breaking:[/] {escape(change.description)} ({change.kind})")
        else:
            console.print(f"[yellow]warning:[/] {escape(change.description)} ({change.kind})")
    breaking = sum(change.breaking for change in changes)
    if breaking:
        console.print(f"[red]{breaking} breaking change(s)[/] against {escape(against)}")
        raise typer.Exit(1)
    console.print(f"no breaking changes against {escape(against)}")
