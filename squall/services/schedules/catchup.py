"""The catch-up policy: the ticks of a schedule to fire now, in normal running or after the server was down."""

from __future__ import annotations

import logging
from datetime import datetime, tzinfo

from squall.services.schedules.model import UTC, Schedule, require_aware

logger = logging.getLogger(__name__)


def due_ticks(
    schedule: Schedule, last_fired: datetime | None, now: datetime, tz: tzinfo = UTC
) -> list[datetime]:
    """Return the ticks to fire at `now`: an empty list or the single latest tick that is due.

    Catch-up policy: the due ticks are those after `last_fired` and at or before
    `now`. Ticks missed while the server was down are not replayed one by one.
    If one or more are due, only the latest fires, so a daily job still runs
    once after a night of downtime, and the caller then records that tick as
    `last_fired` so that the normal schedule resumes from it. In normal running
    the scheduler wakes at each tick and this returns exactly that tick.

    `last_fired` is the scheduled time (not the wall-clock time of delivery) of
    the last tick that fired. None means the schedule has never fired: ticks
    from the schedule's `start` on are then due, and a schedule without a
    `start` has nothing it could have missed, so the result is empty.
    `tz` is the time zone its cron fields are read in. Every datetime must be
    aware; the ticks returned are in UTC.
    """
    now_utc = require_aware(now, "now")
    last_fired_utc = None if last_fired is None else require_aware(last_fired, "last_fired")
    if last_fired_utc is None and schedule.start is None:
        return []

    latest = schedule.last_at_or_before(now_utc, tz)
    if latest is None:
        return []
    if last_fired_utc is not None and latest <= last_fired_utc:
        return []

    if last_fired_utc is not None:
        following = schedule.next_after(last_fired_utc, tz)
        if following is not None and following < latest:
            logger.info(
                "schedule %s fires only its latest missed tick, %s, and drops the ticks from %s before it",
                schedule.expression,
                latest.isoformat(),
                following.isoformat(),
            )
    return [latest]
