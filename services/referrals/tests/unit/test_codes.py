"""The code generator: readable, unambiguous, unique under many thousands, stable on rebuild."""

from __future__ import annotations

import re

import pytest
from referrals.domain.codes import ALPHABET, code_candidates, name_prefix, normalise_code

KEY = b"unit-test-key"


def first_free(customer_id: str, prefix: str | None, taken: set[str], length: int = 4) -> str:
    for candidate in code_candidates(customer_id, prefix, key=KEY, length=length):
        if candidate not in taken:
            taken.add(candidate)
            return candidate
    raise AssertionError("unreachable")


def test_the_alphabet_has_no_look_alikes() -> None:
    assert len(ALPHABET) == len(set(ALPHABET)) == 32
    assert not set("0O1I") & set(ALPHABET)


@pytest.mark.parametrize(
    ("first_name", "prefix"),
    [
        ("Anna", "ANNA"),
        ("Анна", "ANNA"),
        ("Ștefan", "STEFAN"),
        ("Åsa", "ASA"),
        ("Jean-Luc", "JEANLUC"),
        ("Maximilianus", "MAXIMILIAN"),
        ("J", None),
        ("", None),
        (None, None),
        ("李", "LI"),
    ],
)
def test_the_name_prefix_is_the_first_name_in_capitals(first_name: str | None, prefix: str | None) -> None:
    assert name_prefix(first_name) == prefix


def test_fifty_thousand_customers_with_the_same_name_get_fifty_thousand_codes() -> None:
    taken: set[str] = set()
    codes = [first_free(f"customer-{i}", "ANNA", taken) for i in range(50_000)]
    assert len(set(codes)) == 50_000
    pattern = re.compile(rf"^ANNA-[{ALPHABET}]{{4,}}$")
    assert all(pattern.match(code) for code in codes)
    # 50,000 of 1,048,576 four-character codes: collisions happen and are resolved
    assert sum(len(code) > 9 for code in codes) < 50


def test_codes_without_a_name_are_longer_and_unique_too() -> None:
    taken: set[str] = set()
    codes = [first_free(f"c-{i}", None, taken) for i in range(20_000)]
    assert len(set(codes)) == 20_000 and all(len(code) >= 6 and "-" not in code for code in codes)


def test_a_customer_gets_the_same_code_on_every_rebuild_and_another_with_another_key() -> None:
    first = next(code_candidates("anna", "ANNA", key=KEY, length=4))
    assert first == next(code_candidates("anna", "ANNA", key=KEY, length=4))
    assert first != next(code_candidates("anna", "ANNA", key=b"other", length=4))


def test_candidates_grow_when_a_length_is_exhausted() -> None:
    candidates = code_candidates("anna", "ANNA", key=KEY, length=3)
    lengths = [len(next(candidates)) for _ in range(17)]
    assert lengths[:8] == [8] * 8 and lengths[8:16] == [9] * 8 and lengths[16] == 10


def test_codes_are_normalised_as_typed() -> None:
    assert normalise_code("  anna-7k3q ") == "ANNA-7K3Q"
