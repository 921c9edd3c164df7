"""The HTTP intake: API token or a survey tool's signature, clear 4xx, one code path with Kafka."""

from __future__ import annotations

import json
import time
from typing import Any

from feedback.models import Case
from httpx import ASGITransport, AsyncClient
from sqlalchemy import select
from wom_chassis import Service
from wom_chassis.signatures import signature
from wom_contracts import CaseOpenedV1, ResponseSubmittedV1
from wom_testkit import emitted, publish_event

from ..conftest import AUTH, INTAKE_SECRET, FeedbackFactory

ANSWER: dict[str, Any] = {
    "customer_id": "ana",
    "response_id": "r-1",
    "kind": "csat",
    "score": 1,
    "comment": "Kom aldrig fram, och ingen svarade",
    "locale": "sv",
    "submitted_at": "2026-11-20T10:00:00+01:00",
}


def client(service: Service, **headers: str) -> AsyncClient:
    return AsyncClient(transport=ASGITransport(app=service.http), base_url="http://test", headers=headers)


def signed(body: bytes, *, secret: str = INTAKE_SECRET, age: int = 0) -> dict[str, str]:
    timestamp = str(int(time.time()) - age)
    return {"X-Wom-Timestamp": timestamp, "X-Wom-Signature": signature(secret, timestamp, body)}


async def test_an_answer_posted_with_the_token_runs_the_kafka_path(feedback: Service) -> None:
    async with client(feedback, **AUTH) as http:
        answer = await http.post("/responses", json=ANSWER)
    assert answer.status_code == 202 and answer.json()["response_id"] == "r-1"
    [event] = await emitted(feedback, ResponseSubmittedV1)
    assert event.score == 1 and event.submitted_at.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    # the relay publishes it; the consumer treats it like any answer from a survey tool
    await publish_event(feedback.broker, event, event_id=answer.json()["event_id"])
    [opened] = await emitted(feedback, CaseOpenedV1)
    assert opened.response_id == "r-1" and opened.signals == ["late_delivery", "rude_service"]
    async with feedback.db.session() as session:
        assert len((await session.scalars(select(Case))).all()) == 1


async def test_a_survey_tool_signs_its_requests(feedback: Service) -> None:
    body = json.dumps(ANSWER).encode()
    async with client(feedback) as http:
        ok = await http.post("/responses", content=body, headers=signed(body))
        wrong = await http.post("/responses", content=body, headers=signed(body, secret="guess"))
        stale = await http.post("/responses", content=body, headers=signed(body, age=3600))
        tampered = await http.post(
            "/responses", content=body.replace(b'"score": 1', b'"score": 5'), headers=signed(body)
        )
        anonymous = await http.post("/responses", json=ANSWER)
    assert ok.status_code == 202
    assert [r.status_code for r in (wrong, stale, tampered, anonymous)] == [401, 401, 401, 401]
    assert len(await emitted(feedback, ResponseSubmittedV1)) == 1


async def test_an_empty_secret_signs_nothing_and_a_bad_timestamp_is_a_401(
    make_feedback: FeedbackFactory,
) -> None:
    body = json.dumps(ANSWER).encode()
    async with make_feedback(feedback_intake_secret="") as feedback, client(feedback) as http:
        empty_key = await http.post("/responses", content=body, headers=signed(body, secret=""))
        assert empty_key.status_code == 401
    async with make_feedback() as feedback, client(feedback) as http:
        # b"\xb2" is '²' in Latin-1, which servers decode headers as: str.isdigit says yes, int() no
        signature = signed(body)["X-Wom-Signature"]
        superscript = [("X-Wom-Signature", signature), ("X-Wom-Timestamp", b"\xb2")]
        assert (await http.post("/responses", content=body, headers=superscript)).status_code == 401
        assert await emitted(feedback, ResponseSubmittedV1) == []


async def test_invalid_answers_get_a_clear_4xx(feedback: Service) -> None:
    async with client(feedback, **AUTH) as http:
        out_of_range = await http.post("/responses", json={**ANSWER, "kind": "nps", "score": 11})
        too_long = await http.post("/responses", json={**ANSWER, "comment": "x" * 5001})
        naive_time = await http.post("/responses", json={**ANSWER, "submitted_at": "2026-11-20T10:00:00"})
        not_json = await http.post("/responses", content=b"score=3", headers={"Content-Type": "text/plain"})
        not_utf8 = await http.post("/responses", content=b'{"kind": "\xff"}')
    assert out_of_range.status_code == 422
    assert out_of_range.json()["detail"][0]["loc"] == ["body"]  # FastAPI's shape, as every 422
    assert "score 11 is out of range 0–10 for kind nps" in out_of_range.text
    assert too_long.status_code == 422 and too_long.json()["detail"][0]["loc"] == ["body", "comment"]
    assert "5000" in too_long.text
    assert naive_time.status_code == 422 and "submitted_at" in naive_time.text
    assert not_json.status_code == 400 and not_json.json()["code"] == "body_not_json"
    assert not_utf8.status_code == 400 and not_utf8.json()["code"] == "body_not_utf8"
    assert await emitted(feedback, ResponseSubmittedV1) == []
