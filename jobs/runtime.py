"""Where jobs wait and who runs them.

Production (the gateway database on PostgreSQL): procrastinate's PostgreSQL connector, its
tables in the gateway database (``jianguan jobs setup``), and ``jianguan jobs worker``
processes; the serving processes only defer. The embedded default (SQLite): procrastinate's
in-memory connector and its worker inside the serving process (``jianguan serve``), since
nothing outside that process could share the queue. Either way the library keeps the
schedule (its periodic tasks): there is no scheduler of ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any, Literal

import psycopg
from procrastinate import App, BaseConnector, PsycopgConnector
from procrastinate.exceptions import ConnectorException
from procrastinate.testing import InMemoryConnector
from sqlalchemy.engine import make_url

from jobs.resources import Resources
from jobs.work import RESOURCES, defer_delivery, register
from standard.errors import Misconfigured

logger = logging.getLogger(__name__)
STOP_SECONDS = 10.0  # a stopping worker lets its running round finish this long
POLL_SECONDS = 1.0  # one small query a second per worker (procrastinate's default is 5 s)
DRAIN_PASSES = 20  # wait=False: passes until nothing due waits (tests, one-off runs)
POOL_SIZE = 6  # a worker's connections: one listening, one per running job, its defers


class JobsNotSetUp(Misconfigured):
    """The job queue's tables are not in the gateway database yet."""


class ProcessConnector(InMemoryConnector):
    """procrastinate's in-memory connector, for a serving process that runs for months.

    The library's own is made for tests: it keeps every query it ran and the events of every
    job, deleted ones too: 3.4 kB more each delivery round, about 60 MB a day at one round
    every 5 s (measured over 1,000 rounds); this one keeps neither (0.2 kB a round, a worker
    registered for each of those rounds included).
    """

    async def generic_execute(
        self, query: str, suffix: Literal["run", "one", "all"], **arguments: Any
    ) -> Any:
        return await getattr(self, f"{self.reverse_queries[query]}_{suffix}")(**arguments)

    async def finish_job_run(self, job_id: int, status: str, delete_job: bool) -> None:
        await super().finish_job_run(job_id, status, delete_job)
        if delete_job:
            self.events.pop(job_id, None)


def postgres_conninfo(url: str) -> str:
    """libpq's form of a SQLAlchemy PostgreSQL URL (``postgresql+asyncpg://…``)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class Jobs:
    """The job queue of one process: deferring, the schema, and (when asked) a worker."""

    def __init__(self, connector: BaseConnector) -> None:
        self.app = App(connector=connector)
        register(self.app)
        self.postgres = isinstance(connector, PsycopgConnector)
        self._opened = False
        self._worker: asyncio.Task[None] | None = None

    @classmethod
    def for_database(cls, gateway_url: str) -> Jobs:
        """PostgreSQL's queue beside a gateway database on PostgreSQL, else one in memory."""
        if make_url(gateway_url).get_backend_name() == "postgresql":
            return cls(
                PsycopgConnector(
                    conninfo=postgres_conninfo(gateway_url), min_size=1, max_size=POOL_SIZE
                )
            )
        return cls(ProcessConnector())

    async def open(self) -> None:
        if not self._opened:
            await self.app.open_async()
            self._opened = True

    async def close(self) -> None:
        await self.stop()
        if self._opened:
            await self.app.close_async()
            self._opened = False

    async def is_set_up(self) -> bool:
        """Whether the queue's tables are there (always, in memory)."""
        if not self.postgres:
            return True
        await self.open()
        row = await self.app.connector.execute_query_one_async(
            "SELECT to_regclass('procrastinate_jobs') IS NOT NULL AS present"
        )
        return bool(row["present"])

    async def require_set_up(self) -> None:
        if not await self.is_set_up():
            raise JobsNotSetUp(
                "任务队列的表尚未建立，请先运行 `jianguan jobs setup` / the job queue's tables"
                " are not in the gateway database: run `jianguan jobs setup` first"
            )

    async def setup(self) -> bool:
        """Create the queue's tables unless they are there; whether it did."""
        if await self.is_set_up():
            return False
        await self.app.schema_manager.apply_schema_async()
        return True

    async def deliver_soon(self) -> bool:
        """Ask for a delivery round now (after a change wrote events); False when one is
        already waiting, or the queue cannot be reached: the change is kept either way, and
        the periodic round delivers its events (a failed change would mislead the caller)."""
        try:
            await self.open()
            return await defer_delivery(self.app)
        except (ConnectorException, psycopg.OperationalError):  # the pool's timeouts among them
            logger.warning("job queue unreachable; events wait for the next periodic round")
            return False

    async def run_worker(
        self, resources: Resources, *, wait: bool = True, in_process: bool = False
    ) -> None:
        """Run jobs until cancelled (or, ``wait=False``, until none is left)."""
        await self.open()
        await self.require_set_up()
        for _ in range(DRAIN_PASSES):
            await self.app.run_worker_async(
                name="jianguan-in-process" if in_process else "jianguan",
                concurrency=3,  # the three jobs side by side; each one's lock keeps it single
                wait=wait,
                # in memory even a failed job is only kept until the process ends: drop it now
                delete_jobs="successful" if self.postgres else "always",
                additional_context={RESOURCES: resources},
                install_signal_handlers=not in_process,  # in-process, the server's handlers stop it
                shutdown_graceful_timeout=STOP_SECONDS,
                # a round deferred while one runs is held by the lock and announced by no
                # notification when it frees: the worker finds it by polling, so poll often
                fetch_job_polling_interval=POLL_SECONDS,
            )
            # procrastinate's worker without ``wait`` stops when it fetches nothing, and it does
            # not fetch a job whose lock a running job holds: a delivery deferred while another
            # ran would be left. Run again until nothing due is waiting.
            if wait or not await self._waiting():
                return

    async def _waiting(self) -> bool:
        """Whether a job is waiting that is due now (not one scheduled for later)."""
        now = datetime.now(UTC)
        todo = await self.app.job_manager.list_jobs_async(status="todo")
        return any(job.scheduled_at is None or job.scheduled_at <= now for job in todo)

    async def start(self, resources: Resources) -> None:
        """Run a worker in this process, in the background, until ``stop``."""
        await self.require_set_up()  # raised here, not lost in the background task
        self._worker = asyncio.create_task(
            self.run_worker(resources, in_process=True), name="jianguan jobs"
        )

    async def stop(self) -> None:
        worker, self._worker = self._worker, None
        if worker is None:
            return
        worker.cancel()  # procrastinate stops gracefully: the running round finishes
        with contextlib.suppress(asyncio.CancelledError):
            await worker
