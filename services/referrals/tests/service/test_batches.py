"""A batch decides as one event at a time does: the batch's view (erased customers, codes,
standing referrals, orders and refunds, the advocates' evidence), read once for every event type
in it, stays current while the batch writes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from referrals.models import Customer, Referral
from referrals.programme import Programme
from referrals.rules import load_rules
from referrals.view_rows import REFERRAL_COLUMNS, CustomerRow
from sqlalchemy import text
from wom_chassis import Service
from wom_contracts import CustomerErasedV1
from wom_testkit import record_of

from ..conftest import ReferralsFactory
from ..support import NOW, order, refund, registered

NAMES = {"a1": "Anna", "a2": "Ben", "a3": "Cleo", "a5": "Dan", "a6": "Eva", "f6": "Finn"}
NAMES |= {"b1": "Gus", "b2": "Hana", "c1": "Ivo", "c2": "Jana", "c3": "Kai"}


class Steps:
    """Events of the scenarios, minutes after NOW; each customer pays with their own card unless
    told otherwise."""

    def __init__(self, programme: Programme) -> None:
        self.programme = programme

    def code(self, customer: str) -> str:
        return next(self.programme.code_candidates(customer, NAMES.get(customer)))

    def signup(self, customer: str, minutes: int, **kw: Any) -> Any:
        when = NOW + timedelta(minutes=minutes)
        return registered(customer, first_name=NAMES.get(customer), when=when, **kw)

    def buy(self, customer: str, order_id: str, minutes: int, **kw: Any) -> Any:
        kw.setdefault("payment", f"fp-{customer}")
        return order(customer, order_id, when=NOW + timedelta(minutes=minutes), **kw)


def scenario(programme: Programme) -> list[Any]:
    """Registrations and orders in the orders that make a view go stale if it is not kept
    current: a code used before it exists, a checkout before its registration, a duplicate
    order, an own code, a ring, an unknown code, a friend with two codes, a refund, an erasure."""
    steps = Steps(programme)
    code, signup, buy = steps.code, steps.signup, steps.buy
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


def evidence_scenario(programme: Programme) -> list[Any]:
    """Evidence that the batch itself brings: the advocate's card paid earlier in the batch, a
    card another friend used in the batch, refunds of orders of the batch (one before its order,
    one of a referral the batch sent to review, one twice), qualified referrals of the batch
    counting for the velocity rule, a chain of three made in the batch, and an advocate erased
    between their friend's sign-up and first order."""
    steps = Steps(programme)
    code, signup, buy = steps.code, steps.signup, steps.buy
    events = [
        signup("b1", 1),
        signup("b1", 2),  # published twice: one code
        buy("b1", "o90", 3, payment="card-b1"),
        signup("g1", 4, code=code("b1")),
        buy("g1", "o91", 5, payment="card-b1"),  # the advocate's card
        signup("g2", 6, code=code("b1")),
        buy("g2", "o92", 7, payment="card-g2"),
        signup("g3", 8, code=code("b1")),
        buy("g3", "o93", 9, payment="card-g2"),  # another friend's card: to review
        refund("g3", "o93", "50.00"),  # ... and refunded there
        refund("g4", "o94", "50.00"),  # before its order
        signup("g4", 10, code=code("b1")),
        buy("g4", "o94", 11),
    ]
    for n in range(5, 9):  # four more qualified: five in a day
        events += [signup(f"g{n}", 10 + 2 * n, code=code("b1")), buy(f"g{n}", f"o9{n}", 11 + 2 * n)]
    events += [
        signup("g9", 30, code=code("b1")),
        buy("g9", "o99", 31),  # the sixth in a day: to review
        refund("g6", "o96", "50.00", refund_id="rf-g6"),
        refund("g6", "o96", "50.00", refund_id="rf-g6"),  # the same refund again
        signup("b2", 32),
        signup("g10", 33, code=code("b2")),
        CustomerErasedV1(customer_id="b2", requested_at=NOW + timedelta(minutes=34)),
        buy("g10", "o100", 35),
        signup("c1", 36),
        signup("c2", 37, code=code("c1")),
        buy("c2", "o101", 38),
        signup("c3", 39, code=code("c2")),
        buy("c3", "o102", 40),
        buy("c1", "o103", 41, code=code("c3")),  # c1 → c2 → c3 → c1: a ring
    ]
    return events


