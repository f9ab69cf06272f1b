"""Time zone names a cron schedule can be evaluated in."""

from __future__ import annotations

import pytest

from squall.services.errors import InvalidParameter
from squall.services.schedules import DEFAULT_TIME_ZONE, resolve_time_zone


@pytest.mark.parametrize("name", [DEFAULT_TIME_ZONE, "America/New_York", "Europe/Paris", "Asia/Kolkata"])
def test_iana_name_resolves(name: str) -> None:
    assert resolve_time_zone(name).key == name


@pytest.mark.parametrize(
    "name", ["", "Mars/Olympus", "utc", "America", "../etc/passwd", "/etc/localtime", "zone.tab"]
)
def test_invalid_name_rejected(name: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        resolve_time_zone(name)

    assert repr(name) in caught.value.message
    assert "America/New_York" in caught.value.message
