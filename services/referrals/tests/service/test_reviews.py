"""The review queue: a risky referral waits for an operator, whose decision is an event."""

from __future__ import annotations

from httpx import ASGITransport, AsyncClient
from wom_chassis import Service
from wom_chassis.auth import token_digest
from wom_contracts import ReferralQualifiedV1, ReferralRejectedV1
from wom_testkit import emitted

from ..conftest import AUTH, ReferralsFactory
from ..support import NOW, code_of, order, publish, refund, registered


async def a_referral_in_review(service: Service, friend: str = "ben") -> None:
    """ben registers from anna's IP with a throw-away mailbox: score 30 + 40 = 70 → review."""
    if not await emitted(service):
        await publish(service, registered("anna", first_name="Anna", ip="198.51.100.4"))
    code = await code_of(service, "anna")
    await publish(
        service,
        registered(friend, code=code, email=f"{friend}@x.mailinator.com", ip="198.51.100.4"),
        order(friend, f"o-{friend}", "80.00"),
    )


OLGA, VIEWER = "olga-s-token-for-the-review-desk", "a-token-that-may-only-look"
REVIEWERS = [
    {"name": "olga", "sha256": token_digest(OLGA), "scopes": ["reviews:read", "reviews:decide"]},
    {"name": "viewer", "sha256": token_digest(VIEWER), "scopes": ["reviews:read"]},
]


def client(service: Service, token: str | None = None) -> AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else AUTH
    return AsyncClient(transport=ASGITransport(app=service.http), base_url="http://test", headers=headers)


async def test_review_then_approve_under_the_reviewers_credential(make_referrals: ReferralsFactory) -> None:
    async with make_referrals(api_tokens=REVIEWERS) as referrals:
        await _review_then_approve(referrals)


async def _review_then_approve(referrals: Service) -> None:
    await a_referral_in_review(referrals)
    assert await emitted(referrals, ReferralQualifiedV1) == []
    async with client(referrals, OLGA) as http:
        queue = (await http.get("/reviews")).json()
        assert queue["total"] == 1
        [waiting] = queue["referrals"]
        assert (waiting["friend_customer_id"], waiting["status"], waiting["risk_score"]) == (
            "ben",
            "review",
            70,
        )
        assert {s["reason"] for s in waiting["signals"]} == {"self_referral_same_ip", "disposable_email"}
        assert waiting["reason"] == "risk_score_needs_review"
        url = f"/reviews/{waiting['referral_id']}/approve"
        # the reviewer is who the credential is, not a name the body gives
        named = await http.post(url, json={"reviewer": "someone-else", "note": "family, checked"})
        assert named.status_code == 422 and named.json()["detail"][0]["loc"] == ["body", "reviewer"]
        answer = await http.post(url, json={"note": "family, checked"})
        assert answer.status_code == 200 and answer.json()["status"] == "qualified"
        assert answer.json()["decided_by"] == "olga"
        assert (await http.get("/reviews")).json()["total"] == 0
        again = await http.post(url, json={})
        assert again.status_code == 409
    [qualified] = await emitted(referrals, ReferralQualifiedV1)
    assert (qualified.referral_id, qualified.decided_by, qualified.risk_score) == (
        waiting["referral_id"],
        "olga",
        70,
    )
    assert qualified.hold_until > NOW


async def test_review_then_reject_needs_a_note(referrals: Service) -> None:
    await a_referral_in_review(referrals)
    async with client(referrals) as http:
        [waiting] = (await http.get("/reviews")).json()["referrals"]
        url = f"/reviews/{waiting['referral_id']}/reject"
        assert (await http.post(url, json={})).status_code == 422
        assert (await http.post(url, json={"note": " "})).status_code == 422
        answer = await http.post(url, json={"note": "same household, two accounts"})
        assert answer.status_code == 200
        assert (await http.post("/reviews/nope/reject", json={"note": "x"})).status_code == 404
    [rejected] = await emitted(referrals, ReferralRejectedV1)
    assert (rejected.reason, rejected.detail, rejected.decided_by) == (
        "rejected_in_review",
        "same household, two accounts",
        "api-token",  # the single API_TOKEN's credential
    )


async def test_a_credential_that_may_look_may_not_decide(make_referrals: ReferralsFactory) -> None:
    async with make_referrals(api_tokens=REVIEWERS) as referrals:
        await a_referral_in_review(referrals)
        async with client(referrals, VIEWER) as http:
            [waiting] = (await http.get("/reviews")).json()["referrals"]
            refused = await http.post(f"/reviews/{waiting['referral_id']}/approve", json={})
            assert refused.status_code == 403 and refused.json()["code"] == "scope_required"
            assert (await http.get("/customers/anna/code")).status_code == 403  # nor read customers
            assert (await http.get("/reviews")).json()["total"] == 1  # still waiting
        assert await emitted(referrals, ReferralQualifiedV1) == []


async def test_a_refund_while_in_review_rejects(referrals: Service) -> None:
    await a_referral_in_review(referrals)
    await publish(referrals, refund("ben", "o-ben", "80.00"))
    [rejected] = await emitted(referrals, ReferralRejectedV1)
    assert rejected.reason == "order_fully_refunded"
    async with client(referrals) as http:
        assert (await http.get("/reviews")).json()["total"] == 0


async def test_the_queue_needs_the_token(referrals: Service) -> None:
    async with AsyncClient(transport=ASGITransport(app=referrals.http), base_url="http://test") as http:
        assert (await http.get("/reviews")).status_code == 401
        assert (await http.post("/reviews/x/approve", json={})).status_code == 401
