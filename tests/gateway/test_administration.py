"""Administration and pushing records over real HTTP: department administrators confined to
their own department, grants validated, administrator changes reported to the city office,
the audit log read within each reader's scope, and the ingest mutation writing only as the
caller's own party."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest_asyncio
from sqlalchemy import text

from gateway.app import create_app
from gateway.services import Services
from policies.actor import Actor
from policies.principal import Principal
from policies.store import ensure_seed
from sources.database import SourceDatabases, create_engine
from tests.ingest.factory import Factory
from tests.servers import LiveServer

OPERATOR = Actor("cli:test")
PARTIES = {
    "XA-SCJG": "department",
    "XA-STHJ": "department",
    "XA-ZWB": "city_office",
    "P-12345": "partner",
    "ENT-1": "enterprise",
}
ACCOUNTS = {
    "scjg.admin": ("XA-SCJG", "dept_admin"),
    "scjg.staff": ("XA-SCJG", "staff"),
    "sthj.admin": ("XA-STHJ", "dept_admin"),
    "sthj.staff": ("XA-STHJ", "staff"),
    "city": ("XA-ZWB", "city_office"),
    "auditor": ("XA-ZWB", "auditor"),
}


@dataclass
class Gateway:
    url: str
    tokens: dict[str, str]
    services_settings: Any

    async def ask(
        self, who: str | None, query: str, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        async with httpx.AsyncClient(timeout=30) as http:
            response = await http.post(
                f"{self.url}/graphql",
                json={"query": query, "variables": variables or {}},
                headers=headers,
            )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


@pytest_asyncio.fixture(loop_scope="session")
async def gateway(databases: SourceDatabases, gateway_url: str) -> AsyncIterator[Gateway]:
    settings = dataclasses.replace(
        databases._settings,  # the empty, migrated sources of this backend
        gateway_url=gateway_url,
        public_cache_seconds=0,
    )
    engine = create_engine(gateway_url)
    await ensure_seed(engine)
    await engine.dispose()
    services = Services.create(settings)
    tokens: dict[str, str] = {}
    try:
        uscc = Factory().uscc()
        for code, kind in PARTIES.items():
            await services.admin.add_party(
                OPERATOR,
                code=code,
                name=code,
                kind=kind,
                uscc=uscc if kind == "enterprise" else None,
            )
        principals = {
            name: Principal(
                kind="staff", id=f"user:{name}", party=party, party_kind=PARTIES[party], role=role
            )
            for name, (party, role) in ACCOUNTS.items()
        }
        for name, (party, role) in ACCOUNTS.items():
            await services.admin.add_account(
                OPERATOR, username=name, real_name=name, party=party, role=role
            )
        principals["hotline"] = Principal(
            kind="client", id="client:hotline", party="P-12345", party_kind="partner"
        )
        principals["enterprise"] = Principal(
            kind="client", id="client:ent", party="ENT-1", party_kind="enterprise", uscc=uscc
        )
        for name, principal in principals.items():
            issued = await services.tokens.issue(
                principal, lifetime=timedelta(hours=1), idle=timedelta(hours=1)
            )
            tokens[name] = issued.token
    finally:
        await services.close()
    async with LiveServer(create_app(settings)) as server:
        yield Gateway(server.url, tokens, settings)


CREATE = """
mutation Create($party: String!, $role: Role!) {
  createAccount(input: {username: "new.user", realName: "新用户", party: $party, role: $role}) {
    username initialPassword
  }
}"""


async def test_an_administrator_manages_only_their_own_department(gateway: Gateway) -> None:
    other = await gateway.ask("scjg.admin", CREATE, {"party": "XA-STHJ", "role": "STAFF"})
    assert codes(other) == ["FORBIDDEN"]
    upward = await gateway.ask("scjg.admin", CREATE, {"party": "XA-SCJG", "role": "CITY_OFFICE"})
    assert codes(upward) == ["FORBIDDEN"]
    by_staff = await gateway.ask("scjg.staff", CREATE, {"party": "XA-SCJG", "role": "STAFF"})
    assert codes(by_staff) == ["FORBIDDEN"]
    anonymous = await gateway.ask(None, CREATE, {"party": "XA-SCJG", "role": "STAFF"})
    assert codes(anonymous) == ["UNAUTHENTICATED"]
    own = await gateway.ask("scjg.admin", CREATE, {"party": "XA-SCJG", "role": "STAFF"})
    assert own["data"]["createAccount"]["username"] == "new.user"
    initial = own["data"]["createAccount"]["initialPassword"]
    async with httpx.AsyncClient() as http:
        login = await http.post(
            f"{gateway.url}/auth/login", json={"username": "new.user", "password": initial}
        )
    assert login.status_code == 200 and login.json()["passwordChangeRequired"] is True
    role = 'mutation { setAccountRole(username: "sthj.staff", role: DEPT_ADMIN) }'
    assert codes(await gateway.ask("scjg.admin", role)) == ["FORBIDDEN"]
    disable = 'mutation { disableAccount(username: "sthj.staff") }'
    assert codes(await gateway.ask("scjg.admin", disable)) == ["FORBIDDEN"]
    listing = "{ accounts { username party role mustChangePassword secondFactor } }"
    own_accounts = (await gateway.ask("scjg.admin", listing))["data"]["accounts"]
    assert {a["username"] for a in own_accounts} == {"scjg.admin", "scjg.staff", "new.user"}
    assert {a["party"] for a in own_accounts} == {"XA-SCJG"}
    every = (await gateway.ask("city", listing))["data"]["accounts"]
    assert len(every) == len(ACCOUNTS) + 1
    assert codes(await gateway.ask("scjg.staff", listing)) == ["FORBIDDEN"]


GIVE = """
mutation Give($provider: String!, $resource: String!, $clear: [String!]!, $filter: JSON) {
  giveGrant(input: {provider: $provider, grantee: "XA-STHJ", resource: $resource,
                    purpose: "联合执法", validUntil: "2099-01-01T00:00:00+08:00",
                    clearFields: $clear, rowFilter: $filter}) {
    id provider grantee resource clearFields rowFilter
  }
}"""


async def test_grants_are_given_by_the_provider_and_checked(gateway: Gateway) -> None:
    foreign = {"provider": "XA-STHJ", "resource": "actions", "clear": []}
    assert codes(await gateway.ask("scjg.admin", GIVE, foreign)) == ["FORBIDDEN"]
    not_personal = {"provider": "XA-SCJG", "resource": "actions", "clear": ["status"]}
    refused = await gateway.ask("scjg.admin", GIVE, not_personal)
    assert codes(refused) == ["BAD_USER_INPUT"] and "status" in refused["errors"][0]["message"]
    personal_filter = {
        "provider": "XA-SCJG", "resource": "actions", "clear": [], "filter": {"address": "x"},
    }  # fmt: skip
    refused = await gateway.ask("scjg.admin", GIVE, personal_filter)
    assert codes(refused) == ["BAD_USER_INPUT"] and "address" in refused["errors"][0]["message"]
    good = {
        "provider": "XA-SCJG", "resource": "actions", "clear": ["address"],
        "filter": {"division_code": "610113"},
    }  # fmt: skip
    given = (await gateway.ask("scjg.admin", GIVE, good))["data"]["giveGrant"]
    assert given["clearFields"] == ["address"] and given["rowFilter"] == {"division_code": "610113"}
    listed = await gateway.ask("sthj.staff", "{ grants { id provider grantee } }")
    assert {"id": given["id"], "provider": "XA-SCJG", "grantee": "XA-STHJ"} in listed["data"][
        "grants"
    ]
    revoke = f"mutation {{ revokeGrant(id: {given['id']}) }}"
    assert codes(await gateway.ask("sthj.admin", revoke)) == ["FORBIDDEN"]
    assert (await gateway.ask("scjg.admin", revoke))["data"] == {"revokeGrant": True}


AUDIT = """
query Audit($event: String) {
  auditLog(first: 50, event: $event) { entries { actor event partyCode detail } }
}"""


async def test_administrator_changes_reach_the_city_office_and_the_log_is_scoped(
    gateway: Gateway,
) -> None:
    promote = 'mutation { setAccountRole(username: "scjg.staff", role: DEPT_ADMIN) }'
    assert (await gateway.ask("scjg.admin", promote))["data"] == {"setAccountRole": True}

    def changes(body: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            e for e in body["data"]["auditLog"]["entries"]
            if e["detail"].get("username") == "scjg.staff"
        ]  # fmt: skip

    for reader in ("city", "auditor", "scjg.admin"):
        seen = changes(await gateway.ask(reader, AUDIT, {"event": "admin_change"}))
        assert [(e["actor"], e["detail"]["after"]) for e in seen] == [
            ("user:scjg.admin", "dept_admin")
        ], reader
    # Another department's administrator reads only what concerns their department.
    other = await gateway.ask("sthj.admin", AUDIT, {"event": None})
    assert changes(other) == []
    assert all(e["partyCode"] in (None, "XA-STHJ") for e in other["data"]["auditLog"]["entries"])
    assert codes(await gateway.ask("sthj.staff", AUDIT, {"event": None})) == ["FORBIDDEN"]


PUSH = """
mutation Push($records: [JSON!]!) {
  ingest(source: "complaints", records: $records) {
    received inserted unchanged rejected
    outcomes { index cdId status problems { field reason } }
  }
}"""
READ = "{ complaints(first: 10) { totalCount edges { node { cdId provider complainantName } } } }"


async def test_records_are_pushed_as_the_callers_own(gateway: Gateway) -> None:
    factory = Factory()
    records = [
        factory.complaint(1),
        factory.complaint(2, complainant_phone="12345"),
        factory.complaint(3),
    ]
    pushed = (await gateway.ask("hotline", PUSH, {"records": records}))["data"]["ingest"]
    assert (pushed["received"], pushed["inserted"], pushed["rejected"]) == (3, 2, 1)
    bad = pushed["outcomes"][1]
    assert bad["status"] == "REJECTED" and bad["cdId"] == "c-000002"
    assert [p["field"] for p in bad["problems"]] == ["complainant_phone"]
    again = (await gateway.ask("hotline", PUSH, {"records": [records[0]]}))["data"]["ingest"]
    assert again["unchanged"] == 1
    own = (await gateway.ask("hotline", READ))["data"]["complaints"]
    assert own["totalCount"] == 2
    assert {e["node"]["provider"] for e in own["edges"]} == {"P-12345"}
    assert {e["node"]["complainantName"] for e in own["edges"]} == {"张三"}  # own: in clear
    # A department pushing complaints stores them as its own: the hotline does not see them.
    mine = (await gateway.ask("scjg.staff", PUSH, {"records": [factory.complaint(9)]}))["data"]
    assert mine["ingest"]["inserted"] == 1
    assert (await gateway.ask("hotline", READ))["data"]["complaints"]["totalCount"] == 2
    assert codes(await gateway.ask("enterprise", PUSH, {"records": records})) == ["FORBIDDEN"]
    assert codes(await gateway.ask(None, PUSH, {"records": records})) == ["UNAUTHENTICATED"]
    writes = await gateway.ask("city", AUDIT, {"event": "write"})
    actors = [e["actor"] for e in writes["data"]["auditLog"]["entries"]]
    assert actors.count("client:hotline") == 2 and actors.count("user:scjg.staff") == 1


async def test_a_grants_row_filter_is_checked_against_the_tables_columns(
    gateway: Gateway,
) -> None:
    """A list, null, a number for a text column, a date column, an unknown column, an
    over-long value: each refused, naming the filter's column; nothing is stored."""
    before = (await gateway.ask("city", "{ grants { id } }"))["data"]["grants"]
    cases = {
        "a list": {"division_code": ["610113", "610104"]},
        "null": {"division_code": None},
        "a number": {"division_code": 610113},
        "an object": {"division_code": {"eq": "610113"}},
        "date": {"decision_date": "2026-01-01"},
        "too long": {"division_code": "6101130"},
        "unknown": {"no_such_column": "x"},
        "personal when a person": {"counterparty_name": "杨丽娟"},
    }
    for label, row_filter in cases.items():
        variables = {
            "provider": "XA-SCJG",
            "resource": "actions",
            "clear": [],
            "filter": row_filter,
        }
        refused = await gateway.ask("scjg.admin", GIVE, variables)
        assert codes(refused) == ["BAD_USER_INPUT"], (label, refused)
        message = refused["errors"][0]["message"]
        assert f"rowFilter.{next(iter(row_filter))}" in message, (label, message)
    after = (await gateway.ask("city", "{ grants { id } }"))["data"]["grants"]
    assert after == before


