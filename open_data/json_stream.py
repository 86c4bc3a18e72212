"""Streaming the items of a JSON release file without holding it whole: a top-level array or
JSON Lines, numbers kept as their text (a phone number written as a number is scanned as such)."""

from __future__ import annotations

import codecs
import io
import json
import re
from collections.abc import Iterator
from itertools import islice
from typing import Any, BinaryIO, Final, TextIO

import orjson

_END: Final = object()  # no whole item on the line


_SKIP: Final = re.compile(r"[\s,]*")
_MAX_ITEM: Final = 1 << 26


def json_items(handle: TextIO, *, chunk: int = 1 << 16) -> Iterator[Any]:
    """Stream the items of a top-level JSON array, or successive JSON values (JSON Lines).

    Numbers are kept as their text, so a phone number written as a number is scanned as such.
    Raises ``ValueError`` (``json.JSONDecodeError``) on anything that is not JSON.
    """
    decoder = json.JSONDecoder(parse_int=str, parse_float=str, parse_constant=str)
    buffer, at, eof, depth = "", 0, False, 0
    while True:
        at = _SKIP.match(buffer, at).end()  # type: ignore[union-attr]  # [\s,]* always matches
        if at == len(buffer):
            if eof:
                if depth:
                    raise json.JSONDecodeError("unterminated array", buffer, at)
                return
            more = handle.read(chunk)
            eof = not more
            buffer, at = buffer[at:] + more, 0
            continue
        if buffer[at] == "[" and depth == 0:
            depth, at = 1, at + 1
            continue
        if buffer[at] == "]" and depth == 1:
            depth, at = 0, at + 1
            continue
        try:
            item, end = decoder.raw_decode(buffer, at)
        except json.JSONDecodeError:
            if eof or len(buffer) - at > _MAX_ITEM:
                raise
            end = len(buffer)  # maybe cut by the chunk: read on
        if end == len(buffer) and not eof:  # a number may go on in the next chunk
            more = handle.read(chunk)
            eof = not more
            buffer, at = buffer[at:] + more, 0
            continue
        at = end
        yield item


def json_rows(handle: BinaryIO) -> Iterator[Any]:
    """The items of a JSON file opened in binary, as ``json_items`` reads them, but decoded by
    orjson line by line when the file has the publisher's layout: ``[``, one item a line with a
    comma after all but the last, ``]``. From the first line that is not one whole item (a file
    written another way, a pretty-printed or a malformed one), ``json_items`` reads on, and
    raises what it raises.

    Numbers are kept as written: an int as an int, whose ``str`` is its text; a line holding a
    float (or an int beyond 64 bits, which orjson makes one) is decoded again, numbers as text.
    """
    done = 0
    # Lines read to a bound: a file on one line (minified) is not held whole in memory.
    if handle.readline(len(codecs.BOM_UTF8) + 2).removeprefix(codecs.BOM_UTF8) == b"[\n":
        lines = iter(lambda: handle.readline(_MAX_ITEM), b"")
        for line in lines:
            if line[:1] == b"]":
                if line.rstrip() == b"]" and not any(rest.strip() for rest in lines):
                    return
                break
            body = line[:-1] if line[-1:] == b"\n" else line
            if body[-1:] == b",":
                body = body[:-1]
            try:
                item = orjson.loads(body)
            except orjson.JSONDecodeError:
                item = _as_text(body)  # NaN, a lone surrogate: JSON to the json module
            else:
                if not _as_written(item, body):
                    item = _as_text(body)
            if item is _END:
                break
            yield item
            done += 1
    handle.seek(0)  # not the layout, or no "]": json_items reads on, or says what is wrong
    text = io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")
    try:
        yield from islice(json_items(text), done, None)
    finally:
        if not handle.closed:
            text.detach()  # the handle is the caller's to close


_DECODER: Final = json.JSONDecoder(parse_int=str, parse_float=str, parse_constant=str)


def _as_text(line: bytes) -> Any:
    """One line's item with its numbers as their text, or ``_END`` if it holds no whole item."""
    try:
        return _DECODER.decode(line.decode())
    except ValueError:  # not UTF-8, not JSON, or not one whole item
        return _END


def _as_written(value: Any, line: bytes) -> bool:
    """Whether orjson gave each number in ``value`` as ``line`` writes it (a float may not be;
    an int is, but for a 0 that may have been written -0)."""
    if type(value) is dict:
        value = value.values()
    elif type(value) is not list:
        value = (value,)
    for part in value:
        kind = type(part)
        if kind is str or part is None or kind is bool:
            continue
        if kind is int:
            if part == 0 and b"-0" in line:
                return False
        elif kind is float or not _as_written(part, line):
            return False
    return True
