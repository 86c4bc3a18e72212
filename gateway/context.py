"""What every resolver can reach in one request (``info.context``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway.settings import Settings
from gateway.sources import RequestSources, Sources
from resolvers.graph.loaders import Loaders


@dataclass(slots=True)
class Context:
    """Per request: the sources (counting round trips) and fresh DataLoaders."""

    settings: Settings
    sources: RequestSources
    request: Any = None
    response: Any = None
    loaders: Loaders = field(init=False)
    lazy_loads: int = 0  # relation fields loaded one parent at a time (not prefetched)

    @classmethod
    def new(cls, sources: Sources, request: Any = None, response: Any = None) -> Context:
        """A fresh context for one request over the process's sources."""
        return cls(
            settings=sources.settings,
            sources=sources.for_request(),
            request=request,
            response=response,
        )

    def __post_init__(self) -> None:
        # Loaders are never shared between requests: their caches would leak data across callers.
        self.loaders = Loaders(self.sources)
