"""What a source round trip reports: a span when the request is traced, and two metrics.

The tracer travels with the request in a context variable, set by the gateway's tracing
middleware, so each app traces with its own provider and nothing here is global but the
variable. The metrics are registered by whoever serves them (``gateway.observability``).
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from contextvars import ContextVar

from opentelemetry.trace import Span, SpanKind, Tracer
from prometheus_client import Gauge, Histogram

current_tracer: ContextVar[Tracer | None] = ContextVar("tracer", default=None)
_OFF: AbstractContextManager[None] = nullcontext()  # reusable: tracing off costs one lookup

SOURCE_CALLS = Histogram(
    "jianguan_source_call_seconds", "Source round trips", ["source", "outcome"], registry=None
)
BREAKER_OPEN = Gauge(
    "jianguan_source_breaker_open", "1 while a source's circuit is open", ["source"],
    registry=None,
)  # fmt: skip


def source_span(
    source: str, operation: str, *, table: str | None = None
) -> AbstractContextManager[Span | None]:
    """A client span around one source round trip; a shared no-op when tracing is off."""
    tracer = current_tracer.get()
    if tracer is None:
        return _OFF
    attributes = {"jianguan.source": source, "jianguan.source.operation": operation}
    if table is not None:
        attributes["jianguan.source.table"] = table
    # Errors end the span with status ERROR and an exception event (the SDK's defaults).
    return tracer.start_as_current_span(
        f"source {source}", kind=SpanKind.CLIENT, attributes=attributes
    )
