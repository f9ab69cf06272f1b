"""Parsing of the six fields of an EventBridge `cron(...)` expression into sets of allowed values.

The field syntax follows the EventBridge cron reference. Every field accepts
`,` lists, `-` ranges and `*`, and every field but day-of-week accepts `/`
steps. Day-of-month also accepts `?`, `L` and `W`, and day-of-week accepts
`?`, `L` and `#`. Month and day names are case-insensitive, as the EventBridge
console accepts `mon` and `Mon` as well as `MON`.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
# EventBridge numbers the days of the week from 1 (Sunday) to 7 (Saturday).
DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
SUNDAY = 1
SATURDAY = 7


class FieldError(ValueError):
    """Raised by the field parsers with the reason a field is invalid; the caller adds the expression."""


@dataclass(frozen=True)
class FieldSpec:
    """The name, value range and accepted names of one cron field."""

    name: str
    low: int
    high: int
    # Names of the values from `low` upwards, if the field accepts names.
    names: tuple[str, ...] = ()
    allows_step: bool = True

    def describe_range(self) -> str:
        """Return the valid values as the EventBridge reference writes them, e.g. `1-12 or JAN-DEC`."""
        numbers = f"{self.low}-{self.high}"
        if not self.names:
            return numbers
        return f"{numbers} or {self.names[0]}-{self.names[-1]}"


MINUTES = FieldSpec("minutes", 0, 59)
HOURS = FieldSpec("hours", 0, 23)
DAY_OF_MONTH = FieldSpec("day-of-month", 1, 31)
MONTH = FieldSpec("month", 1, 12, names=MONTH_NAMES)
DAY_OF_WEEK = FieldSpec("day-of-week", 1, 7, names=DAY_NAMES, allows_step=False)
YEAR = FieldSpec("year", 1970, 2199)


class DayOfMonthKind(Enum):
    """The form of a day-of-month field."""

    ANY = "?"
    DAYS = "days"
    LAST_DAY = "L"
    LAST_WEEKDAY = "LW"
    NEAREST_WEEKDAY = "nW"


class DayOfWeekKind(Enum):
    """The form of a day-of-week field."""

    ANY = "?"
    DAYS = "days"
    LAST_IN_MONTH = "nL"
    NTH_IN_MONTH = "n#k"


@dataclass(frozen=True)
class DayOfMonthRule:
    """A parsed day-of-month field: a set of days, or one of the `L` and `W` forms."""

    kind: DayOfMonthKind
    days: frozenset[int] = frozenset()
    # The day whose nearest weekday fires, for `nW`.
    day: int = 0

    def matching_days(self, year: int, month: int) -> list[int]:
        """Return the days of `month` that this field selects, in order."""
        last = calendar.monthrange(year, month)[1]
        if self.kind is DayOfMonthKind.DAYS:
            return sorted(day for day in self.days if day <= last)
        if self.kind is DayOfMonthKind.LAST_DAY:
            return [last]
        if self.kind is DayOfMonthKind.LAST_WEEKDAY:
            return [_nearest_weekday(year, month, last, last)]
        if self.kind is DayOfMonthKind.NEAREST_WEEKDAY:
            # NOTE: `31W` selects nothing in a shorter month; the EventBridge
            # documentation does not say what it does there.
            if self.day > last:
                return []
            return [_nearest_weekday(year, month, self.day, last)]
        return list(range(1, last + 1))


@dataclass(frozen=True)
class DayOfWeekRule:
    """A parsed day-of-week field: a set of weekdays, or the last or n-th such weekday of the month."""

    kind: DayOfWeekKind
    weekdays: frozenset[int] = frozenset()
    # The weekday (1 = Sunday) and its occurrence in the month, for `nL` and `n#k`.
    weekday: int = 0
    nth: int = 0

    def matching_days(self, year: int, month: int) -> list[int]:
        """Return the days of `month` that this field selects, in order."""
        last = calendar.monthrange(year, month)[1]
        all_days = range(1, last + 1)
        if self.kind is DayOfWeekKind.DAYS:
            return [day for day in all_days if weekday_number(year, month, day) in self.weekdays]

        same_weekday = [day for day in all_days if weekday_number(year, month, day) == self.weekday]
        if self.kind is DayOfWeekKind.LAST_IN_MONTH:
            return same_weekday[-1:]
        if self.kind is DayOfWeekKind.NTH_IN_MONTH:
            return same_weekday[self.nth - 1 : self.nth]
        return list(all_days)


def weekday_number(year: int, month: int, day: int) -> int:
    """Return the EventBridge day-of-week number of a date: 1 for Sunday to 7 for Saturday."""
    # calendar.weekday counts Monday as 0 and Sunday as 6.
    return (calendar.weekday(year, month, day) + 1) % 7 + 1


def _nearest_weekday(year: int, month: int, day: int, last: int) -> int:
    """Return the Monday-to-Friday day closest to `day` without leaving the month."""
    weekday = weekday_number(year, month, day)
    if weekday == SATURDAY:
        return day + 2 if day == 1 else day - 1
    if weekday == SUNDAY:
        return day - 2 if day == last else day + 1
    return day


def parse_values(text: str, spec: FieldSpec) -> frozenset[int]:
    """Parse a list of values, ranges and steps such as `0/15`, `MON-FRI` or `1,15,20-25`."""
    values: set[int] = set()
    for item in text.split(","):
        values.update(_parse_item(item, spec))
    return frozenset(values)


def _parse_item(item: str, spec: FieldSpec) -> Sequence[int]:
    if not item:
        raise FieldError(f"{spec.name} field contains an empty list item")

    base, slash, step_text = item.partition("/")
    step = 1
    if slash:
        if not spec.allows_step:
            raise FieldError(f"{spec.name} field {item!r} uses '/', which {spec.name} does not accept")
        step = _parse_step(step_text, item, spec)

    if base == "*":
        return range(spec.low, spec.high + 1, step)

    first_text, dash, last_text = base.partition("-")
    first = parse_value(first_text, spec)
    if not dash:
        # `a/n` runs from a to the end of the field; a plain `a` is one value.
        return range(first, (spec.high if slash else first) + 1, step)

    last = parse_value(last_text, spec)
    if first <= last:
        return range(first, last + 1, step)
    if spec is YEAR:
        raise FieldError(f"{spec.name} range {base!r} runs backwards: write the smaller year first")
    # A range that ends before it starts wraps around, as in Quartz, whose
    # syntax EventBridge follows: FRI-MON is FRI, SAT, SUN, MON, and 22-2 spans midnight.
    # NOTE: EventBridge's documentation shows no such range; the Serverless
    # Framework's own example `SAT-SUN` relies on it.
    wrapped = [*range(first, spec.high + 1), *range(spec.low, last + 1)]
    return wrapped[::step]


def _parse_step(text: str, item: str, spec: FieldSpec) -> int:
    largest = spec.high - spec.low + 1
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= largest:
        raise FieldError(f"{spec.name} step in {item!r} is invalid: use a whole number from 1 to {largest}")
    return int(text)


def parse_value(text: str, spec: FieldSpec) -> int:
    """Parse one number or name of a field and check it is in the field's range."""
    if text.isascii() and text.isdigit():
        value = int(text)
        if not spec.low <= value <= spec.high:
            raise FieldError(f"{spec.name} value {text!r} is out of range: use {spec.describe_range()}")
        return value
    if text.upper() in spec.names:
        return spec.low + spec.names.index(text.upper())
    raise FieldError(f"{spec.name} value {text!r} is invalid: use {spec.describe_range()}")


