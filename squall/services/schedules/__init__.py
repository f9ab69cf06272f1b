"""EventBridge schedule expressions: parsing, fire times, catch-up after a restart, and the Scheduled Event.

`parse_schedule("cron(0 12 * * ? *)")` returns a Schedule whose `next_after`
gives the next fire time; `due_ticks` says what to fire after a restart, and
`scheduled_event` builds the event a function receives.
"""

from __future__ import annotations

from squall.services.schedules.catchup import due_ticks
from squall.services.schedules.cron import CronSchedule
from squall.services.schedules.errors import InvalidScheduleExpression
from squall.services.schedules.events import DEFAULT_ACCOUNT, DEFAULT_REGION, scheduled_event
from squall.services.schedules.expressions import parse_schedule
from squall.services.schedules.model import UTC, Schedule
from squall.services.schedules.rate import DEFAULT_RATE_START, RateSchedule
from squall.services.schedules.timezones import DEFAULT_TIME_ZONE, resolve_time_zone

__all__ = [
    "DEFAULT_ACCOUNT",
    "DEFAULT_RATE_START",
    "DEFAULT_REGION",
    "DEFAULT_TIME_ZONE",
    "UTC",
    "CronSchedule",
    "InvalidScheduleExpression",
    "RateSchedule",
    "Schedule",
    "due_ticks",
    "parse_schedule",
    "resolve_time_zone",
    "scheduled_event",
]
