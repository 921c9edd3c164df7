"""The service app: health reflects a stuck outbox; the HTTP endpoints answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from httpx import ASGITransport, AsyncClient
from sqlalchemy import update
from wom_chassis import ServiceSettings, create_service
from wom_chassis.outbox import add_to_outbox, outbox_row
from wom_chassis.tables import OutboxRecord
from wom_contracts import CustomerErasedV1
from wom_testkit import idle_handlers, in_memory_service


async def test_health_turns_unhealthy_when_the_outbox_is_stuck(tmp_path: Path) -> None:
    handlers = idle_handlers()

    settings = ServiceSettings(
        service_name="probe", database_url=f"sqlite+aiosqlite:///{tmp_path / 'p.db'}",
        outbox_max_age_seconds=60,
    )  # fmt: skip
    async with in_memory_service(create_service(settings, handlers, migrations=tmp_path)) as service:
        healthy, checks = await service.health()
        assert healthy and checks["outbox"] == "ok", checks
        event = CustomerErasedV1(customer_id="c-1", requested_at=datetime.now(UTC))
        async with service.db.transaction() as session:
            await add_to_outbox(session, [outbox_row(event, source="wom/probe")])
            await session.execute(
                update(OutboxRecord).values(created_at=datetime.now(UTC) - timedelta(minutes=5))
            )
        healthy, checks = await service.health()
        assert not healthy and checks["outbox"] == "stuck"
        assert checks["outbox_oldest_unsent_seconds"] >= 299
        async with AsyncClient(transport=ASGITransport(app=service.http), base_url="http://s") as c:
            assert (await c.get("/alive")).json() == {"status": "alive", "service": "probe"}
            response = await c.get("/health")
            assert response.status_code == 503 and response.json()["status"] == "unhealthy"
            metrics = (await c.get("/metrics")).text
            assert 'wom_outbox_pending{service="probe"} 1.0' in metrics  # read at scrape time
            oldest = 'wom_outbox_oldest_pending_seconds{service="probe"} '
            assert float(metrics.split(oldest)[1].split()[0]) >= 299
