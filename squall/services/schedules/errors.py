"""The error raised for a schedule expression that EventBridge would reject."""

from __future__ import annotations

from squall.services.errors import InvalidParameter

# EventBridge's PutRule rejects every invalid expression with this sentence
# alone. Squall keeps it as the first sentence and adds the reason.
AWS_INVALID_EXPRESSION = "Parameter ScheduleExpression is not valid."

RATE_USAGE = (
    "Expected rate(value unit): a whole number above 0, then minute, hour or day for 1, "
    "or minutes, hours or days for more, e.g. rate(5 minutes)"
)
CRON_USAGE = (
    "Expected cron(minutes hours day-of-month month day-of-week year): six fields separated "
    "by single spaces, with '?' in exactly one of day-of-month and day-of-week, e.g. cron(0 12 * * ? *)"
)
SCHEDULE_USAGE = (
    "Expected rate(value unit), e.g. rate(5 minutes), "
    "or cron(minutes hours day-of-month month day-of-week year), e.g. cron(0 12 * * ? *)"
)


class InvalidScheduleExpression(InvalidParameter):
    """Raised when a `rate(...)` or `cron(...)` expression is not one EventBridge accepts.

    `expression` is the rejected text and `reason` the first problem found in it.
    """

    code = "ValidationException"

    def __init__(self, expression: str, reason: str, usage: str) -> None:
        self.expression = expression
        self.reason = reason
        super().__init__(f"{AWS_INVALID_EXPRESSION} {expression!r}: {reason}. {usage}.")
