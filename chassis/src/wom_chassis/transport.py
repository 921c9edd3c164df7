"""What a service's HTTP app knows of the way to it: behind the proxies of `FORWARDED_ALLOW_IPS`
the scheme and the client address are the visitor's (uvicorn's own middleware, applied in the
app so that every server and the tests see the same), and outside development every answer
tells browsers to come back over HTTPS only (HSTS)."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from wom_chassis.settings import ServiceSettings

__all__ = ["StrictTransport", "install_transport"]


class StrictTransport:
    """Add `Strict-Transport-Security: max-age=…; includeSubDomains` to every HTTP answer
    (Starlette has headers middleware only for CORS and trusted hosts)."""

    def __init__(self, app: ASGIApp, max_age_seconds: int) -> None:
        self.app = app
        self.value = f"max-age={max_age_seconds}; includeSubDomains"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).setdefault("Strict-Transport-Security", self.value)
            await send(message)

        await self.app(scope, receive, with_header)


def install_transport(app: FastAPI, settings: ServiceSettings) -> None:
    """Proxy headers from the trusted proxies only, then HSTS outside `WOM_ENV=dev`; added last,
    so they wrap every other middleware and everything sees the visitor's scheme and address."""
    if settings.wom_env != "dev" and settings.hsts_max_age_seconds > 0:
        app.add_middleware(StrictTransport, max_age_seconds=settings.hsts_max_age_seconds)
    trusted = [address.strip() for address in settings.forwarded_allow_ips.split(",") if address.strip()]
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=trusted)
