"""Ingest: validate records and store them in batches, idempotent on (provider, ``cd_id``).

Each batch is written in one transaction, so a crash leaves every record either fully stored
or not at all; a record identical to the stored one is not written again, so re-running a file
gives the same end state.
"""

from __future__ import annotations

import asyncio
import gc
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from ingest.catalogue import Catalogue
from ingest.digest import content_hash, hashed_columns
from ingest.readers import Format, RawRecord, Unreadable, detect_format, read_records
from ingest.report import IngestReport, Outcome, RecordError, Status
from ingest.store import Store
from ingest.validate import Checked, RecordValidator
from standard.codes import checks
from standard.divisions import official_divisions
from standard.errors import InputError
from standard.exchange import ExchangeRecord
from standard.tables.supervision import Matter
from standard.workdays import SHANGHAI, WorkCalendar

YIELD_EVERY = 100
Pending = tuple[int, Checked, dict[str, Any] | None, Any]
"""A valid record waiting for its batch: line, checked values, full row, COPY encoding."""
PROVIDER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{1,63}")


def matter_columns(core: Table) -> tuple[str, ...]:
    """The columns of ``core`` naming a catalogue matter (R1), the catalogue's own excepted."""
    if core.name == Matter.__tablename__:
        return ()
    return tuple(c.key for c in core.columns if c.info.get("check") == "matter_code")


class IngestError(InputError):
    """The run as a whole cannot start (unknown provider format, unreadable file)."""


class IngestSettings(Protocol):
    """The settings ingest reads (the gateway's ``Settings`` has them): read at the entry
    point, passed down."""

    @property
    def ingest_batch_size(self) -> int: ...
    @property
    def late_after_working_days(self) -> int: ...
    @property
    def uscc_legacy(self) -> Literal["reject", "warn"]: ...
    @property
    def province_code(self) -> str: ...


@dataclass(frozen=True, slots=True)
class IngestOptions:
    """What one run needs besides its records."""

    provider: str
    received_at: datetime
    calendar: WorkCalendar
    settings: IngestSettings
    system: str = "exchange"
    file_name: str | None = None
    keep_outcomes: bool = False
    matters: AsyncEngine | None = None
    """The database holding the matter catalogue (supervision's), for records of other sources
    that name a matter; the supervision tables read it from the database ingested into."""


