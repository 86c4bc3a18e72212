"""Who is calling: a staff account, a machine client, or the public (no credentials)."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal

PrincipalKind = Literal["staff", "client", "public"]


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of one request, as authentication established it."""

    kind: PrincipalKind
    id: str  # "user:<username>", "client:<client id>", "public"
    party: str | None = None  # the department, partner or enterprise it acts for
    party_kind: str | None = None  # department | city_office | partner | enterprise
    role: str | None = None  # staff only: staff | dept_admin | city_office | auditor
    uscc: str | None = None  # an enterprise's own USCC
    rate_limit: str | None = None  # a client's own limit, when configured
    persisted_only: bool = False  # a client that may send persisted operations only
    password_change_required: bool = False

    @property
    def subjects(self) -> tuple[str, ...]:
        """The names policies are written for (see policies/model.conf)."""
        names = ["role:public"]
        if self.role:
            names.append(f"role:{self.role}")
        elif self.kind == "client":
            names.append("role:client")  # a machine system acts for its party
        if self.party_kind:
            names.append(f"kind:{self.party_kind}")
        if self.party:
            names.append(f"party:{self.party}")
        if self.kind != "public":
            names.append(self.id)
        return tuple(names)

    def to_json(self) -> dict[str, Any]:
        """What a session stores about its holder."""
        return {
            "kind": self.kind,
            "id": self.id,
            "party": self.party,
            "party_kind": self.party_kind,
            "role": self.role,
            "uscc": self.uscc,
            "rate_limit": self.rate_limit,
            "persisted_only": self.persisted_only,
            "password_change_required": self.password_change_required,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Principal:
        """The principal a session stored."""
        return cls(**data)


PUBLIC = Principal(kind="public", id="public")
"""Callers without credentials: public data only."""

caller: ContextVar[Principal] = ContextVar("caller", default=PUBLIC)
"""The principal of the request being served, set by the guard in front of ``/graphql``."""
