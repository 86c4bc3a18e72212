"""The real policy files against a matrix, over real HTTP: every role of every kind of party ×
each resource × own/other provider × no / plain / row-filtered / clear-field / expired /
revoked grant × dataset approval × personal fields.

Expectations come from a reference written here from the rules of docs/security.md alone: its
own list of personal columns (§4), its own masks (§4), its own grant rules (§2, §3). Nothing
of policies/scope.py or policies/masking.py is used to decide what a cell should show.
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

from gateway.app import create_app
from gateway.services import Services
from gateway.settings import Settings
from open_data import approvals
from open_data.datasets import dataset
from policies.actor import Actor
from policies.grants import GrantRequest
from policies.principal import Principal
from policies.store import ensure_seed
from resolvers.graph import ids
from sources.database import SourceDatabases, create_engine
from standard.codes import check_uscc
from standard.registry import SOURCES
from standard.tables.gateway import Grant
from tests.conftest import _drop, _pg_url
from tests.servers import LiveServer

OPERATOR = Actor("cli:test")
CITY = "XA-ZWB"
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
# docs/security.md §4: the personal columns and how each is masked ...
ALWAYS: dict[str, dict[str, str]] = {
    "subjects": {"legal_representative": "name"},
    "actions": {"counterparty_id": "id", "address": "address"},
    "complaints": {
        "content": "hidden",
        "complainant_name": "name",
        "complainant_phone": "phone",
        "complainant_id_number": "id",
        "complainant_address": "address",
    },
    "licence_publicity": {"counterparty_id_number": "id", "legal_representative": "name"},
    "penalty_publicity": {"counterparty_id_number": "id", "legal_representative": "name"},
    "licences": {"applicant_id_number": "id", "applicant_phone": "phone"},
}
# ... and those personal where the party is a natural person: (column saying so, name column,
# {column: "name" or "text"}).
PERSON: dict[str, tuple[str, str, dict[str, str]]] = {
    "actions": (
        "counterparty_nature", "counterparty_name", {"counterparty_name": "name", "facts": "text"}
    ),
    "licences": ("applicant_category", "applicant_name", {"applicant_name": "name"}),
    "licence_publicity": (
        "counterparty_category", "counterparty_name", {"counterparty_name": "name"}
    ),
    "penalty_publicity": (
        "counterparty_category",
        "counterparty_name",
        {"counterparty_name": "name", "facts": "text", "case_name": "text"},
    ),
}  # fmt: skip
TABLE_SOURCE = {t: s.name for s in SOURCES.values() for t in s.tables}


def personal(table: str) -> dict[str, str]:
    """Every column of ``table`` that is personal in some row, with its mask."""
    return {**ALWAYS.get(table, {}), **(PERSON[table][2] if table in PERSON else {})}


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
# Grants to the city office's party: plain, row-filtered with every personal field in clear,
# and clear-field grants. Its overseers read them; its security auditor must not.
TO_CITY: dict[str, tuple[dict[str, str], bool]] = {
    "subjects": ({}, False),
    "plans": ({}, False),
    "actions": ({"division_code": "610113"}, True),
    "penalty_publicity": ({}, True),
    "complaints": ({"division_code": "610113"}, True),
    "credit_lists": ({}, False),
    "licence_publicity": ({}, True),
    "licences": ({}, True),
}
APPROVED = "inspection-results"  # an open dataset of actions, approved by XA-SCJG
ACTIVE, EXPIRED, REVOKED = "XA-STHJ", "XA-YJGL", "XA-WSJK"
PAGE = 100


def mask_name(value: str) -> str:
    return value[0] + "*" * max(1, len(value) - 1)


def mask_phone(value: str) -> str:
    return f"{value[:3]}****{value[-4:]}" if len(value) >= 8 else "***"


def mask_id(value: str) -> str:
    if len(value) == 18 and value[:17].isdigit() and (value[17].isdigit() or value[17] == "X"):
        return value[:6] + "*" * 11 + value[17]
    return value if check_uscc(value) is None else "***"


NOT_DISTRICTS = ("小区", "社区", "园区", "校区", "景区", "街区", "城区")


def mask_address(value: str) -> str:
    """Up to the first 区 or 县 among the first 12 characters (not 小区, 社区 …), else 市."""
    for markers in ("区县", "市"):
        for at, char in enumerate(value[:12]):
            if char in markers and value[at - 1 : at + 1] not in NOT_DISTRICTS:
                return value[: at + 1] + "***"
    return "***"


def masked(table: str, column: str, row: dict[str, Any]) -> Any:
    """What a reader without ``column`` in clear gets for ``row``."""
    value = row[column]
    if value is None:
        return None
    if table in PERSON and column in PERSON[table][2]:
        nature, name_column, kinds = PERSON[table]
        if row[nature] != "natural_person":
            return value
        if kinds[column] == "name":
            return mask_name(value)
        name = row[name_column]
        return value.replace(name, mask_name(name)) if name else value
    rule = ALWAYS[table][column]
    if rule == "name":
        return mask_name(value)
    if rule == "phone":
        return mask_phone(value)
    if rule == "id":
        return mask_id(value)
    if rule == "address":
        return mask_address(value)
    return "***"


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


# §2: the roles that read records for their party (own records, grants); an auditor reads the
# audit log and public data only, whichever party they belong to.
READS_FOR_PARTY = {"staff", "dept_admin", "city_office"}


def acts_for_party(principal: Principal) -> bool:
    return principal.kind == "client" or principal.role in READS_FOR_PARTY


def expected(
    principal: Principal | None, table: str, row: dict[str, Any], world: World
) -> set[str] | None:
    """The personal fields shown in clear, or None when the row is not visible."""
    seen = table in PUBLIC_TABLES
    clear: set[str] = set()
    if principal is None or not acts_for_party(principal):
        return clear if seen else None
    if principal.party_kind in ("department", "partner") and row["provider"] == principal.party:
        seen = True
        clear |= set(personal(table))
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
    spec = dataset(APPROVED)
    principals: dict[str, Principal | None] = {
        "own department": staff("scjg", "XA-SCJG"),
        "own department's administrator": staff("scjg.admin", "XA-SCJG", role="dept_admin"),
        "own department's system": client("scjg.sys", "XA-SCJG", "department"),
        "department, active grant": staff("sthj", ACTIVE),
        "administrator, active grant": staff("sthj.admin", ACTIVE, role="dept_admin"),
        "department's system, active grant": client("sthj.sys", ACTIVE, "department"),
        "auditor of a department with a grant": staff("sthj.aud", ACTIVE, role="auditor"),
        "department, expired grant": staff("yjgl", EXPIRED),
        "department, revoked grant": staff("wsjk", REVOKED),
        "department, no grant": staff("jtys", "XA-JTYS"),
        "department administrator": staff("jtys.admin", "XA-JTYS", role="dept_admin"),
        "partner (own complaints)": client("hotline", "P-12345", "partner"),
        "partner (own credit)": client("credit", "P-CREDIT", "partner"),
        "city office": staff("city", CITY, "city_office", "city_office"),
        "security auditor": staff("auditor", CITY, "city_office", "auditor"),
        "open dataset (approval)": approvals.reader(spec),
        "enterprise": client("ent", "ENT-1", "enterprise", uscc=subject),
        "public": None,
    }
    services = Services.create(settings)
    facts: list[GrantFact] = []
    try:
        codes = {
            "XA-SCJG", "XA-STHJ", "XA-YJGL", "XA-WSJK", "XA-JTYS", "P-12345", "P-CREDIT",
            "P-ZWFW", CITY, "YT-SCJG",
        }  # fmt: skip
        for code in sorted(codes):
            kind = "partner" if code.startswith("P-") else "department"
            kind = "city_office" if code == CITY else kind
            await services.admin.add_party(OPERATOR, code=code, name=code, kind=kind)
        await services.admin.add_party(
            OPERATOR, code="ENT-1", name="ent", kind="enterprise", uscc=subject
        )
        until = datetime.now(UTC) + timedelta(days=30)
        for resource, provider in GRANTED_FROM.items():
            fields = sorted(personal(resource))
            # One field in clear where there are several, the rest stay masked.
            clear = tuple(fields[:1]) if len(fields) > 1 else ()
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
            if resource in TO_CITY:
                city_filter, all_clear = TO_CITY[resource]
                city_clear = tuple(fields) if all_clear else ()
                await services.grants.give(
                    OPERATOR,
                    GrantRequest(
                        provider, CITY, resource, "监督", until, None, city_filter, city_clear
                    ),
                )
                facts.append(
                    GrantFact(provider, CITY, resource, city_filter, frozenset(city_clear))
                )
        # Yanta's bureau registers Yanta's subjects: shared too, for the joins below.
        await services.grants.give(
            OPERATOR, GrantRequest("YT-SCJG", ACTIVE, "subjects", "履职需要", until)
        )
        facts.append(GrantFact("YT-SCJG", ACTIVE, "subjects", {}, frozenset()))
        approval = await approvals.approve(services.grants, OPERATOR, spec, "XA-SCJG")
        stored = await services.grants.one(approval)
        assert stored is not None
        facts.append(
            GrantFact(
                "XA-SCJG",
                approvals.portal_party(spec),
                spec.table,
                dict(stored.row_filter or {}),
                frozenset(stored.clear_fields or ()),
            )
        )
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


WHO = (
    "own department", "own department's administrator", "own department's system",
    "department, active grant", "administrator, active grant",
    "department's system, active grant", "auditor of a department with a grant",
    "department, expired grant", "department, revoked grant", "department, no grant",
    "department administrator", "partner (own complaints)", "partner (own credit)",
    "city office", "security auditor", "open dataset (approval)", "enterprise", "public",
)  # fmt: skip
MATRIX = [(who, table) for who in WHO for table in sorted(TABLE_SOURCE)]


async def _post(world: World, who: str, query: str) -> dict[str, Any]:
    token = world.tokens[who]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(f"{world.url}/graphql", json={"query": query}, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _ask(world: World, who: str, query: str) -> dict[str, Any]:
    body = await _post(world, who, query)
    assert "errors" not in body, body
    return body["data"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(("who", "table"), MATRIX)
async def test_rows_and_fields_each_principal_sees(world: World, who: str, table: str) -> None:
    columns = sorted(personal(table))
    fields = " ".join(["id", "provider", *(camel(p) for p in columns)])
    root = camel(table)
    query = f"{{ {root}(first: {PAGE}) {{ totalCount edges {{ node {{ {fields} }} }} }} }}"
    got = (await _ask(world, who, query))[root]
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
        for name in columns:
            want = row[name] if name in clear else masked(table, name, row)
            assert node[camel(name)] == want, (name, who, row["id"])


def test_the_matrix_covers_every_case(world: World) -> None:
    """The demo data gives each cell something to show: no cell passes by being empty."""
    principal = world.principals["department, active grant"]
    for table in GRANTED_FROM:
        shown = [r for r in world.rows[table] if expected(principal, table, r, world) is not None]
        assert shown, f"{table}: the active grant shows no rows"
        assert any(
            (c := expected(principal, table, r, world)) is not None and c < set(personal(table))
            for r in shown
        ) or not personal(table), f"{table}: no row with masked fields under the grant"
    in_clear = [g.resource for g in world.grants if g.clear and g.grantee == ACTIVE]
    assert len(in_clear) >= 3, "grants showing a personal field in clear"
    city = world.principals["city office"]
    for table, (row_filter, all_clear) in TO_CITY.items():
        if not all_clear:
            continue
        cleared = [r for r in world.rows[table] if expected(city, table, r, world)]
        assert cleared, f"{table}: the city office's clear-field grant shows nothing in clear"
        if row_filter:  # and rows outside the filter stay masked
            assert any(expected(city, table, r, world) == set() for r in world.rows[table])
    for table, (nature, name_column, kinds) in PERSON.items():
        people = [r for r in world.rows[table] if r[nature] == "natural_person"]
        assert people, f"{table}: no natural person in the demo data"
        for column, kind in kinds.items():
            if kind == "text":
                assert any(
                    r[column] and r[name_column] and r[name_column] in r[column] for r in people
                ), f"{table}.{column}: no text naming its party"
        assert any(r[nature] != "natural_person" for r in world.rows[table])
    enterprise = world.principals["enterprise"]
    assert any(expected(enterprise, "actions", r, world) is not None for r in world.rows["actions"])
    portal = world.principals["open dataset (approval)"]
    assert any(expected(portal, "actions", r, world) for r in world.rows["actions"])


async def test_the_security_auditor_reads_no_record_by_any_path(world: World) -> None:
    """A grant to the city office's party is for its overseers: the auditor, of the same party,
    gets no subject by list, by USCC or by id, while the city office does."""
    row = next(r for r in world.rows["subjects"] if r["provider"] == "XA-SCJG")
    node_id = ids.encode("Subject", row["id"])
    query = (
        f'{{ subjects(first: 1) {{ totalCount }} subject(uscc: "{row["uscc"]}") '
        f'{{ uscc legalRepresentative }} node(id: "{node_id}") {{ id }} }}'
    )
    audited = await _ask(world, "security auditor", query)
    assert audited == {"subjects": {"totalCount": 0}, "subject": None, "node": None}
    overseen = await _ask(world, "city office", query)
    assert overseen["subjects"]["totalCount"] == len(world.rows["subjects"])
    assert overseen["subject"]["uscc"] == row["uscc"]
    assert overseen["subject"]["legalRepresentative"] == mask_name(row["legal_representative"])
    assert overseen["node"] == {"id": node_id}
    log = await _ask(world, "security auditor", "{ auditLog(first: 1) { entries { seq } } }")
    assert log["auditLog"]["entries"], "the auditor still reads the audit log"


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
    assert node["complainantName"] == mask_name(raw["complainant_name"])
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
    filtered = await _post(
        world, who, '{ complaints(first: 1, filter: {complainantPhone: "1"}) { totalCount } }'
    )
    assert "unknown field 'complainantPhone'" in filtered["errors"][0]["message"]
