"""One contract for every connector: SQL and HTTP (a real uvicorn server), on both backends."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, cast

import httpx
import orjson
import pytest
import pytest_asyncio
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.settings import Settings
from ingest.service import IngestOptions, ingest_records
from sources import wire
from sources.api import MAX_KEYS, create_source_api
from sources.base import (
    AnyOf,
    BadSourceRequest,
    Connector,
    Filter,
    PageRequest,
    Row,
    SourceRefused,
    SourceUnavailable,
)
from sources.database import SourceDatabases, create_engine
from sources.http import HttpConnector
from sources.sql import SqlConnector
from standard.errors import Misconfigured
from standard.exchange import ExchangeRecord
from standard.registry import SOURCES
from standard.tables.complaints import Complaint
from standard.tables.supervision import Action, Matter
from standard.workdays import SHANGHAI, WorkCalendar
from tests.ingest.factory import RECEIVED, Factory
from tests.servers import TOKEN, LiveServer, free_port, source_api

Connect = Callable[[str], Awaitable[Connector]]


@pytest_asyncio.fixture(loop_scope="session", params=["sql", "http"])
async def connector(
    request: pytest.FixtureRequest, databases: SourceDatabases, backend_settings: Settings
) -> AsyncIterator[Connect]:
    """Opens a connector to a source: SQL directly, or HTTP through a live source API."""
    opened: list[Connector] = []
    servers: list[LiveServer] = []

    async def connect(source: str) -> Connector:
        made: Connector
        if request.param == "sql":
            made = SqlConnector(source, databases.engine(source))
        else:
            server = LiveServer(source_api(backend_settings, source))
            servers.append(server)
            await server.start()
            made = HttpConnector(source, server.url, token=TOKEN)
        opened.append(made)
        return made

    yield connect
    for made in opened:
        await made.close()
    for server in servers:
        await server.stop()


# --- data --------------------------------------------------------------------------------------

CALENDAR = WorkCalendar()
# A timeout no refused connection comes near, however loaded the machine: "at once" is "well
# under it", so a failure that waited for the timeout cannot pass.
SLOW = 30.0


@dataclass(frozen=True)
class Loaded:
    """What the contract tests loaded: row ids by ``cd_id``, and three subjects' USCCs."""

    ids: Mapping[str, int]
    usccs: tuple[str, str, str]

    def ordered(self, *cd_ids: str) -> list[str]:
        return sorted(cd_ids, key=lambda cd_id: self.ids[cd_id])


async def push(
    settings: Settings,
    dbs: SourceDatabases,
    records: list[dict[str, Any]],
    *,
    table: type[ExchangeRecord],
    provider: str,
) -> None:
    source = "supervision" if table in (Matter, Action) else "complaints"
    options = IngestOptions(
        provider=provider,
        received_at=RECEIVED,
        calendar=CALENDAR,
        settings=settings,
        matters=dbs.engine("supervision"),
    )
    engine = dbs.engine(source)
    report = await ingest_records(
        engine, list(enumerate(records, start=1)), table=table, options=options
    )
    assert report.rejected == 0, report.errors


@pytest_asyncio.fixture(loop_scope="session")
async def loaded(databases: SourceDatabases, backend_settings: Settings) -> Loaded:
    """Six complaints (one then deleted), three matters and three actions."""
    factory = Factory()
    a, b, c = factory.uscc(), factory.uscc(), factory.uscc()
    complaint = factory.complaint
    complaints = [
        complaint(1, subject_uscc=a, ticket_no="XA_001", produced_at="2026-10-12T09:00:00+08:00"),
        complaint(
            2,
            subject_uscc=b,
            ticket_no="XAB002",
            channel="website",
            status="closed",
            produced_at="2026-10-13T09:00:00+08:00",
            closed_at="2026-10-14T18:00:00+08:00",
        ),
        complaint(3, subject_uscc=a, ticket_no="XA_003", produced_at="2026-10-13T12:00:00+08:00"),
        complaint(
            4,
            subject_uscc=b,
            ticket_no="SX-004",
            channel="app",
            produced_at="2026-10-14T08:00:00+08:00",
        ),
        complaint(5, subject_uscc=a, ticket_no="SX-005", produced_at="2026-10-14T09:30:00+08:00"),
        complaint(
            6,
            subject_uscc=c,
            ticket_no="SX-006",
            channel="website",
            produced_at="2026-10-15T08:00:00+08:00",
        ),
    ]
    await push(backend_settings, databases, complaints, table=Complaint, provider="P-12345")
    deletion = [{"cd_id": "c-000003", "cd_operation": "d"}]
    await push(backend_settings, databases, deletion, table=Complaint, provider="P-12345")

    codes = ["61010000000001", "61010000000002", "61010000000003"]
    matters = [
        factory.matter(codes[0]),
        factory.matter(codes[1], valid_from="2025-06-01"),
        factory.matter(codes[2], valid_from="2026-01-01"),
    ]
    await push(backend_settings, databases, matters, table=Matter, provider="XA-SCJG")
    penalty = {
        "kind": "penalty",
        "decision_no": "西市监罚〔2026〕1号",
        "decision_date": "2026-10-10",
        "penalty_types": ["warning", "fine"],
        "legal_basis": "《食品安全法》第一百二十六条",
        "facts": "未按规定公示检查结果",
    }
    actions = [
        factory.inspection(1, codes[0]),
        factory.inspection(
            2, codes[0], **penalty, fine_amount="1234.50", extra={"note": "整改", "n": 2}
        ),
        factory.inspection(3, codes[1], **penalty, fine_amount="80.00"),
    ]
    await push(backend_settings, databases, actions, table=Action, provider="XA-SCJG")

    ids: dict[str, int] = {}
    for source, table in (
        ("complaints", Complaint),
        ("supervision", Matter),
        ("supervision", Action),
    ):
        async with databases.sessions(source)() as session:
            result = await session.execute(select(table.cd_id, table.id))
            ids.update((cd_id, id_) for cd_id, id_ in result)
    return Loaded(ids=ids, usccs=(a, b, c))


