"""Erasure: personal data gone from every table, counts kept, later events ignored."""

from __future__ import annotations

from httpx import ASGITransport, AsyncClient
from referrals.models import Click, Customer, Order, Referral, ReferralCode
from sqlalchemy import func, select, update
from wom_chassis import Service
from wom_chassis.tables import OutboxRecord
from wom_contracts import CodeIssuedV1, CustomerErasedV1
from wom_testkit import emitted, publish_event
from wom_testkit.scan import row_occurrences, table_rows

from ..support import NOW, code_of, order, publish, registered


async def traces_of(service: Service, *needles: str) -> list[str]:
    """Every row of every table (found by reflection) that still holds one of `needles`, in any case."""
    return row_occurrences(await table_rows(service.db.engine), list(needles), ignore_case=True)


async def count(service: Service, model: object) -> int:
    async with service.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)  # type: ignore[arg-type]


async def test_an_erased_advocate_leaves_counts_and_no_trace(referrals: Service) -> None:
    await publish(referrals, registered("anna", first_name="Anna", ip="203.0.113.9", device="tab-1"))
    code = await code_of(referrals, "anna")
    async with AsyncClient(transport=ASGITransport(app=referrals.http), base_url="http://t") as http:
        await http.get(f"/r/{code}")
        await publish(referrals, registered("ben", code=code), order("ben", "o-1", payment="card-ben"))
        async with referrals.db.transaction() as session:  # as if the relay had published them
            await session.execute(update(OutboxRecord).values(sent_at=NOW))
        await publish_event(referrals.broker, CustomerErasedV1(customer_id="anna", requested_at=NOW))
        assert await traces_of(referrals, "anna", code) == []
        async with referrals.db.session() as session:
            keys = set((await session.scalars(select(OutboxRecord.key))).all())
        assert b"anna" not in keys and b"ben" in keys  # published copies about anna are gone
        # the link is dead (answered as any unknown code is: counted nowhere), the counts stay
        answer = await http.get(f"/r/{code}")
        assert answer.status_code == 302
    assert (await count(referrals, Click), await count(referrals, ReferralCode)) == (1, 2)
    async with referrals.db.session() as session:
        referral = await session.scalar(select(Referral).where(Referral.friend_id == "ben"))
    assert referral is not None and referral.status == "qualified"
    assert referral.advocate_id.startswith("erased-") and referral.code.startswith("ERASED-")
    # a late registration of the erased customer is ignored: no new code
    issued = len(await emitted(referrals, CodeIssuedV1))
    await publish(referrals, registered("anna", first_name="Anna"))
    assert len(await emitted(referrals, CodeIssuedV1)) == issued


async def test_an_erased_friend_keeps_the_referral_counted(referrals: Service) -> None:
    await publish(referrals, registered("anna", first_name="Anna"))
    code = await code_of(referrals, "anna")
    await publish(
        referrals, registered("ben", code=code, device="phone-9"), order("ben", "o-1", payment="c-9")
    )
    async with referrals.db.transaction() as session:  # as if the relay had published them
        await session.execute(update(OutboxRecord).values(sent_at=NOW))
    await publish_event(referrals.broker, CustomerErasedV1(customer_id="ben", requested_at=NOW))
    assert await traces_of(referrals, "ben", "c-9") == []
    async with referrals.db.session() as session:
        assert await session.get(Customer, "ben") is None
        kept = (await session.scalars(select(Order))).one()
        referral = (await session.scalars(select(Referral))).one()
    assert kept.amount == 50 and kept.payment_fingerprint is None
    assert referral.friend_id.startswith("erased-") and referral.advocate_id == "anna"
