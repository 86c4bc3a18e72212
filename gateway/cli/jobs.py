"""``jianguan jobs setup|worker``: the job queue in production (procrastinate on PostgreSQL).

On the embedded default (SQLite) there is nothing to set up or run: the queue is in the memory
of ``jianguan serve``, whose worker runs the jobs.
"""

from __future__ import annotations

from typing import Annotated

import httpx
import typer

from gateway.cli.common import console, errors, require_migrated, run_async, settings_or_exit
from gateway.observability import configure_logging
from gateway.settings import Settings
from jobs.resources import Resources
from jobs.runtime import Jobs
from policies.store import PolicyHolder
from sources.database import create_engine
from standard.errors import Misconfigured
from standard.migrate import GATEWAY
from standard.workdays import WorkCalendar

jobs_app = typer.Typer(
    help="Background jobs (后台任务): webhook delivery, overdue tasks, reminders."
)


def _postgres_or_exit(settings: Settings) -> None:
    if not settings.gateway_on_postgres:
        errors.print(
            "[red]error:[/] the job queue lives in PostgreSQL (JIANGUAN_DATABASE_URL); on the"
            " SQLite default `jianguan serve` runs the jobs itself"
        )
        raise typer.Exit(2)


@jobs_app.command()
def setup() -> None:
    """Create the job queue's tables in the gateway database (once; again does nothing)."""
    settings = settings_or_exit()
    _postgres_or_exit(settings)

    async def run() -> bool:
        jobs = Jobs.for_database(settings.gateway_url)
        try:
            return await jobs.setup()
        finally:
            await jobs.close()

    made = run_async(run())
    console.print("job queue tables created" if made else "job queue tables already there")


@jobs_app.command()
def worker(
    until_empty: Annotated[
        bool, typer.Option(help="Stop once no job is waiting (for a cron line or a test).")
    ] = False,
) -> None:
    """Run the background jobs until stopped (Ctrl+C, SIGTERM): several workers may run."""
    settings = settings_or_exit()
    _postgres_or_exit(settings)
    require_migrated(settings, (GATEWAY,))
    configure_logging()  # JSON lines, as `jianguan serve` writes them

    async def run() -> None:
        engine = create_engine(settings.gateway_url)
        policies = PolicyHolder(engine, settings.redis_url)
        jobs = Jobs.for_database(settings.gateway_url)
        try:
            await policies.start()
            async with httpx.AsyncClient() as http:
                calendar = WorkCalendar.load(settings.holidays_file)
                resources = Resources.over(engine, http, policies, calendar)
                await jobs.run_worker(resources, wait=not until_empty)
        finally:
            await jobs.close()
            await policies.stop()
            await engine.dispose()

    try:
        run_async(run())
    except Misconfigured as exc:  # the queue not set up, a holidays file unusable
        errors.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
