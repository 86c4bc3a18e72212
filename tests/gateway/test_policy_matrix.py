"""The real policy files against a matrix, over real HTTP: each kind of principal × each
resource × own/other provider × no / active / expired / revoked grant × personal fields.

Expectations come from a plain reference written here from the rules in prose (not from
gateway/scope.py), applied to the rows read straight from the demo databases.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select, update

from gateway.admin import Actor
from gateway.app import create_app
from gateway.grants import GrantRequest
from gateway.policies import ensure_seed
from gateway.principal import Principal
from gateway.services import Services
from gateway.settings import Settings
from gateway.tables import Grant
from resolvers.database import SourceDatabases, create_engine
from resolvers.graph import ids
from resolvers.masking import PERSONAL, mask
from resolvers.registry import SOURCES
from tests.conftest import _drop, _pg_url
from tests.servers import LiveServer

OPERATOR = Actor("cli:test")
PUBLIC_TABLES = {"matters", "inspection_items", "officers", "departments", "licensing_items"}
ENTERPRISE_TABLES = {
    "subjects": "uscc",
    "actions": "subject_uscc",
    "licences": "applicant_uscc",
    "licence_publicity": "counterparty_uscc",
    "penalty_publicity": "counterparty_uscc",
    "credit_lists": "subject_uscc",
    "credit_ratings": "subject_uscc",
}
# The provider whose rows each non-public resource is granted from (the demo's main one).
GRANTED_FROM = {
    "subjects": "XA-SCJG",
    "plans": "XA-SCJG",
    "actions": "XA-SCJG",
    "penalty_publicity": "XA-SCJG",
    "complaints": "P-12345",
    "credit_ratings": "P-CREDIT",
    "licence_publicity": "P-CREDIT",
    "credit_lists": "P-CREDIT",
    "licences": "P-ZWFW",
}
ACTIVE, EXPIRED, REVOKED = "XA-STHJ", "XA-YJGL", "XA-WSJK"
TABLE_SOURCE = {t: s.name for s in SOURCES.values() for t in s.tables}
PAGE = 100


def staff(name: str, party: str, kind: str = "department", role: str = "staff") -> Principal:
    return Principal(kind="staff", id=f"user:{name}", party=party, party_kind=kind, role=role)


def client(name: str, party: str, kind: str, uscc: str | None = None) -> Principal:
    return Principal(kind="client", id=f"client:{name}", party=party, party_kind=kind, uscc=uscc)


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@dataclasses.dataclass(frozen=True)
class GrantFact:
    provider: str
    grantee: str
    resource: str
    row_filter: dict[str, str]
    clear: frozenset[str]


@dataclasses.dataclass
class World:
    url: str
    tokens: dict[str, str | None]
    principals: dict[str, Principal | None]
    rows: dict[str, list[dict[str, Any]]]
    grants: list[GrantFact]  # the active ones


def expected(
    principal: Principal | None, table: str, row: dict[str, Any], world: World
) -> set[str] | None:
    """The personal fields shown in clear, or None when the row is not visible."""
    seen = table in PUBLIC_TABLES
    clear: set[str] = set()
    if principal is None:
        return clear if seen else None
    if principal.party_kind in ("department", "partner") and row["provider"] == principal.party:
        seen = True
        clear |= set(PERSONAL[table])
    if principal.role == "city_office":
        seen = True
    column = ENTERPRISE_TABLES.get(table)
    if principal.party_kind == "enterprise" and column and row[column] == principal.uscc:
        seen = True
    for g in world.grants:
        if (g.grantee, g.resource, g.provider) != (principal.party, table, row["provider"]):
            continue
        if all(row[c] == v for c, v in g.row_filter.items()):
            seen = True
            clear |= g.clear
    return clear if seen else None


async def _rows(settings: Settings) -> dict[str, list[dict[str, Any]]]:
    databases = SourceDatabases(settings)
    found: dict[str, list[dict[str, Any]]] = {}
    try:
        for source in SOURCES.values():
            for table, model in source.tables.items():
                core = model.__table__  # type: ignore[attr-defined]
                stmt = select(core).where(core.c.cd_operation != "d").order_by(core.c.id)
                async with databases.engine(source.name).connect() as connection:
                    found[table] = [dict(r._mapping) for r in await connection.execute(stmt)]
    finally:
        await databases.dispose()
    return found


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def world(seeded_pg: Settings, gateway_template: dict[str, str]) -> AsyncIterator[World]:
    import uuid

    from tests.conftest import _admin

    name = f"jg_test_{uuid.uuid4().hex[:10]}_matrix"
    admin = await _admin()
    await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{gateway_template["postgresql"]}"')
    await admin.close()
    settings = dataclasses.replace(
        seeded_pg, gateway_url=_pg_url(name), public_cache_seconds=0, rate_limit="100000/minute"
    )
    engine = create_engine(settings.gateway_url)
    await ensure_seed(engine)
    await engine.dispose()
    rows = await _rows(settings)
    subject = max(
        {r["subject_uscc"] for r in rows["actions"] if r["subject_uscc"]},
        key=lambda u: sum(r["subject_uscc"] == u for r in rows["actions"]),
    )
    principals: dict[str, Principal | None] = {
        "own department": staff("scjg", "XA-SCJG"),
        "department, active grant": staff("sthj", ACTIVE),
        "department, expired grant": staff("yjgl", EXPIRED),
        "department, revoked grant": staff("wsjk", REVOKED),
        "department, no grant": staff("jtys", "XA-JTYS"),
        "department administrator": staff("jtys.admin", "XA-JTYS", role="dept_admin"),
        "partner (own complaints)": client("hotline", "P-12345", "partner"),
        "partner (own credit)": client("credit", "P-CREDIT", "partner"),
        "city office": staff("city", "XA-ZWB", "city_office", "city_office"),
        "security auditor": staff("auditor", "XA-ZWB", "city_office", "auditor"),
        "enterprise": client("ent", "ENT-1", "enterprise", uscc=subject),
        "public": None,
    }
    services = Services.create(settings)
    facts: list[GrantFact] = []
    try:
        codes = {
            "XA-SCJG", "XA-STHJ", "XA-YJGL", "XA-WSJK", "XA-JTYS", "P-12345", "P-CREDIT",
            "P-ZWFW", "XA-ZWB", "YT-SCJG",
        }  # fmt: skip
        for code in sorted(codes):
            kind = "partner" if code.startswith("P-") else "department"
            kind = "city_office" if code == "XA-ZWB" else kind
            await services.admin.add_party(OPERATOR, code=code, name=code, kind=kind)
        await services.admin.add_party(
            OPERATOR, code="ENT-1", name="ent", kind="enterprise", uscc=subject
        )
        until = datetime.now(UTC) + timedelta(days=30)
        for resource, provider in GRANTED_FROM.items():
            personal = sorted(PERSONAL[resource])
            # One field in clear where there are several, the rest stay masked.
            clear = tuple(personal[:1]) if len(personal) > 1 else ()
            row_filter = {"division_code": "610113"} if resource == "complaints" else {}
            ids_by_grantee = {}
            for grantee in (ACTIVE, EXPIRED, REVOKED):
                ids_by_grantee[grantee] = await services.grants.give(
                    OPERATOR,
                    GrantRequest(
                        provider, grantee, resource, "履职需要", until, None, row_filter, clear
                    ),
                )
            facts.append(GrantFact(provider, ACTIVE, resource, row_filter, frozenset(clear)))
            await services.grants.revoke(OPERATOR, ids_by_grantee[REVOKED])
            async with services.engine.begin() as connection:
                past = datetime.now(UTC) - timedelta(days=1)
                await connection.execute(
                    update(Grant)
                    .where(Grant.id == ids_by_grantee[EXPIRED])
                    .values(valid_from=past - timedelta(days=30), valid_until=past)
                )
        # Yanta's bureau registers Yanta's subjects: shared too, for the joins below.
        await services.grants.give(
            OPERATOR, GrantRequest("YT-SCJG", ACTIVE, "subjects", "履职需要", until)
        )
        facts.append(GrantFact("YT-SCJG", ACTIVE, "subjects", {}, frozenset()))
        tokens: dict[str, str | None] = {}
        for label, principal in principals.items():
            if principal is None:
                tokens[label] = None
                continue
            issued = await services.tokens.issue(
                principal, lifetime=timedelta(hours=1), idle=timedelta(hours=1)
            )
            tokens[label] = issued.token
    finally:
        await services.close()
    async with LiveServer(create_app(settings)) as server:
        yield World(server.url, tokens, principals, rows, facts)
    await _drop({"db": name})


MATRIX = [(who, table) for who in (
    "own department", "department, active grant", "department, expired grant",
    "department, revoked grant", "department, no grant", "department administrator",
    "partner (own complaints)", "partner (own credit)", "city office", "security auditor",
    "enterprise", "public",
) for table in sorted(TABLE_SOURCE)]  # fmt: skip


@pytest.mark.parametrize(("who", "table"), MATRIX)
async def test_rows_and_fields_each_principal_sees(world: World, who: str, table: str) -> None:
    personal = sorted(PERSONAL[table])
    fields = " ".join(["id", "provider", *(camel(p) for p in personal)])
    root = camel(table)
    query = f"{{ {root}(first: {PAGE}) {{ totalCount edges {{ node {{ {fields} }} }} }} }}"
    token = world.tokens[who]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(f"{world.url}/graphql", json={"query": query}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    got = body["data"][root]
    principal = world.principals[who]
    visible = [
        (row, clear)
        for row in world.rows[table]
        if (clear := expected(principal, table, row, world)) is not None
    ]
    assert got["totalCount"] == len(visible)
    page = [node["node"] for node in got["edges"]]
    assert [ids.decode(n["id"])[1] for n in page] == [row["id"] for row, _ in visible[:PAGE]]
    for node, (row, clear) in zip(page, visible[:PAGE], strict=True):
        assert node["provider"] == row["provider"]
        checks = PERSONAL[table]
        for name in personal:
            raw = row[name]
            want = raw if name in clear else mask(name, checks[name], raw)
            assert node[camel(name)] == want, (name, who)


def test_the_matrix_covers_every_case(world: World) -> None:
    """The demo data gives each cell something to show: no cell passes by being empty."""
    principal = world.principals["department, active grant"]
    for table in GRANTED_FROM:
        shown = [r for r in world.rows[table] if expected(principal, table, r, world) is not None]
        assert shown, f"{table}: the active grant shows no rows"
        assert (
            any(
                (c := expected(principal, table, r, world)) is not None and c < set(PERSONAL[table])
                for r in shown
            )
            or not PERSONAL[table]
        ), f"{table}: no row with masked fields under the grant"
    in_clear = [g.resource for g in world.grants if g.clear]
    assert len(in_clear) >= 3, "grants showing a personal field in clear"
    enterprise = world.principals["enterprise"]
    assert any(expected(enterprise, "actions", r, world) is not None for r in world.rows["actions"])


async def _ask(world: World, who: str, query: str) -> dict[str, Any]:
    token = world.tokens[who]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(f"{world.url}/graphql", json={"query": query}, headers=headers)
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body["data"]  # type: ignore[no-any-return]


async def test_every_path_masks_alike_and_hides_alike(world: World) -> None:
    """A list, node(id) and a nested join give the same row the same fields; a row outside the
    scope is null by id and absent from joins; personal fields cannot be filtered on."""
    who = "department, active grant"
    fields = "id cdId subjectUscc complainantName complainantPhone content"
    listed = await _ask(
        world, who, f"{{ complaints(first: 5) {{ edges {{ node {{ {fields} }} }} }} }}"
    )
    node = listed["complaints"]["edges"][0]["node"]
    by_id = await _ask(
        world, who, f'{{ node(id: "{node["id"]}") {{ ... on Complaint {{ {fields} }} }} }}'
    )
    assert by_id["node"] == node
    raw = next(r for r in world.rows["complaints"] if r["cd_id"] == node["cdId"])
    assert node["complainantName"] == mask("complainant_name", None, raw["complainant_name"])
    registered = {r["uscc"] for r in world.rows["subjects"] if r["provider"] == "YT-SCJG"}
    uscc = next(
        r["subject_uscc"]
        for r in world.rows["complaints"]
        if r["division_code"] == "610113" and r["subject_uscc"] in registered
    )
    nested = await _ask(
        world, who, f'{{ subject(uscc: "{uscc}") {{ complaints(first: 100) {{ {fields} }} }} }}'
    )
    filtered_list = await _ask(
        world,
        who,
        f'{{ complaints(first: 100, filter: {{subjectUscc: "{uscc}"}}) '
        f"{{ edges {{ node {{ {fields} }} }} }} }}",
    )
    assert nested["subject"] is not None  # the subjects grant shows the registrar's subject
    assert nested["subject"]["complaints"] == [
        e["node"] for e in filtered_list["complaints"]["edges"]
    ]
    assert nested["subject"]["complaints"], "the chosen subject has granted complaints"
    hidden = next(r for r in world.rows["complaints"] if r["division_code"] != "610113")
    hidden_id = ids.encode("Complaint", hidden["id"])
    assert (await _ask(world, who, f'{{ node(id: "{hidden_id}") {{ id }} }}'))["node"] is None
    async with httpx.AsyncClient() as http:
        filtered = await http.post(
            f"{world.url}/graphql",
            json={
                "query": '{ complaints(first: 1, filter: {complainantPhone: "1"}) { totalCount } }'
            },
            headers={"Authorization": f"Bearer {world.tokens[who]}"},
        )
    assert "unknown field 'complainantPhone'" in filtered.json()["errors"][0]["message"]
