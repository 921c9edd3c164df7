"""Structured JSON logs; every line inside a handler carries the event it is about, and every line
inside a trace its trace and span ids."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import structlog
from opentelemetry import trace

__all__ = ["LogContext", "batch_log_context", "configure_logging", "get_logger"]


class _Stderr:
    """`sys.stderr` as it is when a line is written, not when logging was configured: a command
    run inside another program (a CLI runner, a test) gets its stderr swapped and closed after,
    and a handler holding the old stream then fails on every later line with "Logging error"."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(service: str, level: str = "INFO") -> None:
    """Send structlog and stdlib logs as one JSON object per line to stderr."""
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        _add_event,
        _add_trace,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(_Stderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(_Stderr())
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(),
            ],
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    """A structlog logger; what `batch_log_context` names is added to its lines."""
    return structlog.get_logger(name)  # type: ignore[no-any-return]


class LogContext:
    """What the lines logged during a batch are about: set once per batch, then only the event
    in hand changes (an attribute, not a context variable per event)."""

    __slots__ = ("event",)

    def __init__(self) -> None:
        self.event: tuple[str, str, str | None] | None = None

    def about(self, event_id: str, event_type: str, subject: str | None) -> None:
        """Make the lines logged from now on name this event."""
        self.event = (event_id, event_type, subject)


_CONTEXT: ContextVar[LogContext | None] = ContextVar("wom_log_context", default=None)


@contextmanager
def batch_log_context() -> Iterator[LogContext]:
    """One log context for the block (a batch); `about()` names the event each line is about."""
    token = _CONTEXT.set(LogContext())
    try:
        yield _CONTEXT.get()  # type: ignore[misc]
    finally:
        _CONTEXT.reset(token)


def _add_event(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    context = _CONTEXT.get()
    if context is not None and context.event is not None:
        event_id, event_type, subject = context.event
        event_dict.setdefault("event_id", event_id)
        event_dict.setdefault("event_type", event_type)
        event_dict.setdefault("subject", subject)
    return event_dict


def _add_trace(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict.setdefault("trace_id", f"{context.trace_id:032x}")
        event_dict.setdefault("span_id", f"{context.span_id:016x}")
    return event_dict
