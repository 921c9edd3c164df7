"""The analytics page in a real browser: Chromium answers the 401's Basic challenge with the
credentials a person types into its login prompt (any user name, the API token as password)."""

from __future__ import annotations

import shutil

import pytest
from wom_chassis import Service
from wom_chassis.testing import CHROMIUM, chromium_page, serving

from ..conftest import TOKEN

pytestmark = pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason=f"no Chromium at {CHROMIUM}")


async def test_the_analytics_page_opens_in_chromium_with_the_token_as_password(referrals: Service) -> None:
    async with serving(referrals.http) as url:
        async with chromium_page(http_credentials={"username": "operator", "password": TOKEN}) as page:
            response = await page.goto(f"{url}/analytics")
            assert response is not None and response.status == 200, await response.text()
            assert (await page.title()).startswith("Word of mouth")
            assert await page.locator("svg").count() == 3
        async with chromium_page(http_credentials={"username": "operator", "password": "wrong"}) as page:
            refused = await page.goto(f"{url}/analytics")
            assert refused is not None and refused.status == 401
