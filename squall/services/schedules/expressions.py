"""The entry point that turns an EventBridge schedule expression into a Schedule."""

from __future__ import annotations

from datetime import datetime

from squall.services.schedules.cron import parse_cron
from squall.services.schedules.errors import SCHEDULE_USAGE, InvalidScheduleExpression
from squall.services.schedules.model import Schedule, require_aware
from squall.services.schedules.rate import parse_rate


def parse_schedule(expression: str, *, start: datetime | None = None) -> Schedule:
    """Parse a `rate(...)` or `cron(...)` expression by the rules EventBridge documents for PutRule.

    `start` is the time from which the schedule may fire: a rate schedule fires
    at `start` and then every interval after it (from the Unix epoch when None),
    and a cron schedule skips the matching times before it. Pass the time the
    schedule was created so that its ticks stay on the same grid across restarts.

    Raises InvalidScheduleExpression, an InvalidParameter, for an expression
    EventBridge rejects, and ValueError for a naive `start`.
    """
    if start is not None:
        require_aware(start, "start")

    if expression.startswith("rate("):
        return parse_rate(expression, start=start)
    if expression.startswith("cron("):
        return parse_cron(expression, start=start)
    raise InvalidScheduleExpression(expression, "a schedule expression starts with 'rate(' or 'cron('", SCHEDULE_USAGE)
