"""Object triggers: turn the object store's change log into asynchronous invocations, as S3 notifications do.

One reader task follows the log. For each change after its checkpoint, every
deployed function whose trigger matches (bucket, event kind, key prefix and
suffix) gets one asynchronous invocation whose payload is an S3 notification
event with a single record. Once the async queue has durably accepted those
invocations, the checkpoint advances and the log is trimmed up to it.

Delivery is at least once: a change whose invocations were accepted but whose
checkpoint was not yet written is handed on again after a crash, so a
function can see the same change twice (compare `s3.object.sequencer`).

The invocation carries the W3C traceparent that the change's request sent
(logged with the change while tracing is on), so it joins the uploader's trace.
A change made from inside an invocation through the SDK carries that
invocation's X-Ray trace header, and the invocation it triggers continues
its chain of calls. As on Lambda, a change whose chain has already run the
function 16 times does not run it, unless the function's recursive_loop
setting is `allow`: the event goes to the function's on-failure destination
and dead-letter queue instead.

As on S3, a trigger only fires for changes made after it was deployed. Its
first deploy time is stored beside the checkpoint, so a restart does not
count as a new deploy.

Errors: when the async queue reports `StorageFull`, or any other failure
occurs, the reader logs one line, backs off and retries the same changes,
so nothing is skipped. When it reports `FunctionNotFound` (the function
was removed while a change was on its way), the change is skipped for that
function only.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson

from squall.dispatcher.dispatcher import Invocation
from squall.errors import FunctionNotFound
from squall.manifest.spec import ObjectTrigger, ServiceSpec
from squall.services.hub import ServiceHub
from squall.services.objects import InvalidArgument, ObjectEvent, matches, s3_event, validate_event_kinds

logger = logging.getLogger(__name__)

STATE_FILE = "object_triggers.db"
# Changes read from the log per pass; their invocations are accepted together,
# which the async queue commits in a few transactions rather than one each.
PAGE_SIZE = 100
# Maximum sleep of an idle reader. A change wakes it at once through the hub,
# but a write that does not notify is still seen this often.
IDLE_POLL_S = 1.0
# Back-off after a failure: the first delay, doubled after each further failure up to the second.
BACKOFF_S = (1.0, 30.0)
# How long a trigger stored by the previous run may take to be deployed again
# after a start. The server restores services one by one, so a change logged
# just before a crash waits this long for the trigger it matches.
RESTORE_GRACE_S = 30.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS checkpoint (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
);
-- identity: the JSON of [function, bucket, events, prefix, suffix]; since: epoch seconds of its first deploy.
CREATE TABLE IF NOT EXISTS triggers (
    identity TEXT PRIMARY KEY,
    since REAL NOT NULL
);
"""


class Acceptor(Protocol):
    """The receiver of the reader's invocations: `AsyncInvoker` in the server."""

    async def accept(self, invocation: Invocation) -> None: ...

    async def accept_continuing(self, invocation: Invocation, sent_trace_header: str, stopped_call: str) -> bool: ...


@dataclass(frozen=True)
class _Subscription:
    """One object trigger of one function, and the time from which it fires."""

    function: str
    trigger: ObjectTrigger
    since: float  # epoch seconds. Changes logged earlier do not fire this trigger.
    configuration_id: str  # `s3.configurationId` of the events it receives

    @property
    def identity(self) -> str:
        return _identity(self.function, self.trigger)

    def fires_for(self, event: ObjectEvent) -> bool:
        if event.bucket != self.trigger.bucket or event.time < self.since:
            return False
        return matches(event, self.trigger.events, self.trigger.prefix, self.trigger.suffix)


def _identity(function: str, trigger: ObjectTrigger) -> str:
    events = sorted(set(trigger.events))
    return orjson.dumps([function, trigger.bucket, events, trigger.prefix, trigger.suffix]).decode()


