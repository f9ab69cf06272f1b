"""Prices and the billing arithmetic of one invocation.

Squall bills the way AWS Lambda does: requests, plus duration rounded up to
the next millisecond and weighted by the configured memory (GB-seconds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

_MB_PER_GB = 1024  # AWS's own examples divide MB by 1024 to get GB
_MS_PER_S = 1000


@dataclass(frozen=True, slots=True)
class PriceTable:
    """Prices per unit of usage, in the table's currency (USD for the AWS tables)."""

    per_gb_second: float
    per_request: float
    name: str
    # Instance time of provisioned instances, billed while they are configured.
    per_provisioned_gb_second: float = 0.0

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("PriceTable: name: expected a non-empty name, got ''")
        prices = (
            ("per_gb_second", self.per_gb_second),
            ("per_request", self.per_request),
            ("per_provisioned_gb_second", self.per_provisioned_gb_second),
        )
        for field, value in prices:
            if not math.isfinite(value) or value < 0:
                raise ValueError(
                    f"PriceTable {self.name!r}: {field}: expected a finite price >= 0,"
                    f" got {value!r}"
                )

    def cost(self, requests: int, gb_seconds: float, provisioned_gb_seconds: float = 0.0) -> float:
        """Return the price of `requests` requests, `gb_seconds` of duration and provisioned instance time."""
        return (
            requests * self.per_request
            + gb_seconds * self.per_gb_second
            + provisioned_gb_seconds * self.per_provisioned_gb_second
        )


# AWS Lambda on x86, first duration tier (up to 6 billion GB-seconds a month),
# US East, without the free tier. Sources:
# - "How AWS Pricing Works", Lambda chapter
#   (https://docs.aws.amazon.com/whitepapers/latest/how-aws-pricing-works/lambda.html):
#   "$0.20 per 1 million requests ... or $0.0000002 per request", and duration at
#   "$0.00001667 for every GB-second", which is 0.0000166667 rounded.
# - https://aws.amazon.com/lambda/pricing/ names the first tier; its rate table
#   is rendered by scripts, and the copy read did not show the digits.
# NOTE: 0.0000166667 itself was read in third-party summaries (for example
# Modal's "How much is AWS Lambda?", May 2025), not in AWS's rendered table.
AWS_LAMBDA_X86 = PriceTable(
    per_gb_second=0.0000166667,
    per_request=0.0000002,  # USD 0.20 per million requests
    name="aws-lambda-x86-us-east-1",
    per_provisioned_gb_second=0.0000041667,  # see AWS_PROVISIONED_GB_SECOND below
)

# Provisioned concurrency on x86 in US East (N. Virginia). The rules are on
# https://aws.amazon.com/lambda/pricing/ ("Provisioned Concurrency Pricing").
# AWS bills the configured concurrency for the time it stays configured,
# "rounded up to the nearest five minutes". Invocations that run on it pay
# requests as usual and their duration at a lower price. Invocations beyond
# the configured concurrency pay the on-demand duration price.
# That page renders its digits with scripts. The two prices below are the
# us-east-1 rates of the AWS Price List usage types
# "Lambda Provisioned-Concurrency" (0.0000041667 per GB-second) and
# "Lambda Duration-Provisioned" (0.0000097222 per GB-second).
# NOTE: these digits were read in third-party copies of the Price List, not
# in AWS's rendered table.
AWS_PROVISIONED_GB_SECOND = 0.0000041667
AWS_DURATION_ON_PROVISIONED_GB_SECOND = 0.0000097222

DEFAULT_PRICES = AWS_LAMBDA_X86


def billed_ms(duration_ms: float) -> int:
    """Return the billed duration: `duration_ms` rounded up to the next whole millisecond.

    AWS documents duration as "rounded up to the nearest 1 millisecond".
    Raises ValueError for a negative or non-finite duration.
    """
    if not math.isfinite(duration_ms) or duration_ms < 0:
        raise ValueError(
            f"billed_ms: duration_ms: expected a finite number >= 0, got {duration_ms!r}"
        )
    # Round to whole nanoseconds first, so that float noise such as
    # 3.0000000000000004 is billed as 3 ms, not 4. Timers here do not resolve
    # below a nanosecond, so no real duration is lost.
    return math.ceil(round(duration_ms, 6))


def gb_seconds(billed_ms: int, memory_mb: int) -> float:
    """Return the GB-seconds of `billed_ms` at `memory_mb` of configured memory.

    Raises ValueError for a negative duration or memory size.
    """
    if billed_ms < 0:
        raise ValueError(f"gb_seconds: billed_ms: expected an integer >= 0, got {billed_ms!r}")
    if memory_mb < 0:
        raise ValueError(f"gb_seconds: memory_mb: expected an integer >= 0, got {memory_mb!r}")
    return (billed_ms / _MS_PER_S) * (memory_mb / _MB_PER_GB)
