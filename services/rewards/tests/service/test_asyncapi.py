"""The AsyncAPI document rewards serves is the committed one (contracts/asyncapi/rewards.json)."""

from __future__ import annotations

from wom_chassis import Service
from wom_testkit.services import asyncapi_served_and_committed


async def test_the_served_asyncapi_document_is_the_committed_one(rewards: Service) -> None:
    served, committed = await asyncapi_served_and_committed(rewards)
    assert served == committed, "run `make schemas` and commit contracts/asyncapi/rewards.json"
