"""What every record of the data standard carries: provider, exchange control columns, timeliness.

The control columns follow the national exchange tables (``cd_id``, ``cd_source``, ``cd_batch``,
``cd_operation``, ``cd_time``); ``produced_at``/``received_at`` and the lateness columns serve R4.
Each column carries its Chinese name and its validation rule in ``Column.info``, so ingest,
documentation and (later) masking all read one definition.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, declared_attr, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

OPERATIONS = {"i": "新增 insert", "u": "更新 update", "d": "删除 delete"}
# Vocabularies shared by several sources.
PARTY_KINDS = {
    "legal_person": "法人及非法人组织",
    "individual_business": "个体工商户",
    "natural_person": "自然人",
}
CATALOGUE_STATUSES = {"in_use": "在用", "cancelled": "取消", "stopped": "停用"}


def new_metadata(source: str) -> MetaData:
    """One metadata per source database, with stable constraint names for migrations."""
    return MetaData(naming_convention=NAMING, info={"source": source})


class UTCDateTime(TypeDecorator[datetime]):
    """An instant: ``timestamptz`` on PostgreSQL, naive UTC text on SQLite; read back aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an instant is required")
        value = value.astimezone(UTC)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


# Absent lists and objects are SQL NULL on every path (ORM, executemany and binary COPY).
JSONValue = JSON(none_as_null=True)


ColumnKind = Literal["instant", "date", "boolean", "integer", "decimal", "text", "list", "object"]


def column_kind(column: Any) -> ColumnKind:
    """What a column of the data standard holds; every reader of columns dispatches on this."""
    kind = column.type
    if isinstance(kind, UTCDateTime):  # before its DateTime base
        return "instant"
    if isinstance(kind, Date):
        return "date"
    if isinstance(kind, Boolean):
        return "boolean"
    if isinstance(kind, Integer):
        return "integer"
    if isinstance(kind, Numeric):
        return "decimal"
    if isinstance(kind, JSON):
        return "object" if column.info.get("json") == "object" else "list"
    if isinstance(kind, String):  # Text is a String
        return "text"
    # A new column type needs its own rule rather than a silent guess.
    raise TypeError(f"column {column.name} has a type the data standard does not know: {kind!r}")


def limits(column: Any) -> tuple[int, int | None]:
    """The data standard's maximum for a column: characters (of each value, for a list; of the
    JSON text, for an object) and, for a list, values. Every text, list and object column has one,
    so no field takes a 10 MB value."""
    length = getattr(column.type, "length", None) or column.info.get("max_length")
    if length is None:
        raise TypeError(f"column {column.name} has no maximum length: give it max_length")
    items = column.info.get("max_items")
    if column_kind(column) == "list" and items is None:
        raise TypeError(f"list column {column.name} has no maximum count: give it max_items")
    return length, items


def field(
    zh: str,
    en: str,
    *,
    check: str | None = None,
    choices: Mapping[str, str] | None = None,
    personal: bool = False,
    ingest: bool = True,
    personal_if: str | None = None,
    names: tuple[str, ...] = (),
    max_length: int | None = None,
    max_items: int | None = None,
) -> dict[str, Any]:
    """``Column.info`` for one field of the data standard.

    ``check`` names a validator in ``standard.codes``; ``choices`` maps allowed values to their
    Chinese labels; ``personal`` marks personal information (PIPL) that masking and
    desensitisation must protect; ``ingest=False`` marks columns the gateway sets itself.
    ``personal_if`` names the column saying the party's nature: the field is personal in rows
    where it says ``natural_person`` (a person's name); ``names`` are the name columns whose
    values such a free-text field may contain ("当事人杨丽娟…").
    ``max_length`` bounds a column the database does not (long text: characters; a list: each
    value; an object: its JSON text); ``max_items`` the values of a list.
    """
    info: dict[str, Any] = {"zh": zh, "en": en, "personal": personal, "ingest": ingest}
    if max_length is not None:
        info["max_length"] = max_length
    if max_items is not None:
        info["max_items"] = max_items
    if personal_if is not None:
        info["personal_if"] = personal_if
    if names:
        info["names"] = list(names)
    if check is not None:
        info["check"] = check
    if choices is not None:
        info["choices"] = dict(choices)
    return info


