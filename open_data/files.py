"""The files of a release: CSV in UTF-8, CSV with a BOM for Excel users, JSON, and the manifest.

Written into a staging folder, streamed row by row; each file's SHA-256 and SM3 go into the
manifest, so a portal can tell an unchanged release from a changed one by its hashes.
"""

from __future__ import annotations

import csv
import hashlib
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from open_data.sm3 import new_sm3

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


def write_files(
    folder: Path, columns: Sequence[str], rows: Iterable[Mapping[str, Any]]
) -> list[Written]:
    """Write the data files in one pass over ``rows``."""
    with DataFiles(folder, columns) as files:
        for row in rows:
            files.add(row)
        files.finish()
        return files.hashed()


def to_scan(written: Sequence[Written]) -> dict[str, Path]:
    """The files the residual-PII scan must read: all but the CSV for Excel, once its hash shows
    it holds the scanned CSV's bytes after a BOM and nothing else (``ValueError`` if not)."""
    by_kind = {w.kind: w for w in written}
    plain, excel = by_kind["csv"], by_kind["csv-bom"]
    if digests(plain.path, prefix=BOM)[0] != excel.sha256:
        raise ValueError(f"{excel.path.name} is not {plain.path.name} with a BOM")
    return {w.kind: w.path for w in written if w.kind != "csv-bom"}
