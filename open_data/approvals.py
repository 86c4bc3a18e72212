"""Provider approval (R9): a dataset holding a department's records is published only after
that department's administrator approved it; withdrawing the approval takes it down.

An approval is a grant from the provider to the dataset's own party (``opendata.<name>``) for
the spec's table. It shows the table's personal columns in clear to the publisher only: it needs
them to pseudonymise or generalise, and to scan the final files for any of their values; what
reaches the files is decided by the spec's rules alone. The publisher reads through the same
scope machinery as the gateway: one policy governs what partners query and what citizens get.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from open_data.spec import DatasetSpec
from policies.actor import Actor, ChangeRefused
from policies.grants import APPROVAL_KINDS, GrantRequest, Grants
from policies.masking import PERSONAL
from policies.principal import Principal
from policies.scope import Policy, Scope, scope_for
from standard.tables.gateway import Grant, Party

APPROVAL_YEARS = 10


def portal_party(spec: DatasetSpec) -> str:
    """The party that stands for one dataset."""
    return f"opendata.{spec.name}"


def reader(spec: DatasetSpec) -> Principal:
    """Who the publisher reads as, for ``spec``."""
    party = portal_party(spec)
    return Principal(kind="client", id=f"client:{party}", party=party, party_kind="portal")


def dataset_scope(spec: DatasetSpec, policy: Policy, now: datetime | None = None) -> Scope:
    """What the publisher may read for ``spec``: public tables, and approved providers' rows."""
    return scope_for(reader(spec), policy, now or datetime.now(UTC))


def personal_columns(spec: DatasetSpec) -> tuple[str, ...]:
    """The table's personal columns, which the publisher reads in clear to check the files."""
    return tuple(PERSONAL[spec.table])


async def _ensure_party(grants: Grants, spec: DatasetSpec) -> None:
    async with grants.engine.begin() as connection:
        found = (
            await connection.execute(select(Party.code).where(Party.code == portal_party(spec)))
        ).first()
        if found is None:
            await connection.execute(
                Party.__table__.insert().values(  # type: ignore[attr-defined]
                    code=portal_party(spec),
                    name=spec.title,
                    kind="portal",
                    disabled=False,
                    created_at=datetime.now(UTC),
                )
            )


async def approve(grants: Grants, actor: Actor, spec: DatasetSpec, provider: str) -> int:
    """The provider's administrator approves ``spec`` for its records; the grant's id."""
    await _ensure_party(grants, spec)
    until = datetime.now(UTC) + timedelta(days=365 * APPROVAL_YEARS)
    request = GrantRequest(
        provider=provider,
        grantee=portal_party(spec),
        resource=spec.table,
        purpose=f"开放数据发布 open data: {spec.name}",
        valid_until=until,
        clear_fields=personal_columns(spec),
    )
    return await grants.give(actor, request, to=APPROVAL_KINDS)


async def withdraw(grants: Grants, actor: Actor, spec: DatasetSpec, provider: str) -> int:
    """Revoke the provider's approval of ``spec``; the dataset leaves the portal next run."""
    async with grants.engine.connect() as connection:
        found = (
            await connection.execute(
                select(Grant.id).where(
                    Grant.provider == provider,
                    Grant.grantee == portal_party(spec),
                    Grant.revoked_at.is_(None),
                )
            )
        ).first()
    if found is None:
        raise ChangeRefused(f"{provider} has no approval of {spec.name} to withdraw")
    await grants.revoke(actor, int(found[0]))
    return int(found[0])
