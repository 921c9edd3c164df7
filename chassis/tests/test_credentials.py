"""A credential per client: tokens named and scoped in a tokens file (or `API_TOKENS`), kept as
digests; a route admits only a token whose credential holds its scope, checked before the body is
read, and tells the handler who called."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from wom_chassis import (
    CurrentCredential,
    ServiceSettings,
    create_service,
    guarded_router,
)
from wom_chassis.auth import API_TOKEN_NAME, Credentials, token_digest
from wom_chassis.settings import SecretsRefused, check_secrets
from wom_contracts import Scope
from wom_testkit import idle_handlers

DESK, DESK_NEXT, SHOP = (secrets.token_urlsafe(32) for _ in range(3))


def _tokens_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tokens.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _entry(name: str, token: str, *scopes: str) -> str:
    return f'[[tokens]]\nname = "{name}"\nsha256 = "{token_digest(token)}"\nscopes = {json.dumps(scopes)}\n'


def _app(tmp_path: Path, **settings: object) -> FastAPI:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'c.db'}"
    service = create_service(
        ServiceSettings(service_name="scoped", wom_env="dev", database_url=database_url, **settings),
        idle_handlers(),
        migrations=tmp_path,
    )
    reads, writes = guarded_router(Scope.CUSTOMERS_READ), guarded_router(Scope.REDEMPTIONS_WRITE)

    @reads.get("/read")
    async def read(caller: CurrentCredential) -> dict[str, str]:
        return {"by": caller.name}

    @writes.post("/write")
    async def write(body: dict[str, int], caller: CurrentCredential) -> dict[str, str]:
        return {"by": caller.name}

    service.http.include_router(reads)
    service.http.include_router(writes)
    return service.http


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_each_route_admits_only_credentials_holding_its_scope(tmp_path: Path) -> None:
    path = _tokens_file(
        tmp_path,
        _entry("support-desk", DESK, "customers:read", "reviews:decide")
        + _entry("support-desk", DESK_NEXT, "customers:read", "reviews:decide")  # rotating
        + _entry("shop", SHOP, "redemptions:write"),
    )
    app = _app(tmp_path, api_tokens_file=path)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as client:
        # the desk reads with either of its two tokens, and is who the handler sees
        for token in (DESK, DESK_NEXT):
            answer = await client.get("/read", headers=_bearer(token))
            assert answer.status_code == 200 and answer.json() == {"by": "support-desk"}
        assert (await client.get("/read", auth=("anyone", DESK))).json() == {"by": "support-desk"}
        # the desk may not redeem: a 403 that names the scope, before its body is read
        refused = await client.post("/write", content=b"{not json", headers=_bearer(DESK))
        assert refused.status_code == 403
        assert refused.json()["code"] == "scope_required" and "redemptions:write" in refused.json()["detail"]
        assert "support-desk" in refused.json()["detail"]
        # the shop may redeem and not read
        assert (await client.post("/write", json={"a": 1}, headers=_bearer(SHOP))).json() == {"by": "shop"}
        assert (await client.get("/read", headers=_bearer(SHOP))).status_code == 403
        # a token nobody was issued is a 401, as is a digest presented as the token
        assert (await client.get("/read", headers=_bearer(secrets.token_urlsafe(32)))).status_code == 401
        assert (await client.get("/read", headers=_bearer(token_digest(DESK)))).status_code == 401


async def test_the_single_api_token_holds_every_scope_unless_narrowed(tmp_path: Path) -> None:
    wide = _app(tmp_path, api_token=DESK)
    narrow = _app(tmp_path, api_token=SHOP, api_token_scopes=["customers:read"])
    async with (
        AsyncClient(transport=ASGITransport(app=wide), base_url="http://t") as w,
        AsyncClient(transport=ASGITransport(app=narrow), base_url="http://t") as n,
    ):
        assert (await w.get("/read", headers=_bearer(DESK))).json() == {"by": API_TOKEN_NAME}
        assert (await w.post("/write", json={}, headers=_bearer(DESK))).status_code == 200
        assert (await n.get("/read", headers=_bearer(SHOP))).status_code == 200
        assert (await n.post("/write", json={}, headers=_bearer(SHOP))).status_code == 403


def test_api_tokens_are_read_from_the_environment_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    entries = [{"name": "survey-tool", "sha256": token_digest(DESK), "scopes": ["intake:write"]}]
    monkeypatch.setenv("API_TOKENS", json.dumps(entries))
    monkeypatch.setenv("UPSTREAM_SOURCES", '["shop/checkout"]')
    settings = ServiceSettings(service_name="scoped", wom_env="prod")
    credential = Credentials.of(settings).identify(DESK)
    assert credential is not None and credential.name == "survey-tool"
    assert credential.allows(Scope.INTAKE_WRITE) and not credential.allows(Scope.CUSTOMERS_READ)
    # a tokens file or API_TOKENS is a credential: no API_TOKEN is needed outside development
    assert not any("API credential" in problem for problem in check_secrets(settings))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("tokens = [", "is not TOML"),
        ("", "holds no [[tokens]]"),
        (_entry("desk", DESK, "customers:write"), "unknown scopes ['customers:write']"),
        (_entry("Desk Team", DESK, "customers:read"), "tokens[0.name]"),
        ('[[tokens]]\nname = "desk"\nsha256 = "abc"\nscopes = ["customers:read"]\n', "tokens[0.sha256]"),
        (_entry("desk", DESK), "tokens[0.scopes]"),
        (_entry("desk", DESK, "*") + _entry("shop", DESK, "*"), "one token is given to both desk and shop"),
    ],
)
def test_a_tokens_file_that_is_wrong_stops_the_service_with_what_is_wrong(
    text: str, problem: str, tmp_path: Path
) -> None:
    path = _tokens_file(tmp_path, text)
    with pytest.raises(SecretsRefused) as refused:
        _app(tmp_path, api_tokens_file=path)  # in development too: it is no secret's strength
    assert problem in str(refused.value)


def test_a_tokens_file_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    with pytest.raises(SecretsRefused, match=r"API_TOKENS_FILE .*missing\.toml cannot be read"):
        _app(tmp_path, api_tokens_file=tmp_path / "missing.toml")


def test_an_unknown_scope_for_the_single_token_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown scopes"):
        ServiceSettings(service_name="scoped", api_token=DESK, api_token_scopes=["everything"])
