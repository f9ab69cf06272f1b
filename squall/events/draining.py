"""Stopping the tasks of an event source at shutdown.

A stop gives the calls in flight a grace period to finish, as it gives HTTP
requests, and cuts the ones still running after it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection

# How long calls in flight may run on once the server is stopping.
DRAIN_TIMEOUT_S = 5.0


async def finish_or_cancel(tasks: Collection[asyncio.Task[None]], timeout_s: float = DRAIN_TIMEOUT_S) -> int:
    """Wait up to `timeout_s` for the tasks to end, cancel the others, and return how many were cancelled."""
    if not tasks:
        return 0
    _, unfinished = await asyncio.wait(tasks, timeout=timeout_s)
    for task in unfinished:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return len(unfinished)
