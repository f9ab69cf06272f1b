"""OpenTelemetry traces of invocations: gateway, dispatcher and instance spans.

Tracing is off unless `configure` or `configure_from_environment` turns it
on. While it is off, callers check the module attribute `enabled` and do
nothing else: this module imports no OpenTelemetry package until tracing is
configured, and no span is created.

The trace context travels as a W3C `traceparent` string: from the HTTP
header to the `Invocation`, through the durable asynchronous queue, and in
the INVOKE frame's metadata to the instance.
"""

from __future__ import annotations

import logging
import os
import random
import re
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.id_generator import IdGenerator
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Span, Tracer

    from squall.dispatcher.dispatcher import Invocation

logger = logging.getLogger(__name__)

# Hot paths read this attribute as `tracing.enabled`, so it must stay a plain
# module global that `configure` and `shutdown` rebind.
enabled = False

TRACES_ENDPOINT_VARIABLE = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
ENDPOINT_VARIABLE = "OTEL_EXPORTER_OTLP_ENDPOINT"
DEFAULT_SERVICE_NAME = "squall"
TRACER_NAME = "squall"

# Squall's trigger names mapped to the `faas.trigger` values of the
# OpenTelemetry FaaS semantic conventions; anything else is "other".
_FAAS_TRIGGERS = {
    "http": "http",
    "queue": "pubsub",
    "objects": "datasource",
    "table_stream": "datasource",
    "stream": "datasource",
    "schedule": "timer",
}

_provider: TracerProvider | None = None
_tracer: Tracer | None = None

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
AsgiHandler = Callable[[dict[str, Any], Receive, Send], Awaitable[None]]


# Configuration


def configure_from_environment(environ: Mapping[str, str] = os.environ) -> bool:
    """Export spans over OTLP/HTTP when an OTLP endpoint variable is set; return whether tracing is on.

    `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is the full URL of the traces
    endpoint, and `OTEL_EXPORTER_OTLP_ENDPOINT` a base URL to which
    `/v1/traces` is added, as the OTLP exporter specification defines. With
    neither set, or with `OTEL_SDK_DISABLED=true`, nothing is exported and
    no OpenTelemetry package is imported.
    """
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    endpoint = environ.get(TRACES_ENDPOINT_VARIABLE, "").strip()
    if not endpoint:
        base = environ.get(ENDPOINT_VARIABLE, "").strip()
        if not base:
            return False
        endpoint = base.rstrip("/") + "/v1/traces"

    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    # The exporter still reads the other OTEL_EXPORTER_OTLP_* variables
    # (headers, timeout, compression) itself.
    configure(OTLPSpanExporter(endpoint=endpoint), service_name=environ.get("OTEL_SERVICE_NAME") or DEFAULT_SERVICE_NAME)
    logger.info("tracing on: exporting spans over OTLP/HTTP to %s", endpoint)
    return True


def configure(exporter: SpanExporter, *, batch: bool = True, service_name: str = DEFAULT_SERVICE_NAME) -> None:
    """Turn tracing on with `exporter`; `batch=False` exports each span as it ends, as tests want."""
    global enabled, _provider, _tracer
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    # A provider of our own rather than the global one: the global provider
    # can be set once per process, and user code never runs in the server.
    provider = TracerProvider(
        resource=Resource.create({"service.name": service_name}), id_generator=_timed_id_generator()
    )
    provider.add_span_processor(BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter))
    if _provider is not None:
        _provider.shutdown()
    _provider = provider
    _tracer = provider.get_tracer(TRACER_NAME)
    enabled = True


def shutdown() -> None:
    """Export the spans still buffered and turn tracing off."""
    global enabled, _provider, _tracer
    enabled = False
    provider, _provider, _tracer = _provider, None, None
    if provider is not None:
        provider.shutdown()


def _timed_id_generator() -> IdGenerator:
    """Return an ID generator whose trace ids start with the trace's start time, as X-Ray trace ids do.

    An X-Ray Root is "1-TTTTTTTT-RRRRRRRRRRRRRRRRRRRRRRRR": the start time in
    epoch seconds as 8 hex digits, then 96 random bits. A W3C trace id whose
    first 8 hex digits are that time gives the invocation's _X_AMZN_TRACE_ID
    a real time.
    """
    from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

    class TimedIdGenerator(RandomIdGenerator):
        def generate_trace_id(self) -> int:
            return (int(time.time()) & 0xFFFFFFFF) << 96 | random.getrandbits(96)

    return TimedIdGenerator()


def _active_tracer() -> Tracer:
    if _tracer is None:
        raise RuntimeError("tracing is not configured: call squall.observability.tracing.configure first")
    return _tracer


# The W3C trace context


def parent_context(traceparent: str | None) -> Context | None:
    """Return the context that `traceparent` names, or None for a missing or invalid value."""
    if not traceparent:
        return None
    from opentelemetry import trace
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    context = TraceContextTextMapPropagator().extract({"traceparent": traceparent})
    if not trace.get_current_span(context).get_span_context().is_valid:
        return None
    return context


