"""What one principal may see, decided once per request: the only module that uses Casbin.

Policy lines (``policies/model.conf``, ``policies/seed.csv`` and the grants) become a ``Scope``:
for every table, a condition on rows (the providers whose records are visible, a grant's
district, an enterprise's own USCC) that connectors turn into SQL ``WHERE`` or source-API
parameters, and which personal fields are shown in clear for which rows. Nothing is decided
per row by the enforcer; a scope is computed once per principal and policy version.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import casbin  # type: ignore[import-untyped]  # no stubs
import orjson
from casbin.persist import Adapter, load_policy_line  # type: ignore[import-untyped]

from policies.masking import MASKED
from policies.principal import PUBLIC, Principal
from sources.base import AnyOf, Filter, Row
from standard.registry import subject_column

POLICIES = Path(__file__).parents[1] / "policies"
MODEL = POLICIES / "model.conf"
SEED = POLICIES / "seed.csv"

RECORD_TABLES: tuple[str, ...] = tuple(MASKED)
"""Every table of the data standard: what ``*`` in a policy's resource means."""
ADMIN_RESOURCES = ("accounts", "grants", "audit_log")
"""Resources that a policy must name: ``*`` never reaches them."""
PARTY_MEMBER = "role:party_member"
"""The role that lines for a party or party kind (grants among them) reach; see model.conf."""
PARTY_SUBJECTS = ("party:", "kind:")


@dataclass(frozen=True, slots=True)
class GrantLimits:
    """What a grant allows, as the scope needs it."""

    id: int
    provider: str
    grantee: str
    resource: str
    row_filter: Mapping[str, str | int | bool]
    clear_fields: frozenset[str]
    valid_from: datetime
    valid_until: datetime

    def active(self, now: datetime) -> bool:
        """Whether the grant is in its validity period."""
        return self.valid_from <= now < self.valid_until


@dataclass(frozen=True, slots=True)
class Clause:
    """Rows visible for one reason: their providers (None: any), further equalities, and the
    personal fields shown in clear for them."""

    providers: frozenset[str] | None
    where: tuple[Filter, ...]
    clear: frozenset[str]

    def matches(self, row: Row) -> bool:
        """Whether ``row`` falls under this clause."""
        if self.providers is not None and row.get("provider") not in self.providers:
            return False
        return all(row.get(f.column) == f.value for f in self.where)

    def filters(self) -> tuple[Filter, ...]:
        """The clause as filters for a connector."""
        if self.providers is None:
            return self.where
        return (Filter("provider", "in", tuple(sorted(self.providers))), *self.where)


@dataclass(frozen=True, slots=True)
class TableScope:
    """One table as a principal sees it."""

    clauses: tuple[Clause, ...]

    @property
    def visible(self) -> bool:
        """Whether any row can be visible."""
        return bool(self.clauses)

    @property
    def condition(self) -> AnyOf | None:
        """The rows visible, for a connector; None when every row is."""
        if any(c.providers is None and not c.where for c in self.clauses):
            return None
        return AnyOf(tuple(c.filters() for c in self.clauses))

    def clear_for(self, row: Row) -> frozenset[str]:
        """The personal fields of ``row`` shown in clear."""
        shown: frozenset[str] = frozenset()
        for clause in self.clauses:
            if clause.clear and clause.matches(row):
                shown |= clause.clear
        return shown

    @property
    def shows_any(self) -> bool:
        """Whether some row may show a personal field in clear."""
        return any(c.clear for c in self.clauses)


NOTHING = TableScope(())


@dataclass(frozen=True, slots=True)
class Scope:
    """What one principal may read, write and manage, per resource."""

    principal: Principal
    tables: Mapping[str, TableScope]
    permissions: frozenset[tuple[str, str, str]]  # (act, resource, provider or "*")
    valid_until: datetime | None = None  # a grant used here ends, or one starts, then
    grants: tuple[int, ...] = ()  # the grants this scope relies on

    def table(self, name: str) -> TableScope:
        """The table as this principal sees it (nothing, unless a policy says otherwise)."""
        return self.tables.get(name, NOTHING)

    def may(self, act: str, resource: str, provider: str | None = None) -> bool:
        """Whether the principal may ``act`` on ``resource`` of ``provider`` (any, if None)."""
        for granted_act, granted_resource, granted_provider in self.permissions:
            if granted_act != act or granted_resource != resource:
                continue
            if granted_provider == "*" or provider is None or granted_provider == provider:
                return True
        return False

    def providers(self, act: str, resource: str) -> frozenset[str] | None:
        """The providers ``act`` on ``resource`` covers; None for all, empty for none."""
        found: set[str] = set()
        for granted_act, granted_resource, granted_provider in self.permissions:
            if granted_act == act and granted_resource == resource:
                if granted_provider == "*":
                    return None
                found.add(granted_provider)
        return frozenset(found)


DENY = Scope(principal=PUBLIC, tables={}, permissions=frozenset())
"""Nothing at all: what a request has before its caller's scope is known."""


