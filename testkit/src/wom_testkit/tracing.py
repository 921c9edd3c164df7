"""The spans a test ended, recorded in memory."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

__all__ = ["span_recorder"]

_SPANS: InMemorySpanExporter | None = None


def span_recorder() -> InMemorySpanExporter:
    """A recording tracer provider for the process with an in-memory exporter attached (once),
    emptied: the spans ended from now on are in `.get_finished_spans()`."""
    global _SPANS
    if _SPANS is None:
        provider = trace.get_tracer_provider()
        if not isinstance(provider, TracerProvider):
            provider = TracerProvider()
            trace.set_tracer_provider(provider)
        _SPANS = InMemorySpanExporter()
        provider.add_span_processor(SimpleSpanProcessor(_SPANS))
    _SPANS.clear()
    return _SPANS
