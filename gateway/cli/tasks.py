"""``jianguan tasks``: verify a receipt offline, print a task's receipts, list overdue tasks,
turn a dispatched 12345 complaint into a task.

``verify-receipt`` needs nothing but the file and the system's public key. The others read the
gateway database as the operator at the console, and each read is in the audit log (R12).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import orjson
import typer
from rich.console import Console
from sqlalchemy.exc import SQLAlchemyError

from gateway.cli.common import errors, settings_or_exit
from gateway.clock import clock_of
from gateway.settings import Settings

T = TypeVar("T")

tasks_app = typer.Typer(
    help="Regulatory tasks (监管任务): verify and print receipts, overdue tasks, complaints."
)
console = Console()


def _fail(message: str, code: int = 2) -> typer.Exit:
    errors.print(f"[red]error:[/] {message}")
    return typer.Exit(code)


def _public_key(settings: Settings | None, public_key: str | None, key_file: Path | None) -> str:
    """The key receipts must be signed with: given, from a key file, or the configured one's."""
    from audit.keys import KEY_FILE_NAME, AuditKeyError, public_key_of

    if public_key is not None:
        return public_key.strip().lower()
    if key_file is None:
        settings = settings or settings_or_exit()
        key_file = settings.audit_key_file or settings.var_dir / KEY_FILE_NAME
    try:
        return public_key_of(key_file)
    except AuditKeyError as exc:
        raise _fail(f"{exc}; pass --public-key or --key-file") from None


