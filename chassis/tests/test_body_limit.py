"""Request bodies are capped before anything reads them: a declared or a streamed body past the
limit is a 413 in the one error shape, and the route never sees it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI, Request
from httpx import ASGITransport, AsyncClient
from wom_chassis import ServiceSettings, create_service
from wom_chassis.body_limit import BodyLimit
from wom_testkit import idle_handlers

LIMIT = 2_048


def _app(seen: list[int]) -> FastAPI:
    app = FastAPI()

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        body = await request.body()
        seen.append(len(body))
        return {"bytes": len(body)}

    app.add_middleware(BodyLimit, limit=LIMIT)
    return app


async def _chunks(size: int) -> AsyncIterator[bytes]:
    for _ in range(size // 512):
        yield b"x" * 512


async def test_a_body_past_the_limit_is_a_413_and_the_route_never_runs() -> None:
    seen: list[int] = []
    async with AsyncClient(transport=ASGITransport(app=_app(seen)), base_url="http://t") as client:
        fits = await client.post("/echo", content=b"x" * LIMIT)
        declared = await client.post("/echo", content=b"x" * (LIMIT + 1))
        lying = await client.post("/echo", content=b"{}", headers={"Content-Length": "9" * 30})
        streamed = await client.post("/echo", content=_chunks(LIMIT * 4))  # chunked: no length
    assert fits.status_code == 200 and fits.json() == {"bytes": LIMIT}
    for refused in (declared, streamed):
        assert refused.status_code == 413
        assert refused.json() == {
            "detail": f"the request body is larger than {LIMIT} bytes",
            "code": "body_too_large",
        }
    assert lying.status_code == 413
    assert seen == [LIMIT]  # the streamed one stopped being read past the limit


async def test_every_service_app_has_the_limit(tmp_path: Path) -> None:
    handlers = idle_handlers()

    settings = ServiceSettings(
        service_name="capped", wom_env="dev", http_max_body_bytes=LIMIT,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'c.db'}",
    )  # fmt: skip
    service = create_service(settings, handlers, migrations=tmp_path)
    async with AsyncClient(transport=ASGITransport(app=service.http), base_url="http://t") as client:
        answer = await client.post("/alive", content=b"x" * (LIMIT + 1))
    assert answer.status_code == 413 and answer.json()["code"] == "body_too_large"
