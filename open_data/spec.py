"""Dataset specs: what one open dataset takes from a source, and a rule for every column.

A spec names its source table, selection and providers, its Chinese title and description, an
ASCII name, licence, update frequency and tags, and for **every** column of the table a rule:
keep, drop, mask, generalise (date → month or year, address → district, amount → band),
pseudonymise (keyed HMAC-SM3) — or the spec aggregates. ``check_spec`` fails closed: a column
of the table without a rule, or a rule on a column the table lacks, stops the release.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, Protocol

from open_data.errors import SpecError
from sources.base import Filter, Page, PageRequest
from standard.exchange import EXCHANGE_COLUMNS
from standard.registry import record_table

if TYPE_CHECKING:
    from policies.access import RequestSources

ASCII_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{1,99}")
CONTROL_COLUMNS: tuple[str, ...] = EXCHANGE_COLUMNS
"""The exchange control columns every record carries (provider, cd_*, timeliness …)."""


class Pages(Protocol):
    """Anything that pages a table: a connector, or the request sources within a scope."""

    async def page(self, table: str, request: PageRequest) -> Page: ...


GATEWAY = "gateway"
"""The source name of the gateway's own database (``standard.tables.gateway``): a spec reading
it brings its own ``reader``, which gives each row a ``provider`` and ``cd_id`` (its identity)
and an ``id``."""
RECORD_ID = "record_id"
"""Every dataset's first column: a keyed hash of a record's exchange identity (provider and
``cd_id``), or of an aggregate's cell, the same in every release, so a portal can update,
insert and delete rows in place."""


@dataclass(frozen=True, slots=True)
class Keep:
    """Published as it is (public by rule, or not personal)."""


@dataclass(frozen=True, slots=True)
class Digest:
    """A hash, public key or signature in hexadecimal, published as it is: at least 64 hex
    digits, or the release is refused. The scan does not search such a cell for numbers: in 300
    random hex digits an 11-digit run that reads as a mobile number turns up about once in 60
    rows, so one a day would refuse a daily dataset within weeks."""


DIGEST = re.compile(r"[0-9a-f]{64,}")
"""What a ``Digest`` column's values are."""


@dataclass(frozen=True, slots=True)
class Drop:
    """Not published."""


@dataclass(frozen=True, slots=True)
class Mask:
    """Keeps ``start`` leading and ``end`` trailing characters, stars the rest."""

    start: int = 1
    end: int = 0


@dataclass(frozen=True, slots=True)
class Generalise:
    """Coarser values: a date to its ``month`` or ``year``, an address to its ``district``,
    an amount to its ``band`` (bounds in ``bands``, ascending)."""

    to: Literal["month", "year", "district", "band"]
    bands: tuple[Decimal, ...] = ()


@dataclass(frozen=True, slots=True)
class Pseudonymise:
    """A keyed HMAC-SM3 of the value: stable across releases, not reversible without the key."""


@dataclass(frozen=True, slots=True)
class MaskPerson:
    """A name published for organisations but masked (surname kept) when the row is about a
    natural person, as the rules for publishing decisions online ask."""

    nature_column: str = "counterparty_nature"


@dataclass(frozen=True, slots=True)
class RedactNames:
    """Free text published with the party's name masked inside it (surname kept) when the row is
    about a natural person: 杨丽娟未按规定亮照经营案 → 杨**未按规定亮照经营案. ``names`` are the
    columns holding the names the text may contain."""

    names: tuple[str, ...]
    nature_column: str = "counterparty_nature"


Rule = Keep | Digest | Drop | Mask | Generalise | Pseudonymise | MaskPerson | RedactNames


@dataclass(frozen=True, slots=True)
class Column:
    """One column of the table and its rule; ``label`` and ``notes`` go to the data dictionary
    (the column's Chinese name by default)."""

    source: str
    rule: Rule
    label: str | None = None
    notes: str = ""


@dataclass(frozen=True, slots=True)
class Aggregate:
    """Publish counts grouped by the (already generalised) ``by`` columns, never rows."""

    by: tuple[str, ...]
    count_as: str = "count"
    count_label: str = "数量"


