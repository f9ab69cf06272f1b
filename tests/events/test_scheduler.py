"""The scheduler: schedule triggers fire as asynchronous invocations, once per tick, across restarts."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel

from squall.dispatcher.dispatcher import Invocation
from squall.events.scheduler import Scheduler
from squall.manifest.spec import FunctionSpec, QueueTrigger, ScheduleTrigger, ServiceSpec, Trigger
from squall.services.errors import StorageFull
from squall.services.schedules import UTC
from tests.conftest import CONFORMANCE

REGION = "eu-west-1"
ACCOUNT = "123456789012"
WAIT_S = 5.0  # the longest a test waits for the background task, which normally reacts within milliseconds
RETRY_DELAY_S = 5.0


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


class FakeClock:
    """A wall clock that moves only when a test moves it."""

    def __init__(self, start: datetime) -> None:
        self.now = start.timestamp()

    def __call__(self) -> float:
        return self.now

    def set(self, moment: datetime) -> None:
        self.now = moment.timestamp()

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Recorder:
    """An `accept` that keeps what it receives and can fail its first calls."""

    def __init__(self, failures: int = 0) -> None:
        self.accepted: list[Invocation] = []
        self.failures_left = failures
        self.calls: asyncio.Queue[Invocation | Exception] = asyncio.Queue()

    async def __call__(self, invocation: Invocation) -> None:
        if self.failures_left > 0:
            self.failures_left -= 1
            error = StorageFull("no space left on the device holding the asynchronous queue")
            self.calls.put_nowait(error)
            raise error
        self.accepted.append(invocation)
        self.calls.put_nowait(invocation)

    async def next_call(self) -> Invocation | Exception:
        return await asyncio.wait_for(self.calls.get(), WAIT_S)

    def events(self) -> list[Any]:
        return [orjson.loads(invocation.payload) for invocation in self.accepted]

    def times(self) -> list[str]:
        return [event["time"] for event in self.events()]


def service(functions: dict[str, tuple[Trigger, ...]]) -> dict[str, ServiceSpec]:
    """Build the deployed services: one service "app" with these functions and their triggers."""
    root = Path("/srv/app")
    specs = {
        function: FunctionSpec(name=function, handler=f"handlers.{function}", triggers=triggers)
        for function, triggers in functions.items()
    }
    return {"app": ServiceSpec(service="app", root=root, manifest_path=root / "squall.yml", functions=specs)}


OpenScheduler = Callable[[Recorder], Scheduler]


@pytest.fixture
def clock() -> FakeClock:
    # A quarter second past the minute, so lateness is visible and the
    # first-seen time is rounded down to the whole second.
    fake = FakeClock(utc(2024, 1, 1, 10, 0))
    fake.advance(0.25)
    return fake


@pytest.fixture
async def open_scheduler(tmp_path: Path, clock: FakeClock) -> AsyncIterator[OpenScheduler]:
    """Open schedulers on one state file, as restarts of one server would, and close them all at the end."""
    opened: list[Scheduler] = []

    def _open(accept: Recorder) -> Scheduler:
        scheduler = Scheduler(tmp_path / "schedules.db", accept, clock, REGION, ACCOUNT, retry_delay_s=RETRY_DELAY_S)
        opened.append(scheduler)
        return scheduler

    yield _open
    for scheduler in opened:
        await scheduler.close()


async def test_rate_fires_once_per_tick(open_scheduler: OpenScheduler, clock: FakeClock) -> None:
    accept = Recorder()
    scheduler = open_scheduler(accept)
    scheduler.update(service({"tick": (ScheduleTrigger("rate(1 minute)"),)}))

    deploy_fires = await scheduler.fire_due()
    clock.advance(59)
    early_fires = await scheduler.fire_due()
    clock.advance(1)
    first_fires = await scheduler.fire_due()
    repeat_fires = await scheduler.fire_due()
    clock.advance(60)
    second_fires = await scheduler.fire_due()

    assert deploy_fires == 0
    assert early_fires == 0
    assert first_fires == 1
    assert repeat_fires == 0
    assert second_fires == 1
    assert accept.times() == ["2024-01-01T10:01:00Z", "2024-01-01T10:02:00Z"]
    assert [invocation.function for invocation in accept.accepted] == ["tick", "tick"]
    assert [invocation.trigger for invocation in accept.accepted] == ["schedule", "schedule"]
    assert scheduler.lateness_s() == [pytest.approx(0.25), pytest.approx(0.25)]


async def test_scheduled_event_parses_as_eventbridge(open_scheduler: OpenScheduler, clock: FakeClock) -> None:
    accept = Recorder()
    scheduler = open_scheduler(accept)
    scheduler.update(service({"tick": (ScheduleTrigger("rate(1 minute)"),)}))
    clock.advance(60)
    await scheduler.fire_due()

    event = accept.events()[0]
    model = EventBridgeModel.model_validate(event)
    sample = orjson.loads((CONFORMANCE / "lambda-events" / "eventBridgeEvent.json").read_bytes())

    assert model.detail_type == "Scheduled Event"
    assert model.source == "aws.events"
    assert model.time == utc(2024, 1, 1, 10, 1)
    assert model.region == REGION
    assert model.account == ACCOUNT
    assert model.resources == [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/app-tick-schedule-1"]
    assert model.detail == {}
    # A scheduled event is not replayed from an archive, so it has no "replay-name".
    assert set(event) == set(sample) - {"replay-name"}


@pytest.mark.parametrize(
    ("expression", "timezone", "deployed", "expected"),
    [
        # Paris is UTC+1 in winter and UTC+2 in summer.
        ("cron(0 9 * * ? *)", "Europe/Paris", utc(2024, 1, 15, 7, 0), utc(2024, 1, 15, 8, 0)),
        ("cron(0 9 * * ? *)", "Europe/Paris", utc(2024, 7, 15, 6, 0), utc(2024, 7, 15, 7, 0)),
        # New York moves to UTC-4 on Sunday 2024-03-10, so the first weekday
        # 08:30 after Saturday 2024-03-09 is Monday 11 March at 12:30 UTC.
        ("cron(30 8 ? * MON-FRI *)", "America/New_York", utc(2024, 3, 9, 12, 0), utc(2024, 3, 11, 12, 30)),
        ("cron(0 9 * * ? *)", "UTC", utc(2024, 1, 15, 7, 0), utc(2024, 1, 15, 9, 0)),
    ],
)
async def test_cron_fires_at_utc_instant(
    open_scheduler: OpenScheduler,
    clock: FakeClock,
    expression: str,
    timezone: str,
    deployed: datetime,
    expected: datetime,
) -> None:
    accept = Recorder()
    scheduler = open_scheduler(accept)
    clock.set(deployed)
    scheduler.update(service({"report": (ScheduleTrigger(expression, timezone=timezone),)}))

    clock.set(expected)
    clock.advance(-1)
    early_fires = await scheduler.fire_due()
    clock.set(expected)
    on_time_fires = await scheduler.fire_due()

    assert early_fires == 0
    assert on_time_fires == 1
    assert accept.times() == [expected.strftime("%Y-%m-%dT%H:%M:%SZ")]


@pytest.mark.parametrize(
    "constant_input",
    [{"job": "cleanup", "older_than_days": 30}, ["a", "b"], "nightly", 7],
    ids=["object", "array", "string", "number"],
)
async def test_input_replaces_event(open_scheduler: OpenScheduler, clock: FakeClock, constant_input: object) -> None:
    accept = Recorder()
    scheduler = open_scheduler(accept)
    scheduler.update(service({"cleanup": (ScheduleTrigger("rate(1 minute)", input=constant_input),)}))
    clock.advance(60)
    await scheduler.fire_due()

    assert accept.events() == [constant_input]


async def test_fired_tick_not_repeated_after_restart(open_scheduler: OpenScheduler, clock: FakeClock) -> None:
    services = service({"tick": (ScheduleTrigger("rate(5 minutes)"),)})
    accept = Recorder()
    first = open_scheduler(accept)
    first.update(services)
    clock.advance(300)
    await first.fire_due()
    await first.close()

    second = open_scheduler(accept)
    clock.advance(30)
    second.update(services)
    after_restart_fires = await second.fire_due()

    assert after_restart_fires == 0
    assert accept.times() == ["2024-01-01T10:05:00Z"]


async def test_missed_ticks_fire_once_after_restart(open_scheduler: OpenScheduler, clock: FakeClock) -> None:
    services = service({"tick": (ScheduleTrigger("rate(5 minutes)"),)})
    accept = Recorder()
    first = open_scheduler(accept)
    first.update(services)
    clock.advance(300)
    await first.fire_due()
    await first.close()

    # Down from 10:05 to 10:22, which misses the ticks at 10:10, 10:15 and 10:20.
    clock.set(utc(2024, 1, 1, 10, 22))
    second = open_scheduler(accept)
    second.update(services)
    catch_up_fires = await second.fire_due()
    repeat_fires = await second.fire_due()
    clock.set(utc(2024, 1, 1, 10, 25))
    resumed_fires = await second.fire_due()

    assert catch_up_fires == 1
    assert repeat_fires == 0
    assert resumed_fires == 1
    assert accept.times() == ["2024-01-01T10:05:00Z", "2024-01-01T10:20:00Z", "2024-01-01T10:25:00Z"]


async def test_rate_grid_survives_restart(open_scheduler: OpenScheduler, clock: FakeClock) -> None:
    # First seen at 10:00:30, so the ticks are at :30 past the minute.
    clock.set(utc(2024, 1, 1, 10, 0, 30))
    services = service({"tick": (ScheduleTrigger("rate(2 minutes)"),)})
    accept = Recorder()
    first = open_scheduler(accept)
    first.update(services)
    await first.close()

    clock.set(utc(2024, 1, 1, 10, 1, 45))
    second = open_scheduler(accept)
    second.update(services)
    clock.set(utc(2024, 1, 1, 10, 2, 30))
    await second.fire_due()

    assert accept.times() == ["2024-01-01T10:02:30Z"]


@pytest.mark.parametrize(
    "redeployed",
    [
        {"tick": (ScheduleTrigger("rate(1 minute)", input={"a": 1, "b": 2}),)},
        {"tick": (ScheduleTrigger("rate(1 minute)", input={"b": 2, "a": 1}),)},
        {"tick": (QueueTrigger("jobs"), ScheduleTrigger("rate(1 minute)", input={"a": 1, "b": 2}))},
        {"tick": (ScheduleTrigger("rate(1 minute)", input={"a": 1, "b": 2}),), "other": ()},
    ],
    ids=["same", "input-keys-reordered", "trigger-moved", "function-added"],
)
async def test_unchanged_schedule_keeps_state(
    open_scheduler: OpenScheduler, clock: FakeClock, redeployed: dict[str, tuple[Trigger, ...]]
) -> None:
    accept = Recorder()
    scheduler = open_scheduler(accept)
    scheduler.update(service({"tick": (ScheduleTrigger("rate(1 minute)", input={"a": 1, "b": 2}),)}))
    clock.advance(60)
    await scheduler.fire_due()

    clock.advance(30)
    scheduler.update(service(redeployed))
    after_redeploy_fires = await scheduler.fire_due()
    clock.advance(30)
    next_tick_fires = await scheduler.fire_due()

    assert after_redeploy_fires == 0
    assert next_tick_fires == 1
    assert scheduler.lateness_s() == [pytest.approx(0.25), pytest.approx(0.25)]


@pytest.mark.parametrize(
    ("changed", "first_tick"),
    [
        (ScheduleTrigger("rate(2 minutes)"), utc(2024, 1, 1, 10, 3, 30)),
        (ScheduleTrigger("rate(1 minute)", timezone="Europe/Paris"), utc(2024, 1, 1, 10, 2, 30)),
        (ScheduleTrigger("rate(1 minute)", input={"job": "report"}), utc(2024, 1, 1, 10, 2, 30)),
    ],
    ids=["expression", "timezone", "input"],
)
async def test_changed_schedule_starts_fresh(
    open_scheduler: OpenScheduler, clock: FakeClock, changed: ScheduleTrigger, first_tick: datetime
) -> None:
    accept = Recorder()
    scheduler = open_scheduler(accept)
    scheduler.update(service({"tick": (ScheduleTrigger("rate(1 minute)"),)}))
    clock.advance(60)
    await scheduler.fire_due()

    # Redeployed at 10:01:30, so the changed schedule counts its ticks from then.
    clock.set(utc(2024, 1, 1, 10, 1, 30))
    scheduler.update(service({"tick": (changed,)}))
    clock.set(utc(2024, 1, 1, 10, 2, 0))
    old_grid_fires = await scheduler.fire_due()
    clock.set(first_tick)
    clock.advance(-1)
    early_fires = await scheduler.fire_due()
    clock.set(first_tick)
    new_grid_fires = await scheduler.fire_due()

    assert old_grid_fires == 0
    assert early_fires == 0
    assert new_grid_fires == 1
    assert len(accept.accepted) == 2


@pytest.mark.parametrize(
    "redeployed",
    [
        {"tick": ()},
        {"tick": (ScheduleTrigger("rate(1 minute)", enabled=False),)},
        {},
    ],
    ids=["trigger-removed", "trigger-disabled", "function-removed"],
)
async def test_removed_schedule_stops(
    open_scheduler: OpenScheduler, clock: FakeClock, redeployed: dict[str, tuple[Trigger, ...]]
) -> None:
    accept = Recorder()
    scheduler = open_scheduler(accept)
    scheduler.update(service({"tick": (ScheduleTrigger("rate(1 minute)"),)}))
    clock.advance(60)
    await scheduler.fire_due()

    scheduler.update(service(redeployed))
    clock.advance(600)
    later_fires = await scheduler.fire_due()

    assert later_fires == 0
    assert accept.times() == ["2024-01-01T10:01:00Z"]
    assert scheduler.schedules() == []


async def test_restored_schedule_starts_fresh(open_scheduler: OpenScheduler, clock: FakeClock) -> None:
    services = service({"tick": (ScheduleTrigger("rate(1 minute)"),)})
    accept = Recorder()
    scheduler = open_scheduler(accept)
    scheduler.update(services)
    clock.advance(60)
    await scheduler.fire_due()

    scheduler.update(service({"tick": ()}))
    clock.set(utc(2024, 1, 1, 11, 0, 10))
    scheduler.update(services)
    restored_fires = await scheduler.fire_due()
    clock.set(utc(2024, 1, 1, 11, 1, 10))
    next_fires = await scheduler.fire_due()

    assert restored_fires == 0
    assert next_fires == 1
    assert accept.times() == ["2024-01-01T10:01:00Z", "2024-01-01T11:01:10Z"]


async def test_identical_triggers_fire_separately(open_scheduler: OpenScheduler, clock: FakeClock) -> None:
    accept = Recorder()
    scheduler = open_scheduler(accept)
    trigger = ScheduleTrigger("rate(1 minute)")
    scheduler.update(service({"tick": (trigger, trigger)}))
    clock.advance(60)
    fires = await scheduler.fire_due()

    assert fires == 2
    assert [event["resources"] for event in accept.events()] == [
        [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/app-tick-schedule-1"],
        [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/app-tick-schedule-2"],
    ]


async def test_named_rule_and_qualifier_reach_invocation(open_scheduler: OpenScheduler, clock: FakeClock) -> None:
    accept = Recorder()
    scheduler = open_scheduler(accept)
    trigger = ScheduleTrigger("rate(1 minute)", rule_name="nightly-report", qualifier="live")
    scheduler.update(service({"tick": (trigger,)}))
    clock.advance(60)
    await scheduler.fire_due()

    assert accept.events()[0]["resources"] == [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/nightly-report"]
    assert [invocation.qualifier for invocation in accept.accepted] == ["live"]


async def test_task_fires_when_tick_due(open_scheduler: OpenScheduler, clock: FakeClock) -> None:
    accept = Recorder()
    scheduler = open_scheduler(accept)
    scheduler.update(service({"tick": (ScheduleTrigger("rate(1 minute)"),)}))
    await scheduler.start()

    # The task sleeps for a minute of real time; the test moves the fake clock instead and wakes it.
    clock.advance(60)
    scheduler.wake()
    first = await accept.next_call()
    clock.advance(60)
    scheduler.wake()
    second = await accept.next_call()

    assert isinstance(first, Invocation)
    assert isinstance(second, Invocation)
    assert accept.times() == ["2024-01-01T10:01:00Z", "2024-01-01T10:02:00Z"]


async def test_update_wakes_task(open_scheduler: OpenScheduler, clock: FakeClock) -> None:
    slow = ScheduleTrigger("rate(5 minutes)")
    accept = Recorder()
    scheduler = open_scheduler(accept)
    scheduler.update(service({"slow": (slow,)}))
    await scheduler.start()
    clock.advance(300)
    scheduler.wake()
    await accept.next_call()

    # The task now sleeps until 10:10. A schedule added at 10:05:59.9 is due
    # at 10:06:00, and only the update's wake-up can make the task see it.
    clock.set(utc(2024, 1, 1, 10, 5, 59))
    clock.advance(0.9)
    scheduler.update(service({"slow": (slow,), "every": (ScheduleTrigger("cron(* * * * ? *)"),)}))
    clock.set(utc(2024, 1, 1, 10, 6))
    call = await accept.next_call()

    assert isinstance(call, Invocation)
    assert call.function == "every"
    assert accept.times() == ["2024-01-01T10:05:00Z", "2024-01-01T10:06:00Z"]


async def test_failed_tick_waits_for_retry_delay(open_scheduler: OpenScheduler, clock: FakeClock) -> None:
    services = service({"tick": (ScheduleTrigger("rate(1 minute)"),)})
    accept = Recorder(failures=1)
    scheduler = open_scheduler(accept)
    scheduler.update(services)
    clock.advance(60)

    failed_fires = await scheduler.fire_due()
    immediate_fires = await scheduler.fire_due()
    scheduler.update(services)
    after_redeploy_fires = await scheduler.fire_due()
    clock.advance(RETRY_DELAY_S - 1)
    early_fires = await scheduler.fire_due()
    clock.advance(1)
    retried_fires = await scheduler.fire_due()

    assert failed_fires == 0
    assert immediate_fires == 0
    assert after_redeploy_fires == 0
    assert early_fires == 0
    assert retried_fires == 1
    assert accept.times() == ["2024-01-01T10:01:00Z"]


async def test_failed_accept_retried(
    open_scheduler: OpenScheduler, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="squall.events.scheduler")
    accept = Recorder(failures=1)
    scheduler = open_scheduler(accept)
    scheduler.update(service({"tick": (ScheduleTrigger("rate(1 minute)"),)}))
    await scheduler.start()

    clock.advance(60)
    scheduler.wake()
    failed = await accept.next_call()
    retry_messages = [record.getMessage() for record in caplog.records if record.name == "squall.events.scheduler"]

    clock.advance(RETRY_DELAY_S)
    scheduler.wake()
    retried = await accept.next_call()

    # The task is still alive: it fires the next tick too.
    clock.set(utc(2024, 1, 1, 10, 2))
    scheduler.wake()
    next_tick = await accept.next_call()

    assert isinstance(failed, StorageFull)
    assert len(retry_messages) == 1
    assert "rule/app-tick-schedule-1" in retry_messages[0]
    assert "no space left" in retry_messages[0]
    assert isinstance(retried, Invocation)
    assert isinstance(next_tick, Invocation)
    assert accept.times() == ["2024-01-01T10:01:00Z", "2024-01-01T10:02:00Z"]
    # The retry waited for its delay: the tick fired that much after 10:01:00.25.
    assert scheduler.lateness_s()[0] == pytest.approx(RETRY_DELAY_S + 0.25)
