"""OpenTelemetry tracing, on only when an OTLP endpoint is configured.

A traced request makes one server span, one span per GraphQL operation and one per source
round trip; never one per field. The tracer travels with the request in a context variable,
like the request id, so each app traces with its own provider and nothing is global.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping

from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.util.http import get_excluded_urls
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

from gateway.persisted import document_hash
from gateway.settings import Settings
from sources.telemetry import current_tracer

SERVICE = "jianguan-gateway"
TRACES_PATH = "/v1/traces"


def otlp_endpoint(settings: Settings, environ: Mapping[str, str]) -> str | None:
    """Where spans go: ``JIANGUAN_OTEL_ENDPOINT``, else the standard ``OTEL_*`` variables."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    if settings.otel_endpoint:
        return _traces_url(settings.otel_endpoint)
    if traces := environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        return traces  # the standard says: used as given
    if base := environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return _traces_url(base)
    return None


def _traces_url(base: str) -> str:
    base = base.rstrip("/")
    return base if base.endswith(TRACES_PATH) else base + TRACES_PATH


def configure_tracing(
    settings: Settings, environ: Mapping[str, str] | None = None
) -> TracerProvider | None:
    """A provider exporting over OTLP/HTTP in batches, or None when no endpoint is configured."""
    env = os.environ if environ is None else environ
    endpoint = otlp_endpoint(settings, env)
    if endpoint is None:
        return None
    # Imported here: the exporter pulls in requests and protobuf, which an untraced gateway skips.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    name = env.get("OTEL_SERVICE_NAME") or SERVICE
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return provider


class Tracing:
    """ASGI middleware: a server span per request, and the app's tracer for the spans inside."""

    def __init__(self, app: ASGIApp, *, provider: TracerProvider) -> None:
        self.tracer = provider.get_tracer("jianguan.gateway")
        self.app = OpenTelemetryMiddleware(
            app,
            tracer_provider=provider,
            excluded_urls=get_excluded_urls("ASGI"),  # OTEL_PYTHON_ASGI_EXCLUDED_URLS
            exclude_spans=["receive", "send"],  # two more spans per request, telling nothing
            http_capture_headers_server_response=["x-request-id"],  # set by RequestIds inside
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = current_tracer.set(self.tracer)
        try:
            await self.app(scope, receive, send)
        finally:
            current_tracer.reset(token)


class OperationSpan(SchemaExtension):
    """One span per GraphQL operation, named ``graphql.<type> <name>``; none per field."""

    def on_operation(self) -> Iterator[None]:
        tracer = current_tracer.get()
        if tracer is None:
            yield
            return
        with tracer.start_as_current_span("graphql") as span:
            yield
            if not span.is_recording():  # sampled out: nobody will read what follows
                return
            context = self.execution_context
            attributes: dict[str, str | int] = {}
            if context.query:
                attributes["graphql.document.hash"] = document_hash(context.query)
            name = context.operation_name
            if name:
                attributes["graphql.operation.name"] = name
            kind = "operation"
            if context.graphql_document is not None:
                try:
                    kind = context.operation_type.value
                except RuntimeError:  # the named operation is not in the document
                    pass
                else:
                    attributes["graphql.operation.type"] = kind
            result = context.result
            errors = (result.errors if result is not None else None) or context.pre_execution_errors
            attributes["graphql.error.count"] = len(errors or ())
            span.set_attributes(attributes)
            # The name is known only once the document is parsed, after the span began.
            span.update_name(f"graphql.{kind} {name}" if name else f"graphql.{kind}")
