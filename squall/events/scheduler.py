"""The scheduler: fires each function's `schedule` triggers as asynchronous invocations.

Every enabled ScheduleTrigger of every deployed function becomes one schedule.
A background task sleeps until the next tick of any schedule, hands each due
tick to `accept` (the durable asynchronous-invocation queue) and, once accept
has returned, records the tick in SQLite, so each tick fires once, also
across restarts. Ticks missed while the server was down follow `due_ticks`:
only the latest missed tick fires.

Delivery is at least once. A crash between accept and the record fires that
tick again after the restart, and the Scheduled Event then carries the same
`id`, so a handler can drop the duplicate.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import re
import sqlite3
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path

import orjson

from squall.dispatcher.dispatcher import Invocation
from squall.manifest.spec import ScheduleTrigger, ServiceSpec
from squall.services.errors import InvalidParameter
from squall.services.schedules import (
    DEFAULT_ACCOUNT,
    DEFAULT_REGION,
    UTC,
    Schedule,
    due_ticks,
    parse_schedule,
    resolve_time_zone,
    scheduled_event,
)

logger = logging.getLogger(__name__)

TRIGGER = "schedule"
# A tick whose accept raised is tried again after this delay, unless a later
# tick has become due by then, which then fires in its place.
RETRY_DELAY_S = 5.0
# The task wakes at least this often, so a jump of the wall clock (a suspended
# laptop, an NTP step) delays a tick by at most this much.
MAX_SLEEP_S = 60.0
# How many recent lateness values `lateness_s` returns.
LATENESS_WINDOW = 1000

# PutRule accepts only these characters in a rule name.
_RULE_NAME_INVALID = re.compile(r"[^A-Za-z0-9._-]")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schedules (
    id TEXT PRIMARY KEY,
    function TEXT NOT NULL,
    expression TEXT NOT NULL,
    first_seen REAL NOT NULL,
    last_fired REAL
);
"""


@dataclass(frozen=True)
class ScheduledTarget:
    """One enabled schedule trigger of a deployed function, ready to fire.

    `id` is derived from the function, expression, time zone and input, so an
    unchanged trigger keeps its stored state across deploys and restarts.
    """

    id: str
    service: str
    function: str
    expression: str
    timezone: str
    rule_arn: str  # the rule or, for an EventBridge Scheduler schedule, the schedule
    schedule: Schedule  # its `start` is the first-seen time
    tz: tzinfo
    input_payload: bytes | None  # the trigger's constant input as JSON, or None to send the Scheduled Event
    first_seen: datetime
    qualifier: str | None = None  # the version or alias it invokes; None runs $LATEST


@dataclass
class _FireState:
    """The mutable state of one schedule while the server runs."""

    last_fired: datetime | None  # the scheduled time of the latest tick that fired
    retry_at: float | None = None  # epoch seconds of the next attempt after a failed accept
    failures: int = 0  # accepts that failed in a row

    def baseline(self, target: ScheduledTarget) -> datetime:
        # Before its first tick a schedule counts from when it was first seen,
        # so a deploy never fires a tick at or before the deploy itself.
        return self.last_fired if self.last_fired is not None else target.first_seen


class ScheduleStore:
    """The first-seen time and latest fired tick of each schedule, in a SQLite file.

    Calls run on the event loop's thread. A write is one small row, and
    synchronous=NORMAL in WAL mode does not fsync on commit.
    """

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # WAL with synchronous=NORMAL keeps every commit through a crash of the
        # server process. Only a power loss can drop the latest commits.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def load_or_add(self, schedule_id: str, function: str, expression: str, now: float) -> tuple[float, float | None]:
        """Return (first_seen, last_fired) of a schedule, adding it as first seen at `now` when it is new."""
        self._db.execute(
            "INSERT OR IGNORE INTO schedules (id, function, expression, first_seen) VALUES (?, ?, ?, ?)",
            (schedule_id, function, expression, now),
        )
        first_seen, last_fired = self._db.execute(
            "SELECT first_seen, last_fired FROM schedules WHERE id = ?", (schedule_id,)
        ).fetchone()
        return first_seen, last_fired

    def record_fired(self, schedule_id: str, tick: float) -> None:
        """Store `tick` as the schedule's latest fired tick, unless the schedule was removed meanwhile."""
        self._db.execute("UPDATE schedules SET last_fired = ? WHERE id = ?", (tick, schedule_id))

    def keep_only(self, schedule_ids: set[str]) -> int:
        """Delete the rows of every schedule not in `schedule_ids` and return how many were deleted."""
        stored = [row[0] for row in self._db.execute("SELECT id FROM schedules")]
        removed = [(schedule_id,) for schedule_id in stored if schedule_id not in schedule_ids]
        if removed:
            self._db.executemany("DELETE FROM schedules WHERE id = ?", removed)
        return len(removed)


