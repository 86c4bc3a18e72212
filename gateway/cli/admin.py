"""``jianguan party|user|client|bootstrap``: an operator at the console manages who may call.

Console actions are audited as ``cli:<operating-system user>``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from sqlalchemy import func, select

from accounts.passwords import PasswordRejected
from audit.keys import AuditKeyError
from gateway.cli.common import errors, settings_or_exit
from gateway.services import Services
from policies.actor import ChangeRefused, operator
from standard.errors import Forbidden
from standard.tables.gateway import Account

T = TypeVar("T")
party_app = typer.Typer(help="Departments, partner platforms and enterprises (parties).")
user_app = typer.Typer(help="Real-name staff accounts (实名账号).")
client_app = typer.Typer(
    help="Machine clients: departments' systems, partner platforms, enterprises."
)
console = Console(soft_wrap=True)  # secrets are never broken across lines


def _with_services(work: Callable[[Services], Awaitable[T]]) -> T:
    settings = settings_or_exit()
    try:
        services = Services.create(settings)
    except AuditKeyError as exc:  # production without its audit key: say so, in one line
        errors.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None

    async def run() -> T:
        try:
            return await work(services)
        finally:
            await services.close()

    try:
        return asyncio.run(run())
    except (ChangeRefused, Forbidden, PasswordRejected) as exc:
        errors.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None


@party_app.command("add")
def party_add(
    code: Annotated[str, typer.Argument(help="Code, as in records' provider column.")],
    name: Annotated[str, typer.Option(help="Chinese name.")],
    kind: Annotated[str, typer.Option(help="department, city_office, partner or enterprise.")],
    uscc: Annotated[str | None, typer.Option(help="An enterprise's USCC.")] = None,
    division: Annotated[str | None, typer.Option(help="Division code (行政区划).")] = None,
) -> None:
    """Register a party."""
    _with_services(
        lambda s: s.admin.add_party(
            operator(), code=code, name=name, kind=kind, uscc=uscc, division_code=division
        )
    )
    console.print(f"party {code} added")


@party_app.command("disable")
def party_disable(
    code: Annotated[str, typer.Argument(help="Party code.")],
    enable: Annotated[bool, typer.Option(help="Enable instead.")] = False,
) -> None:
    """Disable a party (every account and client of it stops at once), or enable it again."""
    ended = _with_services(
        lambda s: s.admin.disable_party(operator(), code=code, disabled=not enable)
    )
    console.print(f"party {code} {'enabled' if enable else f'disabled; {ended} session(s) ended'}")


@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="Login name.")],
    name: Annotated[str, typer.Option(help="Real name (实名).")],
    party: Annotated[str, typer.Option(help="Department code.")],
    role: Annotated[str, typer.Option(help="staff, dept_admin, city_office or auditor.")],
) -> None:
    """Create an account; prints its initial password (changed at first login)."""
    initial = _with_services(
        lambda s: s.admin.add_account(
            operator(), username=username, real_name=name, party=party, role=role
        )
    )
    console.print(f"account {username} created; initial password (shown once): {initial}")


@user_app.command("role")
def user_role(
    username: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Argument(help="staff, dept_admin, city_office or auditor.")],
) -> None:
    """Change an account's role."""
    _with_services(lambda s: s.admin.set_role(operator(), username=username, role=role))
    console.print(f"{username} is now {role}")


@user_app.command("disable")
def user_disable(
    username: Annotated[str, typer.Argument(help="Login name.")],
    enable: Annotated[bool, typer.Option(help="Enable instead.")] = False,
) -> None:
    """Disable an account (its sessions end at once), or enable it again."""
    ended = _with_services(
        lambda s: s.admin.disable_account(operator(), username=username, disabled=not enable)
    )
    console.print(f"{username} {'enabled' if enable else f'disabled; {ended} session(s) ended'}")


@user_app.command("reset-password")
def user_reset(username: Annotated[str, typer.Argument(help="Login name.")]) -> None:
    """Give an account a new initial password."""
    initial = _with_services(lambda s: s.admin.reset_password(operator(), username=username))
    console.print(f"new initial password for {username} (shown once): {initial}")


