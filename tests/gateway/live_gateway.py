"""Types shared by the gateway tests that run a server in their own process (see conftest.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

from squall.metering.records import InvocationRecord, LogEntry


@dataclass
class LiveGateway:
    """A client of the running gateway, and what its dispatcher recorded."""

    client: httpx.AsyncClient
    records: list[InvocationRecord] = field(default_factory=list)
    logs: list[LogEntry] = field(default_factory=list)


StartGateway = Callable[..., Awaitable[LiveGateway]]
