"""`make demo`: a support agent who works cases in the support console as a person would: signs
in, opens a case, claims it and resolves it (with store credit for some), through the console's
own forms and their CSRF tokens."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

import httpx

__all__ = ["ConsoleAgent", "Resolution"]

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_NOTES = {
    "refunded": "Refunded the order and apologised on the phone.",
    "replaced": "Sent a replacement by express delivery.",
    "apologised": "Called the customer and apologised.",
    "explained": "Explained the delivery delay; the parcel is on its way.",
}


@dataclass(frozen=True)
class Resolution:
    """How the agent resolved a case."""

    resolution: str
    note: str
    amount: str = ""
    currency: str = ""


class ConsoleAgent:
    """One agent's browser session with the console at `base_url` (e.g. http://127.0.0.1:8004)."""

    def __init__(self, base_url: str, login: str, password: str, *, seed: int = 7) -> None:
        self.login, self.password = login, password
        self.random = random.Random(seed)
        self.http = httpx.AsyncClient(base_url=base_url, timeout=10)
        self.signed_in = False

    async def close(self) -> None:
        await self.http.aclose()

    async def _csrf(self, path: str) -> str:
        page = await self.http.get(path)
        page.raise_for_status()
        found = _CSRF.search(page.text)
        if found is None:
            raise RuntimeError(f"no form on {path}")
        return found.group(1)

    async def sign_in(self) -> None:
        token = await self._csrf("/console/login")
        answer = await self.http.post(
            "/console/login", data={"csrf_token": token, "login": self.login, "password": self.password}
        )
        if not answer.is_redirect:
            raise RuntimeError(f"the console refused {self.login!r}: HTTP {answer.status_code}")
        self.signed_in = True

    def decide(self) -> Resolution:
        """What the agent does about a case: about half get 10 EUR of store credit as an apology."""
        resolution = self.random.choice(sorted(_NOTES))
        if self.random.random() < 0.5:
            return Resolution(resolution, _NOTES[resolution], "10.00", "EUR")
        return Resolution(resolution, _NOTES[resolution])

    async def resolve(self, case_id: str, how: Resolution) -> bool:
        """Claim and resolve `case_id` in the console; False when another agent was quicker."""
        if not self.signed_in:
            await self.sign_in()
        page = f"/console/cases/{case_id}"
        claimed = await self.http.post(f"{page}/claim", data={"csrf_token": await self._csrf(page)})
        if claimed.status_code == 409:
            return False
        _redirected(claimed)
        fields = {
            "csrf_token": await self._csrf(page), "resolution": how.resolution, "note": how.note,
            "amount": how.amount, "currency": how.currency,
        }  # fmt: skip
        resolved = await self.http.post(f"{page}/resolve", data=fields)
        if resolved.status_code == 409:
            return False
        _redirected(resolved)
        return True


def _redirected(answer: httpx.Response) -> None:
    """A form post that worked answers with a redirect to the case page."""
    if not answer.is_redirect:
        raise RuntimeError(f"the console answered HTTP {answer.status_code} to {answer.request.url.path}")
