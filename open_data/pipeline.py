"""One release of one dataset, stage by stage: extract → desensitise → check → write → publish.

    release = await prepare(spec, sources=..., key=..., work=...)   # written and checked
    release.target = choose("dir:var/open-data", settings).open(titles)
    await publish(release)                                          # release.outcome

Every stage is ``async def stage(release: Release) -> Release`` (``open_data.release``), and
these are the functions the tests call. The rows go through the stages in one pass over the
source, a source page at a time: ``extract``, ``desensitise`` and ``check`` wrap the stream,
``write`` drains it. Nothing leaves ``write`` unless the spec is complete, k-anonymity holds
(small classes suppressed or the release refused, as the spec says) and the residual-PII scan
of the final files found nothing. The manifest records what was done and is published with
the data.

Fused for speed, and kept so: ``write`` writes each row as it comes and, once ``check``'s
gate has decided at the end of the stream, filters the small classes' rows out of the files,
rather than holding the rows or reading the source twice; and it runs the residual-PII scan
of the files while a thread hashes them. The stages hand each other a source page of rows
(5,000) at a time, not a row, so composing them costs next to nothing: inspection-results at
100,000 rows (``python -m benchmarks.publish --sizes 100000 --baseline-rows 0``, two runs
each) prepared in 8.4 s and 9.0 s in the one fused loop this replaces, 8.6 s and 8.4 s as
stages; peak RSS 200 MiB before, 203 MiB after (a page of published rows in flight).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from open_data.check import check
from open_data.desensitise import desensitise
from open_data.extract import extract
from open_data.files import write
from open_data.release import MANIFEST, METADATA, Release, Stage
from open_data.spec import DatasetSpec, check_spec
from open_data.targets import publish
from policies.access import RequestSources
from sources.base import Page, PageRequest

__all__ = ["MANIFEST", "METADATA", "PREPARE", "STAGES", "Release", "prepare", "publish"]

PREPARE: tuple[tuple[str, Stage], ...] = (
    ("extract", extract),
    ("desensitise", desensitise),
    ("check", check),
    ("write", write),
)
STAGES = (*(name for name, _ in PREPARE), "publish")


class ScopedReader:
    """The request sources as the connector ``extract`` reads: one source, the dataset's scope."""

    def __init__(self, sources: RequestSources, source: str) -> None:
        self.sources = sources
        self.source = source

    async def page(self, table: str, request: PageRequest) -> Page:
        return await self.sources.page(self.source, table, request)


def _quiet(stage: str) -> None:
    return None


async def prepare(
    spec: DatasetSpec,
    *,
    sources: RequestSources,
    key: bytes,
    work: Path,
    stage: Callable[[str], None] = _quiet,
) -> Release:
    """Extract, desensitise, check and write ``spec`` into ``work/<name>``; ``ReleaseRefused``
    if not. ``stage`` hears the name of each stage as it is composed, and ``write`` as the
    rows begin to flow (for progress bars).

    Memory holds the k-anonymity classes (and each row's class number, 4 bytes), an
    aggregate's cells, the source's personal values (as hashes) and a page of rows, not the
    rows."""
    check_spec(spec)
    folder = work / spec.name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    reader = spec.reader(sources) if spec.reader else ScopedReader(sources, spec.source)
    release = Release(spec, folder, key=key, reader=reader, approvals=list(sources.scope.grants))
    try:
        for name, run in PREPARE:
            stage(name)
            release = await run(release)
        return release
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # nothing half-made stays behind
        raise
