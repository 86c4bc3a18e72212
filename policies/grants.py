"""共享授权: a provider's administrator lets another department or partner read one resource of
its data — optionally one district or other filter, some personal fields in clear — for a
purpose and a period. Grants can be revoked; every change is audited and reaches every replica.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from audit.log import AuditEvent, AuditLog
from policies.actor import Actor, ChangeRefused
from policies.masking import MASKED
from policies.store import PolicyHolder
from standard.exchange import column_kind
from standard.registry import TABLES
from standard.tables.gateway import Grant, Party

GRANTEE_KINDS = frozenset({"department", "city_office", "partner"})
"""Who ``giveGrant`` may name (docs/security.md §3). Enterprises read only what is about
themselves and receive no grants."""
APPROVAL_KINDS = frozenset({"portal"})
"""A portal party is one open dataset: a grant to it is a provider's approval to publish (R9),
made by ``open_data.approvals`` alone."""
MAX_PURPOSE = 500
FILTER_KINDS = {"text": (str,), "integer": (int,), "boolean": (bool,)}
"""Column kinds a row filter may compare, and the JSON value each takes: one value, the kind
a row holds, so that the filter the source runs and the one masking checks agree."""


@dataclass(frozen=True, slots=True)
class GrantRequest:
    """What a provider's administrator asks for."""

    provider: str
    grantee: str
    resource: str
    purpose: str
    valid_until: datetime
    valid_from: datetime | None = None
    row_filter: Mapping[str, object] | None = None
    clear_fields: Sequence[str] = ()


def _columns(resource: str) -> dict[str, Any]:
    model = TABLES.get(resource)
    if model is not None:
        return {c.name: c for c in model.__table__.columns}  # type: ignore[attr-defined]
    raise ChangeRefused(
        f"unknown resource {resource!r}; resources are the tables: {', '.join(MASKED)}"
    )


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    return "an object"


def _check_filter(
    resource: str, columns: Mapping[str, Any], row_filter: Mapping[str, object]
) -> None:
    personal = MASKED[resource]
    for name, value in row_filter.items():
        where = f"rowFilter.{name} ({resource})"
        column = columns.get(name)
        if column is None or name in personal or name.startswith("cd_"):
            raise ChangeRefused(
                f"{where}: the filter may use the non-personal columns of {resource}; "
                f"{name!r} is not one"
            )
        kind = column_kind(column)
        allowed = FILTER_KINDS.get(kind)
        if allowed is None:
            raise ChangeRefused(
                f"{where}: filters compare text, whole-number and true/false columns; "
                f"{name} holds {kind} values"
            )
        wrong_bool = isinstance(value, bool) and bool not in allowed
        if not isinstance(value, allowed) or wrong_bool:
            expected = {"text": "a string", "integer": "a whole number", "boolean": "true/false"}
            raise ChangeRefused(
                f"{where}: one value, {expected[kind]}, not {_json_kind(value)}"
                + (f" ({value!r})" if isinstance(value, list | tuple) else "")
            )
        length = getattr(column.type, "length", None)
        if isinstance(value, str) and length is not None and len(value) > length:
            raise ChangeRefused(f"{where}: at most {length} characters, not {len(value)}")


def check_request(request: GrantRequest, now: datetime) -> None:
    """Refuse a grant that names unknown or personal columns, or an empty period."""
    columns = _columns(request.resource)
    _check_filter(request.resource, columns, request.row_filter or {})
    personal = MASKED[request.resource]
    unknown = set(request.clear_fields) - personal
    if unknown:
        raise ChangeRefused(
            f"only personal fields of {request.resource} can be shown in clear "
            f"({', '.join(sorted(personal)) or 'it has none'}); not {', '.join(sorted(unknown))}"
        )
    start = request.valid_from or now
    if request.valid_until.tzinfo is None or start.tzinfo is None:
        raise ChangeRefused("validity times need a time zone")
    if request.valid_until <= start or request.valid_until <= now:
        raise ChangeRefused("the grant must end in the future, after it starts")
    if not request.purpose.strip() or len(request.purpose) > MAX_PURPOSE:
        raise ChangeRefused(f"state the purpose (1-{MAX_PURPOSE} characters)")
    if request.provider == request.grantee:
        raise ChangeRefused("a party already reads its own records")


