"""Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

__all__ = ["CHROMIUM", "chromium", "chromium_missing", "chromium_page"]

CHROMIUM = "/usr/bin/chromium"
"""Debian's Chromium: browser tests drive it with Playwright (`playwright install` downloads nothing here)."""


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here (a skip reason), or None when Chromium is installed."""
    if os.access(CHROMIUM, os.X_OK):
        return None
    return f"no Chromium at {CHROMIUM}: scripts/bootstrap installs Debian's chromium when run as root"


@asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    """A fresh headless Chromium (a playwright `Browser`), closed afterwards; a module of browser
    tests shares one and opens a context of its own for each page."""
    from playwright.async_api import async_playwright  # a dev dependency, needed by browser tests only

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield browser
        finally:
            await browser.close()


@asynccontextmanager
async def chromium_page(
    timeout_ms: float = 5000, http_credentials: dict[str, str] | None = None
) -> AsyncIterator[Any]:
    """A page of a fresh headless Chromium, closed afterwards (a playwright `Page`); with
    `http_credentials` ({"username", "password"}) it answers an HTTP authentication challenge
    as a person does in the browser's login prompt."""
    async with chromium() as browser:
        credentials: Any = http_credentials  # playwright's HttpCredentials: username, password
        page = await browser.new_page(http_credentials=credentials)
        page.set_default_timeout(timeout_ms)
        yield page
