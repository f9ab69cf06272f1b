"""FIFO queues: order within a group, blocked groups, deduplication."""

from __future__ import annotations

import hashlib

import pytest

from squall.services.errors import InvalidParameter
from squall.services.queues import BatchEntry, MissingParameter, Queues, QueueSettings

from .fakes import FakeClock


@pytest.fixture
def fifo(queues: Queues) -> str:
    queues.create_queue("jobs.fifo", QueueSettings(content_based_deduplication=True))
    return "jobs.fifo"


@pytest.fixture
def explicit(queues: Queues) -> str:
    queues.create_queue("explicit.fifo")
    return "explicit.fifo"


def test_order_within_group(queues: Queues, fifo: str) -> None:
    sent = [queues.send(fifo, f"m{index}", group_id="g") for index in range(5)]

    received = queues.receive(fifo, 10)

    assert [m.body for m in received] == [f"m{index}" for index in range(5)]
    numbers = [s.sequence_number for s in sent]
    assert all(number is not None and len(number) == 20 for number in numbers)
    assert numbers == sorted(numbers)
    assert len(set(numbers)) == 5
    assert [m.attributes["SequenceNumber"] for m in received] == numbers


def test_fifo_system_attributes(queues: Queues, explicit: str) -> None:
    queues.send(explicit, "body", group_id="group-1", dedup_id="dedup-1")

    [message] = queues.receive(explicit)

    assert message.attributes["MessageGroupId"] == "group-1"
    assert message.attributes["MessageDeduplicationId"] == "dedup-1"
    assert "SequenceNumber" in message.attributes


def test_group_in_flight_blocks_later_messages(
    queues: Queues, fifo: str, clock: FakeClock
) -> None:
    queues.send(fifo, "a1", group_id="a")
    queues.send(fifo, "b1", group_id="b")
    first = queues.receive(fifo, 1)
    assert [m.body for m in first] == ["a1"]
    queues.send(fifo, "a2", group_id="a")

    # Group a has a1 in flight, so only group b delivers.
    assert [m.body for m in queues.receive(fifo, 10)] == ["b1"]
    assert queues.receive(fifo, 10) == []

    queues.delete(fifo, first[0].receipt_handle)
    assert [m.body for m in queues.receive(fifo, 10)] == ["a2"]


def test_group_retries_in_order_after_timeout(
    queues: Queues, fifo: str, clock: FakeClock
) -> None:
    for body in ["m1", "m2", "m3"]:
        queues.send(fifo, body, group_id="g")
    first = queues.receive(fifo, 2)
    assert [m.body for m in first] == ["m1", "m2"]
    assert queues.receive(fifo, 10) == []

    clock.advance(30)

    again = queues.receive(fifo, 10)
    assert [m.body for m in again] == ["m1", "m2", "m3"]
    assert [m.attributes["ApproximateReceiveCount"] for m in again] == ["2", "2", "1"]


def test_next_visible_at_counts_group_heads(queues: Queues, fifo: str, clock: FakeClock) -> None:
    queues.send(fifo, "m1", group_id="g")
    queues.send(fifo, "m2", group_id="g")
    queues.receive(fifo, 1, visibility_timeout_s=50)

    # m2 is visible, but waits behind m1, which is in flight for 50 s.
    assert queues.next_visible_at(fifo) == clock.now + 50


def test_dedup_id_within_five_minutes(queues: Queues, explicit: str, clock: FakeClock) -> None:
    first = queues.send(explicit, "one", group_id="g", dedup_id="d-1")
    clock.advance(299)
    second = queues.send(explicit, "one again", group_id="g", dedup_id="d-1")

    assert second.message_id == first.message_id
    assert second.sequence_number == first.sequence_number
    assert second.md5_of_body == hashlib.md5(b"one again").hexdigest()
    assert [m.body for m in queues.receive(explicit, 10)] == ["one"]


def test_dedup_id_after_five_minutes(queues: Queues, explicit: str, clock: FakeClock) -> None:
    first = queues.send(explicit, "one", group_id="g", dedup_id="d-1")
    clock.advance(300)
    second = queues.send(explicit, "one", group_id="g", dedup_id="d-1")

    assert second.message_id != first.message_id
    assert len(queues.receive(explicit, 10)) == 2


def test_dedup_survives_delete(queues: Queues, explicit: str) -> None:
    queues.send(explicit, "one", group_id="g", dedup_id="d-1")
    [message] = queues.receive(explicit)
    queues.delete(explicit, message.receipt_handle)

    queues.send(explicit, "one", group_id="g", dedup_id="d-1")

    assert queues.receive(explicit, 10) == []


def test_content_based_dedup(queues: Queues, fifo: str) -> None:
    first = queues.send(fifo, "same body", group_id="g")
    second = queues.send(fifo, "same body", group_id="other")
    third = queues.send(fifo, "other body", group_id="g")

    assert second.message_id == first.message_id
    assert third.message_id != first.message_id
    received = queues.receive(fifo, 10)
    assert [m.body for m in received] == ["same body", "other body"]
    expected = hashlib.sha256(b"same body").hexdigest()
    assert received[0].attributes["MessageDeduplicationId"] == expected


def test_dedup_in_batch(queues: Queues, explicit: str) -> None:
    entries = [
        BatchEntry(id="a", body="x", group_id="g", dedup_id="d"),
        BatchEntry(id="b", body="x", group_id="g", dedup_id="d"),
    ]

    result = queues.send_batch(explicit, entries)

    assert result.successful["a"].message_id == result.successful["b"].message_id
    assert len(queues.receive(explicit, 10)) == 1


def test_send_without_group_id(queues: Queues, fifo: str) -> None:
    with pytest.raises(MissingParameter) as caught:
        queues.send(fifo, "body")
    assert caught.value.code == "MissingParameter"
    assert "group_id" in caught.value.message


def test_send_without_dedup_id(queues: Queues, explicit: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        queues.send(explicit, "body", group_id="g")
    assert "content_based_deduplication" in caught.value.message


def test_per_message_delay_rejected(queues: Queues, fifo: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        queues.send(fifo, "body", group_id="g", delay_s=5)
    assert "FIFO" in caught.value.message


def test_queue_delay_applies(queues: Queues, clock: FakeClock) -> None:
    queues.create_queue("slow.fifo", QueueSettings(delay_s=10, content_based_deduplication=True))
    queues.send("slow.fifo", "body", group_id="g")

    assert queues.receive("slow.fifo") == []
    clock.advance(10)
    assert len(queues.receive("slow.fifo")) == 1


@pytest.mark.parametrize(
    ("keyword", "value"),
    [("group_id", ""), ("group_id", "x" * 129), ("group_id", "tab\t"), ("dedup_id", "é")],
)
def test_invalid_group_or_dedup_id(
    queues: Queues, explicit: str, keyword: str, value: str
) -> None:
    arguments = {"group_id": "g", "dedup_id": "d", keyword: value}

    with pytest.raises(InvalidParameter) as caught:
        queues.send(explicit, "body", **arguments)
    assert keyword in caught.value.message
    assert "128" in caught.value.message
