"""Secrets fail closed: outside WOM_ENV=dev a service will not start with a secret unset, empty,
short or the shipped development value, and the token guard never takes an empty token."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from pydantic import Field, SecretStr
from wom_chassis import ServiceSettings, create_service, guarded_router
from wom_chassis.settings import MIN_SECRET_BYTES, SecretsRefused, check_secrets, secret_problems
from wom_contracts import Scope
from wom_testkit import idle_handlers

DEV_KEY = "wom-dev-only-test-key"
REAL = "r" * MIN_SECRET_BYTES


class _Keyed(ServiceSettings):
    service_name: str = "keyed"
    keyed_signing_secret: SecretStr = Field(default=SecretStr(DEV_KEY))
    keyed_webhook_secret: SecretStr | None = None


def test_real_secrets_raise_no_problem() -> None:
    settings = _Keyed(wom_env="prod", api_token=REAL, keyed_signing_secret=REAL, upstream_sources=["shop"])
    assert secret_problems(settings) == [] and check_secrets(settings) == []


def test_upstream_publishers_are_named_or_any_is_said_outside_dev() -> None:
    """Whose commerce events to take is a deployment's decision: unset, the service refuses."""
    unnamed = _Keyed(wom_env="prod", api_token=REAL, keyed_signing_secret=REAL)
    with pytest.raises(SecretsRefused, match="UPSTREAM_SOURCES is unset"):
        check_secrets(unnamed)
    anyone = _Keyed(wom_env="prod", api_token=REAL, keyed_signing_secret=REAL, upstream_sources=["*"])
    assert check_secrets(anyone) == [] and anyone.upstream_producers is None
    named = _Keyed(
        wom_env="prod", api_token=REAL, keyed_signing_secret=REAL, upstream_sources=["shop", "crm"]
    )
    assert named.upstream_producers == frozenset({"shop", "crm"})
    with pytest.raises(ValueError, match="upstream_sources"):
        _Keyed(upstream_sources=[])  # an empty list would take no one's events: said, not run
    assert any("UPSTREAM_SOURCES" in problem for problem in check_secrets(_Keyed(wom_env="dev")))


def test_every_problem_is_named_by_its_variable() -> None:
    settings = _Keyed(
        wom_env="prod",
        keyed_webhook_secret="short",
        kafka_sasl_password="",
    )
    assert secret_problems(settings) == [
        "KAFKA_SASL_PASSWORD is empty",
        "KEYED_SIGNING_SECRET is the shipped development value, known to anyone",
        "KEYED_WEBHOOK_SECRET is 5 bytes long: it needs at least 32",
    ]


def test_an_empty_token_and_a_password_issued_elsewhere() -> None:
    # an empty API_TOKEN is refused as empty; a broker's password is not held to our length
    settings = _Keyed(wom_env="prod", api_token="", keyed_signing_secret=REAL, kafka_sasl_password="pw")
    assert secret_problems(settings) == ["API_TOKEN is empty"]


def test_outside_dev_the_service_refuses_to_start(tmp_path: Path) -> None:
    settings = _Keyed(wom_env="prod", database_url=f"sqlite+aiosqlite:///{tmp_path / 'k.db'}")
    with pytest.raises(SecretsRefused, match="no API credential: set API_TOKENS_FILE") as refused:
        create_service(settings, idle_handlers(), migrations=tmp_path)
    assert "KEYED_SIGNING_SECRET is the shipped development value" in str(refused.value)


def test_wom_env_defaults_to_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WOM_ENV", raising=False)
    assert _Keyed().wom_env == "prod"
    with pytest.raises(SecretsRefused):
        check_secrets(_Keyed())
    monkeypatch.setenv("WOM_ENV", "dev")
    assert any("no API credential" in p for p in check_secrets(_Keyed()))  # admitted, and said


def _guarded(token: str | None, tmp_path: Path) -> FastAPI:
    settings = _Keyed(wom_env="dev", api_token=token, database_url=f"sqlite+aiosqlite:///{tmp_path / 'k.db'}")
    service = create_service(settings, idle_handlers(), migrations=tmp_path)
    router = guarded_router(Scope.OPS_READ)

    @router.get("/private")
    async def private() -> dict[str, str]:
        return {"ok": "yes"}

    @router.post("/private")
    async def change(body: dict[str, int]) -> dict[str, int]:
        return body

    service.http.include_router(router)
    return service.http


@pytest.mark.parametrize("header", ["Bearer ", "Basic Og==", "Bearer"])  # Og== is ":"
async def test_an_empty_token_opens_nothing_even_in_development(header: str, tmp_path: Path) -> None:
    app = _guarded("", tmp_path)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as client:
        answer = await client.get("/private", headers={"Authorization": header})
    assert answer.status_code == 401 and answer.json()["code"] == "token_not_configured"


async def test_the_token_is_checked_before_the_body_is_read(tmp_path: Path) -> None:
    app = _guarded(REAL, tmp_path)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as client:
        malformed = await client.post(
            "/private", content=b"{oops", headers={"Content-Type": "application/json"}
        )
        wrong_shape = await client.post("/private", json=["not", "an", "object"])
        allowed = await client.post("/private", json={"a": 1}, headers={"Authorization": f"Bearer {REAL}"})
        still_checked = await client.post(
            "/private", content=b"{oops", headers={"Authorization": f"Bearer {REAL}"}
        )
    # without the token, a body is never parsed: a 401, not the 422 a parse error would give
    assert [malformed.status_code, wrong_shape.status_code] == [401, 401]
    assert allowed.status_code == 200 and allowed.json() == {"a": 1}
    assert still_checked.status_code == 422
