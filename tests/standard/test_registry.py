"""The facts each table declares about itself (filters, subject column, joins) are checked
against the columns when the registry loads; a declaration naming what a table lacks is named."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from policies.scope import seed_lines
from standard.exchange import ExchangeRecord, Join, field, new_metadata
from standard.registry import TABLES, declared_problems, filters, subject_column


class _Base(DeclarativeBase):
    metadata = new_metadata("test_registry")


class _Shop(ExchangeRecord, _Base):
    __tablename__ = "shops"
    __filters__ = ("uscc", "colour")  # colour: no such column
    __subject__ = "owner_uscc"  # no such column
    __joins__ = (
        Join("visits", "visits", "uscc", "shop_uscc", True, "走访", "Visits"),
        Join("chain", "chains", "uscc", "uscc", False, "连锁", "Chain"),  # no table chains
        Join("owner", "visits", "uscc", "nobody", False, "业主", "Owner"),  # visits has no nobody
    )
    uscc: Mapped[str] = mapped_column(String(18), info=field("统一社会信用代码", "USCC"))


class _Visit(ExchangeRecord, _Base):
    __tablename__ = "visits"
    __joins__ = (Join("shop", "shops", "shop_code", "uscc", False, "门店", "Shop"),)
    shop_uscc: Mapped[str] = mapped_column(String(18), info=field("门店代码", "Shop"))


def test_the_shipped_tables_declare_only_what_they_have() -> None:
    assert declared_problems(TABLES) == []


def test_each_wrong_declaration_is_named_with_its_table() -> None:
    problems = declared_problems({"shops": _Shop, "visits": _Visit})
    assert sorted(problems) == sorted(
        [
            "shops: filter: no column 'colour'",
            "shops: subject: no column 'owner_uscc'",
            "shops: join chain targets no table 'chains'",
            "shops: join owner: visits has no nobody",
            "visits: join shop: no column 'shop_code'",
        ]
    )


def test_every_list_filters_by_provider_first_and_lateness_last() -> None:
    for model in TABLES.values():
        shown = filters(model)
        assert shown[0] == "provider" and shown[-1] == "late"
        assert len(set(shown)) == len(shown)
        assert all(name in model.__table__.c for name in shown)  # type: ignore[attr-defined]


def test_every_table_the_seed_policy_limits_by_subject_declares_its_subject_column() -> None:
    # rule ``subject``: an enterprise reads the records about itself. A table without a declared
    # subject column would give it nothing at all, silently.
    limited = {line[2] for line in seed_lines() if line[0] == "p" and line[-1] == "subject"}
    assert limited, "the seed policy has subject lines"
    assert {table for table in limited if subject_column(table) is None} == set()
    assert subject_column("matters") is None  # about no one subject
    assert subject_column("no_such_table") is None