def cd_ids(rows: list[Row]) -> list[str]:
    return [row["cd_id"] for row in rows]


async def listed(connector: Connector, table: str, *where: Filter) -> list[str]:
    return cd_ids((await connector.page(table, PageRequest(where=where, first=1000))).rows)


# --- the contract ------------------------------------------------------------------------------


async def test_lookup_returns_live_rows_in_id_order(connector: Connect, loaded: Loaded) -> None:
    complaints = await connector("complaints")
    a, b, _ = loaded.usccs
    rows = await complaints.lookup("complaints", "subject_uscc", [b, "91610113MA6TXXXXXX", a])
    assert cd_ids(rows) == loaded.ordered("c-000001", "c-000002", "c-000004", "c-000005")
    assert [row["id"] for row in rows] == sorted(row["id"] for row in rows)
    columns = set(SOURCES["complaints"].metadata.tables["complaints"].columns.keys())
    assert all(set(row) == columns for row in rows)
    assert await complaints.lookup("complaints", "subject_uscc", []) == []


async def test_lookup_caps_rows_per_key(connector: Connect, loaded: Loaded) -> None:
    complaints = await connector("complaints")
    a, b, c = loaded.usccs
    one = await complaints.lookup("complaints", "subject_uscc", [a, b, c], per_key=1)
    # The deleted c-000003 does not take a place in a's share.
    assert cd_ids(one) == loaded.ordered("c-000001", "c-000002", "c-000006")
    two = await complaints.lookup("complaints", "subject_uscc", [a, b], per_key=2)
    assert cd_ids(two) == loaded.ordered("c-000001", "c-000002", "c-000004", "c-000005")
    where = (Filter("channel", "eq", "hotline_12345"),)
    assert cd_ids(
        await complaints.lookup("complaints", "subject_uscc", [a], where=where, per_key=1)
    ) == ["c-000001"]


async def test_lookup_of_more_keys_than_one_request_takes(
    connector: Connect, loaded: Loaded
) -> None:
    complaints = await connector("complaints")
    a, b, _ = loaded.usccs
    keys = [a, *(f"none-{n}" for n in range(MAX_KEYS + 500)), b, a]
    rows = await complaints.lookup("complaints", "subject_uscc", keys)
    assert cd_ids(rows) == loaded.ordered("c-000001", "c-000002", "c-000004", "c-000005")


async def test_page_forwards_and_backwards(connector: Connect, loaded: Loaded) -> None:
    complaints = await connector("complaints")
    live = loaded.ordered(*(f"c-00000{n}" for n in (1, 2, 4, 5, 6)))
    ids = [loaded.ids[cd_id] for cd_id in live]

    async def page(
        first: int | None = None,
        after: int | None = None,
        last: int | None = None,
        before: int | None = None,
    ) -> tuple[list[str], bool, bool]:
        request = PageRequest(first=first, after=after, last=last, before=before)
        result = await complaints.page("complaints", request)
        return cd_ids(result.rows), result.has_next, result.has_previous

    assert await page(first=2) == (live[0:2], True, False)
    assert await page(first=2, after=ids[1]) == (live[2:4], True, True)
    assert await page(first=2, after=ids[3]) == (live[4:], False, True)
    assert await page(first=5) == (live, False, False)
    assert await page(last=2) == (live[3:], False, True)
    assert await page(last=2, before=ids[3]) == (live[1:3], True, True)
    assert await page(last=2, before=ids[1]) == (live[:1], True, False)
    filtered = await complaints.page(
        "complaints", PageRequest(where=(Filter("channel", "eq", "website"),), first=1)
    )
    assert (cd_ids(filtered.rows), filtered.has_next) == (["c-000002"], True)


