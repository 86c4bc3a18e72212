"""Tracing over real HTTP: a server span, an operation span, a span per source round trip."""

from __future__ import annotations

import asyncio
import gzip
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.app import create_app
from gateway.observability import REGISTRY
from gateway.settings import Settings, SettingsError
from gateway.tracing import Tracing, configure_tracing, otlp_endpoint
from policies.store import ensure_seed
from sources.database import create_engine
from sources.telemetry import source_span
from tests.conftest import TEST_TIMEOUTS
from tests.servers import TOKEN, LiveServer, free_port

# Public tables only (matters, departments, licensing items): anonymous callers may read them.
CATALOGUE = (
    "query Catalogue($n: Int!) { matters(first: $n) { edges { node { name "
    "department { name } licensingItem { name } } } } }"
)
LICENSING = "{ licensingItems(first: 2) { edges { node { name } } } }"


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    exported = InMemorySpanExporter()
    yield exported
    exported.shutdown()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    made = TracerProvider()
    made.add_span_processor(SimpleSpanProcessor(exporter))
    yield made
    made.shutdown()


@pytest_asyncio.fixture(loop_scope="session")
async def demo(
    seeded_sqlite: Settings, gateway_template: dict[str, str], tmp_path: Path
) -> Settings:
    """The demo data, a gateway database of its own with the seed policies (anonymous callers
    read public tables), and the public cache off: every query reaches the sources."""
    gateway = tmp_path / "gateway.db"
    await asyncio.to_thread(shutil.copyfile, gateway_template["sqlite"], gateway)
    url = f"sqlite+aiosqlite:///{gateway}"
    engine = create_engine(url)
    try:
        await ensure_seed(engine)  # as `jianguan db upgrade` does
    finally:
        await engine.dispose()
    return Settings(
        var_dir=seeded_sqlite.var_dir, gateway_url=url, public_cache_seconds=0, **TEST_TIMEOUTS
    )


async def post(app: Starlette, *bodies: dict[str, Any]) -> list[httpx.Response]:
    async with LiveServer(app) as server, httpx.AsyncClient(base_url=server.url) as client:
        return [
            await client.post("/graphql", json=body, headers={"x-request-id": f"trace-test-{i:04}"})
            for i, body in enumerate(bodies)
        ]


def round_trips() -> Counter[str]:
    """Source round trips so far, per source, as the gateway's own metrics count them."""
    counted: Counter[str] = Counter()
    for metric in REGISTRY.collect():
        if metric.name == "jianguan_source_call_seconds":
            for sample in metric.samples:
                if sample.name.endswith("_count"):
                    counted[sample.labels["source"]] += int(sample.value)
    return counted


def of_kind(spans: tuple[ReadableSpan, ...], prefix: str) -> list[ReadableSpan]:
    return [span for span in spans if span.name.startswith(prefix)]


def parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