def _from_identity(identity: str, since: float) -> _Subscription:
    function, bucket, events, prefix, suffix = orjson.loads(identity)
    trigger = ObjectTrigger(bucket, tuple(events), prefix, suffix)
    return _Subscription(function, trigger, since, f"{function}-objects")


class _TriggerState:
    """The reader's checkpoint and each trigger's first deploy time, in a SQLite file of its own.

    Calls run on the event loop's thread, as the scheduler's do, because each
    write is one small row and WAL with synchronous=NORMAL does not fsync on
    commit. A commit survives a crash of the server process. A power loss can
    drop the latest commits: a lost checkpoint repeats deliveries, and a lost
    trigger row makes that trigger fire only for changes after the next start.
    """

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def checkpoint(self) -> int:
        row = self._db.execute("SELECT seq FROM checkpoint WHERE id = 1").fetchone()
        return 0 if row is None else int(row[0])

    def save_checkpoint(self, seq: int) -> None:
        with self._db:
            self._db.execute(
                "INSERT INTO checkpoint (id, seq) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq",
                (seq,),
            )

    def triggers(self) -> dict[str, float]:
        return {identity: since for identity, since in self._db.execute("SELECT identity, since FROM triggers")}

    def add_triggers(self, since_by_identity: Mapping[str, float]) -> dict[str, float]:
        """Store the triggers not stored yet, and return the stored `since` of each one given."""
        with self._db:
            self._db.executemany(
                "INSERT OR IGNORE INTO triggers (identity, since) VALUES (?, ?)", list(since_by_identity.items())
            )
        stored = self.triggers()
        return {identity: stored[identity] for identity in since_by_identity}

    def remove_triggers(self, identities: Iterable[str]) -> None:
        with self._db:
            self._db.executemany("DELETE FROM triggers WHERE identity = ?", [(identity,) for identity in identities])


