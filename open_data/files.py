"""Write, the fourth stage: the files of a release (CSV in UTF-8, CSV with a BOM for Excel users,
JSON), the manifest and the metadata, in its staging folder.

The rows are written as they come; once the stream has ended (and with it the k-anonymity
gate's decision, ``Release.kept``), the rows of small classes are filtered out of the files,
and the files the residual-PII scan must read are scanned (``open_data.scan``) while they are
hashed. Each file's SHA-256 and SM3 go into the manifest, so a portal can tell an unchanged
release from a changed one by its hashes. Nothing leaves ``write`` unscanned.
"""

from __future__ import annotations

import csv
import hashlib
import shutil
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from open_data.release import MANIFEST, METADATA, Release, Written, clock
from open_data.scan import check_release
from open_data.spec import RECORD_ID, DatasetSpec, label, table_columns
from standard.sm3 import new_sm3

FILES = {
    "csv": ("data.csv", "utf-8", "CSV (UTF-8)"),
    "csv-bom": ("data-excel.csv", "utf-8-sig", "CSV (UTF-8 with BOM, for Excel)"),
    "json": ("data.json", "utf-8", "JSON"),
}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ";".join(_text(v) for v in value)
    return str(value)


def _json(value: Any) -> Any:
    if isinstance(value, (date, datetime, Decimal)):
        return str(value)
    raise TypeError(type(value).__name__)


BOM = "\ufeff".encode()


def digests(path: Path, *, prefix: bytes = b"") -> tuple[str, str]:
    """SHA-256 and SM3 of a file (after ``prefix``), read in chunks."""
    sha, sm3 = hashlib.sha256(prefix), new_sm3()
    sm3.update(prefix)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            sha.update(chunk)
            sm3.update(chunk)
    return sha.hexdigest(), str(sm3.hexdigest())


