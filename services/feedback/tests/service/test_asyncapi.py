"""The AsyncAPI document feedback serves is the committed one (contracts/asyncapi/feedback.json)."""

from __future__ import annotations

from wom_chassis import Service
from wom_testkit.services import asyncapi_served_and_committed


async def test_the_served_asyncapi_document_is_the_committed_one(feedback: Service) -> None:
    served, committed = await asyncapi_served_and_committed(feedback)
    assert served == committed, "run `make schemas` and commit contracts/asyncapi/feedback.json"
