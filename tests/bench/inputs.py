"""The inbound records of the bench: per service, events that exercise its main path; for the
whole loop, the demo storefront's seeded mixed traffic."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from referrals.domain.codes import code_candidates, name_prefix
from referrals.settings import DEV_HASH_SECRET
from wom_contracts import (
    SERVICES,
    Balance,
    CodeIssuedV1,
    CustomerRegisteredV1,
    Event,
    MessageSentV1,
    Money,
    OrderCompletedV1,
    ReferralAttributedV1,
    ResponseSubmittedV1,
    RewardGrantedV1,
    TierChangedV1,
    encode,
    service_source,
)
from womctl.storefront import SOURCE, RawRecord, Storefront, to_record

__all__ = ["INPUTS", "SERVICE_INPUTS", "mixed_traffic"]

CUSTOMERS_PER_STOREFRONT = 2_000  # the storefront's steps cost O(customers): shard the traffic
NAMES = ("Anna", "Erik", "Maja", "Lars", "Elsa", "Johan", "Ingrid", "Oskar")


def _order(run: str, n: int, customer: str, *, code: str | None = None) -> OrderCompletedV1:
    return OrderCompletedV1(
        order_id=f"{run}-o{n}",
        customer_id=customer,
        completed_at=datetime.now(UTC),
        total=Money(amount=Decimal(10 + n % 90) + Decimal("0.99"), currency="EUR"),
        referral_code=code,
        payment_fingerprint=f"card-{customer}",
    )


def _registration(run: str, customer: str, n: int, *, code: str | None = None) -> CustomerRegisteredV1:
    return CustomerRegisteredV1(
        customer_id=customer,
        email=f"{customer}@example.com",
        first_name=NAMES[n % len(NAMES)],
        locale="en",
        timezone="Europe/London",
        registered_at=datetime.now(UTC),
        referral_code=code,
        marketing_consent=True,
        ip_address=f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}",
        device_id=f"{run}-dev-{n}",
    )


def rewards_inputs(run: str, count: int) -> list[RawRecord]:
    """Orders of a tenth as many customers: points, tier checks, granted and tier-changed events."""
    customers = max(1, count // 10)
    return [to_record(_order(run, n, f"{run}-c{n % customers}")) for n in range(count)]


def referral_code(customer: str, first_name: str) -> str:
    """The code referrals issues to a customer with the development key and the shipped rules
    (its first candidate: collisions are rare enough for a bench)."""
    key = DEV_HASH_SECRET.encode()
    candidates = code_candidates(customer, name_prefix(first_name, 10), key=key, length=4)
    return str(next(candidates))


def referrals_inputs(run: str, count: int) -> list[RawRecord]:
    """Groups of four: an advocate signs up and buys, a friend signs up with the advocate's code
    and buys (code issued, attribution, qualification rules)."""
    records: list[RawRecord] = []
    for n in range(0, count, 4):
        advocate, friend = f"{run}-a{n}", f"{run}-f{n}"
        code = referral_code(advocate, NAMES[n % len(NAMES)])
        records += [
            to_record(_registration(run, advocate, n)),
            to_record(_order(run, n, advocate)),
            to_record(_registration(run, friend, n + 1, code=code)),
            to_record(_order(run, n + 1, friend, code=code)),
        ]
    return records[:count]


def outreach_inputs(run: str, count: int) -> list[RawRecord]:
    """A customer signs up (a welcome queued), then earns points (a thank-you mail sent at once)."""
    records: list[RawRecord] = []
    now = datetime.now(UTC)
    for n in range(0, count, 2):
        customer = f"{run}-c{n}"
        records.append(to_record(_registration(run, customer, n)))
        granted = RewardGrantedV1(
            customer_id=customer,
            reward_id=f"{run}-rw{n}",
            kind="earn",
            status="pending",
            points=25 + n % 50,
            reason="purchase",
            source_event_id=f"{run}-ev{n}",
            order_id=f"{run}-o{n}",
            hold_until=now + timedelta(days=14),
            balance=Balance(points_available=0, points_pending=25 + n % 50),
            occurred_at=now,
        )
        records.append(to_record(granted))
    return records[:count]


def feedback_inputs(run: str, count: int) -> list[RawRecord]:
    """Survey answers as the demo's mix: promoters, passives and detractors (cases opened)."""
    comments = ("Lovely mug, fast delivery.", None, "The parcel arrived broken.", "Still waiting.")
    return [
        to_record(
            ResponseSubmittedV1(
                customer_id=f"{run}-c{n % max(1, count // 2)}",
                response_id=f"{run}-s{n}",
                order_id=f"{run}-o{n}",
                kind="nps",
                score=(10, 9, 8, 7, 3, 10, 0, 9, 6, 10)[n % 10],
                comment=comments[n % len(comments)],
                locale="en",
                channel="email",
                submitted_at=datetime.now(UTC),
            )
        )
        for n in range(count)
    ]


