"""The ``jianguan`` command line, one module per command group.

``data`` (db, ingest, seed, demo-credentials, holidays, docs) and ``serving`` (serve, source-api,
the schema) are registered here; ``admin``, ``audit``, ``tasks``, ``inspections``, ``events``,
``jobs`` and the publisher load only when run.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

from gateway.cli import data, serving

LAZY: dict[str, tuple[str, str, str]] = {
    "audit": ("gateway.cli.audit", "audit_app", "Tamper-evident audit log (审计日志)."),
    "party": (
        "gateway.cli.admin",
        "party_app",
        "Departments, partner platforms and enterprises (parties).",
    ),
    "user": ("gateway.cli.admin", "user_app", "Real-name staff accounts (实名账号)."),
    "client": (
        "gateway.cli.admin",
        "client_app",
        "Machine clients: departments' systems, partner platforms, enterprises.",
    ),
    "bootstrap": (
        "gateway.cli.admin",
        "bootstrap",
        "Create the city office and its first account; refused once any account exists.",
    ),
    "tasks": (
        "gateway.cli.tasks",
        "tasks_app",
        "Regulatory tasks (监管任务): verify and print receipts, overdue tasks, complaints.",
    ),
    "inspections": (
        "gateway.cli.inspections",
        "inspections_app",
        "Random inspections (双随机、一公开): seed, approve, draw, export, verify.",
    ),
    "events": (
        "gateway.cli.events",
        "events_app",
        "Webhooks to partner systems (事件推送): subscriptions, dead letters.",
    ),
    "jobs": (
        "gateway.cli.jobs",
        "jobs_app",
        "Background jobs (后台任务): webhook delivery, overdue tasks, reminders.",
    ),
    "publish": (
        "gateway.cli.publish",
        "publish",
        "Publish open datasets (开放数据): desensitised, checked, approved by their providers.",
    ),
}
"""Commands whose module is imported only when they run (name: module, attribute, short help).

Importing them all up front (SQLAlchemy, Redis, the publisher…) made ``jianguan --help`` take
1.2 s of imports here, 5 s on a loaded machine."""


class _Commands(TyperGroup):
    """The top-level group: ``LAZY`` commands are listed from their short help, loaded on use."""

    _listing = False

    # Typer's own (vendored) click types are private: Any for the context and formatter.
    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *LAZY]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in LAZY:
            return super().get_command(ctx, cmd_name)
        module, attribute, short = LAZY[cmd_name]
        if self._listing:
            return TyperCommand(cmd_name, help=short)
        found = getattr(importlib.import_module(module), attribute)
        if isinstance(found, typer.Typer):
            command: Any = typer.main.get_group(found)
        else:
            single = typer.Typer()
            single.command(cmd_name)(found)
            command = typer.main.get_command(single)
        command.name = cmd_name
        return command

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    cls=_Commands, help="Jianguan Gateway (监管): the Internet+Regulation data gateway."
)
app.add_typer(data.commands)
app.add_typer(serving.commands)
app.add_typer(data.db_app, name="db")
app.add_typer(data.holidays_app, name="holidays")
app.add_typer(data.docs_app, name="docs")


def main() -> None:
    """Entry point for ``python -m gateway.cli``."""
    os.environ.setdefault("PYTHONIOENCODING", "utf-8")
    app()
