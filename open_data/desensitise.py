"""Desensitise: apply each column's rule to every row (pure, streamed), or aggregate.

Rows the spec excludes (minors' cases, …) never pass. Dates are read in Beijing time before
they are generalised, so a record made at 00:30 on the 1st belongs to its Beijing month.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from itertools import pairwise
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.hmac import HMAC

from open_data.spec import DatasetSpec, Generalise, Keep, Mask, MaskPerson, Pseudonymise, Rule
from resolvers.masking import HIDDEN, mask_address
from standard.workdays import SHANGHAI

Row = dict[str, Any]


def pseudonym(key: bytes, value: Any) -> str:
    """HMAC-SM3 of the value's text under the managed key: the same value, the same pseudonym."""
    mac = HMAC(key, hashes.SM3())
    mac.update(str(value).encode("utf-8"))
    return mac.finalize().hex()[:24]


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


def desensitise(
    spec: DatasetSpec, rows: Iterable[Mapping[str, Any]], *, key: bytes
) -> Iterator[Row]:
    """The published rows: rules applied column by column (nulls stay null), or the counts."""
    rules = [(c.source, _rule(c.rule, key)) for c in spec.published]
    exclude = spec.exclude

    def rows_out() -> Iterator[Row]:
        for row in rows:
            if exclude is not None and exclude(row):
                continue
            yield {
                name: None if (value := row.get(name)) is None else apply(value, row)
                for name, apply in rules
            }

    if spec.aggregate is None:
        yield from rows_out()
        return
    by, count_as = spec.aggregate.by, spec.aggregate.count_as
    counts = Counter(tuple(out[name] for name in by) for out in rows_out())
    for values in sorted(counts, key=lambda v: tuple("" if x is None else str(x) for x in v)):
        yield {**dict(zip(by, values, strict=True)), count_as: counts[values]}
