"""Deploy-time work on data services: create declared resources, and check that triggers name existing ones."""

from __future__ import annotations

import logging

from squall.errors import DeployError
from squall.manifest.spec import (
    ObjectTrigger,
    QueueTrigger,
    Resources,
    ServiceSpec,
    StreamTrigger,
    TableStreamTrigger,
)
from squall.services.errors import ResourceNotFound, ServiceError
from squall.services.hub import ServiceHub

logger = logging.getLogger(__name__)


def ensure_resources(hub: ServiceHub, service: ServiceSpec) -> None:
    """Create the service's declared resources that do not exist yet (blocking; run on a worker thread).

    Raises DeployError naming the resource when one exists with other
    settings or a setting is invalid.
    """
    resources = service.resources
    where = service.manifest_path.name
    try:
        _ensure_queues(hub, resources)
        for bucket in resources.buckets:
            hub.store("objects").create_bucket(bucket.name)
        for table in resources.tables:
            hub.store("tables").create_table(
                table.name, partition_key=table.partition_key, sort_key=table.sort_key,
                ttl_attribute=table.ttl_attribute,
            )
        for stream in resources.streams:
            hub.store("streams").create_stream(stream.name, shard_count=stream.shards, retention_h=stream.retention_h)
    except ServiceError as error:
        raise DeployError(f"{where}: resources: {error}") from None


def _ensure_queues(hub: ServiceHub, resources: Resources) -> None:
    from squall.services.queues import DeadLetterPolicy, QueueSettings

    store = hub.store("queues")
    # Dead-letter queues first, since a queue's policy must name an existing queue.
    ordered = sorted(resources.queues, key=lambda queue: queue.dead_letter_queue is not None)
    for queue in ordered:
        dead_letter = None
        if queue.dead_letter_queue is not None:
            dead_letter = DeadLetterPolicy(queue.dead_letter_queue, queue.max_receive_count)
        settings = QueueSettings(
            visibility_timeout_s=queue.visibility_timeout_s,
            retention_s=queue.retention_s,
            delay_s=queue.delay_s,
            receive_wait_s=queue.receive_wait_s,
            dead_letter=dead_letter,
            content_based_deduplication=queue.content_based_deduplication,
        )
        store.create_queue(queue.name, settings)


def check_trigger_sources(hub: ServiceHub, service: ServiceSpec) -> None:
    """Raise DeployError when a trigger or destination names a resource that does not exist (blocking)."""
    where = service.manifest_path.name
    for spec in service.functions.values():
        for index, trigger in enumerate(spec.triggers):
            key = f"functions.{spec.name}.events.{index}"
            try:
                if isinstance(trigger, QueueTrigger):
                    queue = hub.store("queues").get_queue(trigger.queue)
                    _check_visibility(where, key, spec.timeout_s, queue.settings.visibility_timeout_s, trigger.queue)
                elif isinstance(trigger, ObjectTrigger):
                    hub.store("objects").head_bucket(trigger.bucket)
                elif isinstance(trigger, TableStreamTrigger):
                    hub.store("tables").describe_table(trigger.table)
                elif isinstance(trigger, StreamTrigger):
                    hub.store("streams").describe_stream(trigger.stream)
            except ResourceNotFound as error:
                raise DeployError(
                    f"{where}: {key}: {error}; declare it under resources or create it with the squall CLI"
                ) from None
        for name, destination in (("on_success", spec.async_config.on_success),
                                  ("on_failure", spec.async_config.on_failure)):
            if destination is None or destination.kind != "queue":
                continue
            try:
                hub.store("queues").get_queue(destination.name)
            except ResourceNotFound as error:
                raise DeployError(f"{where}: functions.{spec.name}.{name}: {error}") from None


def _check_visibility(where: str, key: str, timeout_s: int, visibility_s: int, queue: str) -> None:
    # Lambda refuses an SQS trigger whose queue would show a message again
    # while the function may still be working on it.
    if visibility_s < timeout_s:
        raise DeployError(
            f"{where}: {key}: queue {queue!r} has a visibility timeout of {visibility_s} s, less than the "
            f"function's timeout of {timeout_s} s; raise visibility_timeout_s to at least {timeout_s}"
        )