async def test_filters(connector: Connect, loaded: Loaded) -> None:
    complaints = await connector("complaints")
    c = loaded.ordered
    assert await listed(complaints, "complaints", Filter("status", "eq", "closed")) == ["c-000002"]
    websites = Filter("channel", "in", ["website", "app"])
    assert await listed(complaints, "complaints", websites) == c("c-000002", "c-000004", "c-000006")
    since = Filter("produced_at", "gte", datetime(2026, 10, 14, tzinfo=SHANGHAI))
    assert await listed(complaints, "complaints", since) == c("c-000004", "c-000005", "c-000006")
    # 01:00 UTC is 09:00 in Beijing: the bound is inclusive, whatever the offset.
    until = Filter("produced_at", "lte", datetime(2026, 10, 13, 1, tzinfo=UTC))
    assert await listed(complaints, "complaints", until) == c("c-000001", "c-000002")
    assert await listed(complaints, "complaints", since, until) == []
    instants = [datetime(2026, 10, 12, 9, tzinfo=SHANGHAI), datetime(2026, 10, 15, tzinfo=UTC)]
    assert await listed(complaints, "complaints", Filter("produced_at", "in", instants)) == c(
        "c-000001", "c-000006"
    )
    closed = Filter("closed_at", "eq", datetime(2026, 10, 14, 10, tzinfo=UTC))
    assert await listed(complaints, "complaints", closed) == ["c-000002"]
    # "_" is a LIKE wildcard; a prefix means the characters themselves.
    assert await listed(complaints, "complaints", Filter("ticket_no", "prefix", "XA_")) == [
        "c-000001"
    ]
    assert await listed(complaints, "complaints", Filter("ticket_no", "prefix", "SX-")) == c(
        "c-000004", "c-000005", "c-000006"
    )

    supervision = await connector("supervision")
    june = date(2025, 6, 1)
    assert await listed(supervision, "matters", Filter("valid_from", "gte", june)) == c(
        "m-61010000000002", "m-61010000000003"
    )
    assert await listed(supervision, "matters", Filter("valid_from", "lte", june)) == c(
        "m-61010000000001", "m-61010000000002"
    )
    dates = [date(2025, 1, 1), date(2026, 1, 1)]
    assert await listed(supervision, "matters", Filter("valid_from", "in", dates)) == c(
        "m-61010000000001", "m-61010000000003"
    )
    fine = Filter("fine_amount", "eq", Decimal("1234.5"))
    assert await listed(supervision, "actions", fine) == ["a-000002"]
    big = Filter("fine_amount", "gte", Decimal("100"))
    assert await listed(supervision, "actions", big) == ["a-000002"]
    fines = Filter("fine_amount", "in", [Decimal("80"), Decimal("1234.50")])
    assert await listed(supervision, "actions", fines) == c("a-000002", "a-000003")


async def test_values_keep_their_types(connector: Connect, loaded: Loaded) -> None:
    complaints = await connector("complaints")
    (row,) = await complaints.lookup("complaints", "cd_id", ["c-000002"])
    assert row["produced_at"] == datetime(2026, 10, 13, 1, tzinfo=UTC)
    assert row["produced_at"].utcoffset() is not None
    assert row["closed_at"] == datetime(2026, 10, 14, 10, tzinfo=UTC)
    assert row["due_at"] is None
    assert type(row["late"]) is bool and type(row["delay_working_days"]) is int
    assert type(row["id"]) is int and row["id"] == loaded.ids["c-000002"]

    supervision = await connector("supervision")
    (matter,) = await supervision.lookup("matters", "matter_code", ["61010000000002"])
    assert type(matter["valid_from"]) is date and matter["valid_from"] == date(2025, 6, 1)
    assert matter["valid_to"] is None
    (action,) = await supervision.lookup("actions", "cd_id", ["a-000002"])
    assert isinstance(action["fine_amount"], Decimal) and action["fine_amount"] == Decimal(
        "1234.50"
    )
    assert action["decision_date"] == date(2026, 10, 10)
    assert action["penalty_types"] == ["warning", "fine"]
    assert action["officer_certificates"] == ["61010020230001", "61010020230002"]
    assert action["extra"] == {"note": "整改", "n": 2}
    assert action["cd_time"].tzinfo is not None


