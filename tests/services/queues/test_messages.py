"""Sending, receiving, deleting and hiding messages on a standard queue."""

from __future__ import annotations

import hashlib
import uuid

import pytest

from squall.services.errors import InvalidParameter, LimitExceeded
from squall.services.queues import (
    InvalidMessageContents,
    MessageAttribute,
    Queues,
    QueueSettings,
    ReceiptHandleIsInvalid,
)

from .fakes import FakeClock

BOOK_ATTRIBUTES = {
    "Title": MessageAttribute("String", string_value="The Whistler"),
    "Author": MessageAttribute("String", string_value="John Grisham"),
    "WeeksOn": MessageAttribute("Number", string_value="6"),
}
# The MD5OfMessageAttributes AWS returned for BOOK_ATTRIBUTES, from a
# recorded Lambda SQS event.
BOOK_ATTRIBUTES_MD5 = "d25a6aea97eb8f585bfa92d314504a92"


@pytest.fixture
def orders(queues: Queues) -> str:
    queues.create_queue("orders")
    return "orders"


def test_send_returns_id_and_digests(queues: Queues, orders: str) -> None:
    sent = queues.send(orders, "hello", attributes=BOOK_ATTRIBUTES)

    assert uuid.UUID(sent.message_id).version == 4
    assert sent.md5_of_body == hashlib.md5(b"hello").hexdigest()
    assert sent.md5_of_message_attributes == BOOK_ATTRIBUTES_MD5
    assert sent.sequence_number is None


def test_send_without_attributes_has_no_attribute_md5(queues: Queues, orders: str) -> None:
    assert queues.send(orders, "hello").md5_of_message_attributes is None


def test_receive_returns_message_and_system_attributes(
    queues: Queues, orders: str, clock: FakeClock
) -> None:
    sent = queues.send(orders, "hello", attributes=BOOK_ATTRIBUTES)
    sent_ms = int(clock.now * 1000)
    clock.advance(2.5)

    [message] = queues.receive(orders)

    assert message.message_id == sent.message_id
    assert message.body == "hello"
    assert message.md5_of_body == sent.md5_of_body
    assert message.md5_of_message_attributes == BOOK_ATTRIBUTES_MD5
    assert message.message_attributes == BOOK_ATTRIBUTES
    assert message.attributes["ApproximateReceiveCount"] == "1"
    assert message.attributes["SentTimestamp"] == str(sent_ms)
    assert message.attributes["ApproximateFirstReceiveTimestamp"] == str(sent_ms + 2500)
    assert message.attributes["SenderId"] == "000000000000"
    assert "MessageGroupId" not in message.attributes
    assert message.receipt_handle


def test_binary_and_custom_attributes_round_trip(queues: Queues, orders: str) -> None:
    attributes = {
        "blob": MessageAttribute("Binary", binary_value=b"\x00\xffdata"),
        "price": MessageAttribute("Number.float", string_value="-12.50e3"),
        "kind": MessageAttribute("String.label", string_value="gift"),
    }
    queues.send(orders, "body", attributes=attributes)

    [message] = queues.receive(orders)

    assert message.message_attributes == attributes


def test_attribute_md5_depends_on_transport_type(queues: Queues, orders: str) -> None:
    as_string = queues.send(orders, "b", attributes={"a": MessageAttribute("String", "xy")})
    as_binary = queues.send(orders, "b", attributes={"a": MessageAttribute("Binary", None, b"xy")})

    assert as_string.md5_of_message_attributes != as_binary.md5_of_message_attributes


def test_body_at_size_limit_accepted(queues: Queues, orders: str) -> None:
    body = "x" * 262_144
    queues.send(orders, body)

    assert queues.receive(orders)[0].body == body


@pytest.mark.parametrize(
    ("body", "attributes", "size"),
    [
        ("x" * 262_145, None, 262_145),
        # A 4-byte character counts as 4 bytes.
        ("x" * 262_141 + "\U0001f600", None, 262_145),
        # The name (1), data type (6) and value (4) of an attribute count too.
        ("x" * 262_134, {"n": MessageAttribute("String", "abcd")}, 262_145),
    ],
)
def test_message_over_size_limit(
    queues: Queues,
    orders: str,
    body: str,
    attributes: dict[str, MessageAttribute] | None,
    size: int,
) -> None:
    with pytest.raises(LimitExceeded) as caught:
        queues.send(orders, body, attributes=attributes)
    assert str(size) in caught.value.message
    assert "262144" in caught.value.message
    assert queues.stats(orders).visible == 0


