"""`cron(...)` expressions: fire times matched field by field in a time zone's wall-clock time."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from squall.services.schedules.cron_fields import (
    HOURS,
    MINUTES,
    MONTH,
    YEAR,
    DayOfMonthKind,
    DayOfMonthRule,
    DayOfWeekKind,
    DayOfWeekRule,
    FieldError,
    parse_day_of_month,
    parse_day_of_week,
    parse_values,
)
from squall.services.schedules.errors import CRON_USAGE, InvalidScheduleExpression
from squall.services.schedules.model import UTC, Schedule, require_aware

FIELD_COUNT = 6
ONE_MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class CronSchedule(Schedule):
    """A schedule that fires at every minute whose wall-clock time matches all six fields.

    Daylight saving follows EventBridge Scheduler: a time that a spring-forward
    gap skips does not fire that day, and a time that a fall-back change repeats
    fires once, at its first occurrence.
    """

    expression: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    day_of_month: DayOfMonthRule
    months: tuple[int, ...]
    day_of_week: DayOfWeekRule
    years: tuple[int, ...]
    start: datetime | None = None

    def next_after(self, after: datetime, tz: tzinfo = UTC) -> datetime | None:
        after_utc = require_aware(after, "after")
        earliest = after_utc
        if self.start is not None:
            # A tick exactly at `start` fires, so search from just before it.
            earliest = max(after_utc, require_aware(self.start, "start") - timedelta(microseconds=1))

        cursor = _wall_minute(earliest, tz)
        while True:
            wall = next(self._wall_times(cursor, forward=True), None)
            if wall is None:
                return None
            fire = _instant_of(wall, tz)
            # A match at or before `earliest` is either the minute `earliest` falls
            # in or the first pass of a repeated hour that has already gone by.
            if fire is not None and fire > earliest:
                return fire
            cursor = wall + ONE_MINUTE

    def last_at_or_before(self, moment: datetime, tz: tzinfo = UTC) -> datetime | None:
        moment_utc = require_aware(moment, "moment")
        start_utc = None if self.start is None else require_aware(self.start, "start")

        # Inside the second pass of a repeated hour, the first pass's wall times
        # are later on the clock but earlier in time, so the search starts that
        # much later on the clock.
        local = moment_utc.astimezone(tz)
        first_pass_offset = local.replace(fold=0).utcoffset() or timedelta()
        clock_shift = max(first_pass_offset - (local.utcoffset() or timedelta()), timedelta())
        cursor = local.replace(tzinfo=None, second=0, microsecond=0) + clock_shift

        while True:
            wall = next(self._wall_times(cursor, forward=False), None)
            if wall is None:
                return None
            fire = _instant_of(wall, tz)
            if fire is not None and start_utc is not None and fire < start_utc:
                return None
            if fire is not None and fire <= moment_utc:
                return fire
            cursor = wall - ONE_MINUTE

    def _wall_times(self, cursor: datetime, *, forward: bool) -> Iterator[datetime]:
        """Yield matching naive wall-clock times from `cursor` on, later ones first when not `forward`."""
        def ordered(values: tuple[int, ...] | list[int]) -> list[int]:
            return list(values) if forward else list(reversed(values))

        def reached(candidate: tuple[int, ...]) -> bool:
            bound = (cursor.year, cursor.month, cursor.day, cursor.hour, cursor.minute)[: len(candidate)]
            return candidate >= bound if forward else candidate <= bound

        for year in ordered(self.years):
            if not reached((year,)):
                continue
            for month in ordered(self.months):
                if not reached((year, month)):
                    continue
                for day in ordered(self._days(year, month)):
                    if not reached((year, month, day)):
                        continue
                    for hour in ordered(self.hours):
                        if not reached((year, month, day, hour)):
                            continue
                        for minute in ordered(self.minutes):
                            if reached((year, month, day, hour, minute)):
                                yield datetime(year, month, day, hour, minute)

    def _days(self, year: int, month: int) -> list[int]:
        # Exactly one of the two day fields is `?`, so the other one decides.
        if self.day_of_month.kind is DayOfMonthKind.ANY:
            return self.day_of_week.matching_days(year, month)
        return self.day_of_month.matching_days(year, month)


def _wall_minute(moment_utc: datetime, tz: tzinfo) -> datetime:
    """Return the naive wall-clock minute in `tz` that contains `moment_utc`."""
    return moment_utc.astimezone(tz).replace(tzinfo=None, second=0, microsecond=0)


def _instant_of(wall: datetime, tz: tzinfo) -> datetime | None:
    """Return the UTC instant of a wall-clock time in `tz`, or None when a clock change skips it.

    `fold=0` picks the first occurrence of a repeated time.
    """
    local = wall.replace(tzinfo=tz, fold=0)
    instant = local.astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) != wall:
        return None
    return instant


def parse_cron(expression: str, start: datetime | None = None) -> CronSchedule:
    """Parse `cron(minutes hours day-of-month month day-of-week year)`, or raise InvalidScheduleExpression."""
    if not (expression.startswith("cron(") and expression.endswith(")")):
        raise InvalidScheduleExpression(
            expression, "the expression must end with ')', with nothing after it", CRON_USAGE
        )

    fields = expression[len("cron(") : -1].split(" ")
    if len(fields) != FIELD_COUNT or not all(fields):
        raise InvalidScheduleExpression(
            expression, f"expected {FIELD_COUNT} fields separated by single spaces", CRON_USAGE
        )
    minutes, hours, day_of_month, month, day_of_week, year = fields

    try:
        schedule = CronSchedule(
            expression=expression,
            minutes=tuple(sorted(parse_values(minutes, MINUTES))),
            hours=tuple(sorted(parse_values(hours, HOURS))),
            day_of_month=parse_day_of_month(day_of_month),
            months=tuple(sorted(parse_values(month, MONTH))),
            day_of_week=parse_day_of_week(day_of_week),
            years=tuple(sorted(parse_values(year, YEAR))),
            start=start,
        )
    except FieldError as error:
        raise InvalidScheduleExpression(expression, str(error), CRON_USAGE) from None

    day_fields_any = (
        schedule.day_of_month.kind is DayOfMonthKind.ANY,
        schedule.day_of_week.kind is DayOfWeekKind.ANY,
    )
    if day_fields_any == (True, True):
        raise InvalidScheduleExpression(
            expression, "day-of-month and day-of-week are both '?': set one of them", CRON_USAGE
        )
    if day_fields_any == (False, False):
        raise InvalidScheduleExpression(
            expression,
            f"day-of-month {day_of_month!r} and day-of-week {day_of_week!r} are both set: "
            "use '?' in one of them",
            CRON_USAGE,
        )
    return schedule
