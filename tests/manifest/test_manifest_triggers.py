"""squall.yml's triggers, destinations and resources."""

from __future__ import annotations

from pathlib import Path

import pytest

from squall.errors import ManifestError
from squall.manifest import load_service
from squall.manifest.spec import Destination, QueueTrigger, ScheduleTrigger


def write(folder: Path, manifest: str) -> Path:
    (folder / "app.py").write_text("def handle(event, context):\n    return None\n")
    (folder / "squall.yml").write_text(manifest)
    return folder


def test_triggers_and_resources_read(tmp_path: Path) -> None:
    folder = write(
        tmp_path,
        """service: shop
resources:
  queues:
    orders: {visibility_timeout_s: 60, dead_letter: {queue: orders-dlq, max_receive_count: 3}}
    orders-dlq:
  tables:
    users: {partition_key: id, sort_key: {name: at, type: N}, ttl_attribute: expires}
  streams:
    clicks: {shards: 2}
  buckets:
    uploads: {}
functions:
  worker:
    handler: app.handle
    max_retry_attempts: 1
    on_failure: {queue: orders-dlq}
    events:
      - queue: {name: orders, batch_size: 5}
      - schedule: {expression: "cron(0/5 8-17 ? * MON-FRI *)", timezone: Europe/Berlin, input: {report: daily}}
""",
    )

    service = load_service(folder)

    worker = service.functions["worker"]
    assert worker.triggers[0] == QueueTrigger(queue="orders", batch_size=5)
    assert worker.triggers[1] == ScheduleTrigger(
        expression="cron(0/5 8-17 ? * MON-FRI *)", timezone="Europe/Berlin", input={"report": "daily"}
    )
    assert worker.async_config.max_retry_attempts == 1
    assert worker.async_config.on_failure == Destination("queue", "orders-dlq")
    queues = {queue.name: queue for queue in service.resources.queues}
    assert queues["orders"].dead_letter_queue == "orders-dlq"
    assert queues["orders"].max_receive_count == 3
    assert service.resources.tables[0].partition_key == ("id", "S")
    assert service.resources.tables[0].sort_key == ("at", "N")
    assert service.resources.streams[0].shards == 2
    assert service.resources.buckets[0].name == "uploads"


@pytest.mark.parametrize(
    ("event", "key", "fragment"),
    [
        ('{schedule: {expression: "cron(71 8 1 * ? *)"}}', "functions.worker.events[0].schedule.expression", "71"),
        ('{schedule: {expression: "rate(1 minutes)"}}', "functions.worker.events[0].schedule.expression", "rate(1 minutes)"),
        ('{schedule: {expression: "rate(5 minutes)", timezone: Mars/Olympus}}', "functions.worker.events[0].schedule.timezone", "Mars/Olympus"),
        ("{queue: {name: 'bad name'}}", "functions.worker.events[0].queue.name", "bad name"),
        ("{queue: {name: orders, batch_size: 0}}", "functions.worker.events[0].queue.batch_size", "0"),
        ("{queue: {name: orders, batch_size: 50}}", "functions.worker.events[0].queue.batch_size", "batch_window_s of at least 1"),
        ("{objects: {bucket: Uploads}}", "functions.worker.events[0].objects.bucket", "Uploads"),
        ("{carrier_pigeon: {}}", "functions.worker.events[0].carrier_pigeon", "carrier_pigeon"),
        ("{queue: {name: orders, qualifier: 'live:1'}}", "functions.worker.events[0].queue.qualifier", "live:1"),
        ('{schedule: {expression: "rate(5 minutes)", qualifier: ""}}', "functions.worker.events[0].schedule.qualifier", 'got ""'),
        # Versions start at 1, and an alias name cannot be all digits.
        ("{queue: {name: orders, qualifier: 0}}", "functions.worker.events[0].queue.qualifier", "got 0"),
        ("{queue: {name: orders, qualifier: '007'}}", "functions.worker.events[0].queue.qualifier", 'got "007"'),
    ],
)
def test_bad_trigger_named(tmp_path: Path, event: str, key: str, fragment: str) -> None:
    folder = write(tmp_path, f"service: shop\nfunctions:\n  worker:\n    handler: app.handle\n    events:\n      - {event}\n")

    with pytest.raises(ManifestError) as raised:
        load_service(folder)

    assert key in str(raised.value)
    assert fragment in str(raised.value)


def test_dead_letter_to_itself_rejected(tmp_path: Path) -> None:
    folder = write(
        tmp_path,
        "service: shop\nresources:\n  queues:\n    loop: {dead_letter: {queue: loop}}\n"
        "functions:\n  worker:\n    handler: app.handle\n",
    )

    with pytest.raises(ManifestError) as raised:
        load_service(folder)

    assert "resources.queues.loop.dead_letter.queue" in str(raised.value)


def test_triggers_described_for_ls(tmp_path: Path) -> None:
    from squall.gateway.management import describe_trigger

    folder = write(
        tmp_path,
        "service: shop\nfunctions:\n  worker:\n    handler: app.handle\n    events:\n"
        "      - objects: {bucket: uploads, events: [created], prefix: images/, suffix: .png}\n"
        '      - schedule: {expression: "rate(5 minutes)", enabled: false}\n',
    )

    triggers = load_service(folder).functions["worker"].triggers

    assert describe_trigger(triggers[0]) == "objects uploads created images/*.png"
    assert describe_trigger(triggers[1]) == "schedule rate(5 minutes) UTC (disabled)"


def test_trigger_qualifiers_read(tmp_path: Path) -> None:
    folder = write(
        tmp_path,
        "service: shop\nfunctions:\n  worker:\n    handler: app.handle\n    events:\n"
        "      - queue: {name: orders, qualifier: live}\n"
        "      - objects: {bucket: uploads, qualifier: 3}\n"
        "      - stream: {name: clicks, qualifier: $LATEST}\n"
        "      - table_stream: {table: users, qualifier: canary}\n"
        '      - schedule: {expression: "rate(5 minutes)", qualifier: live}\n',
    )

    triggers = load_service(folder).functions["worker"].triggers

    assert [trigger.qualifier for trigger in triggers] == ["live", "3", None, "canary", "live"]