async def ingest_file(
    engine: AsyncEngine,
    path: Path,
    *,
    table: type[ExchangeRecord],
    options: IngestOptions,
    fmt: Format | None = None,
    encoding: str = "utf-8",
) -> IngestReport:
    """Ingest an NDJSON or CSV file (the encoding is checked before anything is stored)."""
    records = read_records(path, fmt=fmt or detect_format(path), encoding=encoding)
    first = next(records, None)  # reading starts with the encoding check of the whole file
    stream = records if first is None else _chain(first, records)
    with _fewer_collections():
        return await ingest_records(engine, stream, table=table, options=options)


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Collect garbage less often while a file streams through.

    A batch keeps thousands of rows alive, and the default thresholds rescan them every few
    hundred allocations: a third of the time of a large file went to the collector.
    """
    before = gc.get_threshold()
    gc.set_threshold(50_000, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _chain(first: RawRecord, rest: Iterable[RawRecord]) -> Iterable[RawRecord]:
    yield first
    yield from rest


async def ingest_records(
    engine: AsyncEngine,
    records: Iterable[RawRecord],
    *,
    table: type[ExchangeRecord],
    options: IngestOptions,
) -> IngestReport:
    """Validate and store ``records`` of ``table`` pushed by ``options.provider``."""
    if not PROVIDER.fullmatch(options.provider):
        raise IngestError(
            f"provider code {options.provider!r} must be 2-64 letters, digits, '.', '_' or '-'"
        )
    core: Table = table.__table__  # type: ignore[attr-defined]
    run = _Run(engine, core, table, options)
    await run.open()
    batch_size = options.settings.ingest_batch_size
    pending: list[Pending] = []
    # One batch is written while the next is validated: PostgreSQL works on the other core.
    # Rows are completed (and encoded for COPY) here, so the writer only talks to the database.
    writing: asyncio.Task[None] | None = None
    try:
        for line, raw in records:
            run.report.received += 1
            if isinstance(raw, Unreadable):
                run.reject(line, None, [(None, raw.reason)])
                continue
            checked = run.validator.validate(raw)
            run.check_catalogue(checked)
            if checked.problems:
                run.reject(line, checked.cd_id, checked.problems)
                continue
            for name, reason in checked.warnings:
                run.report.warnings.append(RecordError(line, checked.cd_id, name, reason))
            if checked.operation == "d":
                pending.append((line, checked, None, None))
            else:
                row = run.row(checked)
                conflict = run.conflict(line, checked.cd_id, row["content_hash"])
                if conflict is not None:
                    run.reject(line, checked.cd_id, [("cd_id", conflict)])
                    continue
                pending.append((line, checked, row, run.store.prepare(row)))
            if len(pending) % YIELD_EVERY == 0:
                await asyncio.sleep(0)  # let the batch being written make progress
            if len(pending) >= batch_size:
                if writing is not None:
                    await writing
                writing = asyncio.create_task(run.write(pending))
                pending = []
    finally:
        # A batch already handed over is finished even when reading fails: whole or nothing.
        if writing is not None:
            await writing
    if pending:
        await run.write(pending)
    await run.close()
    return run.report


class _Run:
    """The state of one ingest run: its batch number, validator, catalogue and report."""

    def __init__(
        self,
        engine: AsyncEngine,
        core: Table,
        table: type[ExchangeRecord],
        options: IngestOptions,
    ) -> None:
        self.engine = engine
        self.core = core
        self.options = options
        settings = options.settings
        self.validator = RecordValidator(
            table,
            provider=options.provider,
            checks=checks(
                uscc_legacy=settings.uscc_legacy,
                today=options.received_at.astimezone(SHANGHAI).date(),
                divisions=official_divisions(settings.province_code).check,
            ),
            received_at=options.received_at,
        )
        self.report = IngestReport(
            source=str(core.metadata.info.get("source", "")),
            table=core.name,
            provider=options.provider,
            file=options.file_name,
            outcomes=[] if options.keep_outcomes else None,
        )
        self.matter_columns = matter_columns(core)
        self.catalogue: Catalogue | None = None
        self.hashed = hashed_columns(core)
        self.cd_source = f"{settings.province_code}|{options.provider}"
        self.runs: Table = core.metadata.tables["ingest_runs"]
        self.run_id: int | None = None
        self.store = Store(core, options.provider, engine.dialect.name)
        # cd_id -> (line, digest) of the first i/u version in this run: a run carries one version
        # of a record, whatever batch its lines fall in (about 150 bytes a record: 15 MB for
        # the benchmark's 100,000).
        self.versions: dict[str, tuple[int, str]] = {}

    async def open(self) -> None:
        """Number this run's batch: the day (Beijing time) and the next sequence number."""
        day = self.options.received_at.astimezone(SHANGHAI).strftime("%Y%m%d")
        if self.matter_columns:
            matters = self.options.matters
            if matters is None and self.report.source != "supervision":
                raise TypeError(f"{self.core.name} names matters: pass IngestOptions.matters")
            async with (matters or self.engine).connect() as connection:
                self.catalogue = await Catalogue.load(connection)
        for _attempt in range(5):
            async with self.engine.begin() as connection:
                last = await connection.scalar(
                    select(func.max(self.runs.c.batch)).where(
                        self.runs.c.provider == self.options.provider,
                        self.runs.c.batch.like(f"{day}%"),
                    )
                )
                sequence = int(last[8:]) + 1 if last else 1
                batch = f"{day}{sequence:05d}"
                try:
                    self.run_id = await connection.scalar(
                        insert(self.runs)
                        .values(
                            provider=self.options.provider,
                            table_name=self.core.name,
                            batch=batch,
                            file_name=self.options.file_name,
                            started_at=self.options.received_at,
                        )
                        .returning(self.runs.c.id)
                    )
                except IntegrityError:
                    continue  # another run took this number at the same moment
            self.report.batch = batch
            return
        raise IngestError("could not number the ingest batch; too many concurrent runs")

    async def close(self) -> None:
        """Store the run's counts."""
        async with self.engine.begin() as connection:
            await connection.execute(
                update(self.runs)
                .where(self.runs.c.id == self.run_id)
                .values(
                    finished_at=datetime.now(self.options.received_at.tzinfo),
                    counts=self.report.counts(),
                )
            )

    def check_catalogue(self, checked: Checked) -> None:
        """R1: reject a record naming a matter that is not active in the catalogue that day."""
        if self.catalogue is None or checked.problems or checked.operation == "d":
            return
        values = checked.values
        on = values["produced_at"].astimezone(SHANGHAI).date()
        for name in self.matter_columns:
            named = values.get(name)
            for code in named if isinstance(named, list) else () if named is None else (named,):
                problem = self.catalogue.problem(code, on)
                if problem is not None:
                    checked.problems.append((name, problem))

    def conflict(self, line: int, cd_id: str | None, digest: str) -> str | None:
        """Why this version of ``cd_id`` cannot be taken, when an earlier line sent another.

        Neither version is chosen silently: the first one stays (it may already be written, in
        an earlier batch), this one is refused with both lines named.
        """
        assert cd_id is not None  # noqa: S101  # required field, checked by the validator
        first = self.versions.setdefault(cd_id, (line, digest))
        if first[1] == digest:
            return None
        return (
            f"cd_id {cd_id!r} is also on line {first[0]} of this push, with different content: "
            f"line {first[0]} was taken and line {line} refused; send one version of a record "
            "per push (a later change as cd_operation u in a later push)"
        )

    def reject(self, line: int, cd_id: str | None, problems: list[tuple[str | None, str]]) -> None:
        """Count a rejected record and keep every one of its problems."""
        errors = tuple(RecordError(line, cd_id, name, reason) for name, reason in problems)
        self.report.rejected += 1
        self.report.errors.extend(errors)
        self._outcome(line, cd_id, "rejected", errors=errors)

    def _outcome(
        self,
        line: int,
        cd_id: str | None,
        status: Status,
        *,
        late: bool = False,
        errors: tuple[RecordError, ...] = (),
    ) -> None:
        if self.report.outcomes is not None:
            self.report.outcomes.append(Outcome(line, cd_id, status, late, errors))

    def row(self, checked: Checked) -> dict[str, Any]:
        """The full row to store for a valid i/u record: defaults, lateness, digest."""
        options = self.options
        row = dict(checked.values)
        row["provider"] = options.provider
        row["source_system"] = options.system
        row["cd_operation"] = checked.operation
        row["cd_batch"] = row.get("cd_batch") or self.report.batch
        row["cd_source"] = row.get("cd_source") or self.cd_source
        row["cd_time"] = row.get("cd_time") or options.received_at
        row["received_at"] = options.received_at
        late, delay = options.calendar.is_late(
            row["produced_at"],
            options.received_at,
            limit=options.settings.late_after_working_days,
        )
        row["delay_working_days"] = delay.working_days
        row["delay_provisional"] = delay.provisional
        row["late"] = late
        row["content_hash"] = content_hash(row, self.hashed)
        return row

    async def write(self, pending: list[Pending]) -> None:
        """Classify a batch against what is stored, then write it in one transaction."""
        ids = list({checked.cd_id for _, checked, _, _ in pending if checked.cd_id is not None})
        async with self.engine.begin() as connection:
            state = await self.store.state(connection, ids)
            writes: dict[str, tuple[dict[str, Any], Any]] = {}
            deletes: dict[str, dict[str, Any]] = {}
            outcomes: list[tuple[int, str, Status, bool]] = []
            for line, checked, row, prepared in pending:
                cd_id = checked.cd_id
                assert cd_id is not None  # noqa: S101  # required field, checked by the validator
                known = state.get(cd_id)
                if checked.operation == "d":
                    if known is None:
                        self.reject(line, cd_id, [("cd_id", "no stored record to delete")])
                        continue
                    if known[1] == "d":
                        outcomes.append((line, cd_id, "unchanged", False))
                        continue
                    if cd_id in writes:  # stored earlier in this batch: write it deleted
                        written = writes[cd_id][0]
                        written.update(self._delete_values(checked, prefix=False))
                        writes[cd_id] = (written, None)
                    else:
                        target = deletes.setdefault(cd_id, {"b_cd_id": cd_id})
                        target.update(self._delete_values(checked, prefix=True))
                    state[cd_id] = (known[0], "d")
                    outcomes.append((line, cd_id, "deleted", False))
                    continue
                assert row is not None  # noqa: S101  # completed for every i/u record
                status: Status
                if known is None:
                    status = "inserted"
                elif known[1] != "d" and known[0] == row["content_hash"]:
                    outcomes.append((line, cd_id, "unchanged", False))
                    continue
                else:
                    status = "updated"
                writes[cd_id] = (row, prepared)
                deletes.pop(cd_id, None)
                state[cd_id] = (row["content_hash"], row["cd_operation"])
                outcomes.append((line, cd_id, status, row["late"]))
                if row["late"]:
                    self.report.late_records.append((line, cd_id, row["delay_working_days"]))
                if row["delay_provisional"]:
                    self.report.provisional += 1
            await self.store.upsert(connection, list(writes.values()))
            await self.store.delete(connection, list(deletes.values()))
        # counted only once the transaction has committed
        for line, cd_id, status, late in outcomes:
            setattr(self.report, status, getattr(self.report, status) + 1)
            self.report.late += late
            self._outcome(line, cd_id, status, late=late)

    def _delete_values(self, checked: Checked, *, prefix: bool) -> dict[str, Any]:
        values = {
            "cd_operation": "d",
            "cd_batch": checked.values.get("cd_batch") or self.report.batch,
            "cd_time": checked.values.get("cd_time") or self.options.received_at,
        }
        return {f"b_{k}": v for k, v in values.items()} if prefix else values
