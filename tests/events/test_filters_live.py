"""Filter patterns on a real server: a queue trigger deletes what it filters out, a table trigger skips it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from squall.sdk import Client
from squall.sdk.queues import Queue
from squall.sdk.tables import Table
from tests.events.test_async_live import notes, wait_for
from tests.events.test_record_triggers_live import records_of

APP = '''
import json, os, time

def _note(kind, value):
    name = f"{kind}-{time.time_ns()}.json"
    # Written under a temporary name, so a reader never sees half a file.
    path = os.path.join(os.environ["OUT"], name)
    with open(path + ".tmp", "w") as file:
        json.dump(value, file)
    os.rename(path + ".tmp", path)

def on_orders(event, context):
    _note("orders", event)

def on_users(event, context):
    _note("users", event)
'''

MANIFEST = """service: filtertest
resources:
  queues:
    orders: {{visibility_timeout_s: 30}}
  tables:
    users: {{partition_key: id}}
functions:
  on_orders:
    handler: app.on_orders
    environment: {{OUT: {out!r}}}
    events:
      - queue:
          name: orders
          filter_patterns:
            - body: {{kind: [order]}}
            - messageAttributes: {{priority: {{stringValue: [high]}}}}
  on_users:
    handler: app.on_users
    environment: {{OUT: {out!r}}}
    events:
      - table_stream:
          table: users
          starting_position: trim_horizon
          filter_patterns:
            - eventName: [MODIFY]
"""


def start(serve: Any, tmp_path: Path) -> Any:
    out = tmp_path / "out"
    out.mkdir()
    app = tmp_path / "app"
    app.mkdir()
    (app / "app.py").write_text(APP)
    (app / "squall.yml").write_text(MANIFEST.format(out=str(out)))
    server = serve(app)
    server.out = out
    return server


def queue_is_empty(queue: Queue) -> bool:
    stats = queue.info()["stats"]
    return stats["visible"] == 0 and stats["in_flight"] == 0 and stats["delayed"] == 0


def test_queue_filter_delivers_matching_deletes_rest(serve: Any, tmp_path: Path) -> None:
    server = start(serve, tmp_path)
    orders = Queue("orders", Client(server.endpoint))

    orders.send('{"kind": "order", "id": 1}')
    orders.send('{"kind": "refund", "id": 2}')
    orders.send("kind order, but not JSON")
    orders.send("urgent", attributes={"priority": {"data_type": "String", "string_value": "high"}})
    orders.send('{"kind": "order", "id": 3}')
    wait_for(lambda: len(records_of(server.out, "orders")) >= 3 and queue_is_empty(orders))

    bodies = sorted(record["body"] for record in records_of(server.out, "orders"))
    assert bodies == sorted(['{"kind": "order", "id": 1}', '{"kind": "order", "id": 3}', "urgent"])
    assert queue_is_empty(orders)


def test_queue_batch_all_filtered_invokes_nothing(serve: Any, tmp_path: Path) -> None:
    server = start(serve, tmp_path)
    orders = Queue("orders", Client(server.endpoint))

    for number in range(5):
        orders.send(f'{{"kind": "refund", "id": {number}}}')
    wait_for(lambda: queue_is_empty(orders))
    orders.send('{"kind": "order", "id": 99}')
    wait_for(lambda: records_of(server.out, "orders"))

    events = notes(server.out, "orders")
    assert len(events) == 1
    assert [record["body"] for record in events[0]["Records"]] == ['{"kind": "order", "id": 99}']


def test_table_filter_delivers_only_modify(serve: Any, tmp_path: Path) -> None:
    server = start(serve, tmp_path)
    users = Table("users", Client(server.endpoint))

    users.put({"id": "ada", "age": 36})
    users.put({"id": "ada", "age": 37})
    users.put({"id": "bob", "age": 50})
    users.delete({"id": "bob"})
    users.put({"id": "ada", "age": 38})
    wait_for(lambda: len(records_of(server.out, "users")) >= 2)

    delivered = records_of(server.out, "users")
    assert [record["eventName"] for record in delivered] == ["MODIFY", "MODIFY"]
    assert [record["dynamodb"]["NewImage"]["age"] for record in delivered] == [{"N": "37"}, {"N": "38"}]