class DataFiles:
    """The release's data files, written as rows arrive: ``add`` each row, maybe ``keep_only``
    some of them once the k-anonymity gate has decided, ``finish``, then ``hashed``. A context
    manager that closes its files; the caller removes the folder of a release that fails.

    The JSON holds one row per line between ``[`` and ``]``, which lets ``keep_only`` filter
    it line by line; the CSV is filtered by reading and writing it with the csv module, which
    gives back the same bytes."""

    def __init__(self, folder: Path, columns: Sequence[str]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.paths = {kind: folder / name for kind, (name, _, _) in FILES.items()}
        self.columns = list(columns)
        self.rows = 0
        self._plain = self.paths["csv"].open("w", encoding="utf-8", newline="")
        self._json = self.paths["json"].open("wb")
        self._writer = csv.writer(self._plain)
        self._writer.writerow(self.columns)
        self._json.write(b"[")

    def __enter__(self) -> DataFiles:
        return self

    def __exit__(self, *exc: object) -> None:
        self._plain.close()
        self._json.close()

    def add(self, row: Mapping[str, Any]) -> None:
        """One row; its keys are the columns (picked out and ordered if they are not)."""
        if list(row) != self.columns:
            row = {c: row.get(c) for c in self.columns}
        self._writer.writerow([v if type(v) is str else _text(v) for v in row.values()])
        self._json.write(b",\n" if self.rows else b"\n")
        self._json.write(orjson.dumps(row, default=_json))
        self.rows += 1

    def keep_only(self, keep: Callable[[int], bool]) -> None:
        """Keep the rows whose number (0-based, in the order added) ``keep`` accepts."""
        self._plain.close()
        self._json.close()
        plain, data = self.paths["csv"], self.paths["json"]
        plain_new, data_new = (p.with_name(p.name + ".new") for p in (plain, data))
        kept = 0
        with (
            plain.open(encoding="utf-8", newline="") as rows_in,
            plain_new.open("w", encoding="utf-8", newline="") as rows_out,
        ):
            reader, writer = csv.reader(rows_in), csv.writer(rows_out)
            writer.writerow(next(reader))
            writer.writerows(cells for n, cells in enumerate(reader) if keep(n))
        with data.open("rb") as lines_in, data_new.open("wb") as lines_out:
            lines_out.write(next(lines_in).rstrip(b"\n"))  # "[" (no "]" before ``finish``)
            for n, line in enumerate(lines_in):
                if not keep(n):
                    continue
                item = line.rstrip(b"\n").removesuffix(b",")
                lines_out.write(b",\n" if kept else b"\n")
                lines_out.write(item)
                kept += 1
        plain_new.replace(plain)
        data_new.replace(data)
        self.rows = kept
        self._plain = plain.open("a", encoding="utf-8", newline="")
        self._json = data.open("ab")
        self._writer = csv.writer(self._plain)

    def finish(self) -> dict[str, Path]:
        """Close the files and copy the CSV for Excel; the files the PII scan reads."""
        self._json.write(b"\n]\n")
        self._plain.close()
        self._json.close()
        with self.paths["csv"].open("rb") as source, self.paths["csv-bom"].open("wb") as excel:
            excel.write(BOM)
            shutil.copyfileobj(source, excel, 1 << 20)
        return {kind: self.paths[kind] for kind in ("csv", "json")}

    def hashed(self) -> list[Written]:
        """Each finished file with its hashes (other threads run meanwhile)."""
        return [Written(kind, path, self.rows, *digests(path)) for kind, path in self.paths.items()]


def to_scan(written: Sequence[Written]) -> dict[str, Path]:
    """The files the residual-PII scan must read: all but the CSV for Excel, once its hash shows
    it holds the scanned CSV's bytes after a BOM and nothing else (``ValueError`` if not)."""
    by_kind = {w.kind: w for w in written}
    plain, excel = by_kind["csv"], by_kind["csv-bom"]
    if digests(plain.path, prefix=BOM)[0] != excel.sha256:
        raise ValueError(f"{excel.path.name} is not {plain.path.name} with a BOM")
    return {w.kind: w.path for w in written if w.kind != "csv-bom"}


RECORD_NOTES = "由数据提供部门与交换主键经密钥散列生成，各版本不变，不能还原为原记录号。"


async def write(release: Release) -> Release:
    """The stage: drain the stream into the files, filter them as ``check`` decided, scan them
    (``ReleaseRefused`` if they hold personal information), then the manifest and metadata.
    The caller removes the folder of a release that fails."""
    spec, seconds = release.spec, release.seconds
    with DataFiles(release.folder, spec.output_columns) as files:
        add = files.add
        async for batch in release.batches:
            began = clock()
            for row in batch:
                add(row)
            seconds["write"] += clock() - began
        began = clock()
        if release.kept is not None:
            files.keep_only(release.kept)
        scanned = files.finish()
        seconds["write"] += clock() - began
        began = clock()
        # The files are hashed in a thread while the scan reads them: hashing lets the scan run.
        with ThreadPoolExecutor(1) as hasher:
            hashing = hasher.submit(lambda: _proved(files.hashed()))
            check_release(
                scanned,
                dataset=spec.name,
                personal_values=release.personal,
                twins={"json": "csv"},
                digests=spec.digests,
            )
            written = hashing.result()
        seconds["check"] += clock() - began
    release.files = written
    release.providers = providers = sorted(release.seen)
    release.manifest = manifest = {
        "dataset": spec.name,
        "spec_version": spec_version(spec),
        "made_at": datetime.now(UTC).isoformat(),
        "source": f"{spec.source}.{spec.table}",
        "providers": providers,
        "approvals": list(release.approvals),
        "rules": {c.source: type(c.rule).__name__.lower() for c in spec.columns},
        "rows_in": release.rows_in,
        "rows_excluded": release.excluded,
        "rows_suppressed": release.suppressed,
        "rows_out": written[0].rows,
        "k": spec.k,
        "k_reached": release.k_reached,
        "quasi_identifiers": list(spec.quasi),
        "files": {
            FILES[w.kind][0]: {"rows": w.rows, "sha256": w.sha256, "sm3": w.sm3} for w in written
        },
    }
    folder = release.folder
    (folder / MANIFEST).write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    (folder / METADATA).write_bytes(
        orjson.dumps(metadata(spec, providers), option=orjson.OPT_INDENT_2)
    )
    return release


def _proved(written: list[Written]) -> list[Written]:
    """The files, once their hashes show the CSV for Excel is the scanned CSV after a BOM."""
    to_scan(written)  # raises ValueError if not
    return written


def spec_version(spec: DatasetSpec) -> str:
    """A hash of what the spec releases: a changed spec republishes unchanged rows."""
    rules = [(c.source, type(c.rule).__name__, repr(c.rule)) for c in spec.columns]
    text = orjson.dumps([spec.name, spec.table, repr(spec.where), rules, spec.quasi, spec.k])
    return hashlib.sha256(text).hexdigest()[:16]


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
