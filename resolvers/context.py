"""What every resolver can reach in one request (``info.context``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import Response

from accounts.admin import Admin
from audit.log import AuditLog
from audit.query import AuditReader
from ingest.service import IngestSettings
from policies.access import RequestSources
from policies.grants import Grants
from policies.principal import Principal
from policies.scope import DENY, Scope
from policies.store import PolicyHolder
from resolvers.loaders import Loaders
from sources.database import SourceDatabases
from sources.guard import Sources
from standard.workdays import WorkCalendar
from tasks.store import TaskStore


class JobQueue(Protocol):
    """The background jobs, as a request reaches them (``jobs.runtime.Jobs``)."""

    async def deliver_soon(self) -> bool: ...


class Services(Protocol):
    """The parts over the gateway database that requests reach; ``gateway.services.Services``
    has them, made once per process."""

    @property
    def engine(self) -> AsyncEngine: ...  # the gateway database (inspections, webhooks)
    @property
    def settings(self) -> IngestSettings: ...
    @property
    def audit(self) -> AuditLog: ...
    @property
    def audit_reader(self) -> AuditReader: ...
    @property
    def admin(self) -> Admin: ...
    @property
    def grants(self) -> Grants: ...
    @property
    def policies(self) -> PolicyHolder: ...
    @property
    def calendar(self) -> WorkCalendar: ...
    @property
    def source_databases(self) -> SourceDatabases: ...
    @property
    def tasks(self) -> TaskStore: ...
    @property
    def jobs(self) -> JobQueue: ...


@dataclass(slots=True)
class Context:
    """Per request: the sources (counting round trips) and fresh batch loaders."""

    sources: RequestSources
    request: Request | None = None
    response: Response | None = None
    loaders: Loaders = field(init=False)
    services: Services | None = None  # None without the gateway database: in-process tests
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
    def audit(self) -> AuditLog | None:
        """The audit log (None without the gateway database: in-process tests only)."""
        return None if self.services is None else self.services.audit

    @classmethod
    def new(
        cls,
        sources: Sources,
        request: Request | None = None,
        response: Response | None = None,
        *,
        scope: Scope = DENY,
        services: Services | None = None,
    ) -> Context:
        """A fresh context for one request over the process's sources, within ``scope``."""
        return cls(
            sources=RequestSources(sources, scope),
            request=request,
            response=response,
            services=services,
        )

    def __post_init__(self) -> None:
        # Loaders are never shared between requests: their caches would leak data across callers.
        self.loaders = Loaders(self.sources)
