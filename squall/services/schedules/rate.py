"""`rate(value unit)` expressions: a tick every fixed duration, counted from a start time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from squall.services.schedules.errors import RATE_USAGE, InvalidScheduleExpression
from squall.services.schedules.model import UTC, Schedule, require_aware

# A rate schedule given no start counts from the Unix epoch, so its ticks sit on
# the same grid after every restart: rate(5 minutes) fires at :00, :05, :10...
DEFAULT_RATE_START = datetime(1970, 1, 1, tzinfo=UTC)

_SINGULAR_UNITS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}
_PLURAL_UNITS = {unit + "s": length for unit, length in _SINGULAR_UNITS.items()}


@dataclass(frozen=True)
class RateSchedule(Schedule):
    """A schedule that fires at `start`, then every `interval`.

    EventBridge Scheduler counts a day as 24 hours even across a daylight saving
    change, so ticks are fixed durations in UTC and no time zone moves them.
    """

    expression: str
    interval: timedelta
    start: datetime | None = None

    def next_after(self, after: datetime, tz: tzinfo = UTC) -> datetime | None:
        after_utc = require_aware(after, "after")
        origin = self._origin()
        if after_utc < origin:
            return origin

        ticks_passed = (after_utc - origin) // self.interval + 1
        try:
            return origin + ticks_passed * self.interval
        except OverflowError:
            return None

    def last_at_or_before(self, moment: datetime, tz: tzinfo = UTC) -> datetime | None:
        moment_utc = require_aware(moment, "moment")
        origin = self._origin()
        if moment_utc < origin:
            return None
        return origin + (moment_utc - origin) // self.interval * self.interval

    def _origin(self) -> datetime:
        if self.start is None:
            return DEFAULT_RATE_START
        return require_aware(self.start, "start")


def parse_rate(expression: str, start: datetime | None = None) -> RateSchedule:
    """Parse `rate(value unit)`, or raise InvalidScheduleExpression naming what is wrong."""
    if not (expression.startswith("rate(") and expression.endswith(")")):
        raise InvalidScheduleExpression(
            expression, "the expression must end with ')', with nothing after it", RATE_USAGE
        )

    parts = expression[len("rate(") : -1].split(" ")
    if len(parts) != 2 or not all(parts):
        raise InvalidScheduleExpression(
            expression, "expected a value and a unit separated by one space inside the brackets", RATE_USAGE
        )
    value_text, unit = parts

    if not value_text.isascii() or not value_text.isdigit() or int(value_text) == 0:
        raise InvalidScheduleExpression(
            expression, f"value {value_text!r} is not a whole number above 0", RATE_USAGE
        )
    value = int(value_text)

    # EventBridge requires the singular unit for 1 and the plural for anything else.
    units = _SINGULAR_UNITS if value == 1 else _PLURAL_UNITS
    if unit not in units:
        raise InvalidScheduleExpression(
            expression, f"unit {unit!r} is invalid for the value {value}", RATE_USAGE
        )

    try:
        interval = value * units[unit]
    except OverflowError:
        raise InvalidScheduleExpression(
            expression, f"value {value} is too large for a duration in {unit}", RATE_USAGE
        ) from None
    return RateSchedule(expression=expression, interval=interval, start=start)
