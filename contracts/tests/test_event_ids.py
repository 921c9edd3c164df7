"""`EventIds`: 32 hex characters, unique, and in the order they were made."""

from __future__ import annotations

import re
import time
from types import SimpleNamespace

import pytest
from wom_contracts import EventIds, codec


def _batch(size: int) -> list[str]:
    ids = EventIds()
    return [ids.next() for _ in range(size)]


def test_ids_are_32_hex_characters() -> None:
    assert all(re.fullmatch("[0-9a-f]{32}", event_id) for event_id in _batch(300))


def test_ids_are_unique_across_many_batches() -> None:
    ids = [event_id for _ in range(2_000) for event_id in _batch(50)]
    assert len(set(ids)) == len(ids)


def test_two_batches_made_in_the_same_millisecond_never_meet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(codec, "clock", SimpleNamespace(time_ns=lambda: 1_764_590_400_123_456_789))
    batches = [_batch(100) for _ in range(500)]
    assert len({event_id[:12] for batch in batches for event_id in batch}) == 1  # one millisecond
    ids = [event_id for batch in batches for event_id in batch]
    assert len(set(ids)) == len(ids)


def test_two_batches_in_one_real_millisecond_never_meet() -> None:
    while True:  # a few tries at most: making two costs some microseconds
        first, second = EventIds(), EventIds()
        a, b = first.next(), second.next()
        if a[:12] == b[:12]:
            break
    assert a != b and a[12:24] != b[12:24]


def test_ids_sort_in_the_order_they_were_made_within_a_batch() -> None:
    ids = _batch(70_000)  # past every carry of the counter's low hex digits
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_batches_of_later_milliseconds_sort_after(monkeypatch: pytest.MonkeyPatch) -> None:
    now = iter(range(1_764_590_400_000_000_000, 1_764_590_500_000_000_000, 1_000_000))
    monkeypatch.setattr(codec, "clock", SimpleNamespace(time_ns=lambda: next(now)))
    ids = [event_id for _ in range(300) for event_id in _batch(20)]
    assert ids == sorted(ids)


def test_batches_of_later_real_milliseconds_sort_after() -> None:
    ids: list[str] = []
    for _ in range(5):
        ids += _batch(10)
        time.sleep(0.002)
    assert ids == sorted(ids)
