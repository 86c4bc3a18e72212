"""Scopes from the real seed policies, for tests that run the schema in process."""

from __future__ import annotations

from datetime import UTC, datetime

from policies.principal import Principal
from policies.scope import GrantLimits, Policy, Scope, scope_for, seed_lines

CITY_OFFICE = Principal(
    kind="staff", id="user:test.city", party="XA-ZWB", party_kind="city_office", role="city_office"
)


def scope_of(principal: Principal, grants: list[GrantLimits] | None = None) -> Scope:
    """``principal``'s scope under the seed policies and ``grants``, now."""
    return scope_for(principal, Policy(seed_lines(), grants or []), datetime.now(UTC))


def oversight() -> Scope:
    """The city office: every record, personal fields masked."""
    return scope_of(CITY_OFFICE)