class ObjectTriggers:
    """Invokes the deployed functions' object triggers for the changes in the object store.

    `update` takes the whole set of deployed services after every deploy.
    The dispatcher's set only grows while the server restores its services,
    so a trigger missing from an update after it was present has really been
    removed: its stored state goes, and deploying it again starts afresh.
    """

    def __init__(
        self,
        hub: ServiceHub,
        async_invoker: Acceptor,
        clock: Callable[[], float] = time.time,
        *,
        idle_poll_s: float = IDLE_POLL_S,
        backoff_s: tuple[float, float] = BACKOFF_S,
        restore_grace_s: float = RESTORE_GRACE_S,
    ) -> None:
        self._hub = hub
        self._invoker = async_invoker
        self._clock = clock
        self._idle_poll_s = idle_poll_s
        self._backoff_s = backoff_s
        self._state = _TriggerState(hub.data_dir / STATE_FILE)
        self._checkpoint = self._state.checkpoint()
        self._subscriptions: dict[str, _Subscription] = {}
        # Triggers the previous run stored and this one has not deployed yet.
        # The checkpoint stops before a change they match until they are
        # deployed or the grace period ends.
        self._pending = {identity: _from_identity(identity, since) for identity, since in self._state.triggers().items()}
        self._pending_until = time.monotonic() + restore_grace_s
        # (seq, identity) pairs accepted beyond the checkpoint, so a retry after
        # a partial failure does not accept them twice.
        self._accepted: set[tuple[int, str]] = set()
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def checkpoint(self) -> int:
        """The `seq` of the last change whose invocations were all accepted."""
        return self._checkpoint

    # The set of triggers

    def update(self, services: Mapping[str, ServiceSpec]) -> None:
        """Replace the set of triggers with those of `services`, which must be every deployed service.

        Raises sqlite3.Error when the state file cannot be written. The
        previous set of triggers then stays in effect.
        """
        if self._closed:
            logger.warning("object triggers are closed; ignoring an update with %d service(s)", len(services))
            return
        deployed = self._deployed_triggers(services)

        # Store first deploy times before switching, so a crash right after
        # the switch finds them.
        known = {identity: sub.since for identity, sub in self._subscriptions.items() if identity in deployed}
        now = self._clock()
        new = {identity: now for identity in deployed if identity not in known}
        stored = self._state.add_triggers(new) if new else {}
        removed = [identity for identity in self._subscriptions if identity not in deployed]
        if removed:
            self._state.remove_triggers(removed)

        subscriptions: dict[str, _Subscription] = {}
        for identity, (function, trigger, configuration_id) in deployed.items():
            since = known.get(identity, stored.get(identity, now))
            subscriptions[identity] = _Subscription(function, trigger, since, configuration_id)
            self._pending.pop(identity, None)
        for identity in removed:
            old = self._subscriptions[identity]
            logger.info("object trigger on bucket %s for function %s removed", old.trigger.bucket, old.function)
        for identity in new:
            added = subscriptions[identity]
            logger.info("object trigger on bucket %s for function %s fires for changes after %s",
                        added.trigger.bucket, added.function, _format_time(added.since))
        self._subscriptions = subscriptions

        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run_forever(), name="squall-object-triggers")
        self._changed.set()

    def _deployed_triggers(self, services: Mapping[str, ServiceSpec]) -> dict[str, tuple[str, ObjectTrigger, str]]:
        deployed: dict[str, tuple[str, ObjectTrigger, str]] = {}
        for service in services.values():
            for spec in service.functions.values():
                triggers = [trigger for trigger in spec.triggers if isinstance(trigger, ObjectTrigger)]
                for number, trigger in enumerate(triggers, start=1):
                    try:
                        validate_event_kinds(trigger.events)
                    except InvalidArgument as error:
                        logger.error("object trigger %d of function %s is skipped: %s", number, spec.name, error)
                        continue
                    configuration_id = f"{spec.name}-objects" if len(triggers) == 1 else f"{spec.name}-objects-{number}"
                    deployed[_identity(spec.name, trigger)] = (spec.name, trigger, configuration_id)
        return deployed

    async def close(self) -> None:
        """Stop the reader and close the state file. Closing again does nothing.

        Invocations accepted for a change whose checkpoint was not written
        yet are accepted again after the next start.
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
        self._state.close()

    # The reader

    async def _run_forever(self) -> None:
        failures = 0
        while True:
            try:
                await self._read_and_wait()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - the reader outlives any single failure
                failures += 1
                delay = min(self._backoff_s[0] * 2 ** (failures - 1), self._backoff_s[1])
                logger.warning("object triggers: handing on changes after seq %d failed (attempt %d): %s: %s; "
                               "retrying in %.1f s", self._checkpoint, failures, type(error).__name__, error, delay)
                await asyncio.sleep(delay)
                continue
            if failures:
                logger.info("object triggers: handing on changes works again after %d failed attempt(s)", failures)
                failures = 0

    async def _read_and_wait(self) -> None:
        """Hand on one page of changes, then wait for a change unless more are waiting."""
        waiters = self._start_waiters()
        try:
            # Let the waiters register before the read, so a change
            # committed during the read still ends the wait below.
            await asyncio.sleep(0)
            if await self._read_once():
                return
            await asyncio.wait(waiters, timeout=self._idle_poll_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    def _start_waiters(self) -> list[asyncio.Task[Any]]:
        self._changed.clear()
        loop = asyncio.get_running_loop()
        waiters: list[asyncio.Task[Any]] = [loop.create_task(self._changed.wait())]
        buckets = {sub.trigger.bucket for sub in (*self._subscriptions.values(), *self._pending.values())}
        for bucket in sorted(buckets):
            waiters.append(loop.create_task(self._hub.wait_for_change("objects", bucket, self._idle_poll_s)))
        return waiters

    async def _read_once(self) -> bool:
        """Hand on one page of changes; return whether more are waiting to be read at once."""
        self._expire_pending()
        subscriptions = list(self._subscriptions.values())
        if not subscriptions and not self._pending:
            # With no trigger deployed, the object store is not even opened.
            return False

        store = await self._hub.run(self._hub.store, "objects")
        events: list[ObjectEvent] = await self._hub.run(store.events, self._checkpoint, PAGE_SIZE)
        ready, blocked = self._split_at_pending(events)

        handed_up_to, error = await self._hand_on(ready, subscriptions)
        if handed_up_to > self._checkpoint:
            await self._advance(store, handed_up_to)
        if error is not None:
            raise error
        return len(events) == PAGE_SIZE and not blocked

    def _split_at_pending(self, events: list[ObjectEvent]) -> tuple[list[ObjectEvent], bool]:
        """Return the changes before the first one a trigger of the previous run still waits for."""
        for index, event in enumerate(events):
            if any(pending.fires_for(event) for pending in self._pending.values()):
                return events[:index], True
        return events, False

    def _expire_pending(self) -> None:
        if not self._pending or time.monotonic() < self._pending_until:
            return
        for pending in self._pending.values():
            logger.info("object trigger on bucket %s for function %s was not deployed again after the restart; "
                        "its state is deleted", pending.trigger.bucket, pending.function)
        self._state.remove_triggers(self._pending)
        self._pending.clear()

    async def _hand_on(
        self, events: list[ObjectEvent], subscriptions: list[_Subscription]
    ) -> tuple[int, BaseException | None]:
        """Accept the invocations of `events`; return the last seq fully handed on and the first failure."""
        work: list[tuple[ObjectEvent, _Subscription]] = [
            (event, sub)
            for event in events
            for sub in subscriptions
            if (event.seq, sub.identity) not in self._accepted and sub.fires_for(event)
        ]
        outcomes = await asyncio.gather(*(self._accept(event, sub) for event, sub in work), return_exceptions=True)

        failed_seqs: list[int] = []
        first_error: BaseException | None = None
        for (event, sub), outcome in zip(work, outcomes):
            if outcome is None:
                self._accepted.add((event.seq, sub.identity))
                continue
            if isinstance(outcome, asyncio.CancelledError):
                raise outcome
            failed_seqs.append(event.seq)
            first_error = first_error or outcome

        if not failed_seqs:
            return (events[-1].seq if events else self._checkpoint), None
        first_failed = min(failed_seqs)
        before = [event.seq for event in events if event.seq < first_failed]
        return (before[-1] if before else self._checkpoint), first_error

    async def _accept(self, event: ObjectEvent, sub: _Subscription) -> None:
        payload = orjson.dumps(
            s3_event(event, self._hub.region, self._hub.account, configuration_id=sub.configuration_id)
        )
        invocation = Invocation(sub.function, payload, "objects", traceparent=event.traceparent,
                                qualifier=sub.trigger.qualifier)
        try:
            if event.trace_header is None:
                await self._invoker.accept(invocation)
            else:
                stopped_call = f"the {event.name.value} event of {event.bucket}/{event.key} (seq {event.seq})"
                await self._invoker.accept_continuing(invocation, event.trace_header, stopped_call)
        except FunctionNotFound:
            target = sub.function if sub.trigger.qualifier is None else f"{sub.function}:{sub.trigger.qualifier}"
            logger.warning("object trigger: function %s is not deployed; skipping %s of %s/%s (seq %d)",
                           target, event.name.value, event.bucket, event.key, event.seq)

    async def _advance(self, store: Any, seq: int) -> None:
        # The checkpoint is committed before the log is trimmed, so a crash in
        # between leaves only changes that are already handed on.
        self._state.save_checkpoint(seq)
        self._checkpoint = seq
        self._accepted = {pair for pair in self._accepted if pair[0] > seq}
        try:
            await self._hub.run(store.trim_events, seq)
        except Exception as error:  # noqa: BLE001 - the next checkpoint trims again
            logger.warning("object triggers: trimming the object event log up to seq %d failed: %s: %s",
                           seq, type(error).__name__, error)


def _format_time(epoch_s: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_s))
