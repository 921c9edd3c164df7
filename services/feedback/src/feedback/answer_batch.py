"""What a run of survey answers reads once: erased customers, known answers, tiers, open cases."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from wom_chassis.privacy import erased_among
from wom_contracts import ResponseSubmittedV1

from feedback.models import Case, CustomerTier, ErasedCustomer, Response

__all__ = ["AnswerBatch", "load_answer_batch"]


@dataclass
class AnswerBatch:
    """What a run of answers needs, read once and kept current by the handler as it writes
    (a known answer, a case opened or joined)."""

    erased: set[str]
    known_responses: set[str]
    tiers: dict[str, str]
    """the tier of each customer of the run who has one"""
    open_cases: dict[str, Case]
    """the open case of each customer of the run who has one"""


async def load_answer_batch(session: AsyncSession, answers: Sequence[ResponseSubmittedV1]) -> AnswerBatch:
    """Everything a run of answers reads, in one query per table."""
    customers = list({answer.customer_id for answer in answers})
    response_ids = [answer.response_id for answer in answers]
    known = set(
        await session.scalars(select(Response.response_id).where(Response.response_id.in_(response_ids)))
    )
    tiers = await session.execute(
        select(CustomerTier.customer_id, CustomerTier.tier).where(CustomerTier.customer_id.in_(customers))
    )
    open_cases = await session.scalars(select(Case).where(Case.open_for.in_(customers)))
    return AnswerBatch(
        erased=await erased_among(session, ErasedCustomer, customers),
        known_responses=known,
        tiers={customer_id: tier for customer_id, tier in tiers},
        open_cases={case.customer_id: case for case in open_cases},
    )
