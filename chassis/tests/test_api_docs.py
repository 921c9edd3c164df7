"""The docs page and its files come from the service itself (the browser test opens it for real)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from wom_chassis.api_docs import ASSETS, DOCS_POLICY, install_api_docs


def docs_app(openapi_url: str | None = "/openapi.json") -> FastAPI:
    app = FastAPI(title="wom things", docs_url=None, redoc_url=None, openapi_url=openapi_url)
    install_api_docs(app)
    return app


async def get(app: FastAPI, path: str, root_path: str = "") -> httpx.Response:
    transport = httpx.ASGITransport(app=app, root_path=root_path)
    async with httpx.AsyncClient(transport=transport, base_url="http://wom.test") as client:
        return await client.get(path)


async def test_the_page_names_only_its_own_files_and_allows_only_its_origin() -> None:
    page = await get(docs_app(), "/docs", root_path="/wom-things")
    assert page.status_code == 200 and page.headers["content-security-policy"] == DOCS_POLICY
    assert "'unsafe-inline'" not in DOCS_POLICY and "http" not in DOCS_POLICY
    assert 'data-openapi-url="/wom-things/openapi.json"' in page.text  # behind a path prefix too
    assert 'src="/wom-things/docs/assets/swagger-ui-bundle.js"' in page.text
    assert "http" not in page.text  # no other host named anywhere


@pytest.mark.parametrize("name", sorted(ASSETS))
async def test_every_file_the_page_loads_is_served(name: str) -> None:
    response = await get(docs_app(), f"/docs/assets/{name}")
    assert response.status_code == 200 and len(response.content) > 100
    assert response.headers["content-type"].startswith(ASSETS[name][1])


async def test_nothing_else_is_served_from_the_assets_folder() -> None:
    assert (await get(docs_app(), "/docs/assets/__init__.py")).status_code == 404
    assert (await get(docs_app(), "/docs/assets/..%2F__init__.py")).status_code == 404
    assert (await get(docs_app(), "/redoc")).status_code == 404


def test_an_app_without_an_openapi_description_is_refused() -> None:
    with pytest.raises(ValueError, match="openapi_url is None"):
        docs_app(openapi_url=None)
