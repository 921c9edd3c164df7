"""The one signed-webhook POST every outgoing webhook uses: what it sends, and how it fails."""

from __future__ import annotations

import httpx
import pytest
from wom_chassis.signatures import WebhookFailed, post_signed_webhook, signature_is_valid

URL = "https://hooks.example.com/in/tok-3f9a"


def client(answer: httpx.Response | Exception, seen: list[httpx.Request]) -> httpx.AsyncClient:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return httpx.AsyncClient(transport=httpx.MockTransport(handle))


async def post(http: httpx.AsyncClient, secret: str = "s3cret") -> httpx.Response:
    return await post_signed_webhook(
        http, URL, b'{"a":1}', secret=secret, event="case.opened", delivery_id="d-1", timeout_seconds=1
    )


async def test_the_post_is_signed_and_named() -> None:
    seen: list[httpx.Request] = []
    async with client(httpx.Response(204), seen) as http:
        assert (await post(http)).status_code == 204
    [request] = seen
    headers = request.headers
    assert (headers["x-wom-event"], headers["x-wom-delivery"]) == ("case.opened", "d-1")
    assert headers["content-type"] == "application/json"
    assert signature_is_valid("s3cret", headers["x-wom-timestamp"], headers["x-wom-signature"], b'{"a":1}')


async def test_a_refusal_or_no_answer_fails_naming_the_host_only() -> None:
    seen: list[httpx.Request] = []
    async with client(httpx.Response(503, text="busy"), seen) as http:
        with pytest.raises(WebhookFailed) as refused:
            await post(http)
    assert refused.value.status_code == 503 and "HTTP 503" in str(refused.value)
    assert "busy" not in str(refused.value)  # what a receiver answers may echo what it was sent
    async with client(httpx.ConnectError("refused"), seen) as http:
        with pytest.raises(WebhookFailed) as unreachable:
            await post(http)
    assert unreachable.value.status_code is None
    for failed in (refused.value, unreachable.value):
        assert "hooks.example.com" in str(failed) and "tok-3f9a" not in str(failed)


async def test_an_unsigned_webhook_is_never_sent() -> None:
    seen: list[httpx.Request] = []
    async with client(httpx.Response(204), seen) as http:
        with pytest.raises(ValueError, match="must be signed"):
            await post(http, secret="")
    assert seen == []