def test_queue_max_message_bytes_applies(queues: Queues) -> None:
    queues.create_queue("small", QueueSettings(max_message_bytes=1024))

    with pytest.raises(LimitExceeded) as caught:
        queues.send("small", "x" * 1025)
    assert "1024" in caught.value.message


@pytest.mark.parametrize(
    "body", ["\t\n\r", " ~", "\ud7ff", "\ue000", "\ufffd", "\U0001f600", "日本"]
)
def test_body_valid_characters(queues: Queues, orders: str, body: str) -> None:
    queues.send(orders, body)
    assert queues.receive(orders)[0].body == body


@pytest.mark.parametrize(
    "character", ["\x00", "\x08", "\x0b", "\x1f", "\ud800", "\udfff", "\ufffe"]
)
def test_body_invalid_characters(queues: Queues, orders: str, character: str) -> None:
    with pytest.raises(InvalidMessageContents) as caught:
        queues.send(orders, f"ok{character}")
    assert f"U+{ord(character):04X}" in caught.value.message
    assert "#x20 to #xD7FF" in caught.value.message


def test_body_empty(queues: Queues, orders: str) -> None:
    with pytest.raises(InvalidParameter):
        queues.send(orders, "")


def test_more_than_ten_attributes(queues: Queues, orders: str) -> None:
    attributes = {f"a{index}": MessageAttribute("String", "v") for index in range(11)}

    with pytest.raises(InvalidParameter) as caught:
        queues.send(orders, "body", attributes=attributes)
    assert "11" in caught.value.message


@pytest.mark.parametrize(
    "name",
    ["", ".lead", "trail.", "dou..ble", "AWS.thing", "amazon.thing", "sp ace", "x" * 257],
)
def test_attribute_name_invalid(queues: Queues, orders: str, name: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        queues.send(orders, "body", attributes={name: MessageAttribute("String", "v")})
    assert repr(name) in caught.value.message


@pytest.mark.parametrize(
    "attribute",
    [
        MessageAttribute("Text", "v"),
        MessageAttribute("String.", "v"),
        MessageAttribute("String", ""),
        MessageAttribute("String", None, b"v"),
        MessageAttribute("String", "bad\x00"),
        MessageAttribute("Binary", "v"),
        MessageAttribute("Binary", None, b""),
        MessageAttribute("Number", "abc"),
        MessageAttribute("Number", "1" * 39),
        MessageAttribute("Number", "1e127"),
        MessageAttribute("Number", " 5"),
    ],
)
def test_attribute_value_invalid(
    queues: Queues, orders: str, attribute: MessageAttribute
) -> None:
    with pytest.raises(InvalidParameter) as caught:
        queues.send(orders, "body", attributes={"attr": attribute})
    assert "'attr'" in caught.value.message


@pytest.mark.parametrize(
    "number", ["0", "-1", "+2.5", "1" * 38, "1" * 38 + "000", "1e126", "1e-128", ".5", "7."]
)
def test_attribute_number_valid(queues: Queues, orders: str, number: str) -> None:
    queues.send(orders, "body", attributes={"n": MessageAttribute("Number", number)})
    assert queues.receive(orders)[0].message_attributes["n"].string_value == number


def test_received_message_invisible_until_timeout(
    queues: Queues, orders: str, clock: FakeClock
) -> None:
    queues.send(orders, "hello")
    first = queues.receive(orders)[0]

    clock.advance(29.9)
    assert queues.receive(orders) == []

    clock.advance(0.1)
    [second] = queues.receive(orders)
    assert second.message_id == first.message_id
    assert second.receipt_handle != first.receipt_handle
    assert second.attributes["ApproximateReceiveCount"] == "2"
    assert (
        second.attributes["ApproximateFirstReceiveTimestamp"]
        == first.attributes["ApproximateFirstReceiveTimestamp"]
    )


def test_receive_visibility_timeout_override(queues: Queues, orders: str, clock: FakeClock) -> None:
    queues.send(orders, "hello")
    queues.receive(orders, visibility_timeout_s=5)

    clock.advance(5)

    assert len(queues.receive(orders)) == 1


def test_receive_zero_visibility_timeout(queues: Queues, orders: str) -> None:
    queues.send(orders, "hello")
    queues.receive(orders, visibility_timeout_s=0)

    [again] = queues.receive(orders, visibility_timeout_s=0)
    assert again.attributes["ApproximateReceiveCount"] == "2"


def test_receive_max_messages(queues: Queues, orders: str) -> None:
    for index in range(12):
        queues.send(orders, f"message {index}")

    first = queues.receive(orders, max_messages=10)
    rest = queues.receive(orders, max_messages=10)

    assert len(first) == 10
    assert len(rest) == 2
    assert {m.body for m in first + rest} == {f"message {index}" for index in range(12)}


@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        ("max_messages", 0),
        ("max_messages", 11),
        ("visibility_timeout_s", -1),
        ("visibility_timeout_s", 43_201),
    ],
)
def test_receive_parameter_out_of_range(
    queues: Queues, orders: str, keyword: str, value: int
) -> None:
    with pytest.raises(InvalidParameter) as caught:
        queues.receive(orders, **{keyword: value})  # type: ignore[arg-type]
    assert keyword in caught.value.message


def test_delay_per_message(queues: Queues, orders: str, clock: FakeClock) -> None:
    queues.send(orders, "later", delay_s=10)

    assert queues.receive(orders) == []
    assert queues.stats(orders).delayed == 1
    assert queues.next_visible_at(orders) == clock.now + 10

    clock.advance(10)
    assert [m.body for m in queues.receive(orders)] == ["later"]


def test_delay_of_queue(queues: Queues, clock: FakeClock) -> None:
    queues.create_queue("slow", QueueSettings(delay_s=60))
    queues.send("slow", "queue delay")
    queues.send("slow", "no delay", delay_s=0)

    assert [m.body for m in queues.receive("slow", 10, visibility_timeout_s=600)] == ["no delay"]
    clock.advance(60)
    assert [m.body for m in queues.receive("slow", 10)] == ["queue delay"]


@pytest.mark.parametrize("delay_s", [-1, 901])
def test_delay_out_of_range(queues: Queues, orders: str, delay_s: int) -> None:
    with pytest.raises(InvalidParameter) as caught:
        queues.send(orders, "x", delay_s=delay_s)
    assert "0 to 900" in caught.value.message


def test_delete_current_handle(queues: Queues, orders: str, clock: FakeClock) -> None:
    queues.send(orders, "hello")
    [message] = queues.receive(orders)

    queues.delete(orders, message.receipt_handle)
    clock.advance(60)

    assert queues.receive(orders) == []
    # Deleting again with the same handle succeeds, as in SQS.
    queues.delete(orders, message.receipt_handle)


def test_delete_stale_handle_keeps_message(queues: Queues, orders: str, clock: FakeClock) -> None:
    queues.send(orders, "hello")
    first = queues.receive(orders)[0]
    clock.advance(30)
    second = queues.receive(orders)[0]

    # SQS documents that an old handle's delete succeeds without deleting.
    queues.delete(orders, first.receipt_handle)
    clock.advance(30)

    [third] = queues.receive(orders)
    assert third.message_id == second.message_id


@pytest.mark.parametrize(
    "handle", ["", "garbage!", "b3JkZXJz", "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a"]
)
def test_delete_invalid_handle(queues: Queues, orders: str, handle: str) -> None:
    with pytest.raises(ReceiptHandleIsInvalid) as caught:
        queues.delete(orders, handle)
    assert caught.value.code == "ReceiptHandleIsInvalid"


def test_handle_from_other_queue_invalid(queues: Queues, orders: str) -> None:
    queues.create_queue("other")
    queues.send("other", "hello")
    [message] = queues.receive("other")

    with pytest.raises(ReceiptHandleIsInvalid):
        queues.delete(orders, message.receipt_handle)
    with pytest.raises(ReceiptHandleIsInvalid):
        queues.change_visibility(orders, message.receipt_handle, 10)


def test_change_visibility_extends(queues: Queues, orders: str, clock: FakeClock) -> None:
    queues.send(orders, "hello")
    [message] = queues.receive(orders)

    queues.change_visibility(orders, message.receipt_handle, 100)
    clock.advance(99)
    assert queues.receive(orders) == []
    clock.advance(1)
    assert len(queues.receive(orders)) == 1


def test_change_visibility_zero_releases(queues: Queues, orders: str) -> None:
    queues.send(orders, "hello")
    [message] = queues.receive(orders)

    queues.change_visibility(orders, message.receipt_handle, 0)

    assert [m.body for m in queues.receive(orders)] == ["hello"]


def test_change_visibility_stale_handle(queues: Queues, orders: str, clock: FakeClock) -> None:
    queues.send(orders, "hello")
    first = queues.receive(orders)[0]
    clock.advance(30)
    queues.receive(orders)

    with pytest.raises(ReceiptHandleIsInvalid):
        queues.change_visibility(orders, first.receipt_handle, 10)


def test_change_visibility_after_delete(queues: Queues, orders: str) -> None:
    queues.send(orders, "hello")
    [message] = queues.receive(orders)
    queues.delete(orders, message.receipt_handle)

    with pytest.raises(ReceiptHandleIsInvalid):
        queues.change_visibility(orders, message.receipt_handle, 10)


@pytest.mark.parametrize("timeout_s", [-1, 43_201])
def test_change_visibility_out_of_range(queues: Queues, orders: str, timeout_s: int) -> None:
    queues.send(orders, "hello")
    [message] = queues.receive(orders)

    with pytest.raises(InvalidParameter) as caught:
        queues.change_visibility(orders, message.receipt_handle, timeout_s)
    assert "0 to 43200" in caught.value.message


def test_change_visibility_capped_at_twelve_hours(
    queues: Queues, orders: str, clock: FakeClock
) -> None:
    queues.send(orders, "hello")
    [message] = queues.receive(orders)
    clock.advance(3600)

    with pytest.raises(InvalidParameter) as caught:
        queues.change_visibility(orders, message.receipt_handle, 43_200)
    assert "39600" in caught.value.message
    queues.change_visibility(orders, message.receipt_handle, 39_600)


def test_retention_removes_old_messages(queues: Queues, clock: FakeClock) -> None:
    queues.create_queue("short", QueueSettings(retention_s=60))
    queues.send("short", "old")
    clock.advance(30)
    queues.send("short", "new")
    clock.advance(30)

    assert queues.stats("short").visible == 1
    assert [m.body for m in queues.receive("short", 10)] == ["new"]


def test_stats_counts_and_age(queues: Queues, orders: str, clock: FakeClock) -> None:
    assert queues.stats(orders).oldest_age_s is None
    queues.send(orders, "in flight")
    clock.advance(5)
    queues.receive(orders)
    queues.send(orders, "visible")
    queues.send(orders, "delayed", delay_s=30)
    clock.advance(2)

    stats = queues.stats(orders)

    assert stats.visible == 1
    assert stats.in_flight == 1
    assert stats.delayed == 1
    assert stats.oldest_age_s == 7


def test_next_visible_at(queues: Queues, orders: str, clock: FakeClock) -> None:
    start = clock.now
    assert queues.next_visible_at(orders) is None

    queues.send(orders, "a", delay_s=20)
    queues.send(orders, "b", delay_s=5)
    assert queues.next_visible_at(orders) == start + 5

    clock.advance(5)
    queues.receive(orders)
    assert queues.next_visible_at(orders) == start + 20


def test_standard_queue_accepts_group_id(queues: Queues, orders: str) -> None:
    # SQS accepts a group id on a standard queue (a fair queue's tenant).
    queues.send(orders, "a", group_id="tenant-1")
    queues.send(orders, "b", group_id="tenant-1")

    received = queues.receive(orders, 10)

    assert [m.attributes["MessageGroupId"] for m in received] == ["tenant-1", "tenant-1"]


def test_standard_queue_rejects_dedup_id(queues: Queues, orders: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        queues.send(orders, "a", dedup_id="d-1")
    assert "FIFO" in caught.value.message