@dataclass(frozen=True, slots=True)
class DatasetSpec:
    """One open dataset."""

    name: str  # ASCII, stable: the CKAN dataset name
    title: str  # Chinese
    description: str  # Chinese
    source: str
    table: str
    columns: tuple[Column, ...]
    licence: str = "cc-by"
    frequency: str = "monthly"
    tags: tuple[str, ...] = ()
    where: tuple[Filter, ...] = ()
    exclude: Callable[[Mapping[str, Any]], bool] | None = None  # rows never published
    exclude_reason: str = ""
    quasi: tuple[str, ...] = ()  # quasi-identifiers of row-level datasets (output columns)
    k: int = 5
    on_small: Literal["suppress", "refuse"] = "suppress"
    aggregate: Aggregate | None = None
    public_by_rule: bool = False  # "who enforces publicises": published without desensitising
    extra: Mapping[str, Any] = field(default_factory=dict)
    reader: Callable[[RequestSources], Pages] | None = None  # rows from elsewhere than a source

    @property
    def published(self) -> tuple[Column, ...]:
        """The columns that reach the files, in order."""
        return tuple(c for c in self.columns if not isinstance(c.rule, Drop))

    @property
    def digests(self) -> frozenset[str]:
        """The columns published as hexadecimal digests (``Digest``)."""
        return frozenset(c.source for c in self.columns if isinstance(c.rule, Digest))

    @property
    def output_columns(self) -> tuple[str, ...]:
        """The columns of the files and the DataStore table, in order."""
        if self.aggregate is not None:
            return (RECORD_ID, *self.aggregate.by, self.aggregate.count_as)
        return (RECORD_ID, *(c.source for c in self.published))


def table_columns(source: str, table: str) -> dict[str, Any]:
    """The columns of a table of the data standard (or of the gateway's own), by name."""
    if source == GATEWAY:
        from standard.tables.gateway import metadata

        return {c.name: c for c in metadata.tables[table].columns}
    model = record_table(source, table)
    return {c.name: c for c in model.__table__.columns}  # type: ignore[attr-defined]


def drop(*names: str) -> tuple[Column, ...]:
    """``Drop`` rules for ``names`` (the control columns, usually)."""
    return tuple(Column(name, Drop()) for name in names)


def check_spec(spec: DatasetSpec) -> None:
    """Fail closed: every column of the table has exactly one rule, and the rules make sense."""
    if not ASCII_NAME.fullmatch(spec.name):
        raise SpecError(spec.name, "the dataset name must be lower-case ASCII (CKAN names)")
    columns = table_columns(spec.source, spec.table)
    ruled = [c.source for c in spec.columns]
    missing = [name for name in columns if name not in ruled]
    if missing:
        raise SpecError(spec.name, f"column(s) without a rule: {', '.join(missing)}")
    unknown = [name for name in ruled if name not in columns]
    if unknown:
        raise SpecError(
            spec.name, f"rule(s) for column(s) {spec.table} lacks: {', '.join(unknown)}"
        )
    twice = sorted({name for name in ruled if ruled.count(name) > 1})
    if twice:
        raise SpecError(spec.name, f"column(s) with two rules: {', '.join(twice)}")
    for column in spec.columns:
        info = columns[column.source].info
        if info.get("personal") and isinstance(column.rule, Keep | Digest):
            raise SpecError(
                spec.name, f"{column.source} is personal information: it cannot be kept as it is"
            )
        if info.get("personal_if") and isinstance(column.rule, Keep):
            raise SpecError(
                spec.name,
                f"{column.source} holds a natural person's name in their rows: it cannot be kept "
                "as it is (MaskPerson, RedactNames or Drop)",
            )
        if isinstance(column.rule, Generalise) and column.rule.to == "band":
            bands = column.rule.bands
            if not bands or list(bands) != sorted(bands):
                raise SpecError(spec.name, f"{column.source}: bands need ascending bounds")
    outputs = {c.source for c in spec.published}
    for name in (*spec.quasi, *(spec.aggregate.by if spec.aggregate else ())):
        if name not in outputs:
            raise SpecError(spec.name, f"{name} is not a published column")
    if spec.aggregate is None and not spec.public_by_rule and not spec.quasi:
        raise SpecError(spec.name, "a row-level dataset declares its quasi-identifiers")
    if spec.k < 2:
        raise SpecError(spec.name, "k must be at least 2")


def label(spec: DatasetSpec, column: Column) -> str:
    """The column's Chinese label for the data dictionary."""
    if column.label:
        return column.label
    info = table_columns(spec.source, spec.table)[column.source].info
    return str(info.get("zh", column.source))
