"""A batch decides as one event at a time does: the preloaded view of a run (erased customers,
codes, standing referrals, known orders) stays current while the run writes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from referrals.programme import Programme
from referrals.rules import load_rules
from sqlalchemy import text
from wom_chassis import Service
from wom_chassis.testing import record_of
from wom_contracts import CustomerErasedV1

from .conftest import ReferralsFactory
from .support import NOW, order, refund, registered

NAMES = {"a1": "Anna", "a2": "Ben", "a3": "Cleo", "a5": "Dan", "a6": "Eva", "f6": "Finn"}


def scenario(programme: Programme) -> list[Any]:
    """Registrations and orders in the orders that make a run's view go stale if it is not kept
    current: a code used before it exists, a checkout before its registration, a duplicate
    order, an own code, a ring, an unknown code, a friend with two codes, a refund, an erasure."""

    def code(customer: str) -> str:
        return next(programme.code_candidates(customer, NAMES.get(customer)))

    def signup(customer: str, minutes: int, **kw: Any) -> Any:
        when = NOW + timedelta(minutes=minutes)
        return registered(customer, first_name=NAMES.get(customer), when=when, **kw)

    def buy(customer: str, order_id: str, minutes: int, **kw: Any) -> Any:
        when = NOW + timedelta(minutes=minutes)
        return order(customer, order_id, when=when, payment=f"fp-{customer}", **kw)

    return [
        signup("f1", 1, code=code("a1")),  # the friend's code is not issued yet
        signup("a1", 2),
        buy("f2", "o10", 3, code=code("a2")),  # a checkout before anyone registered
        buy("a2", "o11", 4),
        signup("a2", 5),
        signup("f2", 6),
        signup("a3", 7),
        signup("f3", 8, code=code("a3")),
        signup("f4", 9, code=code("a3")),
        buy("f3", "o20", 10),
        buy("f3", "o20", 10),  # the same order again
        buy("f3", "o21", 11),
        buy("f4", "o22", 12, code=code("a1")),  # a second code: the first valid one stands
        buy("a3", "o23", 13),
        signup("a5", 14, code=code("a5")),  # an own code, not issued yet
        buy("a5", "o30", 15, code=code("a5")),
        signup("a6", 16),
        signup("f6", 17, code=code("a6")),
        buy("a6", "o40", 18, code=code("f6")),  # a ring: a6 refers f6, f6 refers a6
        buy("f6", "o41", 19),
        signup("f7", 20, code="NOPE-2345"),  # an unknown code
        buy("f7", "o50", 21, code=code("a3")),
        buy("f7", "o51", 22, code=code("a1")),
        buy("f1", "o60", 23),
        refund("f1", "o60", "50.00"),
        CustomerErasedV1(customer_id="f2", requested_at=NOW + timedelta(minutes=30)),
        buy("f2", "o70", 31),  # after the erasure: ignored
        signup("f8", 32, code=code("a1")),
        buy("f8", "o80", 33),
    ]


async def state(service: Service) -> dict[str, list[tuple[Any, ...]]]:
    queries = {
        "referrals": "SELECT friend_id, advocate_id, code, source, status, reason, standing_for, "
        "order_id, risk_score, attributing_order_id FROM referrals WHERE friend_id NOT LIKE 'erased-%' "
        "ORDER BY friend_id, code, source",
        "codes": "SELECT customer_id, code FROM codes WHERE customer_id NOT LIKE 'erased-%' ORDER BY 1",
        "customers": "SELECT customer_id, signup_code, email_hash FROM customers ORDER BY 1",
        "orders": "SELECT order_id, customer_id, checkout_code FROM orders "
        "WHERE customer_id NOT LIKE 'erased-%' ORDER BY 1",
        "events": "SELECT event_type, count(*) FROM outbox GROUP BY event_type ORDER BY 1",
    }
    async with service.db.session() as session:
        return {name: [tuple(r) for r in await session.execute(text(sql))] for name, sql in queries.items()}


async def test_one_batch_ends_as_one_event_at_a_time(make_referrals: ReferralsFactory) -> None:
    ends = []
    for size in (1, 100):
        async with make_referrals() as service:
            settings: Any = service.settings
            programme = Programme.of(load_rules(settings.referrals_rules_file), settings)
            records = [record_of(e, offset=n, event_id=f"e{n}") for n, e in enumerate(scenario(programme))]
            for start in range(0, len(records), size):
                await service.processor.process(records[start : start + size])
            ends.append(await state(service))
    one_at_a_time, batch = ends
    assert batch == one_at_a_time
    decided = {(row[0], row[1], row[3], row[4], row[5]) for row in one_at_a_time["referrals"]}
    assert decided == {
        ("a5", "a5", "checkout", "rejected", "self_referral_same_customer"),
        ("a5", "a5", "registration", "rejected", "self_referral_same_customer"),
        ("a6", "f6", "checkout", "rejected", "referral_ring"),
        ("f1", "a1", "registration", "reversed", "order_fully_refunded"),
        ("f3", "a3", "registration", "qualified", None),
        ("f4", "a3", "registration", "qualified", None),  # its second code did not count
        ("f6", "a6", "registration", "qualified", None),
        ("f7", "a3", "checkout", "qualified", None),
        ("f8", "a1", "registration", "qualified", None),
    }
