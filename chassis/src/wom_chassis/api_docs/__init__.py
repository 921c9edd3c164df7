"""The API's docs page: Swagger UI over the app's `/openapi.json`, every file of it served by the
service itself (the copy the fastapi-offline package ships), so the page opens on a closed network
and under a Content-Security-Policy that allows nothing but the page's own origin.

FastAPI's own `/docs` and `/redoc` load their scripts and styles from a CDN; an app that mounts
this module is built with `docs_url=None, redoc_url=None`."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Final

import fastapi_offline
from fastapi import FastAPI, HTTPException, Request, status
from fastapi.responses import FileResponse, HTMLResponse

from wom_chassis.auth import public_router

__all__ = ["ASSETS", "DOCS_PATH", "DOCS_POLICY", "install_api_docs"]

DOCS_PATH: Final = "/docs"
_HERE = Path(__file__).resolve().parent
_SWAGGER_UI = Path(fastapi_offline.__file__).resolve().parent / "static"
ASSETS: Final = {
    "swagger-ui-bundle.js": (_SWAGGER_UI / "swagger-ui-bundle.js", "text/javascript"),
    "swagger-ui.css": (_SWAGGER_UI / "swagger-ui.css", "text/css"),
    "favicon.png": (_SWAGGER_UI / "favicon.png", "image/png"),
    "swagger-init.js": (_HERE / "swagger-init.js", "text/javascript"),
}
"""The files the page loads, by name under `/docs/assets/`; nothing else is served from there."""
DOCS_POLICY: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
"""The page's Content-Security-Policy: its own origin only (Swagger UI's stylesheet draws its
icons as `data:` images); no inline script, no other host."""
_PAGE = (_HERE / "page.html").read_text(encoding="utf-8")


def install_api_docs(app: FastAPI) -> None:
    """Serve Swagger UI at `/docs` over `app.openapi_url`, its files under `/docs/assets/`."""
    if app.openapi_url is None:
        raise ValueError("the API docs page needs the app's OpenAPI description (openapi_url is None)")
    openapi_url = app.openapi_url
    router = public_router(include_in_schema=False)

    @router.get(DOCS_PATH, response_class=HTMLResponse)
    async def docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = _PAGE.format(
            title=html.escape(app.title),
            assets=html.escape(f"{root}{DOCS_PATH}/assets"),
            openapi_url=html.escape(f"{root}{openapi_url}"),
        )
        headers = {
            "Content-Security-Policy": DOCS_POLICY,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        }
        return HTMLResponse(page, headers=headers)

    @router.get(f"{DOCS_PATH}/assets/{{name}}")
    async def asset(name: str) -> FileResponse:
        if name not in ASSETS:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no docs asset {name!r}")
        path, media_type = ASSETS[name]
        return FileResponse(
            path,
            media_type=media_type,
            headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
        )

    app.include_router(router)