async def test_count(connector: Connect, loaded: Loaded) -> None:
    complaints = await connector("complaints")
    assert await complaints.count("complaints") == 5
    assert await complaints.count("complaints", [Filter("channel", "eq", "website")]) == 2
    since = Filter("produced_at", "gte", datetime(2026, 10, 14, tzinfo=SHANGHAI))
    assert await complaints.count("complaints", [since]) == 3
    supervision = await connector("supervision")
    assert await supervision.count("actions", [Filter("kind", "eq", "penalty")]) == 2


async def test_scope_alternatives_reach_the_source(connector: Connect, loaded: Loaded) -> None:
    """A caller's scope travels as alternatives (any of them, each all of its filters): the
    same rows from SQL and over the source API, in lookups, pages and counts; none: no rows."""
    complaints = await connector("complaints")
    a, b, c = loaded.usccs
    scope = AnyOf(
        (
            (Filter("provider", "in", ("P-12345",)), Filter("subject_uscc", "eq", a)),
            (Filter("channel", "eq", "app"),),
        )
    )
    assert await listed(complaints, "complaints", scope) == loaded.ordered(
        "c-000001", "c-000004", "c-000005"
    )
    assert await complaints.count("complaints", [scope]) == 3
    websites = Filter("channel", "eq", "website")
    assert await complaints.count("complaints", [scope, websites]) == 0
    rows = await complaints.lookup("complaints", "subject_uscc", [b, c], where=[scope])
    assert cd_ids(rows) == ["c-000004"]
    nothing = AnyOf(())
    assert await listed(complaints, "complaints", nothing) == []
    assert await complaints.count("complaints", [nothing]) == 0
    assert await complaints.lookup("complaints", "subject_uscc", [a], where=[nothing]) == []
    other = AnyOf(((Filter("provider", "in", ("XA-SCJG",)),),))
    assert await complaints.count("complaints", [other]) == 0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.count("complaints", [Filter("colour", "eq", "red")]), "no column 'colour'"),
        (lambda c: c.lookup("complaints", "colour", ["red"]), "no column 'colour'"),
        (
            lambda c: c.lookup("complaints", "id", [1], where=[Filter("colour", "eq", "red")]),
            "no column 'colour'",
        ),
        (
            lambda c: c.page("complaints", PageRequest(where=(Filter("colour", "eq", 1),))),
            "no column 'colour'",
        ),
        (lambda c: c.count("penalties"), "no table 'penalties'"),
        (lambda c: c.lookup("penalties", "id", [1]), "no table 'penalties'"),
        (
            lambda c: c.count("complaints", [Filter("title", cast(Any, "like"), "%")]),
            "unknown operator 'like'",
        ),
    ],
)
async def test_bad_requests(
    connector: Connect, call: Callable[[Connector], Awaitable[Any]], message: str
) -> None:
    complaints = await connector("complaints")
    with pytest.raises(BadSourceRequest, match=message):
        await call(complaints)


async def test_http_rows_equal_sql_rows(
    databases: SourceDatabases, backend_settings: Settings, loaded: Loaded
) -> None:
    sql = SqlConnector("supervision", databases.engine("supervision"))
    async with LiveServer(source_api(backend_settings, "supervision")) as server:
        http = HttpConnector("supervision", server.url, token=TOKEN)
        try:
            for table in ("matters", "actions"):
                request = PageRequest(first=100)
                over_http, over_sql = (
                    await http.page(table, request),
                    await sql.page(table, request),
                )
                assert over_http == over_sql and over_http.rows
                assert [{k: type(v) for k, v in row.items()} for row in over_http.rows] == [
                    {k: type(v) for k, v in row.items()} for row in over_sql.rows
                ]
        finally:
            await http.close()


# --- HTTP only ---------------------------------------------------------------------------------


@pytest_asyncio.fixture(loop_scope="session")
async def api(sqlite_settings: Settings) -> AsyncIterator[LiveServer]:
    """The complaints API on the SQLite default, for tests of the protocol itself."""
    async with LiveServer(source_api(sqlite_settings, "complaints")) as server:
        yield server


def error_of(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    assert "Traceback" not in response.text
    message: str = body["error"]["message"]
    return message


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
    ],
)
async def test_requests_without_the_token_are_refused(
    api: LiveServer, headers: dict[str, str]
) -> None:
    async with httpx.AsyncClient(base_url=api.url, headers=headers) as client:
        for response in (
            await client.get("/v1/health"),
            await client.post("/v1/tables/complaints/count", json={}),
            await client.get("/v1/elsewhere"),
        ):
            assert "token" in error_of(response, 401, "UNAUTHENTICATED")
            assert response.headers["www-authenticate"] == "Bearer"


async def test_a_connector_with_the_wrong_token_gets_source_unavailable(api: LiveServer) -> None:
    connector = HttpConnector("complaints", api.url, token="wrong-token")
    try:
        with pytest.raises(SourceUnavailable, match="401"):
            await connector.count("complaints")
    finally:
        await connector.close()