GIVE_TO = """
mutation Give($grantee: String!) {
  giveGrant(input: {provider: "XA-SCJG", grantee: $grantee, resource: "actions",
                    purpose: "联合执法", validUntil: "2099-01-01T00:00:00+08:00"}) { id grantee }
}"""


async def test_grants_go_to_departments_the_city_office_and_partners_only(
    gateway: Gateway,
) -> None:
    """docs/security.md §3: a department, the city office or a partner; never an enterprise,
    and never an open dataset's party (approveDataset is the way to approve publishing)."""
    engine = create_engine(gateway.services_settings.gateway_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO parties (code, name, kind, disabled, created_at) "
                    "VALUES ('opendata.x', 'x', 'portal', false, CURRENT_TIMESTAMP)"
                )
            )
    finally:
        await engine.dispose()
    for grantee in ("ENT-1", "opendata.x"):
        refused = await gateway.ask("scjg.admin", GIVE_TO, {"grantee": grantee})
        assert codes(refused) == ["BAD_USER_INPUT"], grantee
        assert grantee in refused["errors"][0]["message"]
    for grantee in ("XA-STHJ", "XA-ZWB", "P-12345"):
        given = await gateway.ask("scjg.admin", GIVE_TO, {"grantee": grantee})
        assert given["data"]["giveGrant"]["grantee"] == grantee


