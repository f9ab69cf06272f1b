"""Prometheus metrics from invocation records, pools, real queue stores and real stream triggers."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from squall.dispatcher.dispatcher import Invocation, InvocationResult
from squall.dispatcher.pool import PoolSettings
from squall.events.record_triggers import RecordTriggers
from squall.manifest.spec import FunctionSpec, ServiceSpec, StreamTrigger
from squall.metering.records import InvocationRecord, Outcome
from squall.observability.metrics import DURATION_BUCKETS_S, Metrics, read_queues
from squall.services.hub import ServiceHub
from squall.services.queues import DeadLetterPolicy, QueueSettings, SqliteQueues

WAIT_S = 10.0
LATEST = "$LATEST"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


# Stand-ins for the parts of the platform that metrics read

@dataclass
class FakePool:
    spec: FunctionSpec
    settings: PoolSettings
    idle_count: int = 0
    busy_count: int = 0


@dataclass
class FakeDispatcher:
    pools: dict[str, FakePool] = field(default_factory=dict)
    versioned: list[FakePool] = field(default_factory=list)  # pools of published versions

    def running_pools(self) -> list[FakePool]:
        return [*self.pools.values(), *self.versioned]


@dataclass
class FakeRecordTriggers:
    ages: dict[tuple[str, str, str], float] = field(default_factory=dict)

    def iterator_ages(self) -> dict[tuple[str, str, str], float]:
        return dict(self.ages)


@dataclass
class FakePlatform:
    hub: ServiceHub
    dispatcher: Any = field(default_factory=FakeDispatcher)
    record_triggers: Any = field(default_factory=FakeRecordTriggers)


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[ServiceHub]:
    hub = ServiceHub(tmp_path / "services")
    yield hub
    hub.close()


@pytest.fixture
def platform(hub: ServiceHub) -> FakePlatform:
    return FakePlatform(hub)


def record(function: str = "resize", outcome: Outcome = Outcome.SUCCESS, *, trigger: str = "http",
           duration_ms: float = 4.0, billed_ms: int = 4, memory_mb: int = 128, init_ms: float | None = None,
           error_type: str | None = None) -> InvocationRecord:
    return InvocationRecord(
        request_id="r", function=function, version=LATEST, trigger=trigger, started_at=time.time(),
        duration_ms=duration_ms, billed_ms=billed_ms, memory_mb=memory_mb, max_memory_mb=30, init_ms=init_ms,
        cold=init_ms is not None, outcome=outcome, error_type=error_type,
    )


async def scrape(metrics: Metrics) -> Samples:
    """Render the metrics and parse them back as a Prometheus server would."""
    text = (await metrics.render()).decode()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def names(samples: Samples) -> set[str]:
    return {name for name, _ in samples}


# Invocation records

async def test_counters_by_outcome(platform: FakePlatform) -> None:
    metrics = Metrics(platform)
    metrics.observe(record(trigger="http"))
    metrics.observe(record(trigger="http"))
    metrics.observe(record(trigger="invoke"))
    metrics.observe(record(outcome=Outcome.ERROR, error_type="ValueError"))
    metrics.observe(record(outcome=Outcome.TIMEOUT, error_type="Sandbox.Timedout"))
    metrics.observe(record(outcome=Outcome.THROTTLED, error_type="TooManyRequestsException"))
    metrics.observe(record(outcome=Outcome.THROTTLED, error_type="TooManyRequestsException"))

    samples = await scrape(metrics)

    fn = {"function": "resize", "version": LATEST}
    assert value(samples, "squall_invocations_total", **fn, trigger="http") == 4
    assert value(samples, "squall_invocations_total", **fn, trigger="invoke") == 1
    assert value(samples, "squall_invocation_errors_total", **fn, error_type="ValueError") == 1
    assert value(samples, "squall_invocation_errors_total", **fn, error_type="Sandbox.Timedout") == 1
    assert value(samples, "squall_invocation_errors_total", **fn, error_type="TooManyRequestsException") is None
    assert value(samples, "squall_throttles_total", **fn) == 2
    assert value(samples, "squall_cold_starts_total", **fn) == 0


async def test_error_without_type_uses_outcome(platform: FakePlatform) -> None:
    metrics = Metrics(platform)
    metrics.observe(record(outcome=Outcome.CRASH))

    samples = await scrape(metrics)

    assert value(samples, "squall_invocation_errors_total", function="resize", version=LATEST, error_type="crash") == 1


async def test_functions_labelled_apart(platform: FakePlatform) -> None:
    metrics = Metrics(platform)
    metrics.observe(record("resize"))
    metrics.observe(record("thumbnail"))
    metrics.observe(record("thumbnail"))

    samples = await scrape(metrics)

    assert value(samples, "squall_invocations_total", function="resize", version=LATEST, trigger="http") == 1
    assert value(samples, "squall_invocations_total", function="thumbnail", version=LATEST, trigger="http") == 2


async def test_duration_histogram_buckets(platform: FakePlatform) -> None:
    metrics = Metrics(platform)
    for duration_ms in (0.5, 5.0, 7.0, 2_000.0, 1_000_000.0):
        metrics.observe(record(duration_ms=duration_ms))
    metrics.observe(record(outcome=Outcome.THROTTLED))

    samples = await scrape(metrics)

    fn = {"function": "resize", "version": LATEST}
    name = "squall_invocation_duration_seconds"
    # Bucket bounds include their upper bound: 5 ms falls in le="0.005".
    assert value(samples, name + "_bucket", **fn, le="0.001") == 1
    assert value(samples, name + "_bucket", **fn, le="0.005") == 2
    assert value(samples, name + "_bucket", **fn, le="0.01") == 3
    assert value(samples, name + "_bucket", **fn, le="2.5") == 4
    assert value(samples, name + "_bucket", **fn, le="900.0") == 4
    assert value(samples, name + "_bucket", **fn, le="+Inf") == 5
    assert value(samples, name + "_count", **fn) == 5
    assert value(samples, name + "_sum", **fn) == pytest.approx(1_002.0125)


def test_duration_buckets_span_1ms_to_900s() -> None:
    assert DURATION_BUCKETS_S[0] == 0.001
    assert DURATION_BUCKETS_S[-1] == 900.0
    assert list(DURATION_BUCKETS_S) == sorted(set(DURATION_BUCKETS_S))


async def test_cold_start_init_histogram(platform: FakePlatform) -> None:
    metrics = Metrics(platform)
    metrics.observe(record(init_ms=3.0))
    metrics.observe(record(init_ms=40.0))
    metrics.observe(record())

    samples = await scrape(metrics)

    fn = {"function": "resize", "version": LATEST}
    assert value(samples, "squall_cold_starts_total", **fn) == 2
    assert value(samples, "squall_init_duration_seconds_count", **fn) == 2
    assert value(samples, "squall_init_duration_seconds_bucket", **fn, le="0.005") == 1
    assert value(samples, "squall_init_duration_seconds_bucket", **fn, le="0.05") == 2
    assert value(samples, "squall_init_duration_seconds_sum", **fn) == pytest.approx(0.043)


async def test_gb_seconds_from_billed_duration(platform: FakePlatform) -> None:
    metrics = Metrics(platform)
    metrics.observe(record(billed_ms=1_500, memory_mb=1024))
    metrics.observe(record(billed_ms=1_000, memory_mb=512))
    metrics.observe(record(outcome=Outcome.THROTTLED, memory_mb=1024))

    samples = await scrape(metrics)

    assert value(samples, "squall_gb_seconds_total", function="resize", version=LATEST) == pytest.approx(2.0)


async def test_content_type_is_prometheus_text(platform: FakePlatform) -> None:
    metrics = Metrics(platform)

    assert metrics.content_type.startswith("text/plain; version=")


# Instance gauges, read from the pools at scrape time

def pool(name: str, idle: int, busy: int, provisioned: int = 0) -> FakePool:
    spec = FunctionSpec(name=name, handler="app.handler", provisioned=provisioned, reserved_concurrency=10)
    settings = PoolSettings(service="svc", root=Path("."), version=LATEST, revision=1, environment={},
                            tmp_root=Path("."))
    return FakePool(spec, settings, idle_count=idle, busy_count=busy)


async def test_instance_gauges(platform: FakePlatform) -> None:
    platform.dispatcher.pools["resize"] = pool("resize", idle=2, busy=3, provisioned=1)
    platform.dispatcher.pools["thumbnail"] = pool("thumbnail", idle=0, busy=0)
    metrics = Metrics(platform)

    samples = await scrape(metrics)

    resize = {"function": "resize", "version": LATEST}
    assert value(samples, "squall_concurrent_executions", **resize) == 3
    assert value(samples, "squall_instances", **resize, state="idle") == 2
    assert value(samples, "squall_instances", **resize, state="busy") == 3
    assert value(samples, "squall_provisioned_instances", **resize) == 1
    assert value(samples, "squall_instances", function="thumbnail", version=LATEST, state="idle") == 0


async def test_instance_gauges_include_published_versions(platform: FakePlatform) -> None:
    platform.dispatcher.pools["api"] = pool("api", idle=0, busy=0)
    live = pool("api", idle=1, busy=2, provisioned=3)
    platform.dispatcher.versioned.append(dataclasses.replace(live, settings=dataclasses.replace(live.settings, version="2")))

    samples = await scrape(Metrics(platform))

    assert value(samples, "squall_concurrent_executions", function="api", version=LATEST) == 0
    assert value(samples, "squall_concurrent_executions", function="api", version="2") == 2
    assert value(samples, "squall_instances", function="api", version="2", state="idle") == 1
    assert value(samples, "squall_provisioned_instances", function="api", version="2") == 3


async def test_instance_gauges_follow_pools(platform: FakePlatform) -> None:
    platform.dispatcher.pools["resize"] = pool("resize", idle=1, busy=0)
    metrics = Metrics(platform)
    await scrape(metrics)

    del platform.dispatcher.pools["resize"]
    platform.dispatcher.pools["thumbnail"] = pool("thumbnail", idle=0, busy=4)
    samples = await scrape(metrics)

    assert value(samples, "squall_concurrent_executions", function="resize", version=LATEST) is None
    assert value(samples, "squall_concurrent_executions", function="thumbnail", version=LATEST) == 4


# Queue gauges, from a real queue store behind a real hub

async def test_queue_gauges(platform: FakePlatform, hub: ServiceHub) -> None:
    queues = hub.store("queues")
    queues.create_queue("jobs")
    queues.send("jobs", "one")
    queues.send("jobs", "two")
    queues.send("jobs", "three")
    queues.send("jobs", "later", delay_s=60)
    assert len(queues.receive("jobs", max_messages=1, visibility_timeout_s=60)) == 1
    queues.create_queue("empty")
    metrics = Metrics(platform)

    samples = await scrape(metrics)

    assert value(samples, "squall_queue_messages", queue="jobs", state="visible") == 2
    assert value(samples, "squall_queue_messages", queue="jobs", state="in_flight") == 1
    assert value(samples, "squall_queue_messages", queue="jobs", state="delayed") == 1
    assert value(samples, "squall_queue_oldest_message_age_seconds", queue="jobs") >= 0  # type: ignore[operator]
    assert value(samples, "squall_queue_messages", queue="empty", state="visible") == 0
    assert value(samples, "squall_queue_oldest_message_age_seconds", queue="empty") == 0
    assert value(samples, "squall_dead_letter_queue_messages", queue="jobs") is None


def test_queue_oldest_age_grows(tmp_path: Path) -> None:
    now = [1_000_000.0]
    store = SqliteQueues(tmp_path / "queues.db", clock=lambda: now[0])
    store.create_queue("jobs")
    store.send("jobs", "one")
    now[0] += 42.5

    readings = read_queues(store)
    store.close()

    assert [reading.name for reading in readings] == ["jobs"]
    assert readings[0].oldest_age_s == pytest.approx(42.5)


async def test_dead_letter_queue_depth(platform: FakePlatform, hub: ServiceHub) -> None:
    queues = hub.store("queues")
    queues.create_queue("jobs-dlq")
    queues.create_queue("jobs", QueueSettings(dead_letter=DeadLetterPolicy("jobs-dlq", max_receive_count=1)))
    queues.send("jobs", "poison")
    queues.send("jobs", "fine")
    # The first receive counts 1; once visible again, the next receive moves the message by redrive.
    first = queues.receive("jobs", max_messages=10, visibility_timeout_s=0)
    assert len(first) == 2
    assert queues.receive("jobs", max_messages=10, visibility_timeout_s=60) == []
    metrics = Metrics(platform)

    samples = await scrape(metrics)

    assert value(samples, "squall_dead_letter_queue_messages", queue="jobs-dlq") == 2
    assert value(samples, "squall_queue_messages", queue="jobs-dlq", state="visible") == 2
    assert value(samples, "squall_queue_messages", queue="jobs", state="visible") == 0
    assert value(samples, "squall_dead_letter_queue_messages", queue="jobs") is None


async def test_scrape_creates_no_queue_database(platform: FakePlatform, hub: ServiceHub) -> None:
    metrics = Metrics(platform)
    metrics.observe(record())

    samples = await scrape(metrics)

    assert not (hub.data_dir / "queues.db").exists()
    assert not any(name.startswith("squall_queue_") for name in names(samples))
    assert value(samples, "squall_invocations_total", function="resize", version=LATEST, trigger="http") == 1


async def test_unreadable_queue_database_skipped(platform: FakePlatform, hub: ServiceHub,
                                                caplog: pytest.LogCaptureFixture) -> None:
    (hub.data_dir / "queues.db").write_bytes(b"this is not an SQLite database" * 100)
    metrics = Metrics(platform)
    metrics.observe(record())

    samples = await scrape(metrics)

    assert not any(name.startswith("squall_queue_") for name in names(samples))
    assert value(samples, "squall_invocations_total", function="resize", version=LATEST, trigger="http") == 1
    assert "reading the queues for metrics failed" in caplog.text


async def test_global_registry_untouched(platform: FakePlatform) -> None:
    metrics = Metrics(platform)
    metrics.observe(record())

    assert b"squall_" not in generate_latest(REGISTRY)
    assert b"squall_invocations_total" in await metrics.render()


# Stream iterator age

async def test_iterator_age_gauge(platform: FakePlatform) -> None:
    platform.record_triggers.ages[("consume", "clicks", "shardId-000000000001")] = 12.5
    metrics = Metrics(platform)

    samples = await scrape(metrics)

    assert value(samples, "squall_stream_iterator_age_seconds", function="consume", source="clicks",
                 shard="shardId-000000000001") == 12.5


class BlockingDispatcher:
    """Holds every invocation until `release` is set, so a batch stays in delivery."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.started = asyncio.Event()

    async def invoke(self, invocation: Invocation) -> InvocationResult:
        self.started.set()
        await self.release.wait()
        return InvocationResult(invocation.request_id, b"null", Outcome.SUCCESS, None, LATEST)

    def arn(self, function: str, qualifier: str | None = None) -> str:
        return "arn:aws:lambda:us-east-1:000000000000:function:" + function


