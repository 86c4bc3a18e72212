"""Demo principals: the departments, partners and an enterprise of the demo data, staff and
administrators in three departments, the city office, an auditor, two machine clients, a few
grants, and a ready bearer token for each (``var/demo-credentials.json``), with the machine
clients' ids and secrets, to try the client-credentials flow of ``docs/partners.md``.

Idempotent: what exists is kept; tokens are issued afresh on every run, and the clients get a
new secret (the one shown last time stops working: nobody kept it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

import orjson
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from accounts.admin import Admin
from accounts.tokens import TokenStore
from demo.complaints import PROVIDER as HOTLINE
from demo.credit import PROVIDER as CREDIT
from demo.departments import ALL_DEPARTMENTS, OFFICE
from demo.gov_services import PROVIDER as SERVICES
from open_data.approvals import approve
from open_data.datasets import dataset
from policies.actor import Actor
from policies.grants import GrantRequest, Grants
from policies.principal import Principal
from sources.database import SourceDatabases
from standard.errors import NotFound
from standard.tables.gateway import Account, Client, Grant, Party

ACTOR = Actor("cli:demo")
TOKEN_LIFETIME = timedelta(hours=12)
PARTNERS = {
    HOTLINE: "12345 政务服务便民热线",
    CREDIT: "信用西安平台",
    SERVICES: "西安市政务服务平台",
}
STAFFED = ("XA-SCJG", "XA-STHJ", "YT-SCJG")


class Services(Protocol):
    """What making the demo's principals needs; ``gateway.services.Services`` has it."""

    @property
    def engine(self) -> AsyncEngine: ...
    @property
    def admin(self) -> Admin: ...
    @property
    def grants(self) -> Grants: ...
    @property
    def tokens(self) -> TokenStore: ...
    @property
    def source_databases(self) -> SourceDatabases: ...


class NoDemoData(NotFound):
    """The sources hold no demo data yet."""


@dataclass(frozen=True, slots=True)
class Credential:
    """One demo principal and its token."""

    name: str
    kind: str
    role: str | None
    party: str
    uscc: str | None
    token: str
    client_secret: str | None = None  # machine clients: exchange at /oauth/token


async def _first_subject(services: Services) -> tuple[str, str]:
    engine = services.source_databases.engine("supervision")
    async with engine.connect() as connection:
        row = (
            await connection.execute(text("SELECT uscc, name FROM subjects ORDER BY id LIMIT 1"))
        ).first()
    if row is None:
        raise NoDemoData("no demo data: run `jianguan seed` first")
    return str(row[0]), str(row[1])


async def _parties(services: Services, uscc: str, name: str) -> None:
    async with services.engine.connect() as connection:
        have = set((await connection.execute(select(Party.code))).scalars())
    wanted: list[tuple[str, str, str, str | None, str | None]] = [
        (d.code, d.name, "city_office" if d.code == OFFICE else "department", None, d.division)
        for d in ALL_DEPARTMENTS
    ]
    wanted += [(code, title, "partner", None, "610100") for code, title in PARTNERS.items()]
    wanted.append(("ENT-DEMO", name, "enterprise", uscc, None))
    for code, title, kind, own_uscc, division in wanted:
        if code not in have:
            await services.admin.add_party(
                ACTOR, code=code, name=title, kind=kind, uscc=own_uscc, division_code=division
            )


async def _accounts(services: Services) -> list[tuple[str, str, str]]:
    """(username, party, role) of every demo account, created when missing."""
    wanted = [
        (f"{code.lower().replace('-', '.')}.{role.replace('dept_', '')}", code, role)
        for code in STAFFED
        for role in ("staff", "dept_admin")
    ]
    wanted += [("city.office", OFFICE, "city_office"), ("security.auditor", OFFICE, "auditor")]
    async with services.engine.connect() as connection:
        have = set((await connection.execute(select(Account.username))).scalars())
    for username, party, role in wanted:
        if username not in have:
            await services.admin.add_account(
                ACTOR, username=username, real_name=f"演示{username}", party=party, role=role
            )
    # Demo accounts are ready to use: no first-login password change.
    async with services.engine.begin() as connection:
        await connection.execute(
            update(Account)
            .where(Account.username.in_([w[0] for w in wanted]))
            .values(must_change_password=False)
        )
    return wanted