BigId = BigInteger().with_variant(Integer, "sqlite")


@dataclass(frozen=True, slots=True)
class Join:
    """A field of a table listing the ``target`` table's rows whose ``remote`` column equals this
    row's ``local`` one: all of them (``many``), or the newest. ``target`` is a table name, so the
    sources' table modules never import each other; the registry checks the names."""

    field: str
    target: str
    local: str
    remote: str
    many: bool
    zh: str
    en: str


EXCHANGE_FILTERS = ("provider",), ("late",)
"""Control columns every list can be filtered by: the provider first, lateness last."""


class ExchangeRecord:
    """Columns every table of the data standard carries, and the facts each table declares
    about itself: the columns its lists filter by besides the control columns (``__filters__``),
    the column naming the subject a record is about (``__subject__``, for the ``subject`` policy
    rule), and its joins to other tables (``__joins__``)."""

    __filters__: ClassVar[tuple[str, ...]] = ()
    __subject__: ClassVar[str | None] = None
    __joins__: ClassVar[tuple[Join, ...]] = ()

    id: Mapped[int] = mapped_column(
        BigId, primary_key=True, autoincrement=True, info=field("记录号", "Row id", ingest=False)
    )
    # Indexed by the unique (provider, cd_id) constraint; a second index on provider alone
    # tempts PostgreSQL's generic plans into scanning a provider's whole table.
    provider: Mapped[str] = mapped_column(
        String(64),
        info=field("数据提供部门", "Department or partner that provided the record", ingest=False),
    )
    source_system: Mapped[str] = mapped_column(
        String(64), info=field("来源系统", "System the record came from", ingest=False)
    )
    cd_id: Mapped[str] = mapped_column(
        String(64), info=field("交换主键", "Record key in the provider's exchange database")
    )
    cd_source: Mapped[str] = mapped_column(
        String(80), info=field("数据来源", "Origin: province division code | department code")
    )
    cd_batch: Mapped[str] = mapped_column(
        String(13),
        info=field("批次号", "Batch: date YYYYMMDD + 5-digit sequence", check="batch_code"),
    )
    cd_operation: Mapped[str] = mapped_column(
        String(1), info=field("操作标识", "i insert, u update, d delete", choices=OPERATIONS)
    )
    cd_time: Mapped[datetime] = mapped_column(
        UTCDateTime, info=field("入库时间", "When the provider's exchange database stored it")
    )
    produced_at: Mapped[datetime] = mapped_column(
        UTCDateTime, index=True, info=field("产生时间", "When the regulatory fact happened")
    )
    received_at: Mapped[datetime] = mapped_column(
        UTCDateTime, info=field("接收时间", "When the data centre received it", ingest=False)
    )
    delay_working_days: Mapped[int] = mapped_column(
        Integer,
        info=field("报送延迟(工作日)", "Working days from produced to received", ingest=False),
    )
    delay_provisional: Mapped[bool] = mapped_column(
        Boolean,
        info=field(
            "延迟为暂估", "Delay counted without a holiday calendar (weekends only)", ingest=False
        ),
    )
    late: Mapped[bool] = mapped_column(
        Boolean,
        index=True,
        info=field("逾期报送", "Received more than 5 working days after produced", ingest=False),
    )
    content_hash: Mapped[str] = mapped_column(
        String(32), info=field("内容摘要", "Digest of the record's content", ingest=False)
    )

    @declared_attr.directive
    @classmethod
    def __table_args__(cls) -> tuple[Any, ...]:
        return (UniqueConstraint("provider", "cd_id"),)


def ingest_runs_table(metadata: MetaData) -> Table:
    """数据接收批次: one row per ingest run; numbers ``cd_batch`` per provider and day."""
    return Table(
        "ingest_runs",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("provider", String(64), nullable=False),
        Column("table_name", String(64), nullable=False),
        Column("batch", String(13), nullable=False),
        Column("file_name", String(255)),
        Column("started_at", UTCDateTime, nullable=False),
        Column("finished_at", UTCDateTime),
        Column("counts", JSONValue),
        UniqueConstraint("provider", "batch"),
    )


EXCHANGE_COLUMNS = tuple(n for n in ExchangeRecord.__annotations__ if not n.startswith("__"))
"""Names of the columns every record carries, in declaration order (the declared facts aside)."""
