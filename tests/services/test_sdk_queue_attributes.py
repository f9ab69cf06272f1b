"""Message attributes the SDK sends: in Squall's API shape or in SQS's, as boto3 users write them."""

from __future__ import annotations

from typing import Any

from squall.sdk.queues import Queue


class _RecordingClient:
    """Records each call instead of sending it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def call(self, service: str, operation: str, **arguments: Any) -> Any:
        self.calls.append((service, operation, arguments))
        return {}


def test_sqs_shaped_attributes_are_converted() -> None:
    client = _RecordingClient()
    queue = Queue("orders", client=client)  # type: ignore[arg-type]

    queue.send("b", attributes={
        "kind": {"DataType": "String", "StringValue": "order"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        "count": {"data_type": "Number", "string_value": "3"},
    })

    attributes = client.calls[0][2]["attributes"]
    assert attributes == {
        "kind": {"data_type": "String", "string_value": "order"},
        "blob": {"data_type": "Binary", "binary_value": "AAE="},
        "count": {"data_type": "Number", "string_value": "3"},
    }


def test_batch_entries_convert_attributes_too() -> None:
    client = _RecordingClient()
    queue = Queue("orders", client=client)  # type: ignore[arg-type]

    queue.send_batch([{"body": "a", "attributes": {"k": {"DataType": "String", "StringValue": "v"}}}])

    entry = client.calls[0][2]["entries"][0]
    assert entry["attributes"] == {"k": {"data_type": "String", "string_value": "v"}}