async def wait_until(check: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        await asyncio.sleep(0.01)
    raise AssertionError(f"condition not met within {WAIT_S} s")


@pytest.fixture
async def stream_triggers(hub: ServiceHub) -> AsyncIterator[tuple[RecordTriggers, BlockingDispatcher, list[float]]]:
    hub.store("streams").create_stream("clicks", shard_count=1)
    dispatcher = BlockingDispatcher()
    offset = [0.0]  # seconds the triggers' clock runs ahead of time.time()
    triggers = RecordTriggers(hub, dispatcher, None, clock=lambda: time.time() + offset[0],  # type: ignore[arg-type]
                              backoff_s=0.01)
    spec = FunctionSpec(name="consume", handler="app.consume",
                        triggers=(StreamTrigger(stream="clicks", starting_position="trim_horizon"),))
    triggers.update({"svc": ServiceSpec("svc", Path("."), Path("squall.yml"), {"consume": spec})})
    yield triggers, dispatcher, offset
    dispatcher.release.set()
    await triggers.close()


async def test_iterator_age_of_running_trigger(platform: FakePlatform, hub: ServiceHub,
                                               stream_triggers: tuple[RecordTriggers, BlockingDispatcher,
                                                                      list[float]]) -> None:
    triggers, dispatcher, offset = stream_triggers
    platform.record_triggers = triggers
    metrics = Metrics(platform)
    shard = hub.store("streams").put_record("clicks", b"click", "user-1").shard_id
    hub.notify("streams", "clicks")
    await asyncio.wait_for(dispatcher.started.wait(), WAIT_S)
    labels = {"function": "consume", "source": "clicks", "shard": shard}

    offset[0] = 30.0
    behind = await scrape(metrics)
    dispatcher.release.set()

    def caught_up() -> Mapping[tuple[str, str, str], float]:
        ages = triggers.iterator_ages()
        return ages if ages.get(("consume", "clicks", shard)) == 0.0 else {}

    await wait_until(caught_up)
    after = await scrape(metrics)

    assert value(behind, "squall_stream_iterator_age_seconds", **labels) == pytest.approx(30.0, abs=2.0)
    assert value(after, "squall_stream_iterator_age_seconds", **labels) == 0.0
