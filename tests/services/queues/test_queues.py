"""Creating, listing, deleting and purging queues, and their settings."""

from __future__ import annotations

import pytest

from squall.services.errors import InvalidParameter, ResourceExists, ResourceNotFound
from squall.services.queues import (
    DeadLetterPolicy,
    QueueDoesNotExist,
    QueueNameExists,
    Queues,
    QueueSettings,
)


def test_create_queue_defaults(queues: Queues) -> None:
    queue = queues.create_queue("orders")

    assert queue.name == "orders"
    assert queue.arn == "arn:aws:sqs:us-east-1:000000000000:orders"
    assert queue.fifo is False
    assert queue.settings.visibility_timeout_s == 30
    assert queue.settings.retention_s == 4 * 24 * 3600
    assert queue.settings.delay_s == 0
    assert queue.settings.max_message_bytes == 262_144
    assert queue.settings.receive_wait_s == 0
    assert queue.settings.dead_letter is None


def test_create_queue_fifo_by_suffix(queues: Queues) -> None:
    queue = queues.create_queue("orders.fifo", QueueSettings(content_based_deduplication=True))

    assert queue.fifo is True
    assert queue.settings.content_based_deduplication is True


def test_create_queue_again_same_settings(queues: Queues) -> None:
    first = queues.create_queue("orders", QueueSettings(visibility_timeout_s=60))
    again = queues.create_queue("orders", QueueSettings(visibility_timeout_s=60))

    assert again == first


def test_create_queue_again_other_settings(queues: Queues) -> None:
    queues.create_queue("orders", QueueSettings(visibility_timeout_s=60))

    with pytest.raises(ResourceExists) as caught:
        queues.create_queue("orders", QueueSettings(visibility_timeout_s=10))
    assert isinstance(caught.value, QueueNameExists)
    assert caught.value.code == "QueueNameExists"
    assert "orders" in caught.value.message


@pytest.mark.parametrize(
    "name",
    ["a", "A-z_0-9", "x" * 80, "x" * 75 + ".fifo", "orders.fifo"],
)
def test_queue_name_valid(queues: Queues, name: str) -> None:
    settings = QueueSettings(content_based_deduplication=name.endswith(".fifo"))
    assert queues.create_queue(name, settings).name == name


@pytest.mark.parametrize(
    "name",
    ["", "my queue", "x" * 81, "x" * 76 + ".fifo", ".fifo", "orders.txt", "ördnung", "a/b"],
)
def test_queue_name_invalid(queues: Queues, name: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        queues.create_queue(name)
    assert repr(name) in caught.value.message
    assert "1 to 80 characters" in caught.value.message


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("visibility_timeout_s", -1),
        ("visibility_timeout_s", 43_201),
        ("retention_s", 59),
        ("retention_s", 14 * 24 * 3600 + 1),
        ("delay_s", 901),
        ("max_message_bytes", 1023),
        ("max_message_bytes", 1024 * 1024 + 1),
        ("receive_wait_s", 21),
        ("visibility_timeout_s", 1.5),
        ("delay_s", True),
    ],
)
def test_settings_out_of_range(setting: str, value: object) -> None:
    with pytest.raises(InvalidParameter) as caught:
        QueueSettings(**{setting: value})  # type: ignore[arg-type]
    assert setting in caught.value.message
    assert repr(value) in caught.value.message


@pytest.mark.parametrize("count", [0, 1001])
def test_dead_letter_max_receive_count_range(count: int) -> None:
    with pytest.raises(InvalidParameter) as caught:
        DeadLetterPolicy(target="dlq", max_receive_count=count)
    assert "1 to 1000" in caught.value.message


def test_settings_limits_accepted() -> None:
    settings = QueueSettings(
        visibility_timeout_s=43_200,
        retention_s=60,
        delay_s=900,
        max_message_bytes=1024,
        receive_wait_s=20,
    )
    assert settings.visibility_timeout_s == 43_200


def test_content_based_dedup_on_standard_queue(queues: Queues) -> None:
    with pytest.raises(InvalidParameter) as caught:
        queues.create_queue("orders", QueueSettings(content_based_deduplication=True))
    assert "FIFO" in caught.value.message


