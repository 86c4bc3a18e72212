"""Desensitise, the second stage: apply each column's rule to every row (pure, streamed), or
aggregate.

Rows the spec excludes (minors' cases, …) never pass. Dates are read in Beijing time before
they are generalised, so a record made at 00:30 on the 1st belongs to its Beijing month.
"""

from __future__ import annotations

import binascii
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from itertools import pairwise
from typing import Any

import orjson

from open_data.errors import ReleaseRefused
from open_data.release import Batches, Release, clock
from open_data.spec import (
    DIGEST,
    RECORD_ID,
    DatasetSpec,
    Digest,
    Generalise,
    Keep,
    Mask,
    MaskPerson,
    Pseudonymise,
    RedactNames,
    Rule,
)
from policies.masking import HIDDEN, mask_address, redact_names
from standard.sm3 import hmac_sm3
from standard.workdays import SHANGHAI

Row = dict[str, Any]


_LETTERS = bytes.maketrans(b"0123456789", b"ghijklmnop")


def pseudonym(key: bytes, value: Any) -> str:
    """HMAC-SM3 of the value's text under the managed key: the same value, the same pseudonym.

    120 bits written as 30 letters a-p (hexadecimal with letters for digits): without digits,
    no pseudonym can read as a mobile or ID number the way a hexadecimal one can."""
    digest = _hmac_sm3(key)(str(value).encode("utf-8"))
    return binascii.hexlify(digest[:15]).translate(_LETTERS).decode("ascii")


# Keyed once per key: a release makes a million pseudonyms under one.
_hmac_sm3 = lru_cache(maxsize=4)(hmac_sm3)


def _beijing(value: date | datetime) -> date:
    return value.astimezone(SHANGHAI).date() if isinstance(value, datetime) else value


def _band(value: Any, bounds: tuple[Decimal, ...]) -> str:
    amount = Decimal(str(value))
    if amount < bounds[0]:
        return f"<{bounds[0]}"
    for low, high in pairwise(bounds):
        if low <= amount < high:
            return f"{low}-{high}"
    return f">={bounds[-1]}"


def _district(value: Any) -> str | None:
    kept = mask_address(str(value)).removesuffix(HIDDEN)
    return kept or None


def _masked(value: Any, start: int, end: int) -> str:
    text = str(value)
    hidden = max(1, len(text) - start - end)
    return text[:start] + "*" * hidden + (text[-end:] if end else "")


Apply = Callable[[Any, Mapping[str, Any]], Any]


def _digest(dataset: str, column: str) -> Apply:
    def apply(value: Any, row: Mapping[str, Any]) -> Any:
        if not (isinstance(value, str) and DIGEST.fullmatch(value)):
            raise ReleaseRefused(dataset, f"{column}: a Digest holds 64 or more hex digits only")
        return value

    return apply


def _rule(rule: Rule, key: bytes) -> Apply:
    """The rule as a function of the value and its row."""
    if isinstance(rule, Keep):
        return lambda value, row: value
    if isinstance(rule, Mask):
        start, end = rule.start, rule.end
        return lambda value, row: _masked(value, start, end)
    if isinstance(rule, MaskPerson):
        nature = rule.nature_column
        return lambda value, row: (
            _masked(value, 1, 0) if row.get(nature) == "natural_person" else value
        )
    if isinstance(rule, RedactNames):
        nature, names = rule.nature_column, rule.names
        return lambda value, row: (
            redact_names(str(value), (row.get(c) for c in names))
            if row.get(nature) == "natural_person"
            else value
        )
    if isinstance(rule, Pseudonymise):
        return lambda value, row: pseudonym(key, value)
    assert isinstance(rule, Generalise)  # noqa: S101  # Drop never reaches here
    if rule.to == "month":
        return lambda value, row: _beijing(value).strftime("%Y-%m")
    if rule.to == "year":
        return lambda value, row: _beijing(value).strftime("%Y")
    if rule.to == "district":
        return lambda value, row: _district(value)
    bounds = rule.bands
    return lambda value, row: _band(value, bounds)


def record_id(key: bytes, row: Mapping[str, Any]) -> str:
    """A record's id in the open data: its exchange identity (provider, ``cd_id``), keyed-hashed
    apart from the pseudonyms of values (the prefix), stable across releases."""
    return pseudonym(key, f"record\x1f{row['provider']}\x1f{row['cd_id']}")


def desensitiser(spec: DatasetSpec, *, key: bytes) -> Callable[[Mapping[str, Any]], Row | None]:
    """One source row → its published row (rules applied column by column, nulls staying null,
    the record id first), or None when the spec excludes the row. Aggregates count these rows."""
    rules = [
        (
            c.source,
            _digest(spec.name, c.source) if isinstance(c.rule, Digest) else _rule(c.rule, key),
        )
        for c in spec.published
    ]
    exclude = spec.exclude

    def one(row: Mapping[str, Any]) -> Row | None:
        if exclude is not None and exclude(row):
            return None
        out: Row = {RECORD_ID: record_id(key, row)} if spec.aggregate is None else {}
        for name, apply in rules:
            value = row.get(name)
            out[name] = None if value is None else apply(value, row)
        return out

    return one


def cell_of(spec: DatasetSpec, row: Row) -> tuple[Any, ...]:
    """The aggregate cell a desensitised row counts in."""
    assert spec.aggregate is not None  # noqa: S101  # callers check
    return tuple(row[name] for name in spec.aggregate.by)


def cells(spec: DatasetSpec, counts: Counter[tuple[Any, ...]], *, key: bytes) -> Iterator[Row]:
    """An aggregate spec's cells with their counts, in a stable order, each with its record id
    (a keyed hash of the cell's values)."""
    assert spec.aggregate is not None  # noqa: S101  # callers check
    by, count_as = spec.aggregate.by, spec.aggregate.count_as
    for values in sorted(counts, key=lambda v: tuple(t or "" for t in _texts(v))):
        cell = orjson.dumps(["cell", *_texts(values)]).decode()
        yield {
            RECORD_ID: pseudonym(key, cell),
            **dict(zip(by, values, strict=True)),
            count_as: counts[values],
        }


def _texts(values: tuple[Any, ...]) -> tuple[str | None, ...]:
    return tuple(None if x is None else str(x) for x in values)


async def desensitise(release: Release) -> Release:
    """The stage: each source row becomes its published row (``desensitiser``), rows the spec
    excludes counted in ``excluded``; an aggregate spec's rows are counted in their cells,
    which come as one batch after the last row (``cells``)."""
    spec, source, seconds = release.spec, release.batches, release.seconds
    one = desensitiser(spec, key=release.key)

    async def rows() -> Batches:
        async for batch in source:
            began = clock()
            out = [published for row in batch if (published := one(row)) is not None]
            release.excluded += len(batch) - len(out)
            seconds["desensitise"] += clock() - began
            yield out

    async def counted() -> Batches:
        counts: Counter[tuple[Any, ...]] = Counter()
        async for batch in source:
            began = clock()
            for row in batch:
                published = one(row)
                if published is None:
                    release.excluded += 1
                else:
                    counts[cell_of(spec, published)] += 1
            seconds["desensitise"] += clock() - began
        began = clock()
        found = list(cells(spec, counts, key=release.key))
        seconds["desensitise"] += clock() - began
        yield found

    release.batches = rows() if spec.aggregate is None else counted()
    return release
