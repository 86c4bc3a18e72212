"""Property: for random departments, records and grants, the rows (and fields in clear) a
principal reads through the real SQL connector equal a plain reference computation."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select

from gateway.settings import Settings
from policies.access import RequestSources
from policies.masking import PERSONAL, mask
from policies.principal import PUBLIC, Principal
from policies.scope import GrantLimits, Policy, scope_for, seed_lines
from sources.base import PageRequest
from sources.database import SourceDatabases
from sources.guard import Sources
from standard.migrate import upgrade
from standard.tables.complaints import Complaint

PARTIES = ("XA-SCJG", "XA-STHJ", "YT-SCJG", "P-12345", "P-CREDIT")
DIVISIONS = ("610113", "610112")
FIELDS = tuple(sorted(PERSONAL["complaints"]))
NOW = datetime(2026, 6, 1, tzinfo=UTC)
TABLE = Complaint.__table__  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def complaints_db(
    tmp_path_factory: pytest.TempPathFactory, seeded_sqlite: Settings
) -> tuple[Settings, dict[str, Any]]:
    """An empty complaints database of our own, and one complete demo row as a template."""

    async def make() -> dict[str, Any]:
        seeded = SourceDatabases(seeded_sqlite)
        async with seeded.engine("complaints").connect() as connection:
            row = (await connection.execute(select(TABLE).limit(1))).first()
        await seeded.dispose()
        assert row is not None
        own = SourceDatabases(settings_)
        await upgrade(own.engine("complaints"), "complaints")
        await own.dispose()
        return dict(row._mapping)

    settings_ = Settings(var_dir=Path(tmp_path_factory.mktemp("scope-property")))
    template = asyncio.run(make())
    return settings_, template


rows_strategy = st.lists(
    st.tuples(st.sampled_from(PARTIES), st.sampled_from(DIVISIONS)), min_size=0, max_size=12
)
grant_strategy = st.builds(
    lambda provider, grantee, division, clear, state: (provider, grantee, division, clear, state),
    st.sampled_from(PARTIES),
    # Grants mostly to the parties principals act for, so most examples exercise one.
    st.sampled_from(("XA-STHJ", "YT-SCJG", "P-12345", "XA-ZWB")),
    st.none() | st.sampled_from(DIVISIONS),
    st.frozensets(st.sampled_from(FIELDS)),
    st.sampled_from(("active", "expired", "future")),
)
principal_strategy = st.one_of(
    st.builds(
        lambda party, role: Principal(
            kind="staff", id=f"user:{party}", party=party, party_kind="department", role=role
        ),
        st.sampled_from(PARTIES[:3]),
        st.sampled_from(("staff", "dept_admin")),
    ),
    st.builds(
        lambda party: Principal(
            kind="client", id=f"client:{party}", party=party, party_kind="partner"
        ),
        st.sampled_from(PARTIES[3:]),
    ),
    st.just(
        Principal(
            kind="staff", id="user:c", party="XA-ZWB", party_kind="city_office", role="city_office"
        )
    ),
    st.builds(
        lambda party, kind: Principal(
            kind="staff", id=f"user:{party}.aud", party=party, party_kind=kind, role="auditor"
        ),
        st.sampled_from(("XA-ZWB", "XA-STHJ", "YT-SCJG")),
        st.sampled_from(("city_office", "department")),
    ),
    st.builds(
        lambda party: Principal(
            kind="client", id=f"client:{party}.sys", party=party, party_kind="department"
        ),
        st.sampled_from(PARTIES[:3]),
    ),
    st.just(
        Principal(
            kind="client",
            id="client:e",
            party="E",
            party_kind="enterprise",
            uscc="91610000MA6U000000",
        )
    ),
    st.just(PUBLIC),
)


def _grants(raw: list[tuple[str, str, str | None, frozenset[str], str]]) -> list[GrantLimits]:
    made = []
    for n, (provider, grantee, division, clear, state) in enumerate(raw, start=1):
        start, end = {
            "active": (NOW - timedelta(days=1), NOW + timedelta(days=1)),
            "expired": (NOW - timedelta(days=9), NOW - timedelta(days=1)),
            "future": (NOW + timedelta(days=1), NOW + timedelta(days=9)),
        }[state]
        made.append(
            GrantLimits(
                id=n,
                provider=provider,
                grantee=grantee,
                resource="complaints",
                row_filter={"division_code": division} if division else {},
                clear_fields=clear,
                valid_from=start,
                valid_until=end,
            )
        )
    return made


def reference(
    principal: Principal, grants: list[GrantLimits], row: dict[str, Any]
) -> set[str] | None:
    """The rules in prose: own records in clear; the city office everything, masked; granted
    records within the grant's district, its fields in clear, while it is valid; enterprises
    and the public no complaints at all. Own records and grants reach a party's staff,
    administrators, overseers and machine clients, never its security auditor."""
    seen = False
    clear: set[str] = set()
    if principal.kind != "client" and principal.role not in ("staff", "dept_admin", "city_office"):
        return None
    if principal.party_kind in ("department", "partner") and row["provider"] == principal.party:
        seen, clear = True, set(FIELDS)
    if principal.role == "city_office":
        seen = True
    for g in grants:
        if g.grantee != principal.party or g.provider != row["provider"]:
            continue
        if not g.valid_from <= NOW < g.valid_until:
            continue
        if all(row[c] == v for c, v in g.row_filter.items()):
            seen = True
            clear |= g.clear_fields
    return clear if seen else None


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=rows_strategy.filter(bool),
    raw_grants=st.lists(grant_strategy, max_size=8),
    principal=principal_strategy,
)
def test_what_a_principal_reads_equals_the_reference(
    complaints_db: tuple[Settings, dict[str, Any]],
    rows: list[tuple[str, str]],
    raw_grants: list[tuple[str, str, str | None, frozenset[str], str]],
    principal: Principal,
) -> None:
    settings_, template = complaints_db
    grants = _grants(raw_grants)
    records = []
    for n, (provider, division) in enumerate(rows, start=1):
        record = dict(template)
        record.update(id=n, cd_id=f"C{n:04d}", provider=provider, division_code=division)
        record["complainant_phone"] = f"1380000{n:04d}"
        records.append(record)

    async def read() -> list[dict[str, Any]]:
        databases = SourceDatabases(settings_)
        async with databases.engine("complaints").begin() as connection:
            await connection.execute(delete(TABLE))
            if records:
                await connection.execute(insert(TABLE), records)
        await databases.dispose()
        sources = Sources(settings_)
        try:
            scope = scope_for(principal, Policy(seed_lines(), grants), NOW)
            page = await RequestSources(sources, scope).page(
                "complaints", "complaints", PageRequest(first=100)
            )
            return page.rows
        finally:
            await sources.close()

    got = asyncio.run(read())
    want = [(r, clear) for r in records if (clear := reference(principal, grants, r)) is not None]
    assert [r["id"] for r in got] == [r["id"] for r, _ in want]
    for row, (record, clear) in zip(got, want, strict=True):
        for name in FIELDS:
            raw = record[name]
            expected = raw if name in clear else mask(name, PERSONAL["complaints"][name], raw)
            assert row[name] == expected, name
