"""Recording of provisioned instance time, sampled from the dispatcher's pools.

AWS bills provisioned concurrency for the concurrency configured and the
time it stays configured, used or not. The sampler reads how many of every
pool's configured `provisioned` instances are initialised, and its memory,
at each tick and writes one `ProvisionedUsage` period per function for the
time since the previous tick. Instances that wait for room in the memory
budget are not billed, as AWS does not bill a configuration it could not
allocate.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from squall.metering.records import ProvisionedUsage
from squall.store.base import UsageStore

logger = logging.getLogger(__name__)

DEFAULT_SAMPLE_INTERVAL_S = 60.0


class _Spec(Protocol):
    name: str
    memory_mb: int
    provisioned: int


class _Pool(Protocol):
    spec: _Spec
    retiring: bool

    @property
    def provisioned_ready(self) -> int: ...


class _Pools(Protocol):
    @property
    def pools(self) -> Mapping[str, _Pool]: ...


class ProvisionedSampler:
    """Turns the configured provisioned instances of each function into usage periods.

    NOTE: a change of configuration between two ticks is attributed to the
    whole interval from the later tick's view, so a period can be off by up
    to one interval (a minute by default). AWS rounds each configured span up
    to five minutes; the sampler does not round.
    """

    def __init__(
        self,
        dispatcher: _Pools,
        store: UsageStore,
        interval_s: float = DEFAULT_SAMPLE_INTERVAL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if interval_s <= 0:
            raise ValueError(f"ProvisionedSampler: interval_s: expected seconds above 0, got {interval_s!r}")
        self._dispatcher = dispatcher
        self._store = store
        self._interval_s = interval_s
        self._clock = clock
        self._last_tick: float | None = None

    def sample(self) -> list[ProvisionedUsage]:
        """Return the periods since the previous call; the first call only starts the clock."""
        now = self._clock()
        previous, self._last_tick = self._last_tick, now
        if previous is None or now <= previous:
            return []
        periods = []
        # Published versions keep provisioned instances of their own, as an
        # AutoPublishAlias function does, and are billed the same way.
        for pool in sorted(self._dispatcher.running_pools(), key=lambda pool: pool.spec.name):
            if pool.retiring or pool.spec.provisioned <= 0:
                continue
            instances = min(pool.spec.provisioned, pool.provisioned_ready)
            if instances <= 0:
                continue
            periods.append(
                ProvisionedUsage(
                    function=pool.spec.name,
                    started_at=previous,
                    ended_at=now,
                    instances=instances,
                    memory_mb=pool.spec.memory_mb,
                )
            )
        return periods

    async def record(self) -> int:
        """Sample now and write the periods; return how many were written."""
        periods = self.sample()
        await _write(self._store, periods)
        return len(periods)

    async def run(self) -> None:
        """Record every `interval_s` until cancelled, then record the last partial interval."""
        self.sample()
        try:
            while True:
                await asyncio.sleep(self._interval_s)
                try:
                    await self.record()
                except Exception:
                    logger.exception("recording provisioned instance time failed; the interval is lost")
        finally:
            # Cancelled: close the interval that was running, so a stop does not lose it.
            periods = self.sample()
            if periods:
                try:
                    self._store.add_usage(periods)
                except Exception:
                    logger.exception("recording the last %d provisioned-usage periods failed", len(periods))


async def _write(store: UsageStore, periods: Sequence[ProvisionedUsage]) -> None:
    if periods:
        await asyncio.to_thread(store.add_usage, periods)
