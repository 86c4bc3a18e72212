"""The gateway's own parts over its database, made once per process: audit log, sessions,
authentication, policies, grants, administration, rate limits, regulatory tasks, the source
databases that pushed records are written to, and the job queue (with its worker, in-process on
the embedded default)."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from accounts.admin import Admin
from accounts.auth import Authenticator
from accounts.passwords import PasswordPolicy
from accounts.tokens import TokenStore, token_store
from audit.keys import signer_for
from audit.log import AuditLog
from audit.query import AuditReader
from gateway.ratelimit import RateLimiter
from gateway.settings import Settings
from jobs.resources import Resources
from jobs.runtime import Jobs
from policies.grants import Grants
from policies.store import PolicyHolder
from sources.database import SourceDatabases, create_engine
from standard.workdays import WorkCalendar
from tasks.store import TaskStore


@dataclass(slots=True)
class Services:
    """Everything that needs the gateway database, with one lifetime."""

    settings: Settings
    engine: AsyncEngine
    audit: AuditLog
    tokens: TokenStore
    auth: Authenticator
    policies: PolicyHolder
    admin: Admin
    grants: Grants
    audit_reader: AuditReader
    limiter: RateLimiter
    source_databases: SourceDatabases
    calendar: WorkCalendar
    tasks: TaskStore
    jobs: Jobs
    _webhooks: httpx.AsyncClient | None = field(default=None, repr=False)

    @classmethod
    def create(cls, settings: Settings) -> Services:
        """Build them (no I/O yet: ``start`` loads the policy)."""
        engine = create_engine(settings.gateway_url)
        signer = signer_for(settings)  # the system's SM2 key: audit checkpoints, task receipts
        audit = AuditLog(engine, signer=signer, checkpoint_every=settings.audit_checkpoint_every)
        calendar = WorkCalendar.load(settings.holidays_file)
        tokens = token_store(engine, settings.redis_url)
        policies = PolicyHolder(engine, settings.redis_url)
        password_policy = PasswordPolicy(max_age_days=settings.password_max_age_days)
        return cls(
            settings=settings,
            engine=engine,
            audit=audit,
            tokens=tokens,
            auth=Authenticator(engine, tokens, settings, audit),
            policies=policies,
            admin=Admin(engine, audit, tokens, password_policy),
            grants=Grants(engine, audit, policies),
            audit_reader=AuditReader(engine),
            limiter=RateLimiter(settings.redis_url),
            source_databases=SourceDatabases(settings),
            calendar=calendar,
            tasks=TaskStore(engine, signer=signer, calendar=calendar),
            jobs=Jobs.for_database(settings.gateway_url),
        )

    def job_resources(self, http: httpx.AsyncClient) -> Resources:
        """What the jobs of a worker over these services reach; ``http`` sends the webhooks."""
        return Resources.over(self.engine, http, self.policies, self.calendar)

    async def start(self) -> None:
        """Load the policy and follow its changes; sign the audit head every minute; run the
        jobs here when the settings say so (the embedded default)."""
        await self.policies.start()
        self.audit.start_timer()  # close() stops it and signs once more
        if self.settings.jobs_in_process:
            self._webhooks = httpx.AsyncClient()
            await self.jobs.start(self.job_resources(self._webhooks))

    async def close(self) -> None:
        """Stop the jobs, flush the audit log and release every connection."""
        await self.jobs.close()  # first: a running delivery round still needs the database
        if self._webhooks is not None:
            await self._webhooks.aclose()
        await self.policies.stop()
        await self.audit.close()
        await self.tokens.close()
        await self.limiter.close()
        await self.source_databases.dispose()
        await self.engine.dispose()
