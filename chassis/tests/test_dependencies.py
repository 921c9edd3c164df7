"""Module-level routers: a route declares the running service, a read session and the token
guard as dependencies, and two services built from the same router answer each as itself."""

from __future__ import annotations

from pathlib import Path

from httpx import ASGITransport, AsyncClient
from pydantic import SecretStr
from sqlalchemy import func, select
from wom_chassis import (
    CurrentService,
    ReadSession,
    Service,
    ServiceSettings,
    create_service,
    guarded_router,
)
from wom_chassis.tables import OutboxRecord
from wom_contracts import Scope
from wom_testkit import idle_handlers, in_memory_service

router = guarded_router(Scope.CUSTOMERS_READ)


@router.get("/whoami")
async def whoami(service: CurrentService, session: ReadSession) -> dict[str, object]:
    pending = await session.scalar(select(func.count()).select_from(OutboxRecord))
    return {"service": service.settings.service_name, "outbox": pending}


def _service(tmp_path: Path, name: str, token: str | None) -> Service:
    settings = ServiceSettings(
        service_name=name, database_url=f"sqlite+aiosqlite:///{tmp_path / f'{name}.db'}",
        api_token=SecretStr(token) if token else None,
    )  # fmt: skip
    handlers = idle_handlers()

    service = create_service(settings, handlers, migrations=tmp_path)
    service.http.include_router(router)
    return service


async def test_one_router_serves_each_service_as_itself_behind_its_own_token(tmp_path: Path) -> None:
    async with (
        in_memory_service(_service(tmp_path, "one", "token-one")) as one,
        in_memory_service(_service(tmp_path, "two", "token-two")) as two,
    ):
        for service, token, other in ((one, "token-one", "token-two"), (two, "token-two", "token-one")):
            async with AsyncClient(transport=ASGITransport(app=service.http), base_url="http://s") as c:
                assert (await c.get("/whoami")).status_code == 401
                assert (
                    await c.get("/whoami", headers={"Authorization": f"Bearer {other}"})
                ).status_code == 401
                answer = await c.get("/whoami", headers={"Authorization": f"Bearer {token}"})
                assert answer.json() == {"service": service.settings.service_name, "outbox": 0}
                basic = await c.get("/whoami", auth=("anyone", token))  # the browser's login prompt
                assert basic.status_code == 200


async def test_a_service_without_a_token_refuses_every_guarded_route(tmp_path: Path) -> None:
    async with (
        in_memory_service(_service(tmp_path, "open", None)) as service,
        AsyncClient(transport=ASGITransport(app=service.http), base_url="http://s") as c,
    ):
        answer = await c.get("/whoami", headers={"Authorization": "Bearer "})
        assert answer.status_code == 401 and answer.json()["code"] == "token_not_configured"