async def test_health(api: LiveServer) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=api.url, headers=headers) as client:
        response = await client.get("/v1/health")
    assert response.status_code == 200
    assert response.json() == {"source": "complaints", "status": "ok"}
    connector = HttpConnector("complaints", api.url, token=TOKEN)
    try:
        await connector.ping()
    finally:
        await connector.close()
    elsewhere = HttpConnector("credit", api.url, token=TOKEN)
    try:
        with pytest.raises(SourceUnavailable, match="another source"):
            await elsewhere.ping()
    finally:
        await elsewhere.close()


BAD_BODIES: list[tuple[str, str, bytes | Any, str]] = [
    ("lookup", "complaints", b"{not json", "not valid JSON"),
    ("count", "complaints", b"", "not valid JSON"),
    ("count", "complaints", [], "must be a JSON object"),
    ("count", "complaints", {"wher": []}, "unknown field(s) 'wher'"),
    ("count", "penalties", {}, "no table 'penalties'"),
    ("lookup", "complaints", {"column": "colour", "keys": ["x"]}, "no column 'colour'"),
    ("lookup", "complaints", {"column": "id", "keys": "1"}, "'keys' must be a list"),
    ("lookup", "complaints", {"column": 1, "keys": []}, "'column' must be a string"),
    ("lookup", "complaints", {"column": "id", "keys": ["1"]}, "column 'id' of table"),
    (
        "lookup",
        "complaints",
        {"column": "id", "keys": list(range(MAX_KEYS + 1))},
        f"at most {MAX_KEYS}",
    ),
    ("lookup", "complaints", {"column": "id", "keys": [1], "per_key": -1}, "'per_key'"),
    ("page", "complaints", {"first": 1001}, "'first' must be a whole number from 0 to 1000"),
    ("page", "complaints", {"last": "2"}, "'last' must be a whole number"),
    ("page", "complaints", {"first": True}, "'first' must be a whole number"),
    ("page", "complaints", b'{"after": 18446744073709551615}', "'after' must be a whole number"),
    ("count", "complaints", {"where": {"column": "id"}}, "'where' must be a list"),
    ("count", "complaints", {"where": [{"any": {"column": "id"}}]}, "'any' must be a list"),
    (
        "count",
        "complaints",
        {"where": [{"any": [[{"column": "x", "op": "eq", "value": 1}]]}]},
        "no column 'x'",
    ),
    ("count", "complaints", {"where": [{"column": "id", "op": "eq"}]}, "a filter must be"),
    (
        "count",
        "complaints",
        {"where": [{"column": "title", "op": "like", "value": "%"}]},
        "unknown operator 'like'",
    ),
    (
        "count",
        "complaints",
        {"where": [{"column": "produced_at", "op": "gte", "value": "2026-10-14T00:00:00"}]},
        "an ISO 8601 instant with offset",
    ),
    (
        "count",
        "complaints",
        {"where": [{"column": "produced_at", "op": "lte", "value": "yesterday"}]},
        "an ISO 8601 instant with offset, not 'yesterday'",
    ),
    (
        "count",
        "complaints",
        {"where": [{"column": "channel", "op": "in", "value": "website"}]},
        "'in' on column 'channel' needs a list",
    ),
    (
        "count",
        "complaints",
        {"where": [{"column": "channel", "op": "in", "value": ["x"] * (MAX_KEYS + 1)}]},
        f"at most {MAX_KEYS}",
    ),
    (
        "count",
        "complaints",
        {"where": [{"column": "ticket_no", "op": "prefix", "value": 12}]},
        "'prefix' on column 'ticket_no' needs a string",
    ),
]


@pytest.mark.parametrize(("verb", "table", "body", "message"), BAD_BODIES)
async def test_bad_bodies_are_400_naming_the_problem(
    api: LiveServer, verb: str, table: str, body: bytes | Any, message: str
) -> None:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=api.url, headers=headers) as client:
        response = await client.post(f"/v1/tables/{table}/{verb}", content=content)
    assert message in error_of(response, 400, "BAD_REQUEST")


async def test_unknown_routes_and_methods_answer_json(api: LiveServer) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=api.url, headers=headers) as client:
        error_of(await client.get("/v2/health"), 404, "NOT_FOUND")
        response = await client.get("/v1/tables/complaints/count")
        error_of(response, 405, "METHOD_NOT_ALLOWED")
        assert response.headers["allow"] == "POST"


