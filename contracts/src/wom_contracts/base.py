"""The base of every event model."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from wom_contracts.types import Id

__all__ = ["Event"]


class Event(BaseModel):
    """An event: its type is its topic, its customer id its Kafka key and `ce_subject`.

    Unknown fields are ignored (a publisher may add optional fields in a compatible change);
    known fields are validated strictly.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_type: ClassVar[str]
    customer_id: Id
