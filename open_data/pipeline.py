"""One release of one dataset, stage by stage: extract → desensitise → check → publish.

    release = await prepare(spec, reader=..., key=..., work=...)   # files + manifest, checked
    publish_dir(release, root)                                     # or to CKAN (ckan.py)

Nothing leaves ``prepare`` unless the spec is complete, k-anonymity holds (small classes
suppressed or the release refused, as the spec says) and the residual-PII scan of the final
files found nothing. The manifest records what was done and is published with the data.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from gateway.sources import RequestSources
from open_data.check import KAnonymity, check_release, personal_values_in
from open_data.desensitise import Row, cell_of, cells, desensitiser
from open_data.errors import ReleaseRefused
from open_data.extract import extract
from open_data.files import FILES, DataFiles, Written, to_scan
from open_data.pii import PersonalValues
from open_data.spec import RECORD_ID, DatasetSpec, check_spec, label, table_columns
from resolvers.connectors.base import Page, PageRequest

RECORD_NOTES = "由数据提供部门与交换主键经密钥散列生成，各版本不变，不能还原为原记录号。"
MANIFEST = "manifest.json"
# Timed in Release.seconds. desensitise includes counting k-anonymity classes; write, the
# rows written as they come and filtered once the gate has decided; check, the scan (the files
# are hashed meanwhile).
STAGES = ("extract", "desensitise", "write", "check")
METADATA = "metadata.json"


@dataclass(slots=True)
class Release:
    """A checked release in its staging folder."""

    spec: DatasetSpec
    folder: Path
    files: list[Written]
    manifest: dict[str, Any]
    providers: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # per stage, for benchmarks

    @property
    def empty(self) -> bool:
        """No approved records at all: the dataset must not be (or stay) on the portal."""
        return not self.providers and not self.spec.public_by_rule


class ScopedReader:
    """The request sources as the connector ``extract`` reads: one source, the dataset's scope."""

    def __init__(self, sources: RequestSources, source: str) -> None:
        self.sources = sources
        self.source = source

    async def page(self, table: str, request: PageRequest) -> Page:
        return await self.sources.page(self.source, table, request)


def _spec_version(spec: DatasetSpec) -> str:
    rules = [(c.source, type(c.rule).__name__, repr(c.rule)) for c in spec.columns]
    text = orjson.dumps([spec.name, spec.table, repr(spec.where), rules, spec.quasi, spec.k])
    return hashlib.sha256(text).hexdigest()[:16]


def _quiet(stage: str) -> None:
    return None


@dataclass(slots=True)
class Tally:
    """What one pass over the source saw, and where the time went (seconds per stage)."""

    rows_in: int = 0
    excluded: int = 0
    providers: set[str] = field(default_factory=set)
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))


async def prepare(
    spec: DatasetSpec,
    *,
    sources: RequestSources,
    key: bytes,
    work: Path,
    stage: Callable[[str], None] = _quiet,
) -> Release:
    """Extract, desensitise and check ``spec`` into ``work/<name>``; ``ReleaseRefused`` if not.
    ``stage`` hears the name of each stage as it starts (for progress bars).

    Streamed, in one pass over the source: each row is desensitised and written to the files
    as it comes; the rows of k-anonymity classes found too small at the end are then filtered
    out of the files. Memory holds the classes (and each row's class number, 4 bytes), an
    aggregate's cells and the source's personal values (as hashes), not the rows."""
    check_spec(spec)
    folder = work / spec.name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    try:
        return await _prepare(spec, sources, key, folder, stage)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # nothing half-made stays behind
        raise


async def _prepare(
    spec: DatasetSpec,
    sources: RequestSources,
    key: bytes,
    folder: Path,
    stage: Callable[[str], None],
) -> Release:
    gated = spec.aggregate is None and bool(spec.quasi) and not spec.public_by_rule
    gate = (
        KAnonymity(dataset=spec.name, quasi=spec.quasi, k=spec.k, on_small=spec.on_small)
        if gated
        else None
    )
    personal = PersonalValues()
    tally = Tally()
    stage("extract")
    with DataFiles(folder, spec.output_columns) as files:
        counts, classes = await _first_pass(spec, sources, key, tally, personal, gate, files)
        suppressed, k_reached = 0, None
        stage("k-anonymity")
        started = time.perf_counter()
        if spec.aggregate is not None:
            suppressed = _write_cells(spec, cells(spec, counts, key=key), files)
        elif gate is not None:
            report = gate.decide()
            suppressed, k_reached = report.suppressed_rows, report.k_reached
            if suppressed:
                small = {n for n, class_key in enumerate(classes) if not gate.kept(class_key)}
                files.keep_only(lambda row: classes.number[row] not in small)
        scanned = files.finish()
        tally.seconds["write"] += time.perf_counter() - started
        stage("check")
        started = time.perf_counter()
        # The files are hashed in a thread while the scan reads them: hashing lets the scan run.
        with ThreadPoolExecutor(1) as hasher:
            hashing = hasher.submit(lambda: _proved(files.hashed()))
            check_release(
                scanned, dataset=spec.name, personal_values=personal, twins={"json": "csv"}
            )
            written = hashing.result()
        tally.seconds["check"] = time.perf_counter() - started
    providers = sorted(tally.providers)
    rows_out = written[0].rows
    manifest = {
        "dataset": spec.name,
        "spec_version": _spec_version(spec),
        "made_at": datetime.now(UTC).isoformat(),
        "source": f"{spec.source}.{spec.table}",
        "providers": providers,
        "approvals": list(sources.scope.grants),
        "rules": {c.source: type(c.rule).__name__.lower() for c in spec.columns},
        "rows_in": tally.rows_in,
        "rows_excluded": tally.excluded,
        "rows_suppressed": suppressed,
        "rows_out": rows_out,
        "k": spec.k,
        "k_reached": k_reached,
        "quasi_identifiers": list(spec.quasi),
        "files": {
            FILES[w.kind][0]: {"rows": w.rows, "sha256": w.sha256, "sm3": w.sm3} for w in written
        },
    }
    (folder / MANIFEST).write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    (folder / METADATA).write_bytes(
        orjson.dumps(metadata(spec, providers), option=orjson.OPT_INDENT_2)
    )
    return Release(spec, folder, written, manifest, providers, tally.seconds)