async def test_user_names_are_case_insensitive(gateway: Gateway) -> None:
    create = """
    mutation Create($name: String!) {
      createAccount(input: {username: $name, realName: "王芳", party: "XA-STHJ", role: STAFF}) {
        username initialPassword
      }
    }"""
    refused = await gateway.ask("sthj.admin", create, {"name": "STHJ.Staff"})
    assert codes(refused) == ["BAD_USER_INPUT"]
    assert "sthj.staff" in refused["errors"][0]["message"]
    made = await gateway.ask("sthj.admin", create, {"name": "Wang.Fang"})
    initial = made["data"]["createAccount"]["initialPassword"]
    async with httpx.AsyncClient() as http:
        login = await http.post(
            f"{gateway.url}/auth/login", json={"username": "WANG.FANG", "password": initial}
        )
    assert login.status_code == 200, login.text
    again = await gateway.ask("sthj.admin", create, {"name": "wang.fang"})
    assert codes(again) == ["BAD_USER_INPUT"]
    reset = 'mutation { resetPassword(username: "WANG.FANG") }'
    assert isinstance((await gateway.ask("sthj.admin", reset))["data"]["resetPassword"], str)


async def test_another_departments_account_and_an_unknown_one_get_one_answer(
    gateway: Gateway,
) -> None:
    """An administrator cannot tell which accounts exist in other departments."""
    mutations = (
        'mutation { resetPassword(username: "%s") }',
        'mutation { setAccountRole(username: "%s", role: STAFF) }',
        'mutation { disableAccount(username: "%s") }',
    )
    for mutation in mutations:
        answers = []
        for name in ("sthj.staff", "no.such.user"):
            body = await gateway.ask("scjg.admin", mutation % name)
            errors = body.get("errors", [])
            assert body.get("data") is None or None in body["data"].values()
            answers.append(
                [(e["extensions"]["code"], e["message"].replace(name, "<name>")) for e in errors]
            )
        assert answers[0] == answers[1], (mutation, answers)
        assert answers[0][0][0] == "FORBIDDEN"
