"""The time zone a customer lives in, from the IANA name their events carry."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["time_zone"]


def time_zone(name: str | None, default: str = "UTC") -> ZoneInfo:
    """The IANA zone `name`, or `default` when it is empty or names no zone this machine's tz
    database knows (one from a newer database, or a folder of it such as `Europe`)."""
    try:
        return ZoneInfo(name or default)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder, read as a file
        return ZoneInfo(default)