def _proved(written: list[Written]) -> list[Written]:
    """The files, once their hashes show the CSV for Excel is the scanned CSV after a BOM."""
    to_scan(written)  # raises ValueError if not
    return written


class Classes:
    """Each row's k-anonymity class, as a number (an array: 4 bytes a row, not a tuple), and
    the classes in the order first seen."""

    def __init__(self) -> None:
        self.number = array("I")
        self._numbers: dict[tuple[Any, ...], int] = {}

    def add(self, class_key: tuple[Any, ...]) -> None:
        self.number.append(self._numbers.setdefault(class_key, len(self._numbers)))

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self._numbers)


async def _first_pass(
    spec: DatasetSpec,
    sources: RequestSources,
    key: bytes,
    tally: Tally,
    personal: PersonalValues,
    gate: KAnonymity | None,
    files: DataFiles,
) -> tuple[Counter[tuple[Any, ...]], Classes]:
    """Read the source once: remember its personal values, desensitise, and either count an
    aggregate's cells or write the row to the files, counting its k-anonymity class. Returns
    the cells' counts and the rows' classes."""
    one = desensitiser(spec, key=key)
    clock = time.perf_counter
    seconds = tally.seconds
    counts: Counter[tuple[Any, ...]] = Counter()
    classes = Classes()
    personal_values = personal_values_in(spec.table)
    waited = clock()
    reader = spec.reader(sources) if spec.reader else ScopedReader(sources, spec.source)
    async for row in extract(spec, reader):
        began = clock()
        seconds["extract"] += began - waited
        tally.rows_in += 1
        tally.providers.add(str(row["provider"]))
        personal.update(personal_values(row))
        out = one(row)
        if out is None:
            tally.excluded += 1
        elif spec.aggregate is not None:
            counts[cell_of(spec, out)] += 1
        else:
            if gate is not None:
                classes.add(gate.count(out))
            desensitised = clock()
            seconds["desensitise"] += desensitised - began
            files.add(out)
            waited = clock()
            seconds["write"] += waited - desensitised
            continue
        waited = clock()
        seconds["desensitise"] += waited - began
    return counts, classes


def _write_cells(spec: DatasetSpec, found: Iterable[Row], files: DataFiles) -> int:
    """Write an aggregate's cells of k or more; the rows in smaller ones (refused instead,
    when every cell is small and the spec says so)."""
    assert spec.aggregate is not None  # noqa: S101  # callers check
    count, suppressed, seen = spec.aggregate.count_as, 0, 0
    for row in found:
        seen += 1
        if row[count] >= spec.k:
            files.add(row)
        else:
            suppressed += row[count]
    if seen and not files.rows and spec.on_small == "refuse":
        raise ReleaseRefused(spec.name, f"every cell counts fewer than {spec.k}")
    return suppressed


def metadata(spec: DatasetSpec, providers: list[str]) -> dict[str, Any]:
    """What a portal shows about the dataset: titles, tags, licence and the data dictionary."""
    known = table_columns(spec.source, spec.table)
    by_source = {c.source: c for c in spec.columns}
    dictionary = []
    for name in spec.output_columns:
        column = by_source.get(name)
        if column is not None:
            dictionary.append({"id": name, "label": label(spec, column), "notes": column.notes})
        elif spec.aggregate is not None and name == spec.aggregate.count_as:
            dictionary.append({"id": name, "label": spec.aggregate.count_label, "notes": ""})
        elif name == RECORD_ID:
            dictionary.append({"id": name, "label": "记录标识", "notes": RECORD_NOTES})
        else:  # pragma: no cover  # every published column has a rule (check_spec)
            dictionary.append({"id": name, "label": str(known[name].info.get("zh", name))})
    return {
        "name": spec.name,
        "title": spec.title,
        "notes": spec.description,
        "license_id": spec.licence,
        "frequency": spec.frequency,
        "tags": list(spec.tags),
        "providers": providers,
        "fields": dictionary,
        "resources": [{"file": name, "format": fmt} for name, _, fmt in FILES.values()],
    }


def publish_dir(release: Release, root: Path) -> str:
    """Put the release under ``root/<name>`` in one rename; take it down when it is empty.

    Returns what happened: ``published``, ``unchanged`` (same file hashes) or ``withdrawn``.
    """
    target = root / release.spec.name
    if release.empty:
        if target.exists():
            shutil.rmtree(target)
            return "withdrawn"
        return "unchanged"
    previous = target / MANIFEST
    if previous.exists():
        before = orjson.loads(previous.read_bytes())
        if (
            before.get("files") == release.manifest["files"]
            and before.get("spec_version") == release.manifest["spec_version"]
        ):
            return "unchanged"
    root.mkdir(parents=True, exist_ok=True)
    staged = root / f".{release.spec.name}.new"
    if staged.exists():
        shutil.rmtree(staged)
    shutil.copytree(release.folder, staged)
    old = root / f".{release.spec.name}.old"
    if old.exists():
        shutil.rmtree(old)
    if target.exists():
        target.rename(old)
    staged.rename(target)  # readers see the old release or the new one, never half of one
    if old.exists():
        shutil.rmtree(old)
    return "published"
