"""The time zone lookup every service shares."""

from __future__ import annotations

from wom_chassis.time_zones import time_zone


def test_a_time_zone_that_is_no_zone_falls_back_to_the_default() -> None:
    assert time_zone("Europe/Chisinau", "UTC").key == "Europe/Chisinau"
    # empty, unknown, a path and a folder of the tz database (which ZoneInfo reads as a file)
    for name in (None, "", "Mars/Olympus", "../etc", "Europe"):
        assert time_zone(name, "Europe/Stockholm").key == "Europe/Stockholm"
    assert time_zone(None).key == "UTC"
