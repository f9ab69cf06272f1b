"""The node-wide memory budget: the sum of `memory_mb` over live instances."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from squall.dispatcher.pool import FunctionPool

logger = logging.getLogger(__name__)


class MemoryBudget:
    """Admits new instances while their configured memory fits under the limit.

    Memory that frees up goes first to pools missing provisioned instances,
    then to calls queued for an instance.
    """

    def __init__(self, limit_mb: int) -> None:
        self.limit_mb = limit_mb
        self.used_mb = 0
        self.pools: list[FunctionPool] = []  # every pool of the node, for eviction
        self.evictions = 0
        # Pools with fewer provisioned instances than configured because memory was short.
        self.short: set[FunctionPool] = set()
        # Pools with calls queued for an instance, which an instance going idle elsewhere may let start.
        self.waiting: set[FunctionPool] = set()

    def reserve(self, requester: FunctionPool, memory_mb: int, evict: bool = True, provisioned: bool = False) -> bool:
        """Count `memory_mb` as used if it fits, evicting idle on-demand instances first.

        An on-demand instance evicts other functions' idle instances only. A
        provisioned one also evicts its own function's idle on-demand instances.
        """
        if memory_mb > self.limit_mb:
            return False  # no eviction could make room
        if self.used_mb + memory_mb > self.limit_mb and evict:
            self._evict_for(requester, self.used_mb + memory_mb - self.limit_mb, include_requester=provisioned)
        if self.used_mb + memory_mb > self.limit_mb:
            return False
        self.used_mb += memory_mb
        return True

    def release(self, memory_mb: int, serve_waiters: bool = True) -> None:
        """Give back an instance's memory and let missing provisioned instances, then queued calls, use it."""
        self.used_mb = max(0, self.used_mb - memory_mb)
        if not serve_waiters:
            return
        self.fill_provisioned()
        for pool in self.pools:
            if pool.waiting_count:
                pool._serve_waiters()
                if self.used_mb >= self.limit_mb:
                    return

    def serve_waiting_calls(self, idle_in: FunctionPool) -> None:
        """Let calls queued in other pools start instances, evicting the idle instance `idle_in` just got if need be."""
        for pool in list(self.waiting):
            if not pool.waiting_count:
                self.waiting.discard(pool)
            elif pool is not idle_in:
                pool._serve_waiters()

    def fill_provisioned(self) -> None:
        """Start the missing provisioned instances of every pool that lacked memory, as far as memory allows."""
        for pool in list(self.short):
            pool.start_missing_provisioned()

    def _evict_for(self, requester: FunctionPool, needed_mb: int, include_requester: bool) -> None:
        # An on-demand requester has no idle instance of its own, or it would
        # not be starting one, so only other functions' idle instances can go.
        freed = 0
        while freed < needed_mb:
            candidates = [
                p
                for p in self.pools
                if (include_requester or p is not requester) and p.oldest_idle_since() is not None
            ]
            if not candidates:
                return
            victim = min(candidates, key=lambda p: p.oldest_idle_since() or 0.0)
            memory_mb = victim.spec.memory_mb
            if not victim.evict_one_idle():
                return
            freed += memory_mb
            self.evictions += 1
            logger.info("evicted an idle instance of %s to free %d MB", victim.spec.name, memory_mb)