@user_app.command("totp")
def user_totp(username: Annotated[str, typer.Argument(help="Login name.")]) -> None:
    """Turn on a second factor (TOTP); prints the URI to load into an authenticator app."""
    uri = _with_services(lambda s: s.admin.enrol_totp(operator(), username=username))
    console.print(uri)


@client_app.command("add")
def client_add(
    client_id: Annotated[str, typer.Argument(help="Client id.")],
    name: Annotated[str, typer.Option(help="What system this is.")],
    party: Annotated[str, typer.Option(help="Department, partner or enterprise code.")],
    rate_limit: Annotated[str | None, typer.Option(help="e.g. 1200/minute.")] = None,
    persisted_only: Annotated[bool, typer.Option(help="Persisted operations only.")] = False,
) -> None:
    """Register a machine client; prints its secret once."""
    secret = _with_services(
        lambda s: s.admin.add_client(
            operator(),
            client_id=client_id,
            name=name,
            party=party,
            rate_limit=rate_limit,
            persisted_only=persisted_only,
        )
    )
    console.print(f"client {client_id} added; secret (shown once): {secret}")


@client_app.command("rotate")
def client_rotate(
    client_id: Annotated[str, typer.Argument(help="Client id.")],
    overlap_hours: Annotated[int, typer.Option(help="Hours the old secret still works.")] = 24,
) -> None:
    """Issue a new secret; the old one keeps working for the overlap."""
    secret = _with_services(
        lambda s: s.admin.rotate_secret(
            operator(), client_id=client_id, overlap=timedelta(hours=overlap_hours)
        )
    )
    console.print(f"new secret for {client_id} (shown once): {secret}")


@client_app.command("set")
def client_set(
    client_id: Annotated[str, typer.Argument(help="Client id.")],
    rate_limit: Annotated[str | None, typer.Option(help="Its own limit, e.g. 1200/minute.")] = None,
    default_limit: Annotated[
        bool, typer.Option("--default-limit", help="Use JIANGUAN_RATE_LIMIT again.")
    ] = False,
    persisted_only: Annotated[
        bool | None, typer.Option("--persisted-only/--any-operation", help="Persisted only?")
    ] = None,
) -> None:
    """Change a client's rate limit or persisted-only flag; its tokens end."""
    if rate_limit is not None:
        from gateway.ratelimit import BadRate, parse_rate

        try:
            rate_limit = parse_rate(rate_limit)
        except BadRate as exc:
            errors.print(f"[red]error:[/] {exc}")
            raise typer.Exit(2) from None
    _with_services(
        lambda s: s.admin.set_client(
            operator(),
            client_id=client_id,
            rate_limit=rate_limit,
            unlimited=default_limit,
            persisted_only=persisted_only,
        )
    )
    console.print(f"client {client_id} changed")


@client_app.command("disable")
def client_disable(
    client_id: Annotated[str, typer.Argument(help="Client id.")],
    enable: Annotated[bool, typer.Option(help="Enable instead.")] = False,
) -> None:
    """Disable a client (its tokens end at once), or enable it again."""
    _with_services(
        lambda s: s.admin.disable_client(operator(), client_id=client_id, disabled=not enable)
    )
    console.print(f"client {client_id} {'enabled' if enable else 'disabled'}")


def bootstrap(
    username: Annotated[str, typer.Option(help="Login name of the first account.")],
    name: Annotated[str, typer.Option(help="Real name.")],
    party: Annotated[str, typer.Option(help="City office code.")] = "XA-ZWB",
    party_name: Annotated[str, typer.Option(help="City office name.")] = "西安市人民政府办公厅",
) -> None:
    """Create the city office and its first account; refused once any account exists."""

    async def work(services: Services) -> str:
        async with services.engine.connect() as connection:
            accounts = (
                await connection.execute(select(func.count()).select_from(Account))
            ).scalar()
        if accounts:
            raise ChangeRefused("accounts exist already; use `jianguan user add`")
        actor = operator()
        await services.admin.add_party(actor, code=party, name=party_name, kind="city_office")
        result: Any = await services.admin.add_account(
            actor, username=username, real_name=name, party=party, role="city_office"
        )
        return str(result)

    initial = _with_services(work)
    console.print(
        f"city office {party} and account {username} created; "
        f"initial password (shown once): {initial}"
    )
