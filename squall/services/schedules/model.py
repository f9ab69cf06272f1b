"""The interface every parsed schedule expression implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import UTC, datetime, tzinfo

__all__ = ["UTC", "Schedule", "require_aware"]


class Schedule(ABC):
    """A parsed `rate(...)` or `cron(...)` expression that computes its fire times.

    Every datetime passed in must be aware, and every datetime returned is aware
    and in UTC. Comparing aware datetimes that share one tzinfo ignores their UTC
    offsets, which gives wrong results inside a repeated hour, so the schedules
    compare instants in UTC only.
    """

    expression: str
    # No tick fires before `start`. A rate schedule also counts its ticks from it.
    start: datetime | None

    @abstractmethod
    def next_after(self, after: datetime, tz: tzinfo = UTC) -> datetime | None:
        """Return the first fire time strictly after `after`, or None when there is none.

        A cron schedule reads its fields as wall-clock time in `tz`. A rate
        schedule counts fixed durations and ignores `tz`.
        """

    @abstractmethod
    def last_at_or_before(self, moment: datetime, tz: tzinfo = UTC) -> datetime | None:
        """Return the latest fire time at or before `moment`, or None when there is none."""


def require_aware(value: datetime, name: str) -> datetime:
    """Return `value` converted to UTC, or raise ValueError when it has no UTC offset."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"{name} must be an aware datetime (with a time zone), got naive {value.isoformat()}"
        )
    return value.astimezone(UTC)
