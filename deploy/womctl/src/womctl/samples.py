"""Sample events published as an upstream shop would publish them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from wom_contracts import CustomerRegisteredV1, Event, Money, OrderCompletedV1, OrderItem, encode

from womctl.cluster import DEFAULT_TIMEOUT, producer

__all__ = ["publish", "sample_customer_and_order"]


def sample_customer_and_order(customer_id: str | None = None, order_id: str | None = None) -> list[Event]:
    """A customer who signs up with marketing consent, then buys two items."""
    customer_id = customer_id or f"sample-anna-{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    return [
        CustomerRegisteredV1(
            customer_id=customer_id, email="anna@example.com", first_name="Anna", last_name="Berg",
            locale="en", timezone="Europe/Stockholm", registered_at=now, marketing_consent=True,
        ),
        OrderCompletedV1(
            customer_id=customer_id, order_id=order_id or f"order-{uuid.uuid4().hex[:8]}",
            total=Money(amount=Decimal("42.50"), currency="EUR"), completed_at=now, channel="web",
            items=[
                OrderItem(sku="MUG-01", name="Stoneware mug", quantity=2,
                          unit_price=Money(amount=Decimal("12.50"), currency="EUR")),
                OrderItem(sku="TEA-07", name="Rooibos, 100 g", quantity=1,
                          unit_price=Money(amount=Decimal("17.50"), currency="EUR")),
            ],
        ),
    ]  # fmt: skip


async def publish(
    events: list[Event],
    client_options: dict[str, Any],
    source: str = "womctl/sample",
    timeout: float = DEFAULT_TIMEOUT,
) -> None:
    """Publish `events` in order with CloudEvents binary-mode headers."""
    async with producer(client_options, timeout) as sender:
        for event in events:
            record = encode(event, source=source)
            await sender.send_and_wait(record.topic, record.value, key=record.key, headers=record.headers)
