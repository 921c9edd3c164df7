"""The AsyncAPI document referrals serves is the committed one (contracts/asyncapi/referrals.json)."""

from __future__ import annotations

from wom_chassis import Service
from wom_testkit.services import asyncapi_served_and_committed


async def test_the_served_asyncapi_document_is_the_committed_one(referrals: Service) -> None:
    served, committed = await asyncapi_served_and_committed(referrals)
    assert served == committed, "run `make schemas` and commit contracts/asyncapi/referrals.json"
