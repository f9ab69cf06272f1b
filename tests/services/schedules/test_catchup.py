"""The catch-up policy: after downtime the latest missed tick fires once, then the schedule resumes."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from squall.services.schedules import UTC, due_ticks, parse_schedule

NEW_YORK = ZoneInfo("America/New_York")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


def test_on_time_tick_fires() -> None:
    schedule = parse_schedule("rate(5 minutes)")

    ticks = due_ticks(schedule, utc(2024, 1, 1, 10, 0), utc(2024, 1, 1, 10, 5, 0, 200_000), UTC)

    assert ticks == [utc(2024, 1, 1, 10, 5)]


def test_tick_exactly_at_now_fires() -> None:
    schedule = parse_schedule("rate(5 minutes)")

    ticks = due_ticks(schedule, utc(2024, 1, 1, 10, 0), utc(2024, 1, 1, 10, 5), UTC)

    assert ticks == [utc(2024, 1, 1, 10, 5)]


def test_nothing_due_before_next_tick() -> None:
    schedule = parse_schedule("rate(5 minutes)")

    assert due_ticks(schedule, utc(2024, 1, 1, 10, 0), utc(2024, 1, 1, 10, 4, 59), UTC) == []


def test_downtime_fires_latest_once() -> None:
    daily = parse_schedule("cron(0 2 * * ? *)")

    # Down from Monday 03:00 to Thursday 09:00: Tuesday's, Wednesday's and Thursday's runs were missed.
    ticks = due_ticks(daily, utc(2024, 1, 1, 2, 0), utc(2024, 1, 4, 9, 0), UTC)

    assert ticks == [utc(2024, 1, 4, 2, 0)]


def test_schedule_resumes_after_catch_up() -> None:
    daily = parse_schedule("cron(0 2 * * ? *)")
    now = utc(2024, 1, 4, 9, 0)
    (caught_up,) = due_ticks(daily, utc(2024, 1, 1, 2, 0), now, UTC)

    assert due_ticks(daily, caught_up, now, UTC) == []
    assert daily.next_after(caught_up, UTC) == utc(2024, 1, 5, 2, 0)
    assert due_ticks(daily, caught_up, utc(2024, 1, 5, 2, 0, 1), UTC) == [utc(2024, 1, 5, 2, 0)]


def test_catch_up_logged(caplog: pytest.LogCaptureFixture) -> None:
    daily = parse_schedule("cron(0 2 * * ? *)")

    with caplog.at_level(logging.INFO, logger="squall.services.schedules.catchup"):
        due_ticks(daily, utc(2024, 1, 1, 2, 0), utc(2024, 1, 4, 9, 0), UTC)

    assert "cron(0 2 * * ? *)" in caplog.text
    assert "2024-01-02T02:00:00+00:00" in caplog.text


def test_rate_downtime_stays_on_grid() -> None:
    schedule = parse_schedule("rate(15 minutes)", start=utc(2024, 1, 1, 0, 7))

    ticks = due_ticks(schedule, utc(2024, 1, 1, 0, 7), utc(2024, 1, 1, 5, 0), UTC)

    assert ticks == [utc(2024, 1, 1, 4, 52)]
    assert schedule.next_after(ticks[0], UTC) == utc(2024, 1, 1, 5, 7)


def test_cron_catch_up_in_time_zone() -> None:
    daily = parse_schedule("cron(0 2 * * ? *)")

    ticks = due_ticks(daily, utc(2024, 1, 1, 7, 0), utc(2024, 1, 4, 12, 0), NEW_YORK)

    assert ticks == [datetime(2024, 1, 4, 2, 0, tzinfo=NEW_YORK)]


def test_never_fired_without_start() -> None:
    schedule = parse_schedule("cron(* * * * ? *)")

    assert due_ticks(schedule, None, utc(2024, 1, 1, 12, 0), UTC) == []


def test_new_rate_fires_at_start() -> None:
    start = utc(2024, 1, 1, 12, 0, 30)
    schedule = parse_schedule("rate(1 hour)", start=start)

    assert due_ticks(schedule, None, start, UTC) == [start]
    assert due_ticks(schedule, None, start - timedelta(seconds=1), UTC) == []


def test_never_fired_cron_uses_start() -> None:
    daily = parse_schedule("cron(0 2 * * ? *)", start=utc(2024, 1, 1, 15, 0))

    assert due_ticks(daily, None, utc(2024, 1, 1, 23, 0), UTC) == []
    assert due_ticks(daily, None, utc(2024, 1, 3, 3, 0), UTC) == [utc(2024, 1, 3, 2, 0)]


def test_ended_schedule_has_nothing_due() -> None:
    schedule = parse_schedule("cron(15 10 ? * 6L 2002-2005)")

    assert due_ticks(schedule, utc(2005, 12, 30, 10, 15), utc(2024, 1, 1), UTC) == []


def test_clock_behind_last_fired() -> None:
    schedule = parse_schedule("rate(1 minute)")

    assert due_ticks(schedule, utc(2024, 1, 1, 10, 0), utc(2024, 1, 1, 9, 0), UTC) == []


def test_naive_now_rejected() -> None:
    schedule = parse_schedule("rate(1 minute)")

    with pytest.raises(ValueError, match="now"):
        due_ticks(schedule, utc(2024, 1, 1), datetime(2024, 1, 2), UTC)
