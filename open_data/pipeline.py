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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from gateway.sources import RequestSources
from open_data.check import check_release, k_anonymise, personal_values_of
from open_data.desensitise import desensitise
from open_data.errors import ReleaseRefused
from open_data.extract import extract
from open_data.files import FILES, Written, write_files
from open_data.spec import DatasetSpec, check_spec, label, table_columns
from resolvers.connectors.base import Page, PageRequest

MANIFEST = "manifest.json"
METADATA = "metadata.json"


@dataclass(slots=True)
class Release:
    """A checked release in its staging folder."""

    spec: DatasetSpec
    folder: Path
    files: list[Written]
    manifest: dict[str, Any]
    providers: list[str] = field(default_factory=list)

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


async def prepare(
    spec: DatasetSpec,
    *,
    sources: RequestSources,
    key: bytes,
    work: Path,
    stage: Callable[[str], None] = _quiet,
) -> Release:
    """Extract, desensitise and check ``spec`` into ``work/<name>``; ``ReleaseRefused`` if not.
    ``stage`` hears the name of each stage as it starts (for progress bars)."""
    check_spec(spec)
    stage("extract")
    reader = ScopedReader(sources, spec.source)
    raw = [row async for row in extract(spec, reader)]
    providers = sorted({str(row["provider"]) for row in raw})
    personal = set(personal_values_of(raw, table=spec.table))
    stage("desensitise")
    rows = list(desensitise(spec, raw, key=key))
    excluded = sum(1 for row in raw if spec.exclude is not None and spec.exclude(row))
    suppressed, k_reached = 0, None
    stage("k-anonymity")
    if spec.aggregate is not None:
        count = spec.aggregate.count_as
        kept = [row for row in rows if row[count] >= spec.k]
        suppressed = sum(row[count] for row in rows if row[count] < spec.k)
        if not kept and rows and spec.on_small == "refuse":
            raise ReleaseRefused(spec.name, f"every cell counts fewer than {spec.k}")
        rows = kept
    elif spec.quasi and not spec.public_by_rule:
        source = rows
        anonymised = k_anonymise(
            lambda: source, dataset=spec.name, quasi=spec.quasi, k=spec.k, on_small=spec.on_small
        )
        rows = list(anonymised.rows())
        suppressed = len(source) - len(rows)
        k_reached = anonymised.report.k_reached
    folder = work / spec.name
    if folder.exists():
        shutil.rmtree(folder)
    columns = [c.source for c in spec.published]
    if spec.aggregate is not None:
        columns = [*spec.aggregate.by, spec.aggregate.count_as]
    written = write_files(folder, columns, rows)
    stage("check")
    check_release(
        {kind: w.path for kind, w in ((w.kind, w) for w in written)},
        dataset=spec.name,
        personal_values=personal,
    )
    manifest = {
        "dataset": spec.name,
        "spec_version": _spec_version(spec),
        "made_at": datetime.now(UTC).isoformat(),
        "source": f"{spec.source}.{spec.table}",
        "providers": providers,
        "approvals": list(sources.scope.grants),
        "rules": {c.source: type(c.rule).__name__.lower() for c in spec.columns},
        "rows_in": len(raw),
        "rows_excluded": excluded,
        "rows_suppressed": suppressed,
        "rows_out": len(rows),
        "k": spec.k,
        "k_reached": k_reached,
        "quasi_identifiers": list(spec.quasi),
        "files": {
            FILES[w.kind][0]: {"rows": w.rows, "sha256": w.sha256, "sm3": w.sm3} for w in written
        },
    }
    (folder / MANIFEST).write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    (folder / METADATA).write_bytes(
        orjson.dumps(metadata(spec, columns, providers), option=orjson.OPT_INDENT_2)
    )
    return Release(spec, folder, written, manifest, providers)


def metadata(spec: DatasetSpec, columns: list[str], providers: list[str]) -> dict[str, Any]:
    """What a portal shows about the dataset: titles, tags, licence and the data dictionary."""
    known = table_columns(spec.source, spec.table)
    by_source = {c.source: c for c in spec.columns}
    dictionary = []
    for name in columns:
        column = by_source.get(name)
        if column is not None:
            dictionary.append({"id": name, "label": label(spec, column), "notes": column.notes})
        elif spec.aggregate is not None and name == spec.aggregate.count_as:
            dictionary.append({"id": name, "label": spec.aggregate.count_label, "notes": ""})
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
