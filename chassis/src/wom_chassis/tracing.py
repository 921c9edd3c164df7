"""Traces: the W3C trace context travels in Kafka headers, in outbox rows and in mail, so one trace
runs from an inbound event through every event and mail it causes.

Spans are recorded and exported over OTLP only when an endpoint is configured. Without one the
OpenTelemetry API stays a no-op that passes the inbound context on unchanged, and work that starts
a trace gets fresh ids here: the trace id still travels, at next to no cost per event.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

__all__ = [
    "TRACEPARENT",
    "TRACESTATE",
    "BatchSpan",
    "TraceContext",
    "configure_tracing",
    "consume_span",
    "continue_trace",
    "current_trace_context",
    "is_recording",
    "mail_span",
    "record_trace_context",
]

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
TraceContext = tuple[str | None, str | None]
"""A W3C `traceparent` and `tracestate` as stored with what outlives the span (outbox rows)."""

_PROPAGATOR = TraceContextTextMapPropagator()
# version 00 as the propagator reads it; ids of zeros are invalid
_TRACEPARENT = re.compile(r"[0-9a-f]{2}-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}")
_TRACER = trace.get_tracer("wom_chassis")


def configure_tracing(service: str, otlp_endpoint: str | None = None) -> None:
    """With `otlp_endpoint` (the collector's base URL), record spans and export them over
    OTLP/HTTP (sampling as OTEL_TRACES_SAMPLER says); without, leave the no-op API in place."""
    if otlp_endpoint and not isinstance(trace.get_tracer_provider(), TracerProvider):
        # imported only when used: the exporter pulls in requests and protobuf
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider = TracerProvider(resource=Resource.create({SERVICE_NAME: f"wom-{service}"}))
        endpoint = otlp_endpoint.rstrip("/") + "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
        trace.set_tracer_provider(provider)


def _parent(carrier: dict[str, str]) -> Context:
    # an empty context, not None: no inbound trace means a new trace, whatever span is current
    return _PROPAGATOR.extract(carrier) if TRACEPARENT in carrier else Context()


def _started(span: Span) -> Span:
    """`span`, or when the no-op API could not start a trace (no parent), fresh ids to carry on."""
    if span.get_span_context().is_valid:
        return span
    return NonRecordingSpan(
        SpanContext(
            trace_id=random.getrandbits(128) or 1,
            span_id=random.getrandbits(64) or 1,
            is_remote=False,
            trace_flags=TraceFlags(TraceFlags.SAMPLED),  # as the SDK's default sampler decides
        )
    )


@contextmanager
def _current(span: Span) -> Iterator[Span]:
    with trace.use_span(_started(span), end_on_exit=True) as current:
        yield current


def record_trace_context(headers: Sequence[tuple[str, bytes | None]]) -> TraceContext | None:
    """The `traceparent` and `tracestate` a consumed record carries, or None when it has none
    that W3C Trace Context can read."""
    traceparent = tracestate = None
    for name, value in headers:
        if value is not None:
            if name == TRACEPARENT:
                traceparent = value.decode("latin-1")
            elif name == TRACESTATE:
                tracestate = value.decode("latin-1")
    if traceparent is None or not _TRACEPARENT.fullmatch(traceparent):
        return None
    return traceparent, tracestate


def _link(context: TraceContext) -> Link | None:
    carrier = {TRACEPARENT: context[0] or ""}
    if context[1]:
        carrier[TRACESTATE] = context[1]
    span_context = trace.get_current_span(_PROPAGATOR.extract(carrier)).get_span_context()
    return Link(span_context) if span_context.is_valid else None


def is_recording() -> bool:
    """True when spans are recorded (an exporter is configured): only then are links worth
    building."""
    return isinstance(trace.get_tracer_provider(), TracerProvider)


@contextmanager
def consume_span(
    topics: Sequence[str], count: int, contexts: Sequence[TraceContext | None]
) -> Iterator[Span]:
    """One CONSUMER span around processing a batch of `count` records, linked to the trace of
    each record that carries one (OpenTelemetry's messaging conventions for batches); a new
    trace of its own. Records without a trace of their own continue this one."""
    attributes: dict[str, Any] = {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.batch.message_count": count,
    }
    if len(topics) == 1:
        attributes["messaging.destination.name"] = topics[0]
    links: list[Link] = []
    if is_recording():  # parsing every record's context costs: only for a recorded span
        links = [link for context in contexts if context is not None and (link := _link(context))]
    name = f"process {topics[0]}" if len(topics) == 1 else "process batch"
    span = _TRACER.start_span(name, Context(), SpanKind.CONSUMER, attributes, links)
    with _current(span) as current:
        yield current


def current_trace_context() -> TraceContext:
    """The `traceparent` and `tracestate` of the current span; (None, None) outside any trace."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None, None
    traceparent = f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"
    return traceparent, context.trace_state.to_header() or None


@contextmanager
def continue_trace(name: str, traceparent: str | None, tracestate: str | None = None) -> Iterator[Span]:
    """An INTERNAL span, child of a stored trace context (a new trace when there is none): work
    done later on behalf of an event (a queued message sent) joins that event's trace."""
    carrier = {TRACEPARENT: traceparent} if traceparent else {}
    if traceparent and tracestate:
        carrier[TRACESTATE] = tracestate
    with _current(_TRACER.start_span(name, _parent(carrier))) as span:
        yield span


class BatchSpan:
    """The trace of one batch of records sent to a partition: a PRODUCER span `send <topic>` of
    its own, linked to the trace each record was emitted in, while each record carries on its
    cause's trace in its headers. Per batch, not per record: a span and its export cost more
    than the rest of publishing a record."""

    def __init__(self, topic: str, partition: int) -> None:
        self.span = _started(
            _TRACER.start_span(
                f"send {topic}",
                context=Context(),  # no parent: a batch serves the traces of many events
                kind=SpanKind.PRODUCER,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.operation.type": "send",
                    "messaging.operation.name": "send",
                    "messaging.destination.name": topic,
                    "messaging.destination.partition.id": str(partition),
                },
            )
        )
        self._recording = self.span.is_recording()
        self._own: list[tuple[str, bytes]] | None = None

    def record_headers(self, traceparent: str | None, tracestate: str | None) -> list[tuple[str, bytes]]:
        """The trace headers of one record of the batch: the context it was emitted in (its row's
        `traceparent` and `tracestate`), linked from the span; a record emitted outside any trace
        (a job, an API call) starts its trace here, as a child of the span."""
        if not traceparent:
            if self._own is None:
                self._own = _span_headers(self.span)
            return self._own
        headers = [(TRACEPARENT, traceparent.encode("latin-1"))]
        if tracestate:
            headers.append((TRACESTATE, tracestate.encode("latin-1")))
        if self._recording:  # no-op API: nothing to link, and no parsing for it
            carrier = {TRACEPARENT: traceparent}
            if tracestate:
                carrier[TRACESTATE] = tracestate
            emitted = trace.get_current_span(_PROPAGATOR.extract(carrier)).get_span_context()
            if emitted.is_valid:
                self.span.add_link(emitted)
        return headers

    def end(self, records: int, error: BaseException | None = None) -> None:
        """End the span once the broker acknowledged the batch of `records` (or `error` failed it)."""
        self.span.set_attribute("messaging.batch.message_count", records)
        if error is not None:
            self.span.record_exception(error)
            self.span.set_status(Status(StatusCode.ERROR, type(error).__name__))
        self.span.end()


def _span_headers(span: Span) -> list[tuple[str, bytes]]:
    """The `traceparent` (and `tracestate`) headers that make `span` the parent of the consumer."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(span))
    return [(name, value.encode("latin-1")) for name, value in carrier.items()]


@contextmanager
def mail_span(host: str, port: int) -> Iterator[dict[str, str]]:
    """A CLIENT span around handing one mail to the SMTP relay, in the current trace (a new one
    outside any); yields the trace headers the mail carries."""
    span = _TRACER.start_span(
        "send mail",
        kind=SpanKind.CLIENT,
        attributes={"server.address": host, "server.port": port, "network.protocol.name": "smtp"},
    )
    with _current(span) as current:
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(current))
        yield carrier
