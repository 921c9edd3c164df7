"""The chaos harness's stall measure: how long a service made no progress while valid work
waited for it."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

from tests.chaos.harness import Markers


def stall(progress: list[float], markers: list[tuple[float, float]]) -> float:
    """`progress`: when events appeared in the service's inbox; `markers`: (sent, processed)."""
    base = time.monotonic() - 1_000  # every time in the past, so "now" does not count
    seen = {f"e{n}": base + t for n, t in enumerate(progress)}
    sent = []
    for n, (at, done) in enumerate(markers):
        seen[f"m{n}"] = base + done
        sent.append((base + at, f"m{n}", ("rewards",)))
    watch: Any = SimpleNamespace(seen={"rewards": seen})
    return Markers(sent=sent).max_stall(watch)


def test_work_waiting_when_progress_stops_stalls_until_progress_resumes() -> None:
    assert stall([1, 2, 3, 9, 10], [(2.5, 9)]) == 6  # the last progress at 3, the next at 9


def test_a_service_idle_when_a_cut_starts_stalls_from_the_first_marker_it_cannot_get() -> None:
    # everything done by 2; the cut from 4 to 9: the marker sent at 5 waits until 9.5
    assert stall([1, 2, 9.5, 10], [(1, 1.2), (5, 9.5)]) == 4.5


def test_no_stall_while_nothing_waits() -> None:
    assert stall([1, 2, 30], [(1.5, 1.6)]) < 0.2
