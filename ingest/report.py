"""What one ingest run did, record by record where it matters: the summary and the JSON report."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import orjson

Status = Literal["inserted", "updated", "deleted", "unchanged", "rejected"]


@dataclass(frozen=True, slots=True)
class RecordError:
    """One problem with one record: where it is, which field, and why."""

    line: int
    cd_id: str | None
    field: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one record (kept for GraphQL payloads, not for big files)."""

    line: int
    cd_id: str | None
    status: Status
    late: bool = False
    errors: tuple[RecordError, ...] = ()


@dataclass(slots=True)
class IngestReport:
    """Counts and every error of one run; ``accepted`` records are stored or already were."""

    source: str
    table: str
    provider: str
    batch: str = ""
    file: str | None = None
    received: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    rejected: int = 0
    late: int = 0
    provisional: int = 0
    errors: list[RecordError] = field(default_factory=list)
    warnings: list[RecordError] = field(default_factory=list)
    late_records: list[tuple[int, str, int]] = field(default_factory=list)
    outcomes: list[Outcome] | None = None

    @property
    def accepted(self) -> int:
        """Records that are stored as sent after this run."""
        return self.inserted + self.updated + self.deleted + self.unchanged

    def counts(self) -> dict[str, int]:
        """The counts alone, as stored with the run."""
        return {
            "received": self.received,
            "accepted": self.accepted,
            "inserted": self.inserted,
            "updated": self.updated,
            "deleted": self.deleted,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "late": self.late,
            "provisional": self.provisional,
        }

    def to_dict(self) -> dict[str, Any]:
        """Everything, for ``--report FILE``."""
        return {
            "source": self.source,
            "table": self.table,
            "provider": self.provider,
            "batch": self.batch,
            "file": self.file,
            **self.counts(),
            "errors": [asdict(e) for e in self.errors],
            "warnings": [asdict(w) for w in self.warnings],
            "late_records": [
                {"line": line, "cd_id": cd_id, "working_days": days}
                for line, cd_id, days in self.late_records
            ],
        }

    def to_json(self) -> bytes:
        """The report as indented UTF-8 JSON (Chinese kept readable)."""
        return orjson.dumps(self.to_dict(), option=orjson.OPT_INDENT_2)
