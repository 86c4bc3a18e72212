"""What every resolver can reach in one request (``info.context``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway.principal import Principal
from gateway.scope import DENY, Scope
from gateway.settings import Settings
from gateway.sources import RequestSources, Sources
from resolvers.graph.loaders import Loaders


@dataclass(slots=True)
class Context:
    """Per request: the sources (counting round trips) and fresh batch loaders."""

    settings: Settings
    sources: RequestSources
    request: Any = None
    response: Any = None
    loaders: Loaders = field(init=False)
    services: Any = None  # gateway.services.Services, when the gateway database is in use
    lazy_loads: int = 0  # relation fields loaded one parent at a time (not prefetched)

    @property
    def scope(self) -> Scope:
        """What the caller may see and do, decided when the request started."""
        return self.sources.scope

    @property
    def principal(self) -> Principal:
        """Who is calling."""
        return self.sources.scope.principal

    @property
    def audit(self) -> Any:
        """The audit log (None without the gateway database: in-process tests only)."""
        return None if self.services is None else self.services.audit

    @classmethod
    def new(
        cls,
        sources: Sources,
        request: Any = None,
        response: Any = None,
        *,
        scope: Scope = DENY,
        services: Any = None,
    ) -> Context:
        """A fresh context for one request over the process's sources, within ``scope``."""
        return cls(
            settings=sources.settings,
            sources=sources.for_request(scope),
            request=request,
            response=response,
            services=services,
        )

    def __post_init__(self) -> None:
        # Loaders are never shared between requests: their caches would leak data across callers.
        self.loaders = Loaders(self.sources)
