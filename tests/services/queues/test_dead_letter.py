"""Redrive: messages received max_receive_count times move to the dead-letter queue."""

from __future__ import annotations

import pytest

from squall.services.queues import (
    DeadLetterPolicy,
    MessageAttribute,
    Queues,
    QueueSettings,
)

from .fakes import FakeClock

ATTRIBUTES = {"kind": MessageAttribute("String", "order")}


def _create_pair(queues: Queues, fifo: bool, max_receive_count: int = 2) -> tuple[str, str]:
    suffix = ".fifo" if fifo else ""
    source, target = f"work{suffix}", f"dead{suffix}"
    queues.create_queue(target, QueueSettings(content_based_deduplication=fifo))
    queues.create_queue(
        source,
        QueueSettings(
            visibility_timeout_s=10,
            dead_letter=DeadLetterPolicy(target=target, max_receive_count=max_receive_count),
            content_based_deduplication=fifo,
        ),
    )
    return source, target


@pytest.mark.parametrize("fifo", [False, True], ids=["standard", "fifo"])
def test_message_moves_after_max_receives(queues: Queues, clock: FakeClock, fifo: bool) -> None:
    source, target = _create_pair(queues, fifo)
    sent = queues.send(source, "poison", attributes=ATTRIBUTES, group_id="g" if fifo else None)

    for attempt in (1, 2):
        [message] = queues.receive(source)
        assert message.attributes["ApproximateReceiveCount"] == str(attempt)
        assert queues.receive(target) == []
        clock.advance(10)

    # The third receive would pass max_receive_count 2, so the message moves.
    assert queues.receive(source) == []
    [moved] = queues.receive(target)

    assert moved.message_id == sent.message_id
    assert moved.body == "poison"
    assert moved.message_attributes == ATTRIBUTES
    assert moved.md5_of_message_attributes == sent.md5_of_message_attributes
    assert moved.attributes["DeadLetterQueueSourceArn"] == queues.get_queue(source).arn
    assert moved.attributes["ApproximateReceiveCount"] == "3"
    assert queues.stats(source).visible == 0


def test_delete_before_limit_keeps_dead_letter_empty(queues: Queues, clock: FakeClock) -> None:
    source, target = _create_pair(queues, fifo=False)
    queues.send(source, "fine")
    queues.receive(source)
    clock.advance(10)
    [message] = queues.receive(source)

    queues.delete(source, message.receipt_handle)
    clock.advance(10)

    assert queues.receive(source) == []
    assert queues.receive(target) == []


def test_redrive_makes_room_for_next_message(queues: Queues, clock: FakeClock) -> None:
    source, target = _create_pair(queues, fifo=True, max_receive_count=1)
    queues.send(source, "first", group_id="g")
    queues.send(source, "second", group_id="g")
    queues.receive(source, 1)
    clock.advance(10)

    # "first" moves to the dead-letter queue, so "second" is delivered in its place.
    assert [m.body for m in queues.receive(source, 1)] == ["second"]
    assert [m.body for m in queues.receive(target, 10)] == ["first"]


def test_dead_letter_keeps_sent_timestamp(queues: Queues, clock: FakeClock) -> None:
    source, target = _create_pair(queues, fifo=False, max_receive_count=1)
    queues.send(source, "old")
    [first] = queues.receive(source)
    clock.advance(10)
    queues.receive(source)

    [moved] = queues.receive(target)

    assert moved.attributes["SentTimestamp"] == first.attributes["SentTimestamp"]


def test_deleted_dead_letter_queue_leaves_messages(queues: Queues, clock: FakeClock) -> None:
    source, target = _create_pair(queues, fifo=False, max_receive_count=1)
    queues.send(source, "stays")
    queues.receive(source)
    queues.delete_queue(target)
    clock.advance(10)

    [message] = queues.receive(source)
    assert message.attributes["ApproximateReceiveCount"] == "2"