def test_dead_letter_target_must_exist(queues: Queues) -> None:
    settings = QueueSettings(dead_letter=DeadLetterPolicy(target="missing", max_receive_count=3))

    with pytest.raises(InvalidParameter) as caught:
        queues.create_queue("orders", settings)
    assert "'missing'" in caught.value.message


@pytest.mark.parametrize(
    ("source", "target"),
    [("orders", "dead.fifo"), ("orders.fifo", "dead")],
)
def test_dead_letter_target_same_type(queues: Queues, source: str, target: str) -> None:
    queues.create_queue(target, QueueSettings(content_based_deduplication=target.endswith(".fifo")))
    settings = QueueSettings(
        dead_letter=DeadLetterPolicy(target=target, max_receive_count=3),
        content_based_deduplication=source.endswith(".fifo"),
    )

    with pytest.raises(InvalidParameter) as caught:
        queues.create_queue(source, settings)
    assert repr(target) in caught.value.message


def test_dead_letter_target_not_itself(queues: Queues) -> None:
    settings = QueueSettings(dead_letter=DeadLetterPolicy(target="orders", max_receive_count=3))

    with pytest.raises(InvalidParameter):
        queues.create_queue("orders", settings)


def test_get_queue_missing(queues: Queues) -> None:
    with pytest.raises(ResourceNotFound) as caught:
        queues.get_queue("nothing")
    assert isinstance(caught.value, QueueDoesNotExist)
    assert caught.value.code == "QueueDoesNotExist"
    assert caught.value.status == 404
    assert "'nothing'" in caught.value.message


def test_get_queue_returns_settings(queues: Queues) -> None:
    queues.create_queue("dlq")
    settings = QueueSettings(
        visibility_timeout_s=5,
        retention_s=600,
        delay_s=2,
        max_message_bytes=2048,
        receive_wait_s=10,
        dead_letter=DeadLetterPolicy(target="dlq", max_receive_count=4),
    )
    created = queues.create_queue("orders", settings)

    assert queues.get_queue("orders") == created
    assert queues.get_queue("orders").settings == settings


def test_list_queues_prefix(queues: Queues) -> None:
    for name in ["beta", "alpha", "alphabet", "al_pha"]:
        queues.create_queue(name)

    assert [queue.name for queue in queues.list_queues()] == ["al_pha", "alpha", "alphabet", "beta"]
    assert [queue.name for queue in queues.list_queues("alpha")] == ["alpha", "alphabet"]
    # '_' is a literal character in a prefix, not a wildcard.
    assert [queue.name for queue in queues.list_queues("al_")] == ["al_pha"]
    assert queues.list_queues("zzz") == []


def test_delete_queue_removes_messages(queues: Queues) -> None:
    queues.create_queue("orders")
    queues.send("orders", "first")

    queues.delete_queue("orders")

    with pytest.raises(QueueDoesNotExist):
        queues.get_queue("orders")
    queues.create_queue("orders")
    assert queues.receive("orders", 10) == []


def test_delete_queue_missing(queues: Queues) -> None:
    with pytest.raises(QueueDoesNotExist):
        queues.delete_queue("nothing")


def test_purge_deletes_all_messages(queues: Queues) -> None:
    queues.create_queue("orders")
    for index in range(3):
        queues.send("orders", f"message {index}")
    queues.receive("orders")

    queues.purge("orders")

    stats = queues.stats("orders")
    assert (stats.visible, stats.in_flight, stats.delayed) == (0, 0, 0)
    assert queues.receive("orders", 10) == []


@pytest.mark.parametrize("operation", ["send", "receive", "purge", "stats", "next_visible_at"])
def test_operations_on_missing_queue(queues: Queues, operation: str) -> None:
    calls = {
        "send": lambda: queues.send("nothing", "body"),
        "receive": lambda: queues.receive("nothing"),
        "purge": lambda: queues.purge("nothing"),
        "stats": lambda: queues.stats("nothing"),
        "next_visible_at": lambda: queues.next_visible_at("nothing"),
    }
    with pytest.raises(QueueDoesNotExist):
        calls[operation]()
