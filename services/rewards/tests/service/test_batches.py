"""A batch ends as one event at a time does: the batch's view (orders, refunds, accounts, the
key-client line, referrals, budgets, erasures) stays current while its events write.

The same awkward story runs one event per transaction and in batches of several sizes, and the
tables (every row, ignoring generated ids and clock times) and the emitted events must agree.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from rewards.models import TierRanking
from sqlalchemy import text
from wom_chassis import Service
from wom_contracts import CustomerErasedV1, CustomerRegisteredV1, Event
from wom_testkit import emitted, record_of

from ..conftest import RewardsFactory
from ..support import NOW, order, qualified, refund, resolved, reversed_

RULES = {
    "referrals": {
        "cap_per_advocate": {"count": 1, "period_days": 30},
        "budget": {"period": "month", "points": 500, "credit": "25.00"},
    },
    "compensation": {"monthly_budget": {"EUR": "20.00"}},
}
LONG_AGO = NOW - timedelta(days=400)  # outside the trailing year of the key-client ranking


def registered(customer: str) -> CustomerRegisteredV1:
    return CustomerRegisteredV1(
        customer_id=customer,
        email=f"{customer}@example.com",
        birthday=date(1990, 5, 1),
        timezone="Europe/Stockholm",
        registered_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def erased(customer: str) -> CustomerErasedV1:
    return CustomerErasedV1(customer_id=customer, requested_at=NOW)


def scenario() -> list[tuple[str, Event]]:
    """(event id, event): a refund before its order, duplicates (redelivered and published
    again), an erasure between events of one customer, a referral qualified then reversed and
    one reversed first, the advocate cap and both programme budgets spent inside the batch,
    compensation once and over its budget, and revenue that moves the key-client line and
    crosses it both ways (a key client's multiplier, the grace period, a full refund, an order
    older than the trailing window)."""
    events: list[Event] = [
        registered("cleo"),
        refund("r-a1", order_id="o-a1", amount="21.25", customer="anna"),  # before its order
        order("o-a1", "42.50", customer="anna"),
        order("o-b1", "100.00", customer="ben"),
        order("o-b1", "100.00", customer="ben"),  # the same order published again
        order("o-c1", "60.00", customer="cleo"),
        refund("r-c1", order_id="o-c1", amount="20.00", customer="cleo"),
        erased("cleo"),
        order("o-c2", "30.00", customer="cleo"),  # after her erasure: ignored
        refund("r-c2", order_id="o-c1", amount="5.00", customer="cleo"),  # ignored
        qualified("ref-1", advocate="maria", friend="ben"),
        reversed_("ref-1", advocate="maria", friend="ben"),  # inside the hold: both sides revoked
        reversed_("ref-2", advocate="maria", friend="dan"),  # before its qualification
        qualified("ref-2", advocate="maria", friend="dan"),
        qualified("ref-3", advocate="maria", friend="eva"),  # maria's cap (1) is reached
        resolved("case-1", "15.00", customer="anna"),
        resolved("case-1", "15.00", customer="anna"),  # published again
        resolved("case-2", "10.00", customer="ben"),  # 15 + 10 > the budget of 20
        resolved("case-3", None, customer="dan"),
        order("o-d1", "500.00", customer="dan"),  # above the line: a key client
        order("o-b2", "120.00", customer="ben"),  # a repeat buyer
        order("o-e1", "800.00", customer="eva"),  # above the line drawn after dan
        order("o-e2", "100.00", customer="eva"),  # earns as a key client
        order("o-d2", "10.00", customer="dan"),  # under eva's line now: his grace begins
        refund("r-e1", order_id="o-e1", amount="800.00", customer="eva"),  # refunded in full
        refund("r-d2", order_id="o-d2", amount="10.00", customer="dan"),
        refund("r-b1", order_id="o-b1", amount="30.00", customer="ben"),
        refund("r-b2", order_id="o-b1", amount="80.00", customer="ben"),  # more than is left
        order("o-g1", "1000.00", customer="gus", when=LONG_AGO),  # no trailing revenue
        order("o-g2", "20.00", customer="gus"),
        erased("finn"),
        qualified("ref-4", advocate="finn", friend="gus"),  # the advocate is erased
        qualified("ref-5", advocate="hana", friend="ivy"),  # the last of both budgets
        qualified("ref-6", advocate="jo", friend="kim"),  # nothing left of either
        order("o-a2", "5.00", customer="anna"),
        registered("anna"),
    ]
    story = [(f"e{n}", event) for n, event in enumerate(events)]
    story.insert(4, ("e3", events[3]))  # ben's first order delivered twice
    story.insert(30, ("e1", events[1]))  # and the early refund
    return story


def _normalise(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str) and value.startswith("#erased-"):
        return "#erased"
    return names.get(value, value) if isinstance(value, str) else value


async def state(service: Service) -> dict[str, list[tuple[Any, ...]]]:
    """Every table the consume path writes, row by row, without generated ids and clock times
    (an entry id is named by its once key, a pseudonym is `#erased`, a coupon code `coupon`)."""
    queries = {
        "ledger": "SELECT customer_id, kind, unit, amount, status, reason, once_key, source_event_id, "
        "order_id, refund_id, referral_id, case_id, offsets_entry_id, coupon_code IS NOT NULL, "
        "reporting_value, hold_until, expires_at, released_at IS NOT NULL FROM ledger_entries",
        "orders": "SELECT order_id, customer_id, currency, total, refunded, revenue, completed_at, "
        "source_event_id FROM orders",
        "refunds": "SELECT refund_id, order_id, customer_id, currency, amount, refunded_at, "
        "source_event_id, applied_at IS NOT NULL FROM refunds",
        "customers": "SELECT customer_id, birthday, timezone, tier, tier_since IS NOT NULL, "
        "below_threshold_since IS NOT NULL FROM customers",
        "referrals": "SELECT referral_id, advocate_id, friend_id, order_id, status, advocate_rewarded, "
        "hold_until, qualified_at, reversed_at, reversal_reason FROM referrals",
        "withheld": "SELECT once_key, customer_id, kind, reason, unit, amount, referral_id, case_id, "
        "source_event_id FROM withheld_rewards",
        "coupons": "SELECT customer_id, amount, currency, source, valid_from, expires_at FROM coupons",
        "erased": "SELECT customer_hash FROM erased_customers",
    }
    async with service.db.session() as session:
        names = {
            row[0]: row[1] for row in await session.execute(text("SELECT id, once_key FROM ledger_entries"))
        }
        names.update({f"revoke:{id_}": f"revoke:{key}" for id_, key in list(names.items())})
        tables = {
            name: sorted(
                (
                    tuple(_normalise(value, names) for value in row)
                    for row in await session.execute(text(sql))
                ),
                key=repr,
            )
            for name, sql in queries.items()
        }
    tables["events"] = [
        json.dumps(
            {
                field: _normalise(value, names) if field != "coupon_code" or value is None else "coupon"
                for field, value in event.model_dump(mode="json", exclude={"occurred_at"}).items()
            },
            sort_keys=True,
        )
        for event in await emitted(service)
    ]
    return tables


async def run(make_rewards: RewardsFactory, size: int, *, large_shop: bool) -> dict[str, Any]:
    async with make_rewards(RULES) as service:
        if large_shop:  # a fresh ranking of 1,000 customers: the line stays where it was drawn
            async with service.db.transaction() as session:
                session.add(
                    TierRanking(
                        computed_at=NOW, threshold=Decimal(200), ranked_customers=1000, key_clients=200
                    )
                )
        story = scenario()
        records = [record_of(event, offset=n, event_id=event_id) for n, (event_id, event) in enumerate(story)]
        seen: set[str] = set()
        claiming = 0  # batches with an event not seen before: each one transaction
        for start in range(0, len(records), size):
            ids = {event_id for event_id, _ in story[start : start + size]}
            claiming += bool(ids - seen)
            seen |= ids
            await service.processor.process(records[start : start + size])
        async with service.db.session() as session:
            transactions = await session.scalar(text("SELECT count(DISTINCT processed_at) FROM inbox"))
        # a batch that failed would have been applied again one record at a time, and proved nothing
        assert transactions == claiming, "a batch fell back to one event at a time"
        return await state(service)


def tier_changes(tables: dict[str, Any]) -> list[tuple[str, str, str]]:
    events = [json.loads(event) for event in tables["events"]]
    return [(e["customer_id"], e["tier"], e["threshold"]["amount"]) for e in events if "tier" in e]


@pytest.mark.parametrize("large_shop", [False, True], ids=["line-redrawn", "line-recorded"])
async def test_batches_end_as_one_event_at_a_time(make_rewards: RewardsFactory, large_shop: bool) -> None:
    one_at_a_time = await run(make_rewards, 1, large_shop=large_shop)
    for size in (3, 8, 100):
        batches = await run(make_rewards, size, large_shop=large_shop)
        for table, rows in one_at_a_time.items():
            assert batches[table] == rows, f"{table} after batches of {size}"
    if large_shop:  # every order judged by the recorded line
        assert tier_changes(one_at_a_time) == [
            ("dan", "key_client", "200.00"),
            ("ben", "key_client", "200.00"),
            ("eva", "key_client", "200.00"),
            ("gus", "repeat_buyer", "200.00"),
            ("anna", "repeat_buyer", "200.00"),
        ]
    else:  # each order judged by the line the orders before it drew, each refund by the line after it
        assert tier_changes(one_at_a_time) == [
            ("ben", "key_client", "21.25"),
            ("dan", "key_client", "100.00"),
            ("eva", "key_client", "500.00"),
            ("gus", "repeat_buyer", "500.00"),  # his order of 400 days ago is not trailing revenue
            ("anna", "repeat_buyer", "500.00"),
        ]
    ben_second = next(row for row in one_at_a_time["ledger"] if row[6] == "earn:o-b2")
    assert ben_second[3] == (Decimal(120) if large_shop else Decimal(180)).scaleb(
        4
    )  # a key client earns 1.5x
    in_grace = {row[0] for row in one_at_a_time["customers"] if row[3] == "key_client" and row[5]}
    assert in_grace == {
        "ben",
        "eva",
    }  # under the line after their refunds: the tier stays for the grace period
    withheld = {(row[0], row[3]) for row in one_at_a_time["withheld"]}
    assert withheld == {
        ("referral_advocate:ref-2", "referral_reversed"),
        ("referral_friend:ref-2", "referral_reversed"),
        ("referral_advocate:ref-3", "advocate_cap_reached"),
        ("referral_friend:ref-5", "programme_budget_exhausted"),
        ("referral_advocate:ref-6", "programme_budget_exhausted"),
        ("referral_friend:ref-6", "programme_budget_exhausted"),
        ("compensation:case-2", "compensation_budget_exceeded"),
    }