async def test_a_down_database_is_503_and_source_unavailable(unused_pg_url: str) -> None:
    app = create_source_api(
        "complaints", SqlConnector("complaints", create_engine(unused_pg_url)), token=TOKEN
    )
    async with LiveServer(app) as server:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(base_url=server.url, headers=headers) as client:
            message = error_of(await client.get("/v1/health"), 503, "SOURCE_UNAVAILABLE")
            assert message == "source 'complaints' is unavailable"
            response = await client.post("/v1/tables/complaints/count", json={})
            error_of(response, 503, "SOURCE_UNAVAILABLE")
        connector = HttpConnector("complaints", server.url, token=TOKEN)
        try:
            with pytest.raises(SourceUnavailable, match="HTTP 503"):
                await connector.ping()
            with pytest.raises(SourceUnavailable):
                await connector.lookup("complaints", "id", [1])
        finally:
            await connector.close()


async def test_a_stopped_server_is_source_unavailable_at_once(sqlite_settings: Settings) -> None:
    server = LiveServer(source_api(sqlite_settings, "complaints"))
    await server.start()
    connector = HttpConnector("complaints", server.url, token=TOKEN, timeout=SLOW)
    try:
        await connector.ping()
        await server.stop()
        started = time.monotonic()
        with pytest.raises(SourceUnavailable):
            await connector.count("complaints")
        assert time.monotonic() - started < SLOW / 2  # refused, not waited out
    finally:
        await connector.close()
        await server.stop()


async def test_a_closed_port_is_source_unavailable_at_once() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    connector = HttpConnector("complaints", url, token=TOKEN, timeout=SLOW)
    try:
        started = time.monotonic()
        with pytest.raises(SourceUnavailable, match="ConnectError"):
            await connector.lookup("complaints", "id", [1])
        assert time.monotonic() - started < SLOW / 2  # refused, not waited out
    finally:
        await connector.close()


async def test_a_silent_server_times_out() -> None:
    with socket.socket() as silent:
        # It listens, so the connection is made, and then never reads or answers.
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        connector = HttpConnector("complaints", url, token=TOKEN, timeout=0.3)
        try:
            started = time.monotonic()
            with pytest.raises(SourceUnavailable, match="timed out"):
                await connector.count("complaints")
            # ended by the 0.3 s timeout (a loaded machine only ends it later)
            assert 0.27 < time.monotonic() - started < SLOW
        finally:
            await connector.close()


@dataclass
class Canned:
    """What the garbage server answers to everything."""

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] | None = None


@pytest_asyncio.fixture(loop_scope="session")
async def garbage() -> AsyncIterator[tuple[str, Canned]]:
    """A server that answers every request with whatever the test put in ``Canned``."""
    canned = Canned()

    async def answer(request: Request) -> Response:
        return Response(canned.body, canned.status, dict(canned.headers or {}))

    app = Starlette(routes=[Route("/{path:path}", answer, methods=["GET", "POST"])])
    async with LiveServer(app) as server:
        yield server.url, canned


def _json(payload: Any) -> bytes:
    return orjson.dumps(payload)


GARBAGE: list[tuple[str, int, bytes, Mapping[str, str] | None]] = [
    ("count", 200, b"not json at all", None),
    ("count", 200, b"\xff\xfe\x00garbage", None),
    ("count", 200, b"<html><body>Welcome to nginx!</body></html>", None),
    ("count", 200, _json([1, 2]), None),
    ("count", 200, _json({"count": "5"}), None),
    ("count", 200, _json({"count": True}), None),
    ("count", 200, _json({"count": -1}), None),
    ("count", 200, _json({"count": 1.5}), None),
    ("count", 500, b"Internal Server Error", None),
    ("count", 502, _json({"error": {"code": "BAD_GATEWAY", "message": "x"}}), None),
    ("count", 302, b"", {"location": "http://127.0.0.1:1/"}),
    ("lookup", 200, _json({}), None),
    ("lookup", 200, _json({"rows": {"id": 1}}), None),
    ("lookup", 200, _json({"rows": [1, 2]}), None),
    ("lookup", 200, _json({"rows": [{"id": "1"}]}), None),
    ("lookup", 200, _json({"rows": [{"title": "no id"}]}), None),
    ("lookup", 200, _json({"rows": [{"id": 1, "produced_at": "yesterday"}]}), None),
    ("lookup", 200, _json({"rows": [{"id": 1, "produced_at": "2026-10-14T09:30:00"}]}), None),
    ("lookup", 200, _json({"rows": [{"id": 1, "late": "no"}]}), None),
    ("page", 200, _json({"rows": []}), None),
    ("page", 200, _json({"rows": [], "has_next": "no", "has_previous": False}), None),
    ("page", 200, _json({"rows": [{"id": 1, "cd_time": 5}], "has_next": False}), None),
    ("ping", 200, _json({"status": "fine", "source": "complaints"}), None),
    ("ping", 200, b"ok", None),
]
CALLS: Mapping[str, Callable[[Connector], Awaitable[Any]]] = {
    "count": lambda c: c.count("complaints"),
    "lookup": lambda c: c.lookup("complaints", "id", [1]),
    "page": lambda c: c.page("complaints", PageRequest(first=1)),
    "ping": lambda c: c.ping(),
}


