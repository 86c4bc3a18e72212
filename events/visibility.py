"""Which events a subscribed client may see: those its scope lets it read, as for GraphQL."""

from __future__ import annotations

import time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from accounts.auth import client_principal
from policies.principal import Principal
from policies.store import PolicyHolder
from standard.tables.gateway import Client, Party

PRINCIPAL_SECONDS = 30.0  # a client disabled meanwhile stops getting events within this


class ClientScopes:
    """``Visibility`` by each client's scope under the current policy: an event about
    ``resource`` rows of ``provider`` goes to a client that may read them, and one its domain
    addressed to an ``audience`` to a client of one of those parties or of the city office
    (R13). A disabled client, or one whose party is disabled, sees none. Events name no person
    (their payloads carry states and codes), so the read permission decides, not row filters
    or masking."""

    def __init__(self, engine: AsyncEngine, policies: PolicyHolder) -> None:
        self.engine = engine
        self.policies = policies
        self._principals: dict[str, tuple[float, Principal | None]] = {}

    async def __call__(
        self, client_id: str, resource: str, provider: str, audience: tuple[str, ...] = ()
    ) -> bool:
        principal = await self._principal(client_id)
        if principal is None:
            return False
        if principal.party in audience:
            return True
        if audience and principal.party_kind == "city_office":  # R13: it oversees all of it
            return True
        scope = await self.policies.scope(principal)
        return scope.may("read", resource, provider)

    async def _principal(self, client_id: str) -> Principal | None:
        cached = self._principals.get(client_id)
        if cached is not None and time.monotonic() - cached[0] < PRINCIPAL_SECONDS:
            return cached[1]
        async with AsyncSession(self.engine) as session:
            found = (
                await session.execute(
                    select(Client, Party)
                    .join(Party, Party.code == Client.party_code)
                    .where(Client.client_id == client_id)
                )
            ).first()
        principal = None
        if found is not None and not (found[0].disabled or found[1].disabled):
            principal = client_principal(found[0], found[1])
        self._principals[client_id] = (time.monotonic(), principal)
        return principal
