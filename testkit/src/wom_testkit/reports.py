"""What every analytics endpoint must answer to a bad period: one check for every service."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from httpx import AsyncClient

__all__ = ["assert_bad_periods_refused"]


async def assert_bad_periods_refused(
    client: AsyncClient, paths: Iterable[str], headers: Mapping[str, str]
) -> None:
    """Each path answers a period that runs backwards, one longer than 366 days and a `to` that
    is not a date with a 422 in the one error shape, the first naming the field and the rule."""
    for path in paths:
        backwards = await client.get(path, params={"from": "2026-11-08", "to": "2026-11-07"}, headers=headers)
        assert backwards.status_code == 422, path
        assert backwards.json()["detail"] == [
            {
                "loc": ["query", "from"],
                "msg": "'from' (2026-11-08) is after 'to' (2026-11-07)",
                "type": "period_invalid",
            }
        ], path
        too_long = await client.get(path, params={"from": "2025-11-01", "to": "2026-11-02"}, headers=headers)
        assert (
            too_long.status_code == 422 and "longer than 366 days" in too_long.json()["detail"][0]["msg"]
        ), path
        not_a_date = await client.get(path, params={"to": "soon"}, headers=headers)
        assert not_a_date.status_code == 422, path
        assert not_a_date.json()["detail"][0]["loc"] == ["query", "to"], path
