"""Fire times of cron and rate schedules, in UTC and across daylight saving changes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from squall.services.schedules import DEFAULT_RATE_START, UTC, RateSchedule, parse_schedule

NEW_YORK = ZoneInfo("America/New_York")
KOLKATA = ZoneInfo("Asia/Kolkata")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        # Strictly after: a tick exactly at `after` is not returned again.
        ("cron(0 12 * * ? *)", utc(2024, 1, 1, 12, 0), utc(2024, 1, 2, 12, 0)),
        ("cron(0 12 * * ? *)", utc(2024, 1, 1, 11, 59, 59), utc(2024, 1, 1, 12, 0)),
        ("cron(5,35 14 * * ? *)", utc(2024, 1, 1, 14, 5), utc(2024, 1, 1, 14, 35)),
        ("cron(0/15 * * * ? *)", utc(2024, 1, 1, 10, 50), utc(2024, 1, 1, 11, 0)),
        ("cron(*/20 * * * ? *)", utc(2024, 1, 1, 10, 41), utc(2024, 1, 1, 11, 0)),
        ("cron(1/10 * * * ? *)", utc(2024, 1, 1, 10, 1), utc(2024, 1, 1, 10, 11)),
        ("cron(0 0 1-31/10 * ? *)", utc(2024, 1, 21, 0, 0), utc(2024, 1, 31, 0, 0)),
        ("cron(0 8 1 * ? *)", utc(2024, 1, 1, 8, 0), utc(2024, 2, 1, 8, 0)),
        # 2024-01-05 is a Friday, so the next weekday evening is Monday the 8th.
        ("cron(0 18 ? * MON-FRI *)", utc(2024, 1, 5, 18, 0), utc(2024, 1, 8, 18, 0)),
        ("cron(0 18 ? * mon-fri *)", utc(2024, 1, 5, 18, 0), utc(2024, 1, 8, 18, 0)),
        # Ranges that end before they start wrap around: SAT-SUN is the weekend,
        # and 22-2 runs across midnight. 2024-01-06 is a Saturday.
        ("cron(0 2 ? * SAT-SUN *)", utc(2024, 1, 6, 2, 0), utc(2024, 1, 7, 2, 0)),
        ("cron(0 2 ? * SAT-SUN *)", utc(2024, 1, 7, 2, 0), utc(2024, 1, 13, 2, 0)),
        ("cron(0 22-2 * * ? *)", utc(2024, 1, 1, 2, 0), utc(2024, 1, 1, 22, 0)),
        ("cron(0 22-2 * * ? *)", utc(2024, 1, 1, 23, 0), utc(2024, 1, 2, 0, 0)),
        # Day 1 is Sunday: 2024-01-07 is a Sunday.
        ("cron(0 9 ? * 1 *)", utc(2024, 1, 1), utc(2024, 1, 7, 9, 0)),
        ("cron(0 0 ? * L *)", utc(2024, 1, 1), utc(2024, 1, 6, 0, 0)),
        ("cron(0 2 ? * SAT#3 *)", utc(2024, 1, 1), utc(2024, 1, 20, 2, 0)),
        # January 2024 has no fifth Tuesday; April 2024 is the next month with one.
        ("cron(0 0 ? * TUE#5 *)", utc(2024, 1, 31), utc(2024, 4, 30, 0, 0)),
        ("cron(15 10 ? * 6L 2002-2005)", utc(2002, 1, 1), utc(2002, 1, 25, 10, 15)),
        ("cron(15 10 ? * 6L 2002-2005)", utc(2005, 12, 30, 10, 15), None),
        ("cron(15 10 ? * 6L 2002-2005)", utc(2024, 1, 1), None),
        ("cron(0/5 5 ? JAN 1-5 2022)", utc(2022, 1, 1), utc(2022, 1, 2, 5, 0)),
        ("cron(0/5 5 ? JAN 1-5 2022)", utc(2022, 1, 31, 5, 50), utc(2022, 1, 31, 5, 55)),
        ("cron(0/5 5 ? JAN 1-5 2022)", utc(2022, 1, 31, 5, 55), None),
        ("cron(0 0 L * ? *)", utc(2024, 2, 1), utc(2024, 2, 29, 0, 0)),
        ("cron(0 0 L * ? *)", utc(2023, 2, 1), utc(2023, 2, 28, 0, 0)),
        # 2024-08-31 is a Saturday, so the last weekday is Friday the 30th.
        ("cron(0 0 LW * ? *)", utc(2024, 8, 1), utc(2024, 8, 30, 0, 0)),
        # 2024-06-01 is a Saturday: the nearest weekday in June is Monday the 3rd.
        ("cron(0 0 1W * ? *)", utc(2024, 5, 31), utc(2024, 6, 3, 0, 0)),
        # 2024-09-15 is a Sunday: the nearest weekday is Monday the 16th.
        ("cron(0 0 15W * ? *)", utc(2024, 9, 1), utc(2024, 9, 16, 0, 0)),
        # 2024-06-15 is a Saturday: the nearest weekday is Friday the 14th.
        ("cron(0 0 15W * ? *)", utc(2024, 6, 1), utc(2024, 6, 14, 0, 0)),
        # 2025-08-31 is a Sunday and the last day: the nearest weekday is Friday the 29th.
        ("cron(0 0 31W * ? *)", utc(2025, 8, 1), utc(2025, 8, 29, 0, 0)),
        ("cron(0 0 29 2 ? *)", utc(2024, 3, 1), utc(2028, 2, 29, 0, 0)),
        ("cron(0 0 31 2 ? *)", utc(2024, 1, 1), None),
        ("cron(0 0 1 1 ? *)", utc(2199, 1, 1), None),
        ("cron(0 0 1 1 ? 2020/5)", utc(2021, 1, 1), utc(2025, 1, 1, 0, 0)),
    ],
)
def test_cron_next_after_in_utc(expression: str, after: datetime, expected: datetime | None) -> None:
    assert parse_schedule(expression).next_after(after) == expected


def test_next_after_returns_utc() -> None:
    fire = parse_schedule("cron(0 9 * * ? *)").next_after(utc(2024, 1, 1), NEW_YORK)

    assert fire is not None
    assert fire.utcoffset() == timedelta(0)


def test_cron_fields_read_in_time_zone() -> None:
    schedule = parse_schedule("cron(0 9 * * ? *)")

    assert schedule.next_after(utc(2024, 1, 1), KOLKATA) == utc(2024, 1, 1, 3, 30)
    assert schedule.next_after(utc(2024, 1, 1), NEW_YORK) == utc(2024, 1, 1, 14, 0)
    assert schedule.next_after(utc(2024, 7, 1), NEW_YORK) == utc(2024, 7, 1, 13, 0)


def test_after_in_another_zone_is_same_instant() -> None:
    schedule = parse_schedule("cron(0 12 * * ? *)")
    after = datetime(2024, 1, 1, 7, 0, tzinfo=NEW_YORK)

    assert schedule.next_after(after) == utc(2024, 1, 2, 12, 0)


# New York moved its clocks from 02:00 EST to 03:00 EDT on 2024-03-10,
# and from 02:00 EDT back to 01:00 EST on 2024-11-03.


def test_time_in_spring_gap_skipped() -> None:
    schedule = parse_schedule("cron(30 2 * * ? *)")

    fire = schedule.next_after(datetime(2024, 3, 9, 12, 0, tzinfo=NEW_YORK), NEW_YORK)

    assert fire == datetime(2024, 3, 11, 2, 30, tzinfo=NEW_YORK)


def test_repeated_time_fires_once() -> None:
    schedule = parse_schedule("cron(30 1 * * ? *)")

    first = schedule.next_after(datetime(2024, 11, 2, 12, 0, tzinfo=NEW_YORK), NEW_YORK)
    assert first == utc(2024, 11, 3, 5, 30)

    following = schedule.next_after(first, NEW_YORK)
    assert following == utc(2024, 11, 4, 6, 30)


def test_repeated_hour_not_refired() -> None:
    schedule = parse_schedule("cron(0/30 * * * ? *)")
    fires: list[datetime] = []
    moment = utc(2024, 11, 3, 4, 40)
    for _ in range(5):
        following = schedule.next_after(moment, NEW_YORK)
        assert following is not None
        fires.append(following)
        moment = following

    # 01:00 and 01:30 EDT fire; their repeats at 01:00 and 01:30 EST do not.
    assert fires == [
        utc(2024, 11, 3, 5, 0),
        utc(2024, 11, 3, 5, 30),
        utc(2024, 11, 3, 7, 0),
        utc(2024, 11, 3, 7, 30),
        utc(2024, 11, 3, 8, 0),
    ]


def test_after_inside_repeated_hour() -> None:
    schedule = parse_schedule("cron(0/30 * * * ? *)")
    # 01:10 EST, the second pass through 01:xx.
    after = utc(2024, 11, 3, 6, 10)

    assert schedule.next_after(after, NEW_YORK) == utc(2024, 11, 3, 7, 0)
    assert schedule.last_at_or_before(after, NEW_YORK) == utc(2024, 11, 3, 5, 30)


def test_ticks_across_spring_gap() -> None:
    schedule = parse_schedule("cron(0/30 * * * ? *)")

    # 01:30 EST is followed by 03:00 EDT, one real half hour later.
    assert schedule.next_after(utc(2024, 3, 10, 6, 30), NEW_YORK) == utc(2024, 3, 10, 7, 0)
    assert schedule.last_at_or_before(utc(2024, 3, 10, 6, 59), NEW_YORK) == utc(2024, 3, 10, 6, 30)


@pytest.mark.parametrize(
    ("expression", "moment", "expected"),
    [
        ("cron(0 12 * * ? *)", utc(2024, 1, 2, 12, 0), utc(2024, 1, 2, 12, 0)),
        ("cron(0 12 * * ? *)", utc(2024, 1, 2, 11, 59), utc(2024, 1, 1, 12, 0)),
        ("cron(0 0 ? * 6L *)", utc(2024, 3, 1), utc(2024, 2, 23, 0, 0)),
        ("cron(15 10 ? * 6L 2002-2005)", utc(2024, 1, 1), utc(2005, 12, 30, 10, 15)),
        ("cron(15 10 ? * 6L 2002-2005)", utc(2001, 12, 31), None),
        ("cron(0 0 1 1 ? *)", utc(1970, 1, 1), utc(1970, 1, 1)),
    ],
)
def test_cron_last_at_or_before(expression: str, moment: datetime, expected: datetime | None) -> None:
    assert parse_schedule(expression).last_at_or_before(moment) == expected


def test_cron_start_holds_back_ticks() -> None:
    schedule = parse_schedule("cron(0 12 * * ? *)", start=utc(2024, 1, 10, 12, 0))

    assert schedule.next_after(utc(2024, 1, 1)) == utc(2024, 1, 10, 12, 0)
    assert schedule.last_at_or_before(utc(2024, 1, 10, 11, 0)) is None
    assert schedule.last_at_or_before(utc(2024, 1, 11, 11, 0)) == utc(2024, 1, 10, 12, 0)


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("rate(5 minutes)", utc(2024, 1, 1, 10, 2, 30), utc(2024, 1, 1, 10, 5)),
        ("rate(5 minutes)", utc(2024, 1, 1, 10, 5), utc(2024, 1, 1, 10, 10)),
        ("rate(1 hour)", utc(2024, 1, 1, 10, 0, 0, 1), utc(2024, 1, 1, 11, 0)),
        # With no start, ticks count from the Unix epoch, a Thursday at midnight UTC.
        ("rate(7 days)", utc(2024, 1, 1), utc(2024, 1, 4, 0, 0)),
    ],
)
def test_rate_grid_without_start(expression: str, after: datetime, expected: datetime) -> None:
    schedule = parse_schedule(expression)

    assert isinstance(schedule, RateSchedule)
    assert schedule.next_after(after) == expected
    assert (expected - DEFAULT_RATE_START) % schedule.interval == timedelta(0)


def test_rate_counts_from_start() -> None:
    start = utc(2024, 1, 1, 10, 3, 17)
    schedule = parse_schedule("rate(5 minutes)", start=start)

    assert schedule.next_after(utc(2023, 12, 1)) == start
    assert schedule.next_after(start) == utc(2024, 1, 1, 10, 8, 17)
    assert schedule.next_after(utc(2024, 1, 2, 0, 0)) == utc(2024, 1, 2, 0, 3, 17)
    assert schedule.last_at_or_before(utc(2024, 1, 1, 10, 3, 16)) is None
    assert schedule.last_at_or_before(utc(2024, 1, 1, 10, 13, 16)) == utc(2024, 1, 1, 10, 8, 17)


def test_rate_day_ignores_daylight_saving() -> None:
    # A day is 24 hours: the tick moves from 12:00 EST to 13:00 EDT on the wall clock.
    start = datetime(2024, 3, 9, 12, 0, tzinfo=NEW_YORK)
    schedule = parse_schedule("rate(1 day)", start=start)

    fire = schedule.next_after(start, NEW_YORK)

    # Adding a timedelta to an aware datetime moves its wall clock, so compare in UTC.
    assert fire == start.astimezone(UTC) + timedelta(hours=24)
    assert fire is not None
    assert fire.astimezone(NEW_YORK).hour == 13


def test_rate_start_in_other_offset() -> None:
    start = datetime(2024, 1, 1, 9, 0, tzinfo=timezone(timedelta(hours=2)))
    schedule = parse_schedule("rate(1 hour)", start=start)

    assert schedule.next_after(utc(2024, 1, 1, 7, 30)) == utc(2024, 1, 1, 8, 0)


@pytest.mark.parametrize("expression", ["rate(5 minutes)", "cron(0 12 * * ? *)"])
def test_naive_datetime_rejected(expression: str) -> None:
    schedule = parse_schedule(expression)

    with pytest.raises(ValueError, match="aware"):
        schedule.next_after(datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="aware"):
        schedule.last_at_or_before(datetime(2024, 1, 1))


def test_naive_start_rejected() -> None:
    with pytest.raises(ValueError, match="start"):
        parse_schedule("rate(5 minutes)", start=datetime(2024, 1, 1))
