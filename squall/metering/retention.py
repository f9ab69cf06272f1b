"""Retention of logs and invocation records: a background task that deletes the oldest rows.

Each deletion is a small batch in its own short transaction, run in a worker
thread, so neither the event loop nor the store's background writer waits
on it for long. The task sleeps between rounds and yields between batches.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from squall.store.base import RetentionStore

logger = logging.getLogger(__name__)

DEFAULT_BATCH_ROWS = 500
DEFAULT_INTERVAL_S = 60.0
# A round stops after this many batches and goes on at the next round, so a
# huge backlog after a policy change cannot keep the store busy for minutes.
MAX_BATCHES_PER_ROUND = 200
_SECONDS_PER_DAY = 86_400
_BYTES_PER_MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How much of the logs and records to keep; None keeps everything of that kind."""

    log_days: float | None = None  # delete log entries older than this
    log_mb: float | None = None  # delete the oldest entries while the log texts exceed this size
    record_days: float | None = None  # delete invocation records and usage periods older than this
    batch_rows: int = DEFAULT_BATCH_ROWS
    interval_s: float = DEFAULT_INTERVAL_S  # pause between rounds

    def __post_init__(self) -> None:
        for name in ("log_days", "log_mb", "record_days"):
            value = getattr(self, name)
            if value is not None and (not math.isfinite(value) or value <= 0):
                raise ValueError(f"retention {name}: expected a number above 0, or None to keep everything, got {value!r}")
        if self.batch_rows < 1:
            raise ValueError(f"retention batch_rows: expected a whole number of at least 1, got {self.batch_rows!r}")
        if not math.isfinite(self.interval_s) or self.interval_s <= 0:
            raise ValueError(f"retention interval_s: expected seconds above 0, got {self.interval_s!r}")

    @property
    def enabled(self) -> bool:
        return any(value is not None for value in (self.log_days, self.log_mb, self.record_days))


@dataclass(frozen=True, slots=True)
class RetentionRound:
    """Rows deleted by one round of `enforce_retention`."""

    logs_by_age: int
    logs_by_size: int
    records: int  # invocation records and provisioned-usage periods

    @property
    def total(self) -> int:
        return self.logs_by_age + self.logs_by_size + self.records


async def enforce_retention(
    store: RetentionStore, policy: RetentionPolicy, clock: Callable[[], float] = time.time
) -> RetentionRound:
    """Delete, batch by batch, what `policy` no longer keeps; return the counts.

    Raises what the store raises, for example sqlite3.OperationalError when
    the database stayed locked beyond its busy timeout.
    """
    now = clock()
    logs_by_age = logs_by_size = records = 0
    if policy.log_days is not None:
        cutoff = now - policy.log_days * _SECONDS_PER_DAY
        logs_by_age = await _delete_in_batches(store.delete_logs_before, cutoff, policy.batch_rows)
    if policy.log_mb is not None:
        max_bytes = int(policy.log_mb * _BYTES_PER_MB)
        logs_by_size = await _delete_in_batches(store.delete_oldest_logs, max_bytes, policy.batch_rows)
    if policy.record_days is not None:
        cutoff = now - policy.record_days * _SECONDS_PER_DAY
        records = await _delete_in_batches(store.delete_records_before, cutoff, policy.batch_rows)
    return RetentionRound(logs_by_age, logs_by_size, records)


async def run_retention(
    store: RetentionStore, policy: RetentionPolicy, clock: Callable[[], float] = time.time
) -> None:
    """Enforce `policy` now and then every `policy.interval_s` until cancelled.

    A failed round is logged and retried at the next one, so a locked or
    full disk never stops the task.
    """
    if not policy.enabled:
        return
    logger.info(
        "retention: keeping logs for %s and up to %s, records for %s",
        _limit(policy.log_days, "days"), _limit(policy.log_mb, "MB"), _limit(policy.record_days, "days"),
    )
    while True:
        try:
            deleted = await enforce_retention(store, policy, clock)
        except Exception:
            logger.exception("retention: deleting old logs and records failed; retrying in %.0f s", policy.interval_s)
        else:
            if deleted.total:
                logger.info(
                    "retention: deleted %d log entries by age, %d by size, and %d records",
                    deleted.logs_by_age, deleted.logs_by_size, deleted.records,
                )
        await asyncio.sleep(policy.interval_s)


async def _delete_in_batches(delete: Callable[..., int], bound: float, batch_rows: int) -> int:
    deleted = 0
    for _ in range(MAX_BATCHES_PER_ROUND):
        count = await asyncio.to_thread(delete, bound, batch_rows)
        deleted += count
        if count < batch_rows:
            break
    return deleted


def _limit(value: float | None, unit: str) -> str:
    """Describe one retention limit for the log: "7 days", or "no limit" when it is not set."""
    return "no limit" if value is None else f"{value:g} {unit}"
