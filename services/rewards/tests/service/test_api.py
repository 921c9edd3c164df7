"""The rewards HTTP API: authentication, balances, ledger, tiers, key clients, redemption."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from httpx import ASGITransport, AsyncClient
from rewards.jobs import recompute_tiers, release_due
from rewards.models import Redemption
from rewards.rules import load_rules
from wom_chassis import Service
from wom_chassis.auth import token_digest
from wom_contracts import RewardRedeemedV1
from wom_testkit import emitted, publish_event

from ..conftest import AUTH, RewardsFactory
from ..support import LONG_AGO, order, refund, resolved


@pytest.fixture
async def client(rewards: Service) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(transport=ASGITransport(app=rewards.http), base_url="http://rewards") as http:
        yield http


async def test_every_endpoint_requires_the_token(client: AsyncClient) -> None:
    for method, path in [
        ("GET", "/customers/anna/balance"),
        ("GET", "/customers/anna/ledger"),
        ("GET", "/customers/anna/tier"),
        ("GET", "/key-clients"),
        ("POST", "/customers/anna/redemptions"),
    ]:
        assert (await client.request(method, path)).status_code == 401, path
        wrong = {"Authorization": "Bearer nope"}
        assert (await client.request(method, path, headers=wrong)).status_code == 401, path
    assert (await client.get("/customers/bad id!/balance", headers=AUTH)).status_code == 422
    spec = (await client.get("/openapi.json")).json()
    assert "/customers/{customer_id}/redemptions" in spec["paths"]


async def test_balance_and_ledger_are_sums_of_entries_with_reason_codes(
    rewards: Service, client: AsyncClient
) -> None:
    await publish_event(rewards.broker, order("o-1", "100.00", when=LONG_AGO))
    await publish_event(rewards.broker, order("o-2", "30.00"))
    await publish_event(rewards.broker, refund("r-1", order_id="o-1", amount="25.00"))
    await publish_event(rewards.broker, resolved())
    await release_due(rewards)
    balance = (await client.get("/customers/anna/balance", headers=AUTH)).json()
    assert balance["points"] == {"available": 75, "pending": 30}
    assert balance["credit"] == [{"currency": "EUR", "available": "15.00", "pending": "0.00"}]
    assert balance["by_kind"]["earn"] == {"points_available": "100", "points_pending": "30"}
    ledger = (await client.get("/customers/anna/ledger", headers=AUTH)).json()
    assert ledger["total"] == 4
    reasons = sorted(e["reason"] for e in ledger["entries"])
    assert reasons == ["case_compensation", "order_partially_refunded", "purchase", "purchase"]
    total_points = sum(Decimal(e["amount"]) for e in ledger["entries"] if e["unit"] == "points")
    assert total_points == 75 + 30
    page = (await client.get("/customers/anna/ledger?limit=1&offset=1", headers=AUTH)).json()
    assert len(page["entries"]) == 1 and page["entries"][0]["id"] == ledger["entries"][1]["id"]


async def test_redemption_is_idempotent_and_never_overdraws(rewards: Service, client: AsyncClient) -> None:
    await publish_event(rewards.broker, order("o-1", "300.00", when=LONG_AGO))
    await release_due(rewards)
    body = {"points": 200, "currency": "EUR"}
    first = await client.post(
        "/customers/anna/redemptions", json=body, headers={**AUTH, "Idempotency-Key": "k1"}
    )
    assert first.status_code == 201, first.text
    assert first.json()["coupon_value"] == {"amount": "2.00", "currency": "EUR"}
    again = await client.post(
        "/customers/anna/redemptions", json=body, headers={**AUTH, "Idempotency-Key": "k1"}
    )
    assert again.status_code == 200 and again.json() == first.json()
    other = await client.post(
        "/customers/anna/redemptions",
        json={"points": 150, "currency": "EUR"},
        headers={**AUTH, "Idempotency-Key": "k1"},
    )
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"
    overdraw = await client.post(
        "/customers/anna/redemptions",
        json={"points": 101, "currency": "EUR"},
        headers={**AUTH, "Idempotency-Key": "k2"},
    )
    assert overdraw.status_code == 409
    assert overdraw.json() == {
        "code": "insufficient_balance",
        "detail": "requested 101 points, only 100 points available",
    }
    missing_key = await client.post("/customers/anna/redemptions", json=body, headers=AUTH)
    assert missing_key.status_code == 422
    for bad in (
        {"points": 100},
        {"points": -5, "currency": "EUR"},
        {"points": 10, "currency": "EUR"},
        {"points": 100, "currency": "JPY"},
        {},
    ):
        response = await client.post(
            "/customers/anna/redemptions", json=bad, headers={**AUTH, "Idempotency-Key": "x"}
        )
        assert response.status_code == 422, (bad, response.text)
    [redeemed] = await emitted(rewards, RewardRedeemedV1)
    assert (redeemed.points, redeemed.balance.points_available) == (200, 100)
    balance = (await client.get("/customers/anna/balance", headers=AUTH)).json()
    assert balance["points"]["available"] == 100
    assert [c["code"] for c in balance["coupons"]] == [first.json()["coupon_code"]]


async def test_credit_can_be_redeemed_too(rewards: Service, client: AsyncClient) -> None:
    await publish_event(rewards.broker, resolved(amount="15.00"))
    body = {"credit": {"amount": "10.00", "currency": "EUR"}}
    done = await client.post(
        "/customers/anna/redemptions", json=body, headers={**AUTH, "Idempotency-Key": "c1"}
    )
    assert done.status_code == 201 and done.json()["coupon_value"]["amount"] == "10.00"
    more = {"credit": {"amount": "5.01", "currency": "EUR"}}
    refused = await client.post(
        "/customers/anna/redemptions", json=more, headers={**AUTH, "Idempotency-Key": "c2"}
    )
    assert refused.status_code == 409


async def test_tier_explanation_and_key_client_list(rewards: Service, client: AsyncClient) -> None:
    for n in reversed(range(5)):
        await publish_event(rewards.broker, order(f"o-{n}", f"{(n + 1) * 100}.00", customer=f"c-{n}"))
    await recompute_tiers(rewards, rules=load_rules(rewards.settings.rewards_rules_file))  # type: ignore[attr-defined]
    tier = (await client.get("/customers/c-3/tier", headers=AUTH)).json()
    assert tier["tier"] == "member" and tier["rank"] == 2 and tier["ranked_customers"] == 5
    assert tier["percentile"] == 80.0 and tier["trailing_revenue"]["amount"] == "400.00"
    assert tier["threshold"]["amount"] == "500.00" and tier["top_percent"] == "20"
    top = (await client.get("/customers/c-4/tier", headers=AUTH)).json()
    assert (top["tier"], top["rank"], top["percentile"]) == ("key_client", 1, 100.0)
    clients = (await client.get("/key-clients", headers=AUTH)).json()
    assert [c["customer_id"] for c in clients["key_clients"]] == ["c-4"] and clients["total"] == 1
    nobody = (await client.get("/customers/nobody/tier", headers=AUTH)).json()
    assert (nobody["tier"], nobody["rank"], nobody["orders"]) == ("member", None, 0)


async def test_a_redemption_needs_its_scope_and_records_who_asked(make_rewards: RewardsFactory) -> None:
    shop, desk = "the-storefront-s-redemption-token", "the-support-desk-s-reading-token"
    tokens = [
        {"name": "storefront", "sha256": token_digest(shop), "scopes": ["redemptions:write"]},
        {"name": "support-desk", "sha256": token_digest(desk), "scopes": ["customers:read"]},
    ]
    async with (
        make_rewards(api_tokens=tokens) as rewards,
        AsyncClient(transport=ASGITransport(app=rewards.http), base_url="http://rewards") as http,
    ):
        await publish_event(rewards.broker, order("o-1", "300.00", when=LONG_AGO))
        await release_due(rewards)
        body, key = {"points": 200, "currency": "EUR"}, {"Idempotency-Key": "k1"}
        refused = await http.post(
            "/customers/anna/redemptions", json=body, headers={**key, "Authorization": f"Bearer {desk}"}
        )
        assert refused.status_code == 403 and "redemptions:write" in refused.json()["detail"]
        assert await emitted(rewards, RewardRedeemedV1) == []
        made = await http.post(
            "/customers/anna/redemptions", json=body, headers={**key, "Authorization": f"Bearer {shop}"}
        )
        assert made.status_code == 201, made.text
        async with rewards.db.session() as session:
            redemption = await session.get(Redemption, made.json()["redemption_id"])
        assert redemption is not None and redemption.requested_by == "storefront"
        # the shop's token reads nothing; the desk's reads the balance the redemption left
        assert (
            await http.get("/customers/anna/balance", headers={"Authorization": f"Bearer {shop}"})
        ).status_code == 403
        seen = await http.get("/customers/anna/balance", headers={"Authorization": f"Bearer {desk}"})
        assert seen.json()["points"]["available"] == 100
        spec = (await http.get("/openapi.json")).json()
        security = spec["paths"]["/customers/{customer_id}/redemptions"]["post"]["security"]
        assert {"token": ["redemptions:write"]} in security
