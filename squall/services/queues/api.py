"""The queue service's operations for the HTTP API (see squall/services/hub.py)."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from squall.services.args import Args
from squall.services.errors import InvalidParameter
from squall.services.queues.model import (
    MAX_RECEIVE_WAIT_S,
    BatchEntry,
    DeadLetterPolicy,
    DeleteEntry,
    MessageAttribute,
    QueueSettings,
)
from squall.services.queues.sqlite import SqliteQueues

if TYPE_CHECKING:
    from squall.services.hub import ServiceHub

RESOURCE_ARGUMENT = "queue"
WRITES = {"send", "send_batch", "change_visibility"}


def _settings(args: Args) -> QueueSettings:
    values = args.mapping("settings", {})
    dead_letter = values.get("dead_letter")
    policy = None
    if dead_letter is not None:
        if not isinstance(dead_letter, dict) or not isinstance(dead_letter.get("queue"), str):
            raise InvalidParameter(f"{args.operation}: settings.dead_letter is {dead_letter!r}, expected {{queue, max_receive_count}}")
        policy = DeadLetterPolicy(dead_letter["queue"], dead_letter.get("max_receive_count", 5))
    known = {"visibility_timeout_s", "retention_s", "delay_s", "max_message_bytes", "receive_wait_s",
             "content_based_deduplication"}
    unknown = set(values) - known - {"dead_letter"}
    if unknown:
        raise InvalidParameter(
            f"{args.operation}: unknown setting {sorted(unknown)[0]!r}, expected one of: {', '.join(sorted(known | {'dead_letter'}))}"
        )
    return QueueSettings(**{name: value for name, value in values.items() if name in known}, dead_letter=policy)


def _attributes(operation: str, value: Any) -> dict[str, MessageAttribute] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidParameter(f"{operation}: attributes is {value!r}, expected an object of name -> attribute")
    attributes = {}
    for name, attribute in value.items():
        if not isinstance(attribute, dict) or not isinstance(attribute.get("data_type"), str):
            raise InvalidParameter(
                f"{operation}: attribute {name!r} is {attribute!r}, expected {{data_type, string_value or binary_value}}"
            )
        binary = attribute.get("binary_value")
        attributes[name] = MessageAttribute(
            data_type=attribute["data_type"],
            string_value=attribute.get("string_value"),
            binary_value=None if binary is None else Args(operation, {"b": binary}).binary("b"),
        )
    return attributes


def create_queue(store: SqliteQueues, args: Args) -> Any:
    return store.create_queue(args.text("queue"), _settings(args))


def update_queue(store: SqliteQueues, args: Args) -> Any:
    return store.update_queue(args.text("queue"), _settings(args))


def get_queue(store: SqliteQueues, args: Args) -> Any:
    queue = store.get_queue(args.text("queue"))
    return {"queue": queue, "stats": store.stats(queue.name)}


def list_queues(store: SqliteQueues, args: Args) -> Any:
    return store.list_queues(args.text("prefix", ""))


def delete_queue(store: SqliteQueues, args: Args) -> Any:
    store.delete_queue(args.text("queue"))


def purge(store: SqliteQueues, args: Args) -> Any:
    store.purge(args.text("queue"))


def send(store: SqliteQueues, args: Args) -> Any:
    return store.send(
        args.text("queue"),
        args.text("body"),
        delay_s=args.integer("delay_s", None),
        attributes=_attributes("send", args.anything("attributes", None)),
        group_id=args.text("group_id", None),
        dedup_id=args.text("dedup_id", None),
        trace_header=args.text("trace_header", None),
    )


def send_batch(store: SqliteQueues, args: Args) -> Any:
    entries = []
    for index, entry in enumerate(args.sequence("entries")):
        if not isinstance(entry, dict):
            raise InvalidParameter(f"send_batch: entries[{index}] is {entry!r}, expected an object")
        item = Args(f"send_batch entries[{index}]", entry)
        item.only("id", "body", "delay_s", "attributes", "group_id", "dedup_id")
        entries.append(
            BatchEntry(
                id=item.text("id"),
                body=item.text("body"),
                delay_s=item.integer("delay_s", None),
                attributes=_attributes("send_batch", item.anything("attributes", None)),
                group_id=item.text("group_id", None),
                dedup_id=item.text("dedup_id", None),
            )
        )
    return store.send_batch(args.text("queue"), entries, trace_header=args.text("trace_header", None))


def delete(store: SqliteQueues, args: Args) -> Any:
    store.delete(args.text("queue"), args.text("receipt_handle"))


def delete_batch(store: SqliteQueues, args: Args) -> Any:
    entries = []
    for index, entry in enumerate(args.sequence("entries")):
        item = Args(f"delete_batch entries[{index}]", entry if isinstance(entry, dict) else {})
        entries.append(DeleteEntry(item.text("id"), item.text("receipt_handle")))
    return store.delete_batch(args.text("queue"), entries)


def change_visibility(store: SqliteQueues, args: Args) -> Any:
    store.change_visibility(args.text("queue"), args.text("receipt_handle"), args.integer("timeout_s"))


OPERATIONS = {
    "create_queue": create_queue,
    "update_queue": update_queue,
    "get_queue": get_queue,
    "list_queues": list_queues,
    "delete_queue": delete_queue,
    "purge": purge,
    "send": send,
    "send_batch": send_batch,
    "delete": delete,
    "delete_batch": delete_batch,
    "change_visibility": change_visibility,
}


async def receive(hub: ServiceHub, args: Args) -> Any:
    """Receive up to max_messages, waiting up to wait_s (long polling) when the queue is empty."""
    queue = args.text("queue")
    max_messages = args.integer("max_messages", 1)
    visibility = args.integer("visibility_timeout_s", None)
    store = hub.store("queues")
    wait_s = args.number("wait_s", None)
    if wait_s is None:
        wait_s = (await hub.run(store.get_queue, queue)).settings.receive_wait_s
    if not 0 <= wait_s <= MAX_RECEIVE_WAIT_S:
        raise InvalidParameter(f"receive: wait_s {wait_s!r} is invalid, expected seconds between 0 and {MAX_RECEIVE_WAIT_S}")

    deadline = time.monotonic() + wait_s
    while True:
        messages = await hub.run(store.receive, queue, max_messages, visibility)
        remaining = deadline - time.monotonic()
        if messages or remaining <= 0:
            return messages
        # Messages that become visible after a delay or timeout do not notify,
        # so the wait is cut at the next one due.
        due = await hub.run(store.next_visible_at, queue)
        if due is not None:
            remaining = min(remaining, max(0.01, due - time.time()))
        await hub.wait_for_change("queues", queue, remaining)
        await asyncio.sleep(0)


ASYNC_OPERATIONS = {"receive": receive}

# The arguments each operation reads; the hub rejects any other name before the call.
ARGUMENTS = {
    "create_queue": ('queue', 'settings'),
    "update_queue": ('queue', 'settings'),
    "get_queue": ('queue',),
    "list_queues": ('prefix',),
    "delete_queue": ('queue',),
    "purge": ('queue',),
    "send": ('attributes', 'body', 'dedup_id', 'delay_s', 'group_id', 'queue', 'trace_header'),
    "send_batch": ('entries', 'queue', 'trace_header'),
    "delete": ('queue', 'receipt_handle'),
    "delete_batch": ('entries', 'queue'),
    "change_visibility": ('queue', 'receipt_handle', 'timeout_s'),
    "receive": ('max_messages', 'queue', 'visibility_timeout_s', 'wait_s'),
}