def _timeline_event(run: str, n: int, customer: str, at: datetime) -> Event:
    """The `n`th of the other services' events in the mix feedback's timeline sees in the loop."""
    balance = Balance(points_available=n % 500, points_pending=25)
    match n % 8:
        case 0:
            return _registration(run, customer, n)
        case 1:
            return _order(run, n, customer)
        case 2 | 3:
            return RewardGrantedV1(
                customer_id=customer,
                reward_id=f"{run}-rw{n}",
                kind="earn",
                points=25,
                balance=balance,
                occurred_at=at,
                status="pending",
                reason="purchase",
                source_event_id=f"{run}-e{n}",
                order_id=f"{run}-o{n - 1}",
            )
        case 4 | 5:
            return MessageSentV1(
                customer_id=customer,
                message_id=f"{run}-m{n}",
                kind="order_thanks",
                channel="email",
                cause_event_id=f"{run}-e{n}",
                occurred_at=at,
                locale="en",
                template="order_thanks",
            )
        case 6:
            return CodeIssuedV1(
                customer_id=customer,
                code=f"C{n}",
                share_url=f"https://share.example.com/r/C{n}",
                occurred_at=at,
            )
    if n % 16 == 7:
        return TierChangedV1(
            customer_id=customer,
            previous_tier="member",
            tier="key_client",
            trailing_revenue=Money(amount=Decimal("420.00"), currency="EUR"),
            occurred_at=at,
        )
    return ReferralAttributedV1(
        customer_id=customer,
        referral_id=f"{run}-ref{n}",
        advocate_customer_id=f"{run}-c{n // 8 - 1}",
        code=f"C{n - 9}",
        source="registration",
        occurred_at=at,
    )


def feedback_timeline_inputs(run: str, count: int) -> list[RawRecord]:
    """What feedback consumes in the whole loop besides survey answers (six in seven of its events
    there): the other services' events its customer timelines show, eight per customer."""
    at = datetime.now(UTC)
    records = []
    for n in range(count):
        event = _timeline_event(run, n, f"{run}-c{n // 8}", at)
        owner = event.event_type.split(".", 1)[0]  # a wom service's event carries its source
        source = service_source(owner) if owner in SERVICES else SOURCE
        record = encode(event, source=source)
        records.append(RawRecord(record.topic, record.key, record.value, list(record.headers)))
    return records


SERVICE_INPUTS: dict[str, Callable[[str, int], list[RawRecord]]] = {
    "referrals": referrals_inputs,
    "rewards": rewards_inputs,
    "outreach": outreach_inputs,
    "feedback": feedback_inputs,
}

INPUTS: dict[str, Callable[[str, int], list[RawRecord]]] = {
    **SERVICE_INPUTS,
    "feedback-timeline": feedback_timeline_inputs,
}
"""Every input by name: each service's, and feedback's timeline events (`inprocess --input`)."""


def mixed_traffic(run: str, count: int, *, seed: int = 7) -> list[RawRecord]:
    """`count` records of the demo storefront's seeded traffic (sign-ups, orders, refunds,
    surveys, fraud, malformed records, erasures), from storefronts of a bounded size each."""
    records: list[RawRecord] = []
    shard = 0
    while len(records) < count:
        shop = Storefront(seed=seed + shard, run=f"{run}{shard}")
        while len(records) < count and len(shop.customers) < CUSTOMERS_PER_STOREFRONT:
            for item in shop.step().records:
                records.append(to_record(item))
                if isinstance(item, CustomerRegisteredV1) and item.first_name:
                    # the code referrals will issue, as the demo learns it from code.issued
                    shop.learn_code(item.customer_id, referral_code(item.customer_id, item.first_name))
        shard += 1
    return records[:count]