@pytest.mark.parametrize(("call", "status", "body", "headers"), GARBAGE)
async def test_garbage_is_source_unavailable(
    garbage: tuple[str, Canned],
    call: str,
    status: int,
    body: bytes,
    headers: Mapping[str, str] | None,
) -> None:
    url, canned = garbage
    canned.status, canned.body, canned.headers = status, body, headers
    connector = HttpConnector("complaints", url, token=TOKEN)
    try:
        with pytest.raises(SourceUnavailable) as caught:
            await CALLS[call](connector)
        assert caught.value.source == "complaints"
        assert TOKEN not in str(caught.value) and len(caught.value.reason) < 60
    finally:
        await connector.close()


# One JSON value of each wire kind, as the source-exchange API would send it.
SAMPLES: Mapping[str, Any] = {
    "instant": "2026-10-14T01:30:00+00:00",
    "date": "2026-10-10",
    "decimal": "1234.50",
    "boolean": False,
    "integer": 1,
    "string": "x",
    "strings": ["ZF-0001"],
    "json": {"k": "v"},
}


def sound_row(table: str, **changes: Any) -> dict[str, Any]:
    """A row of ``table`` as the API sends it, every column present, then ``changes``."""
    kinds = wire.codec("supervision" if table == "actions" else "complaints", table).kinds
    row = {column: SAMPLES[kind] for column, kind in kinds.items()}
    row.update(changes)
    return {k: v for k, v in row.items() if v is not DROP}


DROP = object()
ROW_CALLS: Mapping[str, tuple[str, Callable[[Connector], Awaitable[Any]]]] = {
    "lookup": ("complaints", lambda c: c.lookup("complaints", "id", [1])),
    "page": ("complaints", lambda c: c.page("complaints", PageRequest(first=2))),
    "actions": ("supervision", lambda c: c.lookup("actions", "id", [1])),
}
BAD_ROWS: list[tuple[str, list[dict[str, Any]]]] = [
    ("lookup", [sound_row("complaints", ticket_no=DROP)]),  # a NOT NULL column missing
    ("lookup", [sound_row("complaints", status=None)]),  # null where NOT NULL
    ("lookup", [sound_row("complaints", delay_working_days="3")]),  # a string for a number
    ("lookup", [sound_row("complaints", id=2)]),  # a row for a key not asked for
    ("lookup", [sound_row("complaints", produced_at=1760405400)]),  # epoch seconds
    ("page", [sound_row("complaints", id=n) for n in (1, 2, 3)]),  # longer than asked
    ("page", [sound_row("complaints", id=n) for n in (2, 1)]),  # not in id order
    ("actions", [sound_row("actions", officer_certificates="ZF-0001")]),  # not a list
    ("actions", [sound_row("actions", officer_certificates=[1, 2])]),  # not strings
]


@pytest.mark.parametrize(("call", "rows"), BAD_ROWS)
async def test_rows_of_the_wrong_shape_are_source_unavailable(
    garbage: tuple[str, Canned], call: str, rows: list[dict[str, Any]]
) -> None:
    url, canned = garbage
    source, read = ROW_CALLS[call]
    connector = HttpConnector(source, url, token=TOKEN)
    canned.status = 200
    try:
        sound = [sound_row("actions" if call == "actions" else "complaints")]
        canned.body = _json({"rows": sound, "has_next": False, "has_previous": False})
        assert await read(connector)  # the same answer, sound, is read
        canned.body = _json({"rows": rows, "has_next": False, "has_previous": False})
        with pytest.raises(SourceUnavailable) as caught:
            await read(connector)
        assert caught.value.source == source and len(caught.value.reason) < 60
    finally:
        await connector.close()


