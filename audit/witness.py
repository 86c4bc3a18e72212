"""The audit chain's witness outside the database: the signed heads published as an open
dataset (``audit-chain-heads``), read back from a file, a release folder or a URL.

``verify --against`` compares the chain with them: someone who rewrote the database, its
checkpoints too, cannot rewrite the copies others keep.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import httpx
import orjson

from audit.verify import Head
from standard.errors import InputError

MAX_BYTES = 64 * 1024 * 1024  # a head a day is ~500 bytes: decades fit, a runaway answer not
_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX128 = re.compile(r"[0-9a-f]{128}")
_RELEASE_FILES = ("data.json", "data.csv")


class WitnessError(InputError):
    """The published heads cannot be read: the message names the source and the row."""


def load_heads(source: str, *, timeout: float = 30.0) -> list[Head]:
    """The heads in ``source``: an http(s) URL, a file (the dataset's CSV or JSON) or a
    release folder (``var/open-data/audit-chain-heads``)."""
    if source.startswith(("http://", "https://")):
        return parse_heads(_download(source, timeout), source)
    path = Path(source)
    if path.is_dir():
        found = [path / name for name in _RELEASE_FILES if (path / name).is_file()]
        if not found:
            raise WitnessError(f"{source}: no {' or '.join(_RELEASE_FILES)} in this folder")
        path = found[0]
    try:
        with path.open("rb") as file:
            body = file.read(MAX_BYTES + 1)
    except OSError as exc:
        raise WitnessError(
            f"{source} cannot be read ({exc.strerror or type(exc).__name__})"
        ) from None
    if len(body) > MAX_BYTES:
        raise WitnessError(f"{source} is larger than {MAX_BYTES // 2**20} MiB")
    return parse_heads(body, source)


def _download(url: str, timeout: float) -> bytes:
    try:
        with httpx.stream("GET", url, timeout=timeout, follow_redirects=True) as answer:
            if answer.status_code != 200:
                raise WitnessError(f"{url} answered HTTP {answer.status_code}")
            body = bytearray()
            for chunk in answer.iter_bytes():
                body += chunk
                if len(body) > MAX_BYTES:
                    raise WitnessError(f"{url} sent more than {MAX_BYTES // 2**20} MiB")
    except httpx.HTTPError as exc:
        raise WitnessError(f"{url} cannot be fetched ({type(exc).__name__})") from None
    return bytes(body)


def parse_heads(body: bytes, source: str) -> list[Head]:
    """Heads from the dataset's JSON (one object a line, or an array) or CSV (BOM or not)."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise WitnessError(f"{source} is not UTF-8 text") from None
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            items = orjson.loads(stripped)
        except orjson.JSONDecodeError as exc:
            raise WitnessError(f"{source} is not valid JSON ({exc})") from None
        if not isinstance(items, list):
            raise WitnessError(f"{source}: expected a JSON array of heads")
        rows = [(f"item {n}", item) for n, item in enumerate(items, start=1)]
    elif stripped.startswith("{"):
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rows.append((f"line {number}", orjson.loads(line)))
            except orjson.JSONDecodeError:
                raise WitnessError(f"{source} line {number}: not a JSON object") from None
    else:
        reader = csv.DictReader(io.StringIO(text))
        rows = [(f"line {reader.line_num}", dict(row)) for row in reader]
    heads = [_head(row, f"{source} {where}") for where, row in rows]
    seqs = [head.seq for head in heads]
    if len(set(seqs)) != len(seqs):
        raise WitnessError(f"{source}: two heads for the same seq")
    return heads


def _head(row: object, where: str) -> Head:
    if not isinstance(row, dict):
        raise WitnessError(f"{where}: not an object")
    required = ("seq", "head_hash", "public_key", "signature")
    missing = [name for name in required if row.get(name) in (None, "")]
    if missing:
        raise WitnessError(f"{where}: missing {', '.join(missing)}")
    seq = row["seq"]
    if isinstance(seq, str) and seq.isdigit():
        seq = int(seq)
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise WitnessError(f"{where}: seq must be a positive integer")
    values = {name: str(row[name]).lower() for name in ("head_hash", "public_key", "signature")}
    if not _HEX64.fullmatch(values["head_hash"]):
        raise WitnessError(f"{where}: head_hash must be 64 hex digits")
    for name in ("public_key", "signature"):
        if not _HEX128.fullmatch(values[name]):
            raise WitnessError(f"{where}: {name} must be 128 hex digits")
    at = row.get("at")
    return Head(seq=seq, at=str(at) if at else None, **values)