async def test_a_request_makes_one_server_one_operation_and_a_span_per_round_trip(
    demo: Settings, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    app = create_app(demo, tracer_provider=provider)
    before = round_trips()
    (response,) = await post(app, {"query": CATALOGUE, "variables": {"n": 3}})
    expected = round_trips() - before
    assert response.status_code == 200 and "errors" not in response.json()
    assert sum(expected.values()) >= 3  # matters, then departments and licensing items

    spans = exporter.get_finished_spans()
    (server,) = [span for span in spans if span.kind == SpanKind.SERVER]
    assert server.attributes is not None
    assert server.attributes["http.response.header.x_request_id"] == ("trace-test-0000",)
    (operation,) = of_kind(spans, "graphql.")
    assert operation.name == "graphql.query Catalogue"
    assert operation.attributes is not None
    assert operation.attributes["graphql.operation.name"] == "Catalogue"
    assert operation.attributes["graphql.operation.type"] == "query"
    assert operation.attributes["graphql.error.count"] == 0
    assert len(str(operation.attributes["graphql.document.hash"])) == 64
    assert parent_id(operation) == server.context.span_id

    calls = of_kind(spans, "source ")
    per_source = Counter(str((span.attributes or {})["jianguan.source"]) for span in calls)
    assert per_source == expected
    assert all(parent_id(span) == operation.context.span_id for span in calls)
    assert all(span.kind == SpanKind.CLIENT for span in calls)
    assert all(span.status.status_code == StatusCode.UNSET for span in calls)
    assert {span.context.trace_id for span in spans} == {server.context.trace_id}
    assert len(spans) == 2 + len(calls)  # no span per field, none per ASGI send or receive


async def test_each_request_has_its_own_server_span(
    demo: Settings, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    app = create_app(demo, tracer_provider=provider)
    responses = await post(app, {"query": LICENSING}, {"query": "{ matters(first: 1) { nope } }"})
    assert [r.status_code for r in responses] == [200, 200]

    spans = exporter.get_finished_spans()
    servers = [span for span in spans if span.kind == SpanKind.SERVER]
    assert len(servers) == 2 and len({span.context.trace_id for span in servers}) == 2
    operations = of_kind(spans, "graphql.")
    assert [span.name for span in operations] == ["graphql.query"] * 2  # both anonymous
    errors = sorted(int(str((span.attributes or {})["graphql.error.count"])) for span in operations)
    assert errors == [0, 1]  # the second fails validation


async def test_a_source_that_is_down_marks_its_span_as_an_error(
    demo: Settings, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"  # nobody listens there
    settings = replace(demo, read_urls={"gov_services": closed}, source_api_token=TOKEN)
    app = create_app(settings, tracer_provider=provider)
    (response,) = await post(app, {"query": LICENSING})
    assert response.json()["errors"]

    spans = exporter.get_finished_spans()
    (call,) = of_kind(spans, "source gov_services")
    assert call.status.status_code == StatusCode.ERROR
    (event,) = [event for event in call.events if event.name == "exception"]
    assert str((event.attributes or {})["exception.type"]).endswith("SourceUnavailable")
    (operation,) = of_kind(spans, "graphql.")
    assert (operation.attributes or {})["graphql.error.count"] == 1


class Collector:
    """A stand-in OTLP/HTTP collector: keeps every trace export it is sent."""

    def __init__(self) -> None:
        self.exports: list[ExportTraceServiceRequest] = []
        self.app = Starlette(routes=[Route("/v1/traces", self.receive, methods=["POST"])])

    async def receive(self, request: Request) -> Response:
        body = await request.body()
        if request.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        self.exports.append(ExportTraceServiceRequest.FromString(body))
        return Response(b"", media_type="application/x-protobuf")

    def span_names(self) -> list[str]:
        return [
            span.name
            for export in self.exports
            for resource in export.resource_spans
            for scope in resource.scope_spans
            for span in scope.spans
        ]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_SERVICE_NAME",
        "OTEL_SDK_DISABLED",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("clean_env")
async def test_configured_tracing_exports_to_the_endpoint(demo: Settings) -> None:
    collector = Collector()
    async with LiveServer(collector.app) as otlp:
        app = create_app(replace(demo, otel_endpoint=otlp.url))
        await post(app, {"query": LICENSING})  # the app's shutdown flushes the last batch
    assert {"POST /graphql", "graphql.query"} <= set(collector.span_names())
    resource = collector.exports[0].resource_spans[0].resource
    service = {a.key: a.value.string_value for a in resource.attributes}["service.name"]
    assert service == "jianguan-gateway"


@pytest.mark.usefixtures("clean_env")
async def test_without_an_endpoint_nothing_is_traced_or_exported(demo: Settings) -> None:
    collector = Collector()
    async with LiveServer(collector.app):
        assert configure_tracing(demo) is None
        app = create_app(demo)
        installed: list[object] = [middleware.cls for middleware in app.user_middleware]
        assert Tracing not in installed
        (response,) = await post(app, {"query": LICENSING})
        assert response.status_code == 200
    assert collector.exports == []
    with source_span("supervision", "lookup") as span:
        assert span is None and trace.get_current_span() is trace.INVALID_SPAN
    # nothing was installed globally either
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


@pytest.mark.parametrize(
    ("environ", "jianguan", "endpoint"),
    [
        ({}, None, None),
        ({}, "http://collector:4318", "http://collector:4318/v1/traces"),
        ({}, "http://collector:4318/", "http://collector:4318/v1/traces"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318"}, None, "http://otel:4318/v1/traces"),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://otel:4318/t"}, None, "http://otel:4318/t"),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318"},
            "http://ours:4318",
            "http://ours:4318/v1/traces",
        ),
        ({"OTEL_SDK_DISABLED": "true"}, "http://collector:4318", None),
    ],
)
def test_where_spans_go(
    tmp_path: Path, environ: dict[str, str], jianguan: str | None, endpoint: str | None
) -> None:
    settings = Settings(var_dir=tmp_path, otel_endpoint=jianguan)
    assert otlp_endpoint(settings, environ) == endpoint


def test_the_service_name_is_ours_unless_otel_service_name_says_otherwise(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path, otel_endpoint="http://127.0.0.1:9")
    for environ, name in (({}, "jianguan-gateway"), ({"OTEL_SERVICE_NAME": "gw-a"}, "gw-a")):
        provider = configure_tracing(settings, environ)
        assert provider is not None
        assert provider.resource.attributes["service.name"] == name
        provider.shutdown()  # nothing was recorded, so nothing is sent to port 9


def test_the_endpoint_setting_is_read_from_the_environment() -> None:
    assert Settings.from_env({}).otel_endpoint is None
    read = Settings.from_env({"JIANGUAN_OTEL_ENDPOINT": "https://collector.example:4318"})
    assert read.otel_endpoint == "https://collector.example:4318"
    with pytest.raises(SettingsError, match="JIANGUAN_OTEL_ENDPOINT"):
        Settings.from_env({"JIANGUAN_OTEL_ENDPOINT": "collector:4318"})
