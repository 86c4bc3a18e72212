"""The release in the making, handed from stage to stage, and the one signature of a stage.

    extract → desensitise → check → write → publish

Each stage is ``async def stage(release: Release) -> Release``. The first three wrap the
release's stream of rows (``batches``: lists of rows, a source page at a time) and return at
once; ``write`` drains the stream into the files, so the rows flow through every stage in one
pass over the source, and ``publish`` hands the written release to its target. A stage times
its own work in ``seconds`` (the time spent waiting for the stage before it is not its own).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from open_data.pii import PersonalValues
from open_data.spec import DatasetSpec, Pages

Row = dict[str, Any]
Batches = AsyncIterator[list[Row]]
# Timed in Release.seconds. extract includes noting the source's personal values for the
# scan; check, counting k-anonymity classes and the residual-PII scan of the written files
# (which are hashed meanwhile); write, the rows written as they come and filtered once the
# gate has decided.
TIMED = ("extract", "desensitise", "check", "write")  # publish adds its own when it runs
MANIFEST = "manifest.json"
METADATA = "metadata.json"


async def _nothing() -> Batches:
    return
    yield  # an async generator of no batches


@dataclass(frozen=True, slots=True)
class KReport:
    """What the k-anonymity gate did, counted in its first pass."""

    dataset: str
    quasi: tuple[str, ...]
    k: int
    rows_in: int
    rows_out: int
    classes: int  # equivalence classes kept
    suppressed_rows: int
    suppressed_classes: int
    k_reached: int | None  # the smallest class kept; None when nothing is kept


@dataclass(frozen=True, slots=True)
class Written:
    """One file of the release."""

    kind: str
    path: Path
    rows: int
    sha256: str
    sm3: str


@dataclass(slots=True, eq=False)
class Release:
    """One release of one dataset, as the stages make it; after ``write``, a checked release
    in its staging folder (``files``, ``manifest``)."""

    spec: DatasetSpec
    folder: Path
    files: list[Written] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=dict)
    providers: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(TIMED, 0.0))
    # What the stages are given.
    key: bytes = b""
    reader: Pages | None = None
    approvals: list[int] = field(default_factory=list)  # the grants in the scope
    target: Target | None = None  # None: prepare and check only (a dry run)
    # What the stages hand on.
    batches: Batches = field(default_factory=_nothing)
    personal: PersonalValues = field(default_factory=PersonalValues)
    seen: set[str] = field(default_factory=set)  # providers of the source rows
    rows_in: int = 0
    excluded: int = 0
    suppressed: int = 0
    k_report: KReport | None = None
    kept: Callable[[int], bool] | None = None  # which written rows stay, once check decided
    outcome: str = ""  # what publish did

    @property
    def empty(self) -> bool:
        """No approved records at all: the dataset must not be (or stay) on the portal."""
        return not self.providers and not self.spec.public_by_rule

    @property
    def k_reached(self) -> int | None:
        return None if self.k_report is None else self.k_report.k_reached

    @classmethod
    def of_rows(
        cls, spec: DatasetSpec, rows: Iterable[Row], *, key: bytes = b"", folder: Path = Path()
    ) -> Release:
        """A release whose stream is ``rows`` (one batch), to run stages after ``extract`` on."""
        batch = list(rows)

        async def batches() -> Batches:
            yield batch

        return cls(spec, folder, key=key, batches=batches())


class Stage(Protocol):
    """extract, desensitise, check, write, publish."""

    async def __call__(self, release: Release, /) -> Release: ...


class Target(Protocol):
    """Where releases are published (``open_data.targets``): a directory, a CKAN portal."""

    def publish(self, release: Release) -> object:
        """Publish (or withdraw) ``release``; what happened, shown as ``str()``."""
        ...


async def rows_of(release: Release) -> list[Row]:
    """Drain the release's stream (what a stage after it would see)."""
    return [row async for batch in release.batches for row in batch]


clock = time.perf_counter
