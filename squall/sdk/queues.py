"""Queues from Python code, inside a function or outside.

    from squall.sdk.queues import Queue

    orders = Queue("orders")
    orders.send('{"id": 1}')
    for message in orders.receive(max_messages=10, wait_s=5):
        handle(message["body"])
        orders.delete(message["receipt_handle"])
"""

from __future__ import annotations

import base64
import os
from typing import Any

from squall.sdk.client import Client, default_client, xray_trace_header


class Queue:
    """One queue on a Squall server; messages come back as dicts with body, message_id and receipt_handle.

    `name` may also be a queue URL or ARN, as code written for SQS keeps them
    in its environment: the queue's name is their last part.
    """

    def __init__(self, name: str, client: Client | None = None) -> None:
        self.name = queue_name(name)
        self._client = client or default_client()

    def _call(self, operation: str, **arguments: Any) -> Any:
        return self._client.call("queues", operation, queue=self.name, **arguments)

    def send(self, body: str, delay_s: int | None = None, attributes: dict[str, Any] | None = None,
             group_id: str | None = None, dedup_id: str | None = None) -> dict[str, Any]:
        """Send one message; returns its message_id and md5_of_body.

        Inside a traced invocation, the message carries the invocation's trace
        as a `traceparent` attribute, so the function it triggers joins that trace.
        Inside any invocation, it carries the invocation's X-Ray trace header as
        its AWSTraceHeader system attribute, which lets the server stop a
        function that keeps triggering itself through the queue.
        """
        return self._call("send", body=body, delay_s=delay_s, attributes=with_trace(api_attributes(attributes), body),
                          group_id=group_id, dedup_id=dedup_id, trace_header=xray_trace_header())

    def send_batch(self, messages: list[str | dict[str, Any]]) -> dict[str, Any]:
        """Send up to ten messages at once; returns the successful and failed entries by position.

        Each message is a body, or a dict with `body` and any of `delay_s`,
        `attributes`, `group_id` and `dedup_id` (a FIFO queue needs `group_id`):

            jobs.send_batch([{"body": "a", "group_id": "user-1"}, {"body": "b", "group_id": "user-2"}])

        Inside an invocation, each message carries the invocation's traces, as `send` does.
        """
        entries = []
        for index, message in enumerate(messages):
            entry = {"body": message} if isinstance(message, str) else dict(message)
            if entry.get("attributes") is not None:
                entry["attributes"] = api_attributes(entry["attributes"])
            if isinstance(entry.get("body"), str):
                traced = with_trace(entry.get("attributes"), entry["body"])
                if traced is not None:
                    entry["attributes"] = traced
            entries.append({**entry, "id": str(index)})
        return self._call("send_batch", entries=entries, trace_header=xray_trace_header())

    def receive(self, max_messages: int = 1, wait_s: float | None = None,
                visibility_timeout_s: int | None = None) -> list[dict[str, Any]]:
        """Receive up to max_messages, waiting up to wait_s seconds for the first one."""
        return self._call("receive", max_messages=max_messages, wait_s=wait_s,
                          visibility_timeout_s=visibility_timeout_s)

    def delete(self, receipt_handle: str) -> None:
        self._call("delete", receipt_handle=receipt_handle)

    def change_visibility(self, receipt_handle: str, timeout_s: int) -> None:
        self._call("change_visibility", receipt_handle=receipt_handle, timeout_s=timeout_s)

    def info(self) -> dict[str, Any]:
        """Return the queue's settings and its message counts."""
        return self._call("get_queue")

    def purge(self) -> None:
        self._call("purge")


TRACE_ATTRIBUTE = "traceparent"
# SQS allows ten attributes and 256 KiB in all; the trace is left out rather
# than make a message that fits without it fail.
_MAX_ATTRIBUTES = 10
_TRACE_ROOM_BYTES = 255 * 1024


def api_attributes(attributes: dict[str, Any] | None) -> dict[str, Any] | None:
    """Return message attributes as the server's API takes them.

    Each attribute may be written as Squall's API takes it ({"data_type",
    "string_value" or "binary_value"}) or as SQS and boto3 write it
    ({"DataType", "StringValue" or "BinaryValue"}). Binary values may be
    bytes or base64 text.
    """
    if attributes is None:
        return None
    converted: dict[str, Any] = {}
    for name, attribute in attributes.items():
        if isinstance(attribute, dict) and "DataType" in attribute:
            attribute = {
                "data_type": attribute["DataType"],
                "string_value": attribute.get("StringValue"),
                "binary_value": attribute.get("BinaryValue"),
            }
        if isinstance(attribute, dict) and isinstance(attribute.get("binary_value"), (bytes, bytearray)):
            attribute = {**attribute, "binary_value": base64.b64encode(attribute["binary_value"]).decode()}
        if isinstance(attribute, dict):
            attribute = {key: value for key, value in attribute.items() if value is not None}
        converted[name] = attribute
    return converted


def with_trace(attributes: dict[str, Any] | None, body: str) -> dict[str, Any] | None:
    """Add the current invocation's W3C trace context (TRACEPARENT, set by the runtime) to message attributes."""
    traceparent = os.environ.get("TRACEPARENT")
    if not traceparent or TRACE_ATTRIBUTE in (attributes or {}):
        return attributes
    if len(attributes or {}) >= _MAX_ATTRIBUTES or len(body.encode()) > _TRACE_ROOM_BYTES:
        return attributes
    return {**(attributes or {}), TRACE_ATTRIBUTE: {"data_type": "String", "string_value": traceparent}}


def queue_name(reference: str) -> str:
    """Return the queue name in a name, an SQS queue URL (.../ACCOUNT/NAME) or an ARN (arn:...:NAME)."""
    if reference.startswith("arn:"):
        return reference.rsplit(":", 1)[-1]
    if reference.startswith(("http://", "https://")):
        return reference.rstrip("/").rsplit("/", 1)[-1]
    return reference


def create_queue(name: str, client: Client | None = None, **settings: Any) -> Queue:
    """Create a queue (settings as in squall.yml's resources.queues) and return it."""
    client = client or default_client()
    client.call("queues", "create_queue", queue=name, settings=settings)
    return Queue(name, client)


def list_queues(prefix: str = "", client: Client | None = None) -> list[dict[str, Any]]:
    return (client or default_client()).call("queues", "list_queues", prefix=prefix)
