"""The files of a release: CSV in UTF-8, CSV with a BOM for Excel users, JSON, and the manifest.

Written into a staging folder, streamed row by row; each file's SHA-256 and SM3 go into the
manifest, so a portal can tell an unchanged release from a changed one by its hashes.
"""

from __future__ import annotations

import csv
import hashlib
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives import hashes

FILES = {
    "csv": ("data.csv", "utf-8", "CSV (UTF-8)"),
    "csv-bom": ("data-excel.csv", "utf-8-sig", "CSV (UTF-8 with BOM, for Excel)"),
    "json": ("data.json", "utf-8", "JSON"),
}


@dataclass(frozen=True, slots=True)
class Written:
    """One file of the release."""

    kind: str
    path: Path
    rows: int
    sha256: str
    sm3: str


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
    sha = hashlib.sha256(prefix)
    sm3 = hashes.Hash(hashes.SM3())
    sm3.update(prefix)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            sha.update(chunk)
            sm3.update(chunk)
    return sha.hexdigest(), sm3.finalize().hex()


def write_files(
    folder: Path, columns: Sequence[str], rows: Iterable[Mapping[str, Any]]
) -> list[Written]:
    """Write the data files in one pass over ``rows``; the CSV for Excel is the UTF-8 CSV's
    bytes after a BOM, copied."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {kind: folder / name for kind, (name, _, _) in FILES.items()}
    count = 0
    with (
        paths["csv"].open("w", encoding="utf-8", newline="") as plain,
        paths["json"].open("wb") as json_file,
    ):
        writer = csv.writer(plain)
        writer.writerow(columns)
        json_file.write(b"[")
        names = list(columns)
        for row in rows:
            if list(row) != names:  # not the columns in order: pick them out
                row = {c: row.get(c) for c in names}
            writer.writerow([v if type(v) is str else _text(v) for v in row.values()])
            json_file.write(b",\n" if count else b"\n")
            json_file.write(orjson.dumps(row, default=_json))
            count += 1
        json_file.write(b"\n]\n")
    with paths["csv"].open("rb") as source, paths["csv-bom"].open("wb") as excel:
        excel.write(BOM)
        shutil.copyfileobj(source, excel, 1 << 20)
    written = []
    for kind, path in paths.items():
        sha, sm3 = digests(path)
        written.append(Written(kind, path, count, sha, sm3))
    return written


def to_scan(written: Sequence[Written]) -> dict[str, Path]:
    """The files the residual-PII scan must read: all but the CSV for Excel, once its hash shows
    it holds the scanned CSV's bytes after a BOM and nothing else (``ValueError`` if not)."""
    by_kind = {w.kind: w for w in written}
    plain, excel = by_kind["csv"], by_kind["csv-bom"]
    if digests(plain.path, prefix=BOM)[0] != excel.sha256:
        raise ValueError(f"{excel.path.name} is not {plain.path.name} with a BOM")
    return {w.kind: w.path for w in written if w.kind != "csv-bom"}