async def state(service: Service) -> dict[str, list[tuple[Any, ...]]]:
    queries = {
        "referrals": "SELECT friend_id, advocate_id, code, source, status, reason, standing_for, "
        "order_id, risk_score, attributing_order_id FROM referrals WHERE friend_id NOT LIKE 'erased-%' "
        "ORDER BY friend_id, code, source",
        "codes": "SELECT customer_id, code FROM codes WHERE customer_id NOT LIKE 'erased-%' ORDER BY 1",
        "customers": "SELECT customer_id, signup_code, email_hash FROM customers ORDER BY 1",
        "orders": "SELECT order_id, customer_id, checkout_code FROM orders "
        "WHERE customer_id NOT LIKE 'erased-%' ORDER BY 1",
        "refunds": "SELECT refund_id, order_id, amount FROM refunds ORDER BY 1",
        "events": "SELECT event_type, count(*) FROM outbox GROUP BY event_type ORDER BY 1",
    }
    async with service.db.session() as session:
        return {
            name: [tuple(map(_pseudonymous, row)) for row in await session.execute(text(sql))]
            for name, sql in queries.items()
        }


def _pseudonymous(value: Any) -> Any:
    """Pseudonyms are random: compared as one."""
    return "erased-…" if isinstance(value, str) and value.lower().startswith("erased-") else value


async def both_ways(make_referrals: ReferralsFactory, events: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Run the scenario one event at a time, in batches of 7 (what one batch wrote, the next
    reads), and in one batch; all must end alike. Returns the end state."""
    ends = []
    for size in (1, 7, 100):
        async with make_referrals() as service:
            settings: Any = service.settings
            programme = Programme.of(load_rules(settings.referrals_rules_file), settings)
            records = [record_of(e, offset=n, event_id=f"e{n}") for n, e in enumerate(events(programme))]
            for start in range(0, len(records), size):
                await service.processor.process(records[start : start + size])
            ends.append(await state(service))
            async with service.db.session() as session:
                transactions = await session.scalar(text("SELECT count(DISTINCT processed_at) FROM inbox"))
            assert transactions == -(-len(records) // size)  # no batch fell back to records
    one_at_a_time, batches, batch = ends
    assert batches == one_at_a_time
    assert batch == one_at_a_time
    return batch


def decided(end: dict[str, list[tuple[Any, ...]]]) -> set[tuple[Any, ...]]:
    return {(row[0], row[1], row[3], row[4], row[5]) for row in end["referrals"]}


async def test_one_batch_ends_as_one_event_at_a_time(make_referrals: ReferralsFactory) -> None:
    end = await both_ways(make_referrals, scenario)
    assert decided(end) == {
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


async def test_one_batch_keeps_the_evidence_current(make_referrals: ReferralsFactory) -> None:
    end = await both_ways(make_referrals, evidence_scenario)
    by_friend = {row[0]: row[2:] for row in decided(end) if row[0] != "g10"}
    assert by_friend == {
        "g1": ("registration", "rejected", "self_referral_same_payment"),
        "g2": ("registration", "qualified", None),
        "g3": ("registration", "rejected", "order_fully_refunded"),
        "g4": ("registration", "rejected", "order_refunded"),
        "g5": ("registration", "qualified", None),
        "g6": ("registration", "reversed", "order_fully_refunded"),
        "g7": ("registration", "qualified", None),
        "g8": ("registration", "qualified", None),
        "g9": ("registration", "review", "velocity_daily"),
        "c1": ("checkout", "rejected", "referral_ring"),
        "c2": ("registration", "qualified", None),
        "c3": ("registration", "qualified", None),
    }
    [(advocate, status, reason)] = [(row[1], row[3], row[4]) for row in decided(end) if row[0] == "g10"]
    assert (advocate, status, reason) == ("erased-…", "rejected", "advocate_erased")
    assert ("rf-g6", "o96") in [row[:2] for row in end["refunds"]] and len(end["refunds"]) == 3


def test_the_view_holds_every_column_of_what_it_writes() -> None:
    # a column added to the model and not to the row would be written as its default
    assert set(CustomerRow.__slots__) == set(Customer.__table__.c.keys())
    assert set(REFERRAL_COLUMNS) == set(Referral.__table__.c.keys())
