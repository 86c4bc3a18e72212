"""Who makes a change, and whether they may: the check every management change starts with."""

from __future__ import annotations

import getpass
from dataclasses import dataclass

from policies.scope import Scope
from standard.errors import Forbidden, InputError


class ChangeRefused(InputError):
    """A management change that cannot be made; the message says why. One the caller may not
    make at all is ``standard.errors.Forbidden``, raised by ``Actor.check`` and its callers."""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who makes a change: an operator at the console (no scope) or a signed-in principal."""

    name: str  # "cli:<user>" or a principal id
    party: str | None = None
    scope: Scope | None = None

    @classmethod
    def of(cls, scope: Scope) -> Actor:
        """The principal of ``scope`` as an actor."""
        return cls(scope.principal.id, scope.principal.party, scope)

    def check(self, act: str, resource: str, party: str) -> None:
        """Refuse unless the actor may ``act`` on ``resource`` of ``party``."""
        if self.scope is not None and not self.scope.may(act, resource, party):
            raise Forbidden(f"{self.name} may not {act} {resource} of {party}")


def operator() -> Actor:
    """Whoever runs a console command, by their operating-system user (audited as such)."""
    return Actor(f"cli:{getpass.getuser()}")
