"""The EventBridge "Scheduled Event" that a schedule delivers to a function.

An EventBridge rule and an EventBridge Scheduler schedule without input both
send one. They differ in `source`, in the ARN under `resources`, and in
`detail`: an empty object from a rule, the JSON text "{}" from Scheduler.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

from squall.services.errors import InvalidParameter
from squall.services.schedules.model import require_aware

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "000000000000"

_RULE_ARN = re.compile(r"arn:[a-z-]+:events:[a-z0-9-]*:[0-9]{12}:rule/\S+")
_SCHEDULE_ARN = re.compile(r"arn:[a-z-]+:scheduler:[a-z0-9-]*:[0-9]{12}:schedule/[^/\s]+/[^/\s]+")


def scheduled_event(
    rule_arn: str,
    fire_time: datetime,
    region: str = DEFAULT_REGION,
    account: str = DEFAULT_ACCOUNT,
) -> dict[str, Any]:
    """Build the event that a scheduled rule, or a Scheduler schedule, sends a target when it fires.

    `rule_arn` names a rule (arn:aws:events:...:rule/NAME) or a Scheduler
    schedule (arn:aws:scheduler:...:schedule/GROUP/NAME), and the event takes
    that one's shape. `time` is the tick's scheduled time in UTC to the
    second, as EventBridge writes it. The `id` is derived from the ARN and the
    tick, so a tick fired again after a crash carries the same id and a
    handler can drop the duplicate.

    NOTE: AWS documents only that Scheduler sends "a default notification";
    the Scheduler shape follows an event captured from it (in Powertools for
    AWS Lambda's test events), not a specification.
    """
    from_scheduler = _SCHEDULE_ARN.fullmatch(rule_arn) is not None
    if not from_scheduler and not _RULE_ARN.fullmatch(rule_arn):
        raise InvalidParameter(
            f"rule ARN {rule_arn!r} is invalid: use arn:aws:events:REGION:ACCOUNT:rule/NAME, or"
            " arn:aws:scheduler:REGION:ACCOUNT:schedule/GROUP/NAME for a schedule, with a 12-digit account id"
        )
    fire_utc = require_aware(fire_time, "fire_time")
    time_text = fire_utc.strftime("%Y-%m-%dT%H:%M:%SZ")

    return {
        "version": "0",
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{rule_arn}#{time_text}")),
        "detail-type": "Scheduled Event",
        "source": "aws.scheduler" if from_scheduler else "aws.events",
        "account": account,
        "time": time_text,
        "region": region,
        "resources": [rule_arn],
        "detail": "{}" if from_scheduler else {},
    }
