"""The files of a release: CSV in UTF-8, CSV with a BOM for Excel users, JSON, and the manifest.

Written into a staging folder, streamed row by row; each file's SHA-256 and SM3 go into the
manifest, so a portal can tell an unchanged release from a changed one by its hashes.
"""

from __future__ import annotations

import csv
import hashlib
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


def digests(path: Path) -> tuple[str, str]:
    """SHA-256 and SM3 of a file, read in chunks."""
    sha = hashlib.sha256()
    sm3 = hashes.Hash(hashes.SM3())
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            sha.update(chunk)
            sm3.update(chunk)
    return sha.hexdigest(), sm3.finalize().hex()


def write_files(
    folder: Path, columns: Sequence[str], rows: Iterable[Mapping[str, Any]]
) -> list[Written]:
    """Write the three data files in one pass over ``rows``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {kind: folder / name for kind, (name, _, _) in FILES.items()}
    count = 0
    with (
        paths["csv"].open("w", encoding="utf-8", newline="") as plain,
        paths["csv-bom"].open("w", encoding="utf-8-sig", newline="") as excel,
        paths["json"].open("wb") as json_file,
    ):
        writers = [csv.writer(plain), csv.writer(excel)]
        for writer in writers:
            writer.writerow(columns)
        json_file.write(b"[")
        for row in rows:
            line = [_text(row.get(c)) for c in columns]
            for writer in writers:
                writer.writerow(line)
            json_file.write(b",\n" if count else b"\n")
            json_file.write(orjson.dumps({c: row.get(c) for c in columns}, default=_json))
            count += 1
        json_file.write(b"\n]\n")
    written = []
    for kind, path in paths.items():
        sha, sm3 = digests(path)
        written.append(Written(kind, path, count, sha, sm3))
    return written