class Scheduler:
    """Fires the schedule triggers of the deployed functions through `accept`."""

    def __init__(
        self,
        path: Path,
        accept: Callable[[Invocation], Awaitable[None]],
        clock: Callable[[], float] = time.time,
        region: str = DEFAULT_REGION,
        account: str = DEFAULT_ACCOUNT,
        *,
        retry_delay_s: float = RETRY_DELAY_S,
    ) -> None:
        self._store = ScheduleStore(path)
        self._accept = accept
        self._clock = clock
        self._region = region
        self._account = account
        self._retry_delay_s = retry_delay_s
        self._targets: dict[str, ScheduledTarget] = {}
        self._states: dict[str, _FireState] = {}
        self._lateness_s: deque[float] = deque(maxlen=LATENESS_WINDOW)
        self._wake = asyncio.Event()
        # One pass at a time, so a caller of fire_due and the task never fire one tick twice.
        self._firing = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    # Lifecycle

    async def start(self) -> None:
        """Start the background task that fires the schedules. Starting it again does nothing."""
        if self._task is not None:
            return
        self._task = asyncio.get_running_loop().create_task(self._run_forever(), name="squall-scheduler")
        logger.info("scheduler started with %d schedule(s)", len(self._targets))

    async def close(self) -> None:
        """Stop the background task and close the SQLite file. Closing again does nothing.

        A tick whose accept was cut short is not recorded, so it fires after
        the next start if it is still the latest due tick.
        """
        if self._closed:
            return
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        self._store.close()
        logger.info("scheduler stopped")

    def wake(self) -> None:
        """Make the task look for due ticks now, e.g. after the wall clock was set."""
        self._wake.set()

    # The set of schedules

    def update(self, services: Mapping[str, ServiceSpec]) -> None:
        """Replace the set of schedules with those of `services`, which must be every deployed service.

        A schedule that is new, or whose expression, time zone or input
        changed, starts fresh: its first tick is the first one after now.
        A schedule missing from `services` stops firing and its stored state
        is deleted, so restoring it later also starts fresh.

        Raises sqlite3.Error when the state file cannot be written; the
        previous set of schedules then stays in effect.
        """
        now = float(math.floor(self._clock()))
        targets: dict[str, ScheduledTarget] = {}
        states: dict[str, _FireState] = {}

        for service in services.values():
            for function in service.functions.values():
                triggers = [t for t in function.triggers if isinstance(t, ScheduleTrigger)]
                for number, trigger in enumerate(triggers, start=1):
                    if not trigger.enabled:
                        continue
                    built = self._build_target(service.service, function.name, number, trigger, targets, now)
                    if built is None:
                        continue
                    target, last_fired = built
                    targets[target.id] = target
                    # An unchanged schedule keeps its in-memory state, which
                    # includes a tick waiting for its retry.
                    states[target.id] = self._states.get(target.id) or _FireState(last_fired)

        removed = self._store.keep_only(set(targets))
        self._targets = targets
        self._states = states
        logger.info("scheduler has %d schedule(s); %d removed", len(targets), removed)
        self._wake.set()

    def _build_target(
        self,
        service: str,
        function: str,
        number: int,
        trigger: ScheduleTrigger,
        existing: Mapping[str, ScheduledTarget],
        now: float,
    ) -> tuple[ScheduledTarget, datetime | None] | None:
        rule_name = _RULE_NAME_INVALID.sub("-", trigger.rule_name or f"{service}-{function}-schedule-{number}")
        try:
            input_payload = None if trigger.input is None else orjson.dumps(trigger.input)
        except TypeError as error:
            logger.error("schedule %s of function %s is skipped: its input cannot be written as JSON: %s",
                         rule_name, function, error)
            return None

        schedule_id = _schedule_id(function, trigger, existing)
        first_seen, last_fired = self._store.load_or_add(schedule_id, function, trigger.expression, now)
        first_seen_at = datetime.fromtimestamp(first_seen, UTC)
        try:
            # Counting a rate from the first-seen time keeps its ticks on one
            # grid across restarts, and a cron schedule skips earlier times.
            schedule = parse_schedule(trigger.expression, start=first_seen_at)
            tz = resolve_time_zone(trigger.timezone)
        except InvalidParameter as error:
            logger.error("schedule %s of function %s is skipped: %s", rule_name, function, error)
            return None

        target = ScheduledTarget(
            id=schedule_id,
            service=service,
            function=function,
            expression=trigger.expression,
            timezone=trigger.timezone,
            rule_arn=(
                f"arn:aws:events:{self._region}:{self._account}:rule/{rule_name}"
                if trigger.scheduler_group is None
                else f"arn:aws:scheduler:{self._region}:{self._account}:schedule/{trigger.scheduler_group}/{rule_name}"
            ),
            schedule=schedule,
            tz=tz,
            input_payload=input_payload,
            first_seen=first_seen_at,
            qualifier=trigger.qualifier,
        )
        return target, None if last_fired is None else datetime.fromtimestamp(last_fired, UTC)

    # Firing

    async def _run_forever(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.fire_due()
                delay = self._seconds_until_next()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the scheduler outlives its own bugs
                logger.exception("scheduler pass failed; trying again in %.0f s", self._retry_delay_s)
                delay = self._retry_delay_s
            try:
                await asyncio.wait_for(self._wake.wait(), delay)
            except TimeoutError:
                pass

    async def fire_due(self) -> int:
        """Fire every tick that is due now and return how many were accepted.

        The background task calls this at each wake-up; tests call it directly.
        """
        async with self._firing:
            return await self._fire_all_due()

    async def _fire_all_due(self) -> int:
        fired = 0
        for target in list(self._targets.values()):
            state = self._states.get(target.id)
            if self._targets.get(target.id) is not target or state is None:
                continue  # an update during an earlier accept removed or rebuilt it
            if state.retry_at is not None and self._clock() < state.retry_at:
                continue

            now = datetime.fromtimestamp(self._clock(), UTC)
            try:
                ticks = due_ticks(target.schedule, state.baseline(target), now, target.tz)
            except (ValueError, OverflowError) as error:
                # The retry time keeps the task from waking at once for this schedule again.
                state.retry_at = self._clock() + self._retry_delay_s
                logger.error("schedule %s of function %s cannot compute its due ticks: %s; retrying in %.0f s",
                             target.rule_arn, target.function, error, self._retry_delay_s)
                continue
            for tick in ticks:
                if await self._fire(target, state, tick):
                    fired += 1
        return fired

    async def _fire(self, target: ScheduledTarget, state: _FireState, tick: datetime) -> bool:
        payload = target.input_payload
        if payload is None:
            payload = orjson.dumps(scheduled_event(target.rule_arn, tick, self._region, self._account))

        fire_time = self._clock()
        try:
            await self._accept(Invocation(target.function, payload, TRIGGER, qualifier=target.qualifier))
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - the tick is retried, whatever failed
            state.failures += 1
            state.retry_at = self._clock() + self._retry_delay_s
            logger.warning("schedule %s (%s) of function %s failed to invoke tick %s (attempt %d): %s; "
                           "retrying in %.0f s", target.rule_arn, target.expression, target.function,
                           tick.isoformat(), state.failures, error, self._retry_delay_s)
            return False

        self._lateness_s.append(fire_time - tick.timestamp())
        state.last_fired = tick
        state.retry_at = None
        state.failures = 0
        try:
            self._store.record_fired(target.id, tick.timestamp())
        except sqlite3.Error as error:
            # The tick stays fired in memory, so only a restart can fire it again.
            logger.error("schedule %s of function %s fired tick %s but cannot record it: %s",
                         target.rule_arn, target.function, tick.isoformat(), error)
        return True

    def _seconds_until_next(self) -> float:
        now = self._clock()
        earliest: float | None = None
        for target in self._targets.values():
            state = self._states[target.id]
            if state.retry_at is not None:
                due = state.retry_at
            else:
                following = target.schedule.next_after(state.baseline(target), target.tz)
                if following is None:
                    continue  # a cron schedule whose last year has passed
                due = following.timestamp()
            if earliest is None or due < earliest:
                earliest = due
        if earliest is None:
            return MAX_SLEEP_S
        return min(MAX_SLEEP_S, max(0.0, earliest - now))

    # Introspection

    def lateness_s(self) -> list[float]:
        """Return how late the recent fires were: the time accept was called minus the tick's time."""
        return list(self._lateness_s)

    def schedules(self) -> list[ScheduledTarget]:
        """Return the schedules that currently fire."""
        return list(self._targets.values())


def _schedule_id(function: str, trigger: ScheduleTrigger, existing: Mapping[str, ScheduledTarget]) -> str:
    # Sorted keys make reordering the keys of an input object no change.
    # Identical triggers on one function are counted, so that each keeps a
    # row of its own and fires as a separate rule would.
    canonical_input = orjson.dumps(trigger.input, option=orjson.OPT_SORT_KEYS).decode()
    occurrence = 0
    while True:
        key = orjson.dumps([function, trigger.expression, trigger.timezone, canonical_input, occurrence])
        schedule_id = hashlib.sha256(key).hexdigest()[:32]
        if schedule_id not in existing:
            return schedule_id
        occurrence += 1