@pytest.mark.parametrize(
    "body", [b"nope", _json({"error": {"code": "BAD_REQUEST", "message": "no column 'x'"}})]
)
async def test_a_400_to_a_sound_request_is_the_source_refusing(
    garbage: tuple[str, Canned], body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """The gateway checks its requests first, so a 400 is the source disagreeing with it:
    unavailable for this request, its explanation in the log."""
    url, canned = garbage
    canned.status, canned.body = 400, body
    connector = HttpConnector("complaints", url, token=TOKEN)
    try:
        with caplog.at_level(logging.WARNING), pytest.raises(SourceRefused) as caught:
            await connector.count("complaints")
    finally:
        await connector.close()
    assert isinstance(caught.value, SourceUnavailable) and caught.value.source == "complaints"
    assert "HTTP 400" in caught.value.reason
    explained = "no column 'x'" if b"error" in body else "the source refused the request"
    assert explained in caplog.text


async def test_a_given_client_is_used_and_left_open(databases: SourceDatabases) -> None:
    connector = SqlConnector("complaints", databases.engine("complaints"))
    app = create_source_api("complaints", connector, token=TOKEN)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
        http = HttpConnector("complaints", "http://source-api", token=TOKEN, client=client)
        assert await http.count("complaints") == 0
        await http.close()
        assert not client.is_closed


async def test_the_token_is_never_logged_or_shown(
    api: LiveServer, sqlite_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    connector = HttpConnector("complaints", api.url, token=TOKEN)
    try:
        await connector.ping()
        await connector.count("complaints")
        with pytest.raises(BadSourceRequest):
            await connector.count("complaints", [Filter("colour", "eq", 1)])
    finally:
        await connector.close()
    assert caplog.records
    assert TOKEN not in caplog.text
    assert TOKEN not in repr(connector)
    assert TOKEN not in repr(source_api(sqlite_settings, "complaints").user_middleware)


def test_the_api_refuses_to_run_without_a_token() -> None:
    connector = SqlConnector("complaints", create_engine("sqlite+aiosqlite://"))
    with pytest.raises(Misconfigured, match="token"):
        create_source_api("complaints", connector, token="")
    with pytest.raises(Misconfigured, match="ASCII"):
        create_source_api("complaints", connector, token="令牌")
    with pytest.raises(ValueError, match="reads 'complaints'"):
        create_source_api("credit", connector, token=TOKEN)


@pytest.mark.parametrize("url", ["complaints-host:8101", "ftp://host/", "http://"])
def test_a_connector_refuses_a_url_it_cannot_use(url: str) -> None:
    with pytest.raises(ValueError, match="must be http"):
        HttpConnector("complaints", url, token=TOKEN)


# --- SQL unavailable -----------------------------------------------------------------------------


@pytest.fixture
def unused_pg_url() -> str:
    """A PostgreSQL URL on a port where nothing listens."""
    return f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nothing"


async def test_sql_on_a_closed_port_is_source_unavailable(unused_pg_url: str) -> None:
    connector = SqlConnector("complaints", create_engine(unused_pg_url))
    try:
        started = time.monotonic()
        with pytest.raises(SourceUnavailable) as caught:
            await connector.ping()
        assert caught.value.source == "complaints"
        with pytest.raises(SourceUnavailable):
            await connector.lookup("complaints", "id", [1])
        with pytest.raises(SourceUnavailable):
            await connector.count("complaints")
        assert time.monotonic() - started < SLOW / 2  # refused, not waited out
    finally:
        await connector.close()


async def corrupt(databases: SourceDatabases, source: str, statement: str) -> None:
    async with databases.engine(source).begin() as connection:
        await connection.execute(text(statement))


# Values a database lets through that are not of their column's type: JSON of another shape in
# a list column (both backends), and on SQLite, which keeps any value in any column, a date
# that is not one and text in an INTEGER column.
CORRUPTIONS = [
    ("supervision", "actions", """UPDATE actions SET officer_certificates = '"ZF-1"'""", None),
    ("supervision", "actions", "UPDATE actions SET officer_certificates = '[1, 2]'", None),
    ("complaints", "complaints", "UPDATE complaints SET produced_at = 'not a date'", "sqlite"),
    ("complaints", "complaints", "UPDATE complaints SET delay_working_days = 'abc'", "sqlite"),
    ("complaints", "complaints", "UPDATE complaints SET due_at = 'soon'", "sqlite"),
]


@pytest.mark.parametrize(("source", "table", "statement", "backend"), CORRUPTIONS)
async def test_values_of_the_wrong_type_in_a_database_are_source_unavailable(
    connector: Connect,
    loaded: Loaded,
    databases: SourceDatabases,
    source: str,
    table: str,
    statement: str,
    backend: str | None,
) -> None:
    dialect = databases.engine(source).dialect.name
    if backend is not None and dialect != backend:
        # This database holds every value to its column's type: the bad value never gets in.
        with pytest.raises(DBAPIError):
            await corrupt(databases, source, statement)
        return
    read = await connector(source)
    assert (await read.page(table, PageRequest(first=10))).rows  # sound before
    await corrupt(databases, source, statement)
    with pytest.raises(SourceUnavailable) as caught:
        await read.page(table, PageRequest(first=10))
    assert caught.value.source == source
    with pytest.raises(SourceUnavailable):
        await read.lookup(table, "id", [1, 2, 3])
