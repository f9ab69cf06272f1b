"""Validation of the IANA time zone names that cron schedules are evaluated in."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from squall.services.errors import InvalidParameter

DEFAULT_TIME_ZONE = "UTC"


def resolve_time_zone(name: str) -> ZoneInfo:
    """Return the time zone called `name` (e.g. `Europe/Paris`), or raise InvalidParameter.

    Names come from the IANA time zone database that `zoneinfo` reads: the
    system's copy, or the `tzdata` package where the system has none.
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # ValueError covers malformed keys (absolute or `..` paths) and files
        # in the database folder that are not zones, such as `zone.tab`.
        raise InvalidParameter(
            f"time zone {name!r} is invalid: use an IANA time zone name such as "
            "'UTC', 'Europe/Paris' or 'America/New_York' (names are case-sensitive)"
        ) from None
