"""Read NDJSON and CSV files into raw records, each with its line number.

Encoding is checked over the whole file before any record is read, so a file in the wrong
encoding fails as a whole with a hint, instead of storing the part before the bad byte.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson

from standard.errors import InputError

Format = Literal["ndjson", "csv"]

ENCODINGS = {
    "utf-8": "utf-8-sig",  # the BOM Excel writes is dropped, not read as part of the first name
    "utf8": "utf-8-sig",
    "utf-8-sig": "utf-8-sig",
    "gbk": "gb18030",  # GB 18030 is a superset of GBK; Excel's "ANSI" CSV on Chinese Windows
    "gb2312": "gb18030",
    "gb18030": "gb18030",
}


class FileError(InputError):
    """The file as a whole cannot be read; nothing in it was stored."""


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A line that is not a record (bad JSON, wrong number of CSV columns)."""

    reason: str


RawRecord = tuple[int, dict[str, Any] | Unreadable]


def detect_format(path: Path) -> Format:
    """The format named by the file's extension."""
    suffix = path.suffix.lower()
    if suffix in (".ndjson", ".jsonl", ".json"):
        return "ndjson"
    if suffix == ".csv":
        return "csv"
    raise FileError(f"{path}: cannot tell the format from '{suffix}'; pass --format ndjson|csv")


def codec_for(encoding: str) -> str:
    """The Python codec for an encoding name a user may give."""
    try:
        return ENCODINGS[encoding.lower()]
    except KeyError:
        raise FileError(
            f"unsupported encoding {encoding!r}; use utf-8 (with or without BOM) or gbk"
        ) from None


def check_encoding(path: Path, encoding: str) -> None:
    """Decode the whole file once; raise ``FileError`` naming the line and a likely fix."""
    codec = codec_for(encoding)
    decoder = codecs.getincrementaldecoder(codec)()
    line, offset = 1, 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                bad = offset + exc.start
                line += chunk[: exc.start].count(b"\n")
                raise FileError(
                    f"{path}: not valid {encoding} at line {line} (byte {bad}); "
                    f"{_suggest(path, codec)}"
                ) from None
            line += text.count("\n")
            offset += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise FileError(f"{path}: ends in the middle of a {encoding} character") from None


def _suggest(path: Path, failed: str) -> str:
    for codec, option in (("utf-8-sig", "--encoding utf-8"), ("gb18030", "--encoding gbk")):
        if codec == failed:
            continue
        try:
            path.read_bytes().decode(codec)
        except UnicodeDecodeError:
            continue
        return f"it reads as {codec.removesuffix('-sig')}: try {option}"
    return "save it as UTF-8 (Excel: 'CSV UTF-8') and try again"


def read_records(path: Path, *, fmt: Format, encoding: str = "utf-8") -> Iterator[RawRecord]:
    """Yield ``(line number, record or Unreadable)`` for every non-blank line."""
    check_encoding(path, encoding)
    with path.open(encoding=codec_for(encoding), newline="") as handle:
        if fmt == "ndjson":
            yield from _ndjson(handle)
        else:
            yield from _csv(handle)


def _ndjson(handle: io.TextIOBase) -> Iterator[RawRecord]:
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            yield number, Unreadable(f"not valid JSON: {exc}")
            continue
        if not isinstance(value, dict):
            yield number, Unreadable(f"expected a JSON object, got {type(value).__name__}")
            continue
        yield number, value


def _csv(handle: io.TextIOBase) -> Iterator[RawRecord]:
    reader = csv.reader(handle)
    try:
        header = next(reader)
    except StopIteration:
        return
    names = [name.strip() for name in header]
    if len(set(names)) != len(names):
        raise FileError("the CSV header names a column twice")
    start = reader.line_num + 1
    for row in reader:
        number, start = start, reader.line_num + 1
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(names):
            yield number, Unreadable(f"has {len(row)} columns, the header has {len(names)}")
            continue
        yield number, {k: v for k, v in zip(names, row, strict=True) if v != ""}