class _Lines(Adapter):  # type: ignore[misc]  # casbin is untyped
    """Hands Casbin policy lines we already read from the database."""

    def __init__(self, lines: Iterable[Sequence[str]]) -> None:
        self.lines = [list(line) for line in lines]

    def load_policy(self, model: Any) -> None:
        for line in self.lines:
            load_policy_line(", ".join(line), model)


def _policy_line(values: Sequence[str]) -> list[str]:
    # Casbin splits lines on commas; drop the empty tail that optional fields leave.
    line = [v.strip() for v in values]
    while line and line[-1] == "":
        line.pop()
    return line


class Policy:
    """Policy lines and grants at one version, with a Casbin enforcer over them."""

    def __init__(
        self, lines: Iterable[Sequence[str]], grants: Iterable[GrantLimits], version: str = ""
    ) -> None:
        self.grants = {g.id: g for g in grants}
        all_lines = [_policy_line(line) for line in lines]
        for g in self.grants.values():
            all_lines.append(
                ["p", f"party:{g.grantee}", g.resource, g.provider, "read", f"grant:{g.id}"]
            )
        self.lines = all_lines
        self.version = version or hashlib.sha256(orjson.dumps(all_lines)).hexdigest()[:16]
        self.enforcer = casbin.Enforcer(str(MODEL), _Lines(all_lines))

    def acts_for_party(self, principal: Principal) -> bool:
        """Whether the principal's role inherits ``role:party_member`` (``g`` lines)."""
        for subject in principal.subjects:
            if not subject.startswith("role:"):
                continue
            if subject == PARTY_MEMBER:
                return True
            if PARTY_MEMBER in self.enforcer.get_implicit_roles_for_user(subject):
                return True
        return False

    def permission_lines(self, principal: Principal) -> list[list[str]]:
        """Every ``p`` line that applies to the principal, roles followed (``g``). Lines for its
        party or party kind only when its role acts for the party: a grant to the city office
        reaches its overseers, not the security auditor of the same party."""
        member = self.acts_for_party(principal)
        found: list[list[str]] = []
        for subject in principal.subjects:
            if subject.startswith(PARTY_SUBJECTS) and not member:
                continue
            found.extend(self.enforcer.get_implicit_permissions_for_user(subject))
        return found


def seed_lines(path: Path = SEED) -> list[list[str]]:
    """The seed policy file's lines (``p, …`` and ``g, …``), comments left out."""
    lines = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        text = raw.strip()
        if text and not text.startswith("#"):
            lines.append(_policy_line(text.split(",")))
    return lines


def scope_for(principal: Principal, policy: Policy, now: datetime) -> Scope:
    """Compute what ``principal`` may do under ``policy`` at ``now``."""
    clauses: dict[str, list[Clause]] = {}
    permissions: set[tuple[str, str, str]] = set()
    used: list[int] = []
    edges: list[datetime] = []
    for line in policy.permission_lines(principal):
        _sub, resource, provider, act, rule = [*line, "", ""][:5]
        if provider == "$own":
            if principal.party is None:
                continue
            provider = principal.party
        grant: GrantLimits | None = None
        if rule.startswith("grant:"):
            grant = policy.grants.get(int(rule.removeprefix("grant:")))
            if grant is None:
                continue
            if not grant.active(now):
                if grant.valid_from > now:
                    edges.append(grant.valid_from)
                continue
            used.append(grant.id)
            edges.append(grant.valid_until)
        tables = RECORD_TABLES if resource == "*" else (resource,)
        for table in tables:
            permissions.add((act, table, provider))
            if act != "read" or table not in MASKED:
                continue
            clause = _clause(principal, table, provider, rule, grant)
            if clause is not None:
                clauses.setdefault(table, []).append(clause)
    merged = {table: TableScope(_merge(found)) for table, found in clauses.items()}
    return Scope(
        principal=principal,
        tables=merged,
        permissions=frozenset(permissions),
        valid_until=min(edges) if edges else None,
        grants=tuple(sorted(set(used))),
    )


def _clause(
    principal: Principal, table: str, provider: str, rule: str, grant: GrantLimits | None
) -> Clause | None:
    providers = None if provider == "*" else frozenset({provider})
    if rule == "clear":
        return Clause(providers, (), MASKED[table])
    if rule == "subject":
        column = subject_column(table)
        if column is None or principal.uscc is None:
            return None  # no USCC to restrict by: nothing, rather than everything
        return Clause(providers, (Filter(column, "eq", principal.uscc),), frozenset())
    if grant is not None:
        where = tuple(Filter(c, "eq", v) for c, v in sorted(grant.row_filter.items()))
        return Clause(providers, where, grant.clear_fields & MASKED[table])
    return Clause(providers, (), frozenset())


def _merge(clauses: list[Clause]) -> tuple[Clause, ...]:
    """One clause per (conditions, fields in clear), providers pooled; any provider absorbs."""
    pooled: dict[tuple[tuple[Filter, ...], frozenset[str]], frozenset[str] | None] = {}
    for c in clauses:
        key = (c.where, c.clear)
        if key in pooled:
            before = pooled[key]
            pooled[key] = None if before is None or c.providers is None else before | c.providers
        else:
            pooled[key] = c.providers
    merged = [Clause(providers, where, clear) for (where, clear), providers in pooled.items()]
    return tuple(sorted(merged, key=repr))