class Grants:
    """Giving, revoking and listing grants."""

    def __init__(self, engine: AsyncEngine, audit: AuditLog, holder: PolicyHolder) -> None:
        self.engine = engine
        self.audit = audit
        self.holder = holder

    async def give(
        self, actor: Actor, request: GrantRequest, *, to: frozenset[str] = GRANTEE_KINDS
    ) -> int:
        """Record a grant from the provider to a party of a kind in ``to``; returns its id.
        Effective on every replica."""
        actor.check("manage", "grants", request.provider)
        now = datetime.now(UTC)
        check_request(request, now)
        async with AsyncSession(self.engine) as session:
            parties = {
                row.code: row
                for row in (
                    await session.execute(
                        select(Party).where(Party.code.in_([request.provider, request.grantee]))
                    )
                ).scalars()
            }
        if request.provider not in parties:
            raise ChangeRefused(f"no party {request.provider!r}")
        grantee = parties.get(request.grantee)
        if grantee is None:
            raise ChangeRefused(f"no party {request.grantee!r}")
        if grantee.kind not in to:
            raise ChangeRefused(
                f"grantee {request.grantee!r} is a {grantee.kind}: grants go to "
                f"{', '.join(sorted(to))} parties"
            )
        async with self.engine.begin() as connection:
            result = await connection.execute(
                Grant.__table__.insert().values(  # type: ignore[attr-defined]
                    provider=request.provider,
                    grantee=request.grantee,
                    resource=request.resource,
                    row_filter=dict(request.row_filter or {}),
                    clear_fields=sorted(set(request.clear_fields)),
                    purpose=request.purpose.strip(),
                    valid_from=request.valid_from or now,
                    valid_until=request.valid_until,
                    created_at=now,
                    created_by=actor.name,
                )
            )
            grant_id = int(result.inserted_primary_key[0])  # type: ignore[index]  # one key
        await self._event(actor, "grant", request.provider, request.resource, grant_id, request)
        await self.holder.changed()
        return grant_id

    async def revoke(self, actor: Actor, grant_id: int) -> None:
        """End a grant now; effective on every replica within a second."""
        grant = await self.one(grant_id)
        if grant is None:
            raise ChangeRefused(f"no grant {grant_id}")
        actor.check("manage", "grants", grant.provider)
        if grant.revoked_at is not None:
            raise ChangeRefused(f"grant {grant_id} was already revoked")
        async with self.engine.begin() as connection:
            await connection.execute(
                update(Grant)
                .where(Grant.id == grant_id)
                .values(revoked_at=datetime.now(UTC), revoked_by=actor.name)
            )
        await self._event(actor, "grant_revoke", grant.provider, grant.resource, grant_id, None)
        await self.holder.changed()

    async def one(self, grant_id: int) -> Grant | None:
        """The grant with that id, revoked or not."""
        async with AsyncSession(self.engine) as session:
            return await session.get(Grant, grant_id)

    async def visible(self, parties: frozenset[str] | None) -> list[Grant]:
        """Grants given by or to ``parties`` (None: every grant), newest first."""
        stmt = select(Grant).order_by(Grant.id.desc())
        if parties is not None:
            stmt = stmt.where(or_(Grant.provider.in_(parties), Grant.grantee.in_(parties)))
        async with AsyncSession(self.engine) as session:
            return list((await session.execute(stmt)).scalars())

    async def _event(
        self,
        actor: Actor,
        event: str,
        provider: str,
        resource: str,
        grant_id: int,
        request: GrantRequest | None,
    ) -> None:
        detail: dict[str, Any] = {"grant": grant_id}
        if request is not None:
            detail.update(
                grantee=request.grantee,
                filter=dict(request.row_filter or {}),
                clear_fields=sorted(request.clear_fields),
                purpose=request.purpose,
                valid_until=request.valid_until.isoformat(),
            )
        await self.audit.append(
            AuditEvent(
                actor=actor.name,
                event=event,
                outcome="ok",
                party_code=actor.party,
                resources=(resource,),
                providers=(provider,),
                detail=detail,
            )
        )
