"""Classification, negative signals in four languages, priority and SLA rules, alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from feedback.domain.classification import category, is_negative, load_lexicon, negative_signals
from feedback.domain.triage import priority_for, queue_for, sla_deadline, triage
from feedback.rules import DEFAULT_RULES_FILE, RulesError, load_rules

LEXICON = load_lexicon()
RULES = load_rules(DEFAULT_RULES_FILE)
T0 = datetime(2026, 11, 23, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("comment", "signals"),
    [
        ("10 — but the parcel arrived broken", ["damaged"]),
        ("Great shop, fast delivery, lovely staff!", []),
        ("The latest model, love it", []),  # "late" is a whole word, "latest" is not
        ("Sent the wrong size and nobody answered my emails", ["rude_service", "wrong_item"]),
        ("Посылка пришла с опозданием, коробка помята", ["damaged", "late_delivery"]),
        ("Всё отлично, спасибо!", []),
        ("Больше никогда не закажу, деньги не вернули", ["never_again", "refund_problem"]),
        ("Coletul a întârziat și produsul era spart", ["damaged", "late_delivery"]),
        ("Coletul a intarziat si produsul era spart", ["damaged", "late_delivery"]),  # no diacritics
        ("Colet livrat rapid, mulțumesc!", []),
        ("Fel storlek och paketet var trasigt", ["damaged", "wrong_item"]),
        ("Snabb leverans, mycket nöjd", []),
        ("Jag är besviken, kom aldrig", ["late_delivery", "never_again"]),
        ("", []),
        (None, []),
    ],
)
def test_negative_signals_in_four_languages(comment: str | None, signals: list[str]) -> None:
    assert negative_signals(comment, LEXICON) == signals


def test_extra_phrases_extend_the_lexicon() -> None:
    extended = load_lexicon({"en": {"damaged": ["squashed"]}, "sv": {"smell": ["luktade illa"]}})
    assert negative_signals("It came squashed", extended) == ["damaged"]
    assert negative_signals("Det luktade illa", extended) == ["smell"]
    assert negative_signals("It came squashed", LEXICON) == []


def test_categories_and_what_is_negative() -> None:
    assert [category("nps", s) for s in (0, 6, 7, 8, 9, 10)] == [
        "detractor",
        "detractor",
        "passive",
        "passive",
        "promoter",
        "promoter",
    ]
    assert [category("csat", s) for s in (1, 2, 3, 4, 5)] == [
        "negative",
        "negative",
        "neutral",
        "positive",
        "positive",
    ]
    assert is_negative("detractor", []) and is_negative("promoter", ["damaged"])
    assert not is_negative("passive", []) and not is_negative("neutral", [])


def test_priority_rules() -> None:
    rules = RULES.priority
    assert priority_for("nps", 6, [], True, rules) == "P1"
    assert priority_for("nps", 3, [], False, rules) == "P2"
    assert priority_for("nps", 4, [], False, rules) == "P3"
    assert priority_for("nps", 10, ["damaged"], False, rules) == "P2"
    assert priority_for("csat", 1, [], False, rules) == "P2"
    assert priority_for("csat", 2, [], False, rules) == "P3"


def test_sla_per_priority_and_queue_by_rules() -> None:
    assert [sla_deadline(T0, p, "support", RULES) - T0 for p in ("P1", "P2", "P3")] == [
        timedelta(hours=4),
        timedelta(hours=24),
        timedelta(hours=72),
    ]
    assert (
        queue_for(RULES.queues, key_client=True, priority="P1", signals=["damaged"], kind="nps")
        == "key-clients"
    )
    assert (
        queue_for(RULES.queues, key_client=False, priority="P2", signals=["damaged"], kind="nps")
        == "delivery"
    )
    assert queue_for(RULES.queues, key_client=False, priority="P3", signals=[], kind="csat") == "support"
    found = triage(kind="nps", score=2, signals=[], key_client=False, opened_at=T0, rules=RULES)
    assert (found.priority, found.queue, found.sla_due_at) == ("P2", "support", T0 + timedelta(hours=24))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("queues: []", "queues: List should have at least 1 item"),
        ("queues: [{name: a, when: {key_client: true}}]", "the last queue must take every case"),
        ("{sla_hours: {P1: 4}, queues: [{name: a}]}", "sla_hours needs P2, P3"),
        ("queues: [{name: a}, {name: a}]", "queue names must be unique"),
        ("queues: [{name: a, webhook: {url: 'not a url', secret_env: X}}]", "queues.0.webhook.url"),
        ("queues: [{name: a, emial: x@example.com}]", "queues.0.emial: Extra inputs are not permitted"),
    ],
)
def test_rules_file_mistakes_name_their_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RulesError) as error:
        load_rules(path)
    assert message in str(error.value)
