"""Compensation for resolved cases: store credit within a monthly budget."""

from __future__ import annotations

from decimal import Decimal

from wom_chassis import Service
from wom_contracts import RewardGrantedV1, RewardWithheldV1
from wom_testkit import emitted, publish_event

from ..conftest import RewardsFactory
from ..support import entries, resolved


async def test_a_resolved_case_with_compensation_grants_store_credit_once(rewards: Service) -> None:
    await publish_event(rewards.broker, resolved())
    await publish_event(rewards.broker, resolved(), event_id="again")
    await publish_event(rewards.broker, resolved("case-2", amount=None))  # no compensation
    [entry] = await entries(rewards)
    assert (entry.kind, entry.unit, entry.amount, entry.status, entry.case_id) == (
        "compensation",
        "EUR",
        Decimal(15),
        "available",
        "case-1",
    )
    [grant] = await emitted(rewards, RewardGrantedV1)
    assert grant.credit is not None and grant.credit.amount == Decimal(15) and grant.case_id == "case-1"
    assert grant.balance.credit_available[0].amount == Decimal(15)


async def test_compensation_above_the_monthly_budget_is_withheld_with_the_reason(
    make_rewards: RewardsFactory,
) -> None:
    async with make_rewards({"compensation": {"monthly_budget": {"EUR": "20.00"}}}) as rewards:
        await publish_event(rewards.broker, resolved("case-1", "15.00"))
        await publish_event(rewards.broker, resolved("case-2", "10.00", customer="ben"))
        await publish_event(rewards.broker, resolved("case-3", "5.00", customer="cleo"))  # 15 + 5: fits
        await publish_event(rewards.broker, resolved("case-4", "5.00", customer="dan"))
        await publish_event(
            rewards.broker,
            resolved("case-5", "100", customer="eve").model_copy(
                update={"compensation": resolved().compensation.model_copy(update={"currency": "JPY"})}  # type: ignore[union-attr]
            ),
        )
        granted = [g.case_id for g in await emitted(rewards, RewardGrantedV1)]
        assert granted == ["case-1", "case-3"]
        withheld = [(w.case_id, w.reason) for w in await emitted(rewards, RewardWithheldV1)]
        assert withheld == [
            ("case-2", "compensation_budget_exceeded"),
            ("case-4", "compensation_budget_exceeded"),
            ("case-5", "compensation_currency_not_budgeted"),
        ]
