"""Behind the proxies of FORWARDED_ALLOW_IPS a service sees the visitor's scheme and address, and
nobody else can claim them with a header; outside development every answer carries HSTS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi import Request
from httpx import ASGITransport, AsyncClient, Response
from wom_chassis import Service, ServiceSettings, create_service, public_router
from wom_testkit import idle_handlers

SECRET = "s" * 40
FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}


def _service(tmp_path: Path, **settings: Any) -> Service:
    handlers = idle_handlers()

    database_url = f"sqlite+aiosqlite:///{tmp_path / 'e.db'}"
    service_settings = ServiceSettings(
        service_name="edge", api_token=SECRET, database_url=database_url, upstream_sources=["*"], **settings
    )
    service = create_service(service_settings, handlers, migrations=tmp_path)
    seen = public_router()

    @seen.get("/seen")
    async def as_seen(request: Request) -> dict[str, str]:
        return {"scheme": request.url.scheme, "client": request.client.host if request.client else ""}

    service.http.include_router(seen)
    return service


async def _get(service: Service, peer: str, headers: dict[str, str]) -> Response:
    transport = ASGITransport(app=service.http, client=(peer, 40_000))
    async with AsyncClient(transport=transport, base_url="http://edge") as client:
        return await client.get("/seen", headers=headers)


@pytest.mark.parametrize(
    ("peer", "trusted", "expected"),
    [
        ("10.0.0.5", "10.0.0.0/8", {"scheme": "https", "client": "203.0.113.7"}),  # the ingress
        ("10.0.0.5", "127.0.0.1", {"scheme": "http", "client": "10.0.0.5"}),  # not a trusted proxy
        ("198.51.100.9", "10.0.0.0/8,192.168.1.1", {"scheme": "http", "client": "198.51.100.9"}),
    ],
)
async def test_forwarded_headers_count_only_from_the_trusted_proxies(
    tmp_path: Path, peer: str, trusted: str, expected: dict[str, str]
) -> None:
    service = _service(tmp_path, wom_env="dev", forwarded_allow_ips=trusted)
    answer = await _get(service, peer, FORWARDED)
    assert answer.json() == expected


async def test_every_answer_carries_hsts_outside_dev_and_none_in_dev(tmp_path: Path) -> None:
    prod = await _get(_service(tmp_path, wom_env="prod"), "127.0.0.1", {})
    refused = await _get(_service(tmp_path, wom_env="prod"), "127.0.0.1", {"Content-Length": "x"})
    dev = await _get(_service(tmp_path, wom_env="dev"), "127.0.0.1", {})
    off = await _get(_service(tmp_path, wom_env="prod", hsts_max_age_seconds=0), "127.0.0.1", {})
    assert prod.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    assert refused.status_code == 413 and "strict-transport-security" in refused.headers
    assert "strict-transport-security" not in dev.headers
    assert "strict-transport-security" not in off.headers