_NEAREST_WEEKDAY = re.compile(r"([0-9]+)W")
_LAST_WEEKDAY_OF_MONTH = re.compile(r"([0-9]+|[A-Z]{3})L")
_NTH_WEEKDAY = re.compile(r"([0-9]+|[A-Z]{3})#([0-9]+)")


def parse_day_of_month(text: str) -> DayOfMonthRule:
    """Parse the day-of-month field: `?`, `L`, `LW`, `nW` or a list of days."""
    upper = text.upper()
    if upper == "?":
        return DayOfMonthRule(DayOfMonthKind.ANY)
    if upper == "L":
        return DayOfMonthRule(DayOfMonthKind.LAST_DAY)
    if upper == "LW":
        return DayOfMonthRule(DayOfMonthKind.LAST_WEEKDAY)

    nearest = _NEAREST_WEEKDAY.fullmatch(upper)
    if nearest is not None:
        return DayOfMonthRule(DayOfMonthKind.NEAREST_WEEKDAY, day=parse_value(nearest.group(1), DAY_OF_MONTH))
    if "L" in upper or "W" in upper:
        raise FieldError(
            f"day-of-month field {text!r} is invalid: "
            "'L', 'LW' and 'nW' (e.g. 15W) must stand alone in the field"
        )
    return DayOfMonthRule(DayOfMonthKind.DAYS, days=parse_values(text, DAY_OF_MONTH))


def parse_day_of_week(text: str) -> DayOfWeekRule:
    """Parse the day-of-week field: `?`, `L`, `nL`, `n#k` or a list of weekdays."""
    upper = text.upper()
    if upper == "?":
        return DayOfWeekRule(DayOfWeekKind.ANY)
    if upper == "L":
        # On its own, L is the last day of the week.
        return DayOfWeekRule(DayOfWeekKind.DAYS, weekdays=frozenset({SATURDAY}))

    last = _LAST_WEEKDAY_OF_MONTH.fullmatch(upper)
    if last is not None:
        return DayOfWeekRule(DayOfWeekKind.LAST_IN_MONTH, weekday=parse_value(last.group(1), DAY_OF_WEEK))

    nth = _NTH_WEEKDAY.fullmatch(upper)
    if nth is not None:
        occurrence = nth.group(2)
        if not (occurrence.isdigit() and 1 <= int(occurrence) <= 5):
            raise FieldError(f"day-of-week field {text!r} is invalid: the number after '#' must be 1 to 5")
        return DayOfWeekRule(
            DayOfWeekKind.NTH_IN_MONTH, weekday=parse_value(nth.group(1), DAY_OF_WEEK), nth=int(occurrence)
        )

    if "#" in upper or "L" in upper:
        raise FieldError(
            f"day-of-week field {text!r} is invalid: 'L', 'nL' (e.g. 6L) and 'n#k' (e.g. MON#2) "
            "must stand alone in the field"
        )
    return DayOfWeekRule(DayOfWeekKind.DAYS, weekdays=parse_values(text, DAY_OF_WEEK))