async def _clients(services: Services) -> list[tuple[str, str, str]]:
    """(client id, party, secret) of the demo clients; secrets are stored hashed, so a client
    made by an earlier run gets a new one."""
    wanted = [("p-12345", HOTLINE), ("enterprise-demo", "ENT-DEMO")]
    async with services.engine.connect() as connection:
        have = set((await connection.execute(select(Client.client_id))).scalars())
    made = []
    for client_id, party in wanted:
        if client_id not in have:
            secret = await services.admin.add_client(
                ACTOR, client_id=client_id, name=client_id, party=party
            )
        else:
            secret = await services.admin.rotate_secret(
                ACTOR, client_id=client_id, overlap=timedelta(0)
            )
        made.append((client_id, party, secret))
    return made


async def _grants(services: Services) -> None:
    async with services.engine.connect() as connection:
        if (await connection.execute(select(Grant.id).limit(1))).first() is not None:
            return
    # Providers approve six open datasets (R9), so `jianguan publish` has something to show.
    for name, provider in (
        ("inspection-results", "XA-SCJG"),
        ("random-inspection-results", "XA-SCJG"),
        ("administrative-penalties", "XA-SCJG"),
        ("complaint-statistics", HOTLINE),
        ("licence-publicity", CREDIT),
        ("penalty-publicity", "XA-SCJG"),
    ):
        await approve(services.grants, ACTOR, dataset(name), provider)
    until = datetime.now(UTC) + timedelta(days=365)
    # The registrar's subject register serves every department's duties.
    for grantee in (*(d.code for d in ALL_DEPARTMENTS if d.code != "XA-SCJG"), HOTLINE):
        await services.grants.give(
            ACTOR,
            GrantRequest("XA-SCJG", grantee, "subjects", "监管对象名录，履行监管职责", until),
        )
    # The hotline shares Yanta district's complaints with its bureau, phone numbers in clear.
    await services.grants.give(
        ACTOR,
        GrantRequest(
            HOTLINE,
            "YT-SCJG",
            "complaints",
            "办理雁塔区投诉举报",
            until,
            row_filter={"division_code": "610113"},
            clear_fields=("complainant_name", "complainant_phone"),
        ),
    )


async def demo_credentials(services: Services) -> list[Credential]:
    """Make the demo principals and a token for each."""
    uscc, name = await _first_subject(services)
    await _parties(services, uscc, name)
    accounts = await _accounts(services)
    clients = await _clients(services)
    await _grants(services)
    async with services.engine.connect() as connection:
        kinds = dict((await connection.execute(select(Party.code, Party.kind))).all())
    made: list[Credential] = []
    for username, party, role in accounts:
        principal = Principal(
            kind="staff", id=f"user:{username}", party=party, party_kind=kinds[party], role=role
        )
        issued = await services.tokens.issue(
            principal, lifetime=TOKEN_LIFETIME, idle=TOKEN_LIFETIME
        )
        made.append(Credential(username, "staff", role, party, None, issued.token))
    for client_id, party, secret in clients:
        own = uscc if party == "ENT-DEMO" else None
        principal = Principal(
            kind="client", id=f"client:{client_id}", party=party, party_kind=kinds[party], uscc=own
        )
        issued = await services.tokens.issue(
            principal, lifetime=TOKEN_LIFETIME, idle=TOKEN_LIFETIME
        )
        made.append(Credential(client_id, kinds[party], None, party, own, issued.token, secret))
    return made


def write_credentials(made: list[Credential], output: Path) -> None:
    """The credentials as JSON, readable by their owner only (they are bearer tokens)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(orjson.dumps([asdict(c) for c in made], option=orjson.OPT_INDENT_2))
    output.chmod(0o600)
