"""A batch that fails in an unexpected way is consumed again, not skipped."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from rewards.app import create_app
from rewards.models import LedgerEntry
from rewards.settings import RewardsSettings
from sqlalchemy import func, select
from wom_testkit import bound, eventually

from tests.support import cloudevent_headers

pytestmark = pytest.mark.reliability
TOPIC = "commerce.order.completed.v1"


async def test_a_batch_that_blows_up_is_rewound_and_processed(
    kafka_bootstrap, producer, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    prefix = f"rw-{uuid.uuid4().hex[:8]}"
    service = create_app(RewardsSettings(
        kafka_bootstrap_servers=kafka_bootstrap, consumer_group=f"rewind-{prefix}",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'rewards.db'}", retry_max_seconds=0.5,
    ))  # fmt: skip
    real_process = service.processor.process
    failures: list[int] = []

    async def process_failing_once(records):  # type: ignore[no-untyped-def]
        ours = [r for r in records if prefix.encode() in (r.value or b"")]
        if ours and not failures:  # the first batch holding our orders fails once
            failures.append(len(ours))
            raise RuntimeError("a bug outside the handlers")
        await real_process(records)

    service.processor.process = process_failing_once  # type: ignore[method-assign]
    await service.start()
    try:
        for n in range(20):
            customer = f"{prefix}-c{n % 3}"
            value = json.dumps({"order_id": f"{prefix}-o{n}", "customer_id": customer,
                                "total": {"amount": "10.00", "currency": "EUR"},
                                "completed_at": "2026-11-21T12:00:00Z"}).encode()  # fmt: skip
            await producer.send(
                TOPIC, value, key=customer.encode(), headers=cloudevent_headers(TOPIC, customer)
            )
        await producer.flush()

        async def processed_ours() -> int:
            async with service.db.session() as session:
                query = select(func.count()).where(LedgerEntry.order_id.like(f"{prefix}-%"))
                return int(await session.scalar(query) or 0)

        async def all_processed() -> bool:
            return await processed_ours() >= 20

        await eventually(all_processed, timeout=bound(60))
        assert failures and failures[0] >= 1
        assert await processed_ours() == 20
    finally:
        await service.stop()
