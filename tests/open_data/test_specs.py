"""Dataset specs fail closed, and desensitising the demo data leaves no personal value behind."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.settings import Settings
from open_data.datasets import DATASETS, UnknownDataset, dataset
from open_data.desensitise import desensitise, pseudonym, record_id
from open_data.errors import ReleaseRefused, SpecError
from open_data.extract import extract, pages
from open_data.pii import Scanner
from open_data.release import Release, rows_of
from open_data.scan import personal_values_of
from open_data.spec import (
    RECORD_ID,
    Column,
    DatasetSpec,
    Digest,
    Drop,
    Generalise,
    Keep,
    Mask,
    MaskPerson,
    Pseudonymise,
    RedactNames,
    check_spec,
)
from sources.base import Page, PageRequest
from sources.database import create_engine
from sources.sql import SqlConnector
from standard.codes import make_id_number

KEY = b"test-pseudonym-key-0123456789abcdef"


async def _published(spec: DatasetSpec, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the ``desensitise`` stage makes of ``rows``."""
    return await rows_of(await desensitise(Release.of_rows(spec, rows, key=KEY)))


def published_rows(spec: DatasetSpec, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return asyncio.run(_published(spec, rows))


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_every_starter_spec_rules_every_column(name: str) -> None:
    check_spec(DATASETS[name])


def test_unknown_dataset_names_the_known_ones() -> None:
    with pytest.raises(UnknownDataset, match="complaint-statistics"):
        dataset("complaints")


def _without(spec: DatasetSpec, column: str) -> DatasetSpec:
    return dataclasses.replace(spec, columns=tuple(c for c in spec.columns if c.source != column))


def test_a_column_without_a_rule_fails_the_release() -> None:
    spec = _without(DATASETS["inspection-results"], "counterparty_id")
    with pytest.raises(SpecError, match="without a rule: counterparty_id"):
        check_spec(spec)


def test_personal_columns_cannot_be_kept_and_rules_must_name_real_columns() -> None:
    spec = DATASETS["inspection-results"]
    kept = dataclasses.replace(
        spec,
        columns=tuple(
            Column(c.source, Keep()) if c.source == "counterparty_id" else c for c in spec.columns
        ),
    )
    with pytest.raises(SpecError, match="counterparty_id is personal"):
        check_spec(kept)
    extra = dataclasses.replace(spec, columns=(*spec.columns, Column("colour", Drop())))
    with pytest.raises(SpecError, match="colour"):
        check_spec(extra)
    twice = dataclasses.replace(spec, columns=(*spec.columns, Column("kind", Drop())))
    with pytest.raises(SpecError, match="two rules: kind"):
        check_spec(twice)
    no_quasi = dataclasses.replace(spec, quasi=())
    with pytest.raises(SpecError, match="quasi-identifiers"):
        check_spec(no_quasi)


def test_a_name_of_a_natural_person_cannot_be_kept() -> None:
    # The data standard marks a penalty's case name as naming the party when it is a person
    # ("杨丽娟未按规定亮照经营案"): the penalty-publicity spec kept it as it was.
    spec = DATASETS["penalty-publicity"]
    kept = dataclasses.replace(
        spec,
        columns=tuple(
            Column(c.source, Keep()) if c.source == "case_name" else c for c in spec.columns
        ),
    )
    with pytest.raises(SpecError, match="case_name holds a natural person's name"):
        check_spec(kept)


def test_a_natural_persons_name_is_masked_inside_free_text() -> None:
    spec = DATASETS["penalty-publicity"]
    rule = next(c.rule for c in spec.columns if c.source == "case_name")
    assert isinstance(rule, RedactNames)
    base = {"provider": "XA-SCJG", "decision_date": date(2026, 3, 1)}
    rows = [
        {**base, "cd_id": "P-1", "counterparty_category": "natural_person",
         "counterparty_name": "杨丽娟", "case_name": "杨丽娟未按规定亮照经营案"},
        {**base, "cd_id": "P-2", "counterparty_category": "legal_person",
         "counterparty_name": "西安某公司", "case_name": "西安某公司未按规定亮照经营案"},
    ]  # fmt: skip
    person, company = published_rows(spec, rows)
    # Masked as a name is published: the surname, a star for each other character.
    assert person["case_name"] == "杨**未按规定亮照经营案"
    assert person["counterparty_name"] == "杨**"
    assert company["case_name"] == "西安某公司未按规定亮照经营案"  # organisations are public


def _spec(*columns: Column, **changes: Any) -> DatasetSpec:
    base = DATASETS["inspection-results"]
    return dataclasses.replace(base, columns=columns, quasi=(), public_by_rule=True, **changes)


def test_rules_one_by_one() -> None:
    spec = _spec(
        Column("name", Mask(start=1, end=1)),
        Column("closed_on", Generalise("month")),
        Column("decision_date", Generalise("year")),
        Column("address", Generalise("district")),
        Column("fine_amount", Generalise("band", (Decimal(1000), Decimal(10000)))),
        Column("subject_name", MaskPerson()),
        Column("counterparty_id", Pseudonymise()),
    )
    rows = [
        {
            "name": "张三丰", "closed_on": datetime(2026, 5, 31, 16, 30, tzinfo=UTC),
            "decision_date": date(2025, 3, 1), "address": "西安市雁塔区小寨东路1号",
            "fine_amount": Decimal("5000"), "subject_name": "李四",
            "counterparty_nature": "natural_person", "counterparty_id": "X1",
            "provider": "XA-SCJG", "cd_id": "A-1",
        },
        {
            "name": "AB", "closed_on": None, "decision_date": None, "address": None,
            "fine_amount": Decimal("20000"), "subject_name": "西安某公司",
            "counterparty_nature": "legal_person", "counterparty_id": "X1",
            "provider": "XA-SCJG", "cd_id": "A-2",
        },
    ]  # fmt: skip
    first, second = published_rows(spec, rows)
    assert first == {
        RECORD_ID: record_id(KEY, rows[0]),
        "name": "张*丰",
        "closed_on": "2026-06",  # 00:30 on 1 June in Beijing
        "decision_date": "2025",
        "address": "西安市雁塔区",
        "fine_amount": "1000-10000",
        "subject_name": "李*",
        "counterparty_id": pseudonym(KEY, "X1"),
    }
    assert second["subject_name"] == "西安某公司"  # organisations' names are public
    assert second["closed_on"] is None and second["fine_amount"] == ">=10000"
    assert second["counterparty_id"] == first["counterparty_id"]  # stable across rows, releases
    assert pseudonym(b"another-key", "X1") != first["counterparty_id"]
    assert "X1" not in first["counterparty_id"]
    # The record id follows the exchange identity, not the content.
    assert first[RECORD_ID] != second[RECORD_ID]
    assert record_id(KEY, {**rows[0], "name": "王五"}) == first[RECORD_ID]
    assert record_id(KEY, {**rows[0], "provider": "XA-ZWB"}) != first[RECORD_ID]


def test_pseudonyms_stay_what_earlier_releases_published() -> None:
    # Partners join releases on them: a change of library or encoding must not move them.
    key = b"jianguan-open-data-key-0123456789"
    assert pseudonym(key, "91610000MA6X0001XY") == "cjakiihofochegnmlgpjjleeilfcnb"
    assert pseudonym(key, 12345) == "oemclggejhbddlbcihdlifclkgoejm"


@given(st.text(max_size=40), st.binary(max_size=80))
def test_hmac_sm3_is_the_same_whichever_library_computes_it(value: str, key: bytes) -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.hmac import HMAC

    from standard.sm3 import cryptography_hmac_sm3, openssl_hmac_sm3

    data = value.encode()
    reference = HMAC(key, hashes.SM3())
    reference.update(data)
    expected = reference.finalize()
    assert openssl_hmac_sm3(key)(data) == expected
    assert cryptography_hmac_sm3(key)(data) == expected


@given(st.text(max_size=40), st.binary(min_size=16, max_size=32))
def test_a_pseudonym_never_reads_as_personal_information(value: str, key: bytes) -> None:
    # Hexadecimal pseudonyms could hold eleven digits starting with 1: a "mobile number".
    assert Scanner().hits(pseudonym(key, value)) == ()


def test_minors_cases_are_never_published() -> None:
    import random

    spec = dataset("administrative-penalties")
    rng = random.Random(5)
    child = make_id_number(rng, division="610113", birth=date(2010, 1, 1), female=False)
    adult = make_id_number(rng, division="610113", birth=date(1980, 1, 1), female=True)
    base = dict.fromkeys(c.source for c in spec.columns)
    rows = [
        {**base, "counterparty_nature": "natural_person", "counterparty_id": child,
         "decision_date": date(2026, 1, 1), "counterparty_name": "王小明"},
        {**base, "counterparty_nature": "natural_person", "counterparty_id": adult,
         "decision_date": date(2026, 1, 1), "counterparty_name": "赵丽"},
        {**base, "counterparty_nature": "legal_person", "counterparty_id": None,
         "decision_date": date(2026, 1, 1), "counterparty_name": "西安某公司"},
    ]  # fmt: skip
    published = published_rows(spec, rows)
    assert [r["counterparty_name"] for r in published] == ["赵*", "西安某公司"]
    assert all("counterparty_id" not in r for r in published)


async def _rows(settings: Settings, spec: DatasetSpec) -> list[dict[str, Any]]:
    connector = SqlConnector(spec.source, create_engine(settings.database_url(spec.source)))
    try:
        release = await extract(Release(spec, Path(), reader=connector))
        return await rows_of(release)
    finally:
        await connector.close()


# Those read from the sources; audit-chain-heads reads the gateway's audit checkpoints (no
# personal data; tests/audit/test_audit.py publishes it).
@pytest.mark.parametrize("name", sorted(n for n, spec in DATASETS.items() if spec.reader is None))
async def test_no_personal_value_of_the_demo_data_survives(
    seeded_sqlite: Settings, name: str
) -> None:
    spec = DATASETS[name]
    rows = await _rows(seeded_sqlite, spec)
    assert rows, f"{name}: the demo data selects nothing"
    personal = {v for v in personal_values_of(rows, table=spec.table) if len(v) >= 2}
    names = {
        str(row["counterparty_name"])
        for row in rows
        if row.get("counterparty_nature") == "natural_person" and row.get("counterparty_name")
    }
    published = await _published(spec, rows)
    assert published
    cells = {str(v) for row in published for v in row.values() if v is not None}
    leaked = (personal | names) & cells
    assert not leaked, f"{name}: {sorted(leaked)[:3]}"
    if spec.aggregate is None:
        assert list(spec.output_columns) == list(published[0])
    else:
        count = spec.aggregate.count_as
        assert sum(r[count] for r in published) == len(rows)


async def test_extract_reads_only_approved_providers(seeded_sqlite: Settings) -> None:
    spec = dataset("matter-catalogue")
    every = await _rows(seeded_sqlite, spec)
    one = every[0]["provider"]
    connector = SqlConnector(
        "supervision", create_engine(seeded_sqlite.database_url("supervision"))
    )
    try:
        theirs = [r async for page in pages(spec, connector, providers={one}) for r in page]
        nobody = [r async for page in pages(spec, connector, providers=set()) for r in page]
    finally:
        await connector.close()
    assert theirs and {r["provider"] for r in theirs} == {one}
    assert len(theirs) == sum(r["provider"] == one for r in every)
    assert nobody == []


class _Counted:
    """A connector that counts the pages asked of it, and how many were in flight at once."""

    def __init__(self, inner: SqlConnector) -> None:
        self.inner, self.asked, self.flying, self.most = inner, 0, 0, 0

    async def page(self, table: str, request: PageRequest) -> Page:
        self.asked += 1
        self.flying += 1
        self.most = max(self.most, self.flying)
        try:
            return await self.inner.page(table, request)
        finally:
            self.flying -= 1


async def test_extract_asks_for_the_next_page_ahead_and_no_more(seeded_sqlite: Settings) -> None:
    spec = dataset("inspection-results")
    every = await _rows(seeded_sqlite, spec)
    connector = SqlConnector(
        "supervision", create_engine(seeded_sqlite.database_url("supervision"))
    )
    try:
        counted = _Counted(connector)
        paged = [r async for page in pages(spec, counted, page=97) for r in page]
        assert paged == every and len({r["id"] for r in paged}) == len(paged)
        assert counted.asked == -(-len(every) // 97) and counted.most == 1

        early = _Counted(connector)
        rows = pages(spec, early, page=97)
        first = (await anext(rows))[:5]
        await rows.aclose()  # the page asked for ahead is called off
        for _ in range(200):
            if not early.flying:
                break
            await asyncio.sleep(0.01)
        assert first == every[:5] and early.asked <= 2 and early.flying == 0
    finally:
        await connector.close()


def test_a_digest_is_published_as_it_is_and_anything_else_in_its_column_refuses_the_release() -> (
    None
):
    spec = _spec(Column("name", Digest()))
    digest = "0123456789abcdef" * 8
    row = {"name": digest, "provider": "XA-SCJG", "cd_id": "A-1"}
    (published,) = published_rows(spec, [row])
    assert published["name"] == digest
    for bad in ("13812345678", digest.upper(), digest[:63]):
        with pytest.raises(ReleaseRefused, match="name: a Digest"):
            published_rows(spec, [{**row, "name": bad}])
