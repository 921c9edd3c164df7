"""Paging of list endpoints: `limit` and `offset` from the query, both bounded, so a huge offset
is a 422 and never reaches the database (SQLite takes no integer above 2^63 - 1).

No `from __future__ import annotations` here: the bounds are read from the annotations at run time."""

from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query

T = TypeVar("T")

__all__ = ["MAX_OFFSET", "Page", "paging"]

MAX_OFFSET = 1_000_000_000


@dataclass(frozen=True)
class Page:
    """Which slice of a list to answer."""

    limit: int
    offset: int

    def of(self, items: list[T]) -> list[T]:
        """The page's slice of `items`."""
        return items[self.offset : self.offset + self.limit]


def paging(*, default: int = 100, maximum: int = 1000) -> Any:
    """A FastAPI dependency (`page: Annotated[Page, paging(maximum=500)]`) reading the page from
    `limit` (1..maximum) and `offset` (0..MAX_OFFSET)."""

    def page(
        limit: Annotated[int, Query(ge=1, le=maximum, description="how many items at most")] = default,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="how many items to skip")] = 0,
    ) -> Page:
        return Page(limit, offset)

    return Depends(page)
