"""Records of every invocation: its metering record and its log."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Outcome(enum.Enum):
    """The way one invocation ended."""

    SUCCESS = "success"
    ERROR = "error"  # the handler raised, or its init failed
    TIMEOUT = "timeout"
    CRASH = "crash"  # the instance died: exit, signal, out of memory
    THROTTLED = "throttled"  # never ran: the function was at its cap


@dataclass(frozen=True, slots=True)
class InvocationRecord:
    """The metering record of one invocation."""

    request_id: str
    function: str
    version: str
    trigger: str  # "http", "invoke", "event", "cli", ...
    started_at: float  # Unix time in seconds
    duration_ms: float
    billed_ms: int
    memory_mb: int  # configured memory
    max_memory_mb: int  # peak resident memory of the instance
    init_ms: float | None  # set on a cold start only
    cold: bool
    outcome: Outcome
    error_type: str | None = None


@dataclass(frozen=True, slots=True)
class LogEntry:
    """The log of one invocation: START, the function's output, END and REPORT lines."""

    function: str
    request_id: str
    time: float  # Unix time in seconds of the START line
    text: str
    id: int | None = None  # assigned by the store


@dataclass(frozen=True, slots=True)
class ProvisionedUsage:
    """Time during which a function kept provisioned instances, as one sampled period.

    AWS bills provisioned concurrency for the time it is configured, whether
    or not an invocation uses it, so a period counts the configured instances.
    """

    function: str
    started_at: float  # Unix time in seconds
    ended_at: float  # Unix time in seconds, after `started_at`
    instances: int  # provisioned instances configured during the period
    memory_mb: int  # configured memory of each instance

    @property
    def gb_seconds(self) -> float:
        """Return the instance GB-seconds of the period: seconds x instances x GB."""
        return (self.ended_at - self.started_at) * self.instances * self.memory_mb / 1024
