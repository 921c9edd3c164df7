"""The storefront simulator of `make demo`: deterministic, every kind of traffic, four languages."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime

import pytest
from wom_contracts import (
    ContractError,
    CustomerRegisteredV1,
    OrderCompletedV1,
    OrderRefundedV1,
    ResponseSubmittedV1,
    decode,
)
from womctl.storefront import KINDS, LOCALES, RawRecord, Step, Storefront, to_record

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def run(seed: int, steps: int = 600) -> list[Step]:
    storefront = Storefront(seed=seed, run="t", clock=lambda: NOW)
    result = []
    for _ in range(steps):
        step = storefront.step()
        for item in step.records:  # referrals issues a code for every customer
            if isinstance(item, CustomerRegisteredV1):
                storefront.learn_code(item.customer_id, f"CODE-{item.customer_id[-5:]}")
        result.append(step)
    return result


def test_the_same_seed_gives_the_same_traffic_and_another_seed_other_traffic() -> None:
    def fingerprint(steps: list[Step]) -> list[bytes]:
        return [to_record(item).value for step in steps for item in step.records]

    assert fingerprint(run(3, 200)) == fingerprint(run(3, 200))
    assert fingerprint(run(3, 200)) != fingerprint(run(4, 200))


def test_every_kind_of_traffic_appears_and_every_record_but_the_malformed_decodes() -> None:
    steps = run(11)
    assert set(Counter(step.kind for step in steps)) == set(KINDS)
    for step in steps:
        for item in step.records:
            record = to_record(item)
            if step.kind in {"malformed_json", "score_out_of_range"}:
                assert isinstance(item, RawRecord)
                with pytest.raises(ContractError):
                    decode(record.value, record.headers)
            else:
                assert decode(record.value, record.headers).event == item


def test_customers_mix_languages_birthdays_today_referrals_and_fraud_like_the_advocate() -> None:
    registered = [i for s in run(5) for i in s.records if isinstance(i, CustomerRegisteredV1)]
    assert {c.locale for c in registered} == set(LOCALES)
    assert any(c.birthday and (c.birthday.month, c.birthday.day) == (11, 23) for c in registered)
    assert any(c.referral_code for c in registered)
    by_code = {f"CODE-{c.customer_id[-5:]}": c for c in registered}
    fraud = [c for c in registered if c.referral_code and by_code[c.referral_code].device_id == c.device_id]
    assert fraud and all(by_code[c.referral_code].ip_address == c.ip_address for c in fraud)


def test_nps_answers_have_a_realistic_mix_with_complaints_in_every_language() -> None:
    answers = [i for s in run(9, 2000) for i in s.records if isinstance(i, ResponseSubmittedV1)]
    promoters = sum(a.score >= 9 for a in answers) / len(answers)
    detractors = sum(a.score <= 6 for a in answers) / len(answers)
    assert 0.45 < promoters < 0.65 and 0.12 < detractors < 0.28
    assert {a.locale for a in answers if a.score <= 6 and a.comment} == set(LOCALES)


def test_a_malformed_record_is_invalid_json_or_a_score_out_of_range() -> None:
    steps = run(11)
    [out_of_range, *_] = [s.records[0] for s in steps if s.kind == "score_out_of_range"]
    assert isinstance(out_of_range, RawRecord) and json.loads(out_of_range.value)["score"] == 11
    [broken, *_] = [s.records[0] for s in steps if s.kind == "malformed_json"]
    assert isinstance(broken, RawRecord)
    with pytest.raises(ValueError):
        json.loads(broken.value)


def test_a_returning_friend_refunds_their_first_order_in_full_soon_after() -> None:
    steps = run(11)
    registered = {i.customer_id: i for s in steps for i in s.records if isinstance(i, CustomerRegisteredV1)}
    first_orders: dict[str, OrderCompletedV1] = {}
    for order in (i for s in steps for i in s.records if isinstance(i, OrderCompletedV1)):
        first_orders.setdefault(order.customer_id, order)
    returns = [s.records[0] for s in steps if s.kind == "friend_returns"]
    assert returns
    for refund in returns:
        assert isinstance(refund, OrderRefundedV1)
        assert registered[refund.customer_id].referral_code, "only referred friends"
        first = first_orders[refund.customer_id]
        assert (refund.order_id, refund.amount) == (first.order_id, first.total)
