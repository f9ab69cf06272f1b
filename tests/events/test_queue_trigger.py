"""Queue triggers against the real queue store, with a fake dispatcher in place of instances."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from squall.events.queue_trigger import QueueTriggers
from squall.manifest.spec import FunctionSpec, QueueTrigger, ServiceSpec
from squall.runtime.protocol import MAX_REQUEST_BYTES
from squall.services.hub import ServiceHub
from squall.services.queues import QueueSettings
from tests.events.test_record_triggers import FUNCTION, FakeDispatcher, wait_until

MIB = 1024 * 1024


@dataclass
class Harness:
    """A hub on a temporary folder whose queue triggers deliver to a fake dispatcher."""

    hub: ServiceHub
    dispatcher: FakeDispatcher = field(default_factory=FakeDispatcher)
    triggers: list[QueueTriggers] = field(default_factory=list)

    def start(self, trigger: QueueTrigger, max_event_bytes: int = MAX_REQUEST_BYTES) -> None:
        triggers = QueueTriggers(self.hub, self.dispatcher, max_event_bytes=max_event_bytes)  # type: ignore[arg-type]
        spec = FunctionSpec(name=FUNCTION, handler="app.consume", triggers=(trigger,))
        triggers.update({"svc": ServiceSpec("svc", Path("."), Path("squall.yml"), {FUNCTION: spec})})
        self.triggers.append(triggers)

    def send(self, queue: str, bodies: list[str], group: str | None = None) -> None:
        store = self.hub.store("queues")
        for number, body in enumerate(bodies):
            dedup = None if group is None else str(number)
            store.send(queue, body, group_id=group, dedup_id=dedup)

    def batches(self) -> list[list[str]]:
        """Return the number at the start of each delivered body, per event."""
        return [[record["body"].split("-")[0] for record in event["Records"]] for event in self.dispatcher.events]

    def receive_counts(self) -> list[str]:
        return [record["attributes"]["ApproximateReceiveCount"]
                for event in self.dispatcher.events for record in event["Records"]]


@pytest.fixture
async def harness(tmp_path: Path) -> Iterator[Harness]:
    hub = ServiceHub(tmp_path / "services")
    harness = Harness(hub)
    yield harness
    for triggers in harness.triggers:
        await triggers.close()
    hub.close()


def bodies(count: int, size: int) -> list[str]:
    """Return `count` bodies of `size` characters, each starting with its number and a "-"."""
    return [f"{number:02d}-".ljust(size, "x") for number in range(count)]


async def test_standard_queue_batch_within_payload_limit(harness: Harness) -> None:
    # 30 messages of 250,000 bytes made one 7.5 MB event before the limit.
    harness.hub.store("queues").create_queue("orders")
    harness.send("orders", bodies(30, 250_000))

    harness.start(QueueTrigger(queue="orders", batch_size=30, batch_window_s=0.1))
    await wait_until(lambda: sum(map(len, harness.batches())) >= 30, timeout_s=30)

    delivered = [number for batch in harness.batches() for number in batch]
    assert sorted(delivered) == [f"{number:02d}" for number in range(30)]
    assert max(harness.dispatcher.payload_sizes) <= MAX_REQUEST_BYTES
    assert len(harness.batches()) >= 2
    # Most of the limit is used: a batch ends only where a 256 KiB message might not fit.
    assert len(harness.batches()[0]) >= 20
    # No message was received without being delivered.
    assert set(harness.receive_counts()) == {"1"}


async def test_fifo_batches_keep_order_within_limit(harness: Harness) -> None:
    harness.hub.store("queues").create_queue("jobs.fifo", QueueSettings(max_message_bytes=MIB))
    harness.send("jobs.fifo", bodies(8, 900_000), group="g")

    harness.start(QueueTrigger(queue="jobs.fifo", batch_size=10))
    await wait_until(lambda: sum(map(len, harness.batches())) >= 8, timeout_s=30)

    delivered = [number for batch in harness.batches() for number in batch]
    assert delivered == [f"{number:02d}" for number in range(8)]
    assert max(harness.dispatcher.payload_sizes) <= MAX_REQUEST_BYTES
    assert set(harness.receive_counts()) == {"1"}


async def test_small_messages_fill_batch_to_size(harness: Harness) -> None:
    harness.hub.store("queues").create_queue("orders")
    harness.send("orders", bodies(25, 10))

    harness.start(QueueTrigger(queue="orders", batch_size=25, batch_window_s=0.5))
    await wait_until(lambda: sum(map(len, harness.batches())) >= 25)

    assert [len(batch) for batch in harness.batches()] == [25]


async def test_message_above_lowered_limit_returns_next_batch(harness: Harness) -> None:
    store = harness.hub.store("queues")
    store.create_queue("jobs.fifo")
    harness.send("jobs.fifo", bodies(3, 8000), group="g")
    # Sent before the queue's maximum message size went down to 1 KiB, so each
    # is larger than the trigger expects: 3 are received, and only 2 fit.
    store.update_queue("jobs.fifo", QueueSettings(max_message_bytes=1024))

    harness.start(QueueTrigger(queue="jobs.fifo", batch_size=10), max_event_bytes=20_000)
    await wait_until(lambda: sum(map(len, harness.batches())) >= 3)

    assert harness.batches() == [["00", "01"], ["02"]]
    assert max(harness.dispatcher.payload_sizes) <= 20_000
    # The message made visible again counted a receive, as SQS counts every receive.
    assert harness.receive_counts() == ["1", "1", "2"]


async def test_missing_queue_logged_once(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    # Five pollers fail each second on a queue that does not exist (one deleted under its trigger).
    harness.start(QueueTrigger(queue="gone"))
    triggers = harness.triggers[0]

    await wait_until(lambda: sum(triggers._failures.values()) >= 10, timeout_s=30)

    failed = [record for record in caplog.records if "polling queue gone" in record.getMessage()]
    assert len(failed) == 1
    assert "failure 1 in a row" in failed[0].getMessage()


async def test_recreated_queue_logged_as_working(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="squall.events.queue_trigger")
    harness.start(QueueTrigger(queue="later"))
    triggers = harness.triggers[0]
    await wait_until(lambda: sum(triggers._failures.values()) >= 1, timeout_s=30)

    harness.hub.store("queues").create_queue("later")
    harness.send("later", ["01-after"])
    await wait_until(lambda: harness.batches() == [["01"]], timeout_s=30)

    recovered = [record.getMessage() for record in caplog.records if "works again" in record.getMessage()]
    assert len(recovered) == 1
    assert recovered[0].startswith("polling queue later for")