_XRAY_ROOT = re.compile(r"1-([0-9a-f]{8})-([0-9a-f]{24})")
_XRAY_PARENT = re.compile(r"[0-9a-f]{16}")


def traceparent_from_xray(header: str | None) -> str | None:
    """Return the W3C `traceparent` of an X-Ray trace header, or None without a valid Root and Parent.

    The trace id is the Root's 32 hex digits without "1-" and the dashes,
    and the parent span is Parent. The trace is sampled unless the header
    has Sampled=0, because a header without Sampled leaves the decision to
    Squall, which samples every trace.
    """
    if not header:
        return None
    root = parent = None
    sampled = True
    for field in header.split(";"):
        name, _, value = field.strip().partition("=")
        if name == "Root":
            root = _XRAY_ROOT.fullmatch(value)
        elif name == "Parent" and _XRAY_PARENT.fullmatch(value):
            parent = value
        elif name == "Sampled":
            sampled = value != "0"
    if root is None or parent is None:
        return None
    return f"00-{root[1]}{root[2]}-{parent}-{'01' if sampled else '00'}"


def traceparent_of(span: Span) -> str:
    """Format the span's context as a W3C `traceparent` value."""
    context = span.get_span_context()
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def current_traceparent() -> str | None:
    """Return the `traceparent` of the current span, or None when no span is current."""
    from opentelemetry import trace

    span = trace.get_current_span()
    if not span.get_span_context().is_valid:
        return None
    return traceparent_of(span)


# Gateway spans


async def serve_traced(handler: AsgiHandler, scope: dict[str, Any], receive: Receive, send: Send) -> None:
    """Run an ASGI handler inside a server span whose parent is the request's `traceparent` header.

    A request without one joins the trace of its `X-Amzn-Trace-Id` header, as
    AWS SDKs send it from inside a function, so that a function that invokes
    another stays in one trace.
    """
    from opentelemetry.trace import SpanKind, Status, StatusCode

    method: str = scope["method"]
    header = _header(scope, b"traceparent") or traceparent_from_xray(_header(scope, b"x-amzn-trace-id"))
    attributes = {"http.request.method": method, "url.path": scope["path"]}
    with _active_tracer().start_as_current_span(
        method, context=parent_context(header), kind=SpanKind.SERVER, attributes=attributes
    ) as span:

        async def send_observed(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status = int(message["status"])
                span.set_attribute("http.response.status_code", status)
                # The HTTP semantic conventions mark only 5xx as errors on a server span.
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR))
            await send(message)

        await handler(scope, receive, send_observed)


def name_route(method: str, route: str) -> None:
    """Name the current gateway span after the route that matched, such as `GET /hello/{name}`."""
    from opentelemetry import trace

    span = trace.get_current_span()
    span.update_name(f"{method} {route}")
    span.set_attribute("http.route", route)


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


# Dispatcher spans


@contextmanager
def invoke_span(invocation: Invocation) -> Iterator[Span]:
    """Open the span of one invocation, a child of its `traceparent` or else of the current span."""
    from opentelemetry.trace import SpanKind

    attributes = {
        "faas.invoked_name": invocation.function,
        "faas.invocation_id": invocation.request_id,
        "faas.trigger": _FAAS_TRIGGERS.get(invocation.trigger, "other"),
        "squall.trigger": invocation.trigger,
    }
    # The asynchronous path runs in a task of its own, so the stored
    # traceparent, not the current span, names the parent there.
    context = parent_context(invocation.traceparent)
    with _active_tracer().start_as_current_span(
        f"invoke {invocation.function}", context=context, kind=SpanKind.INTERNAL, attributes=attributes
    ) as span:
        yield span


def record_acquire(span: Span, started_s: float, cold: bool) -> int:
    """Record the wait for an instance, from `started_s` (epoch seconds) until now; return now in ns."""
    from opentelemetry import trace

    now_ns = time.time_ns()
    span.set_attribute("faas.coldstart", cold)
    child = _active_tracer().start_span(
        "acquire instance",
        context=trace.set_span_in_context(span),
        start_time=int(started_s * 1e9),
        attributes={"faas.coldstart": cold},
    )
    child.end(end_time=now_ns)
    return now_ns


def record_cold_start(span: Span, started_ns: int, init_ms: float) -> None:
    """Record the instance's init as a child span lasting `init_ms`, from `started_ns`."""
    from opentelemetry import trace

    # NOTE: the init began at the fork, inside the wait for an instance, and
    # only its length is measured; the span starts when the wait ended.
    child = _active_tracer().start_span(
        "cold start", context=trace.set_span_in_context(span), start_time=started_ns,
        attributes={"squall.init_ms": init_ms},
    )
    child.end(end_time=started_ns + int(init_ms * 1e6))


def record_result(span: Span, outcome: str, error_type: str | None) -> None:
    """Set the invocation's outcome on its span; a function error marks the span as an error."""
    from opentelemetry.trace import Status, StatusCode

    span.set_attribute("squall.outcome", outcome)
    if error_type is not None:
        span.set_attribute("error.type", error_type)
        span.set_status(Status(StatusCode.ERROR, error_type))
