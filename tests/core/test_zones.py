"""A visitor's zone name is accepted only when the tz database lists it."""
from zoneinfo import ZoneInfo

import pytest

from capture.core.zones import known_zone, shown_zone, zone_label

LONDON = ZoneInfo("Europe/London")


@pytest.mark.parametrize("name", ["America/New_York", "Asia/Kolkata", "UTC", "Europe/London"])
def test_listed_names_are_zones(name):
    assert known_zone(name) == ZoneInfo(name)


@pytest.mark.parametrize("name", ["", None, "../../etc/passwd", "UTC+5", "Mars/Olympus", "america/new_york",
                                  "Europe/London\n", "A" * 200])
def test_anything_else_is_refused(name):
    assert known_zone(name) is None


def test_a_booking_without_a_known_zone_is_shown_in_the_studios():
    assert shown_zone(None, LONDON) is LONDON
    assert shown_zone("Nowhere/Else", LONDON) is LONDON
    assert shown_zone("America/New_York", LONDON) == ZoneInfo("America/New_York")


def test_the_label_is_the_place():
    assert zone_label(ZoneInfo("America/New_York")) == "New York"
    assert zone_label(ZoneInfo("UTC")) == "UTC"