def _services(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``work`` with the gateway's services; database errors become a clear exit 2."""
    from gateway.services import Services

    async def run() -> T:
        services = Services.create(settings)
        try:
            return await work(services)
        finally:
            await services.close()

    try:
        return asyncio.run(run())
    except (SQLAlchemyError, OSError) as exc:
        raise _fail(
            f"the gateway database cannot be used ({exc.__class__.__name__}: {exc})"
        ) from None


async def _audit_read(services: Any, operation: str, rows: int, providers: set[str]) -> None:
    """A console read of tasks is a read of non-public data: audited as the OS user's."""
    from audit.log import AuditEvent
    from policies.actor import operator

    await services.audit.append(
        AuditEvent(
            actor=operator().name,
            event="read",
            outcome="ok",
            operation=operation,
            resources=("tasks",),
            providers=tuple(sorted(providers)),
            rows=rows,
        )
    )


@tasks_app.command("verify-receipt")
def verify_receipt_command(
    file: Annotated[Path, typer.Argument(help="The receipt (a JSON file).")],
    public_key: Annotated[
        str | None, typer.Option(help="The system's SM2 public key (128 hex digits).")
    ] = None,
    key_file: Annotated[
        Path | None, typer.Option(help="A key file holding `public_key` (the private key unused).")
    ] = None,
) -> None:
    """Verify a receipt offline (核验回执): exit 0 if it is the system's and unaltered, else 1
    with the reason (the altered field, another key, a bad signature)."""
    from tasks.errors import ReceiptRefused
    from tasks.receipts import verify_receipt

    key = _public_key(None, public_key, key_file)
    try:
        document = file.read_bytes()
    except OSError as exc:
        raise _fail(f"{file} cannot be read: {exc.strerror}") from None
    try:
        receipt = verify_receipt(document, key)
    except ReceiptRefused as exc:
        raise _fail(str(exc), 1) from None
    console.print(
        f"[green]回执有效 / receipt verified:[/] task {receipt.task_id} v{receipt.task_version}, "
        f"{receipt.event.zh} {receipt.event.value}, {receipt.recipient}, "
        f"{receipt.at.isoformat()}, audit entry {receipt.audit_seq}"
    )


@tasks_app.command("receipt")
def receipt_command(
    task: Annotated[str, typer.Argument(help="The task id (T-…).")],
    printed: Annotated[
        bool, typer.Option("--print", help="The printable form (送达回执), verified first.")
    ] = False,
    event: Annotated[
        str | None, typer.Option(help="Only receipts of this event (delivered, claimed, …).")
    ] = None,
    recipient: Annotated[str | None, typer.Option(help="Only receipts of this party.")] = None,
    output: Annotated[
        Path | None, typer.Option(help="A folder to write each receipt to, as a JSON file.")
    ] = None,
) -> None:
    """A task's receipts: as JSON (one document, or a list), as files, or printed."""
    from tasks.errors import ReceiptRefused
    from tasks.printed import render_receipt
    from tasks.receipts import dumps
    from tasks.rows import by_id, receipts_of

    settings = settings_or_exit()

    async def read(services: Any) -> list[dict[str, Any]]:
        async with services.engine.connect() as conn:
            stored = await by_id(conn, task)
            if stored is None:
                raise _fail(f"no task {task}", 1)
            found = await receipts_of(conn, stored.seq)
        await _audit_read(services, "jianguan tasks receipt", len(found), {stored.task.issuer})
        return found

    documents = [
        d
        for d in _services(settings, read)
        if (event is None or d["receipt"]["event"] == event)
        and (recipient is None or d["receipt"]["recipient"] == recipient)
    ]
    if not documents:
        raise _fail(f"task {task} has no receipt of that kind", 1)
    if printed:
        key = _public_key(settings, None, None)
        try:
            console.print("\n".join(render_receipt(d, key) for d in documents), markup=False)
        except ReceiptRefused as exc:
            raise _fail(str(exc), 1) from None
        return
    if output is not None:
        output.mkdir(parents=True, exist_ok=True)
        for number, document in enumerate(documents, 1):
            r = document["receipt"]
            path = output / f"{task}-{number:02d}-{r['event']}-{r['recipient']}.json"
            path.write_bytes(dumps(document))
            console.print(str(path), markup=False, highlight=False)
        return
    body = documents[0] if len(documents) == 1 else documents
    typer.echo(orjson.dumps(body, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode())


@tasks_app.command("overdue")
def overdue_command(ctx: typer.Context) -> None:
    """Every overdue task (逾期任务), the longest overdue first: the supervising office's list."""
    from standard.workdays import SHANGHAI
    from tasks.reminders import overdue

    settings = settings_or_exit()
    now = clock_of(ctx).now()

    async def read(services: Any) -> list[Any]:
        found = await overdue(services.engine, now=now)
        issuers = {s.task.issuer for s in found}
        await _audit_read(services, "jianguan tasks overdue", len(found), issuers)
        return found

    found = _services(settings, read)
    if not found:
        console.print("没有逾期任务 / no overdue task")
        return
    # One line a task, whatever the terminal's width: operators grep and pipe it.
    console.print("任务 task | 下达 issuer | 承办 recipients | 状态 state | 逾期自 overdue from")
    for stored in found:
        task = stored.task
        due = stored.due_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
        line = f"{task.id} | {task.issuer} | {'、'.join(task.recipients)} | {task.state.zh} | {due}"
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    console.print(f"{len(found)} 项逾期 / overdue")


@tasks_app.command("from-complaint")
def from_complaint_command(
    ticket: Annotated[str, typer.Argument(help="The complaint's ticket number (办件编号).")],
    provider: Annotated[
        str, typer.Option(help="The hotline's party code (the complaint's provider).")
    ] = "P-12345",
) -> None:
    """A complaint the 12345 hotline dispatched to a department becomes its task (投诉转任务):
    issued from the hotline's party, delivered, linked; once only."""
    from policies.actor import operator
    from standard.errors import InputError, NotFound
    from tasks.complaints import task_from_complaint

    settings = settings_or_exit()

    async def convert(services: Any) -> tuple[Any, bool]:
        complaints = services.source_databases.engine("complaints")
        try:
            return await task_from_complaint(
                services.tasks,
                complaints,
                provider=provider,
                ticket_no=ticket,
                officer=operator().name,
            )
        except (InputError, NotFound) as exc:
            raise _fail(str(exc), 1) from None

    stored, new = _services(settings, convert)
    recipients = "、".join(stored.task.recipients)
    if new:
        console.print(
            f"任务 {stored.id} 已下达并送达 {recipients} / task {stored.id} issued and "
            f"delivered to {recipients}",
            highlight=False,
        )
    else:
        console.print(
            f"投诉 {ticket} 已是任务 {stored.id}（{stored.task.state.zh}） / complaint {ticket} "
            f"is task {stored.id} already ({stored.task.state.value})",
            highlight=False,
        )
