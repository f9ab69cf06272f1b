"""The EventBridge "Scheduled Event" that a schedule delivers to a function."""

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


def scheduled_event(
    rule_arn: str,
    fire_time: datetime,
    region: str = DEFAULT_REGION,
    account: str = DEFAULT_ACCOUNT,
) -> dict[str, Any]:
    """Build the event that EventBridge sends a target when a scheduled rule fires.

    `time` is the tick's scheduled time in UTC to the second, as EventBridge
    writes it, and `detail` is always empty. The `id` is derived from the rule
    and the tick, so a tick fired again after a crash carries the same id and a
    handler can drop the duplicate.
    """
    if not _RULE_ARN.fullmatch(rule_arn):
        raise InvalidParameter(
            f"rule ARN {rule_arn!r} is invalid: use arn:aws:events:REGION:ACCOUNT:rule/NAME "
            "with a 12-digit account id"
        )
    fire_utc = require_aware(fire_time, "fire_time")
    time_text = fire_utc.strftime("%Y-%m-%dT%H:%M:%SZ")

    return {
        "version": "0",
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{rule_arn}#{time_text}")),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": time_text,
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }
