"""send_batch and delete_batch: per-entry results and whole-request errors."""

from __future__ import annotations

import pytest

from squall.services.errors import InvalidParameter, LimitExceeded
from squall.services.queues import (
    BatchEntry,
    BatchEntryIdsNotDistinct,
    BatchRequestTooLong,
    DeleteEntry,
    EmptyBatchRequest,
    InvalidBatchEntryId,
    MessageAttribute,
    Queues,
    QueueSettings,
    TooManyEntriesInBatchRequest,
)


@pytest.fixture
def orders(queues: Queues) -> str:
    queues.create_queue("orders")
    return "orders"


def test_send_batch_all_successful(queues: Queues, orders: str) -> None:
    entries = [BatchEntry(id=f"m-{index}", body=f"body {index}") for index in range(10)]

    result = queues.send_batch(orders, entries)

    assert sorted(result.successful) == sorted(entry.id for entry in entries)
    assert result.failed == {}
    received = queues.receive(orders, 10)
    assert {m.message_id for m in received} == {s.message_id for s in result.successful.values()}


@pytest.mark.parametrize(
    ("bad_entry", "code"),
    [
        (BatchEntry(id="bad", body="nul\x00"), "InvalidMessageContents"),
        (BatchEntry(id="bad", body="x" * 262_145), "LimitExceeded"),
        (BatchEntry(id="bad", body="ok", delay_s=901), "InvalidParameterValue"),
        (
            BatchEntry(id="bad", body="ok", attributes={"a": MessageAttribute("Number", "x")}),
            "InvalidParameterValue",
        ),
        (BatchEntry(id="bad", body="ok", dedup_id="d"), "InvalidParameterValue"),
    ],
)
def test_send_batch_bad_entry_fails_alone(
    queues: Queues, orders: str, bad_entry: BatchEntry, code: str
) -> None:
    entries = [BatchEntry(id="good-1", body="one"), bad_entry, BatchEntry(id="good-2", body="two")]

    result = queues.send_batch(orders, entries)

    assert sorted(result.successful) == ["good-1", "good-2"]
    assert list(result.failed) == ["bad"]
    assert result.failed["bad"].code == code
    assert result.failed["bad"].sender_fault is True
    assert result.failed["bad"].message
    assert sorted(m.body for m in queues.receive(orders, 10)) == ["one", "two"]


@pytest.mark.parametrize(
    ("entries", "error"),
    [
        ([], EmptyBatchRequest),
        (
            [BatchEntry(id=f"m{index}", body="x") for index in range(11)],
            TooManyEntriesInBatchRequest,
        ),
        (
            [BatchEntry(id="same", body="x"), BatchEntry(id="same", body="y")],
            BatchEntryIdsNotDistinct,
        ),
        ([BatchEntry(id="has space", body="x")], InvalidBatchEntryId),
        ([BatchEntry(id="x" * 81, body="x")], InvalidBatchEntryId),
    ],
)
def test_send_batch_request_errors(
    queues: Queues, orders: str, entries: list[BatchEntry], error: type[InvalidParameter]
) -> None:
    with pytest.raises(error) as caught:
        queues.send_batch(orders, entries)
    assert caught.value.code == error.code
    assert queues.stats(orders).visible == 0


def test_send_batch_total_too_long(queues: Queues, orders: str) -> None:
    entries = [BatchEntry(id=f"m{index}", body="x" * 100_000) for index in range(3)]

    with pytest.raises(LimitExceeded) as caught:
        queues.send_batch(orders, entries)
    assert isinstance(caught.value, BatchRequestTooLong)
    assert "300000" in caught.value.message
    assert "262144" in caught.value.message
    assert queues.stats(orders).visible == 0


def test_send_batch_limit_follows_larger_queue_limit(queues: Queues) -> None:
    queues.create_queue("large", QueueSettings(max_message_bytes=1024 * 1024))
    entries = [BatchEntry(id=f"m{index}", body="x" * 300_000) for index in range(3)]

    result = queues.send_batch("large", entries)

    assert len(result.successful) == 3


def test_delete_batch_mixed(queues: Queues, orders: str) -> None:
    queues.send(orders, "one")
    queues.send(orders, "two")
    received = queues.receive(orders, 10)
    entries = [
        DeleteEntry(id="first", receipt_handle=received[0].receipt_handle),
        DeleteEntry(id="broken", receipt_handle="not-a-handle"),
        DeleteEntry(id="second", receipt_handle=received[1].receipt_handle),
    ]

    result = queues.delete_batch(orders, entries)

    assert result.successful == ("first", "second")
    assert list(result.failed) == ["broken"]
    assert result.failed["broken"].code == "ReceiptHandleIsInvalid"
    assert queues.stats(orders).in_flight == 0


def test_delete_batch_request_errors(queues: Queues, orders: str) -> None:
    with pytest.raises(EmptyBatchRequest):
        queues.delete_batch(orders, [])
    with pytest.raises(BatchEntryIdsNotDistinct):
        queues.delete_batch(orders, [DeleteEntry("a", "h1"), DeleteEntry("a", "h2")])


def test_send_batch_api_rejects_a_misspelt_entry_key(queues: Queues, orders: str) -> None:
    from squall.services.args import Args
    from squall.services.queues import api

    request = Args("send_batch", {"queue": orders, "entries": [{"id": "m1", "body": "x", "delay": 30}]})

    with pytest.raises(InvalidParameter) as caught:
        api.send_batch(queues, request)
    assert "send_batch entries[0]: unknown key 'delay' (did you mean 'delay_s'?)" in caught.value.message
    assert queues.stats(orders).visible == 0
