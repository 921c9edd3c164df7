"""Every log line inside a handler carries the event it is about."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from wom_chassis.logs import batch_log_context, configure_logging, get_logger
from wom_chassis.tracing import continue_trace


@pytest.fixture(autouse=True)
def log_to_stderr_after_the_test() -> Iterator[None]:
    """Set up before capsys, so torn down after it: later tests must not log to its closed stream."""
    yield
    configure_logging("test")


def test_log_lines_inside_an_event_context_name_the_event(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("test")
    log = get_logger("test")
    with batch_log_context() as context:
        log.info("before any event")
        context.about("e-1", "commerce.order.completed.v1", "c-1")
        log.info("inside")
    log.info("outside")
    before, inside, outside = (json.loads(line) for line in capsys.readouterr().err.splitlines())
    assert "event_id" not in before
    assert (inside["event_id"], inside["event_type"], inside["subject"]) == (
        "e-1",
        "commerce.order.completed.v1",
        "c-1",
    )
    assert inside["service"] == "test"
    assert "event_id" not in outside


def test_log_lines_inside_a_trace_carry_its_ids(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("test")
    log = get_logger("test")
    with continue_trace("work", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"):
        log.info("inside")
    log.info("outside")
    inside, outside = (json.loads(line) for line in capsys.readouterr().err.splitlines())
    assert inside["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736" and len(inside["span_id"]) == 16
    assert "trace_id" not in outside
