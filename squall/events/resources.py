"""Deploy-time work on data services: check the declared resources and the triggers, then create what is missing.

Every check runs before anything is created, so a deploy that fails leaves
the data services as they were.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from squall.errors import DeployError
from squall.manifest.spec import (
    DEFAULT_STREAM_VIEW_TYPE,
    ObjectTrigger,
    QueueResource,
    QueueTrigger,
    ServiceSpec,
    StreamResource,
    StreamTrigger,
    TableResource,
    TableStreamTrigger,
)
from squall.manifest.resource_checks import creation_order, function_destination_problems, service_problems
from squall.manifest.validate import MAX_FIFO_QUEUE_BATCH, is_fifo_queue
from squall.services.errors import ResourceNotFound, ServiceError
from squall.services.hub import ServiceHub

logger = logging.getLogger(__name__)


def prepare_resources(
    hub: ServiceHub, service: ServiceSpec, other_functions: Mapping[str, str | None] | None = None
) -> list[Callable[[], Any]]:
    """Check the service's resources and triggers against what exists; return the creations still to run.

    Blocking: run it on a worker thread. Raises DeployError, naming the
    manifest key, when a declared resource exists with other settings, a
    setting is invalid, or a trigger or destination names a resource that is
    neither declared nor existing. `other_functions` maps the functions
    other services deployed to their AWS names, for checking the service's
    function destinations; without it they are not checked.
    """
    where = service.manifest_path.name
    check_declared_resources(service)
    creations: list[Callable[[], Any]] = []
    try:
        creations += _plan_queues(hub, service)
        creations += [_bucket_creation(hub, bucket.name) for bucket in service.resources.buckets
                      if not _exists(lambda name=bucket.name: hub.store("objects").head_bucket(name))]
        creations += _plan_tables(hub, service.resources.tables)
        creations += _plan_streams(hub, service.resources.streams)
    except ServiceError as error:
        raise DeployError(f"{where}: resources: {error}") from None
    check_fifo_queues(service)
    _check_triggers(hub, service, other_functions)
    _check_table_streams(hub, service)
    return creations


def check_declared_resources(service: ServiceSpec) -> None:
    """Raise one DeployError naming each declared resource its service would reject, and each overlapping object trigger.

    The checks need no server, so `squall plan` runs them too. A manifest
    reader makes the same checks at the exact key path, so this catches a
    specification that did not come from one.
    """
    problems = service_problems(service)
    if problems:
        raise DeployError(f"{service.manifest_path.name}: " + "\n  also ".join(problems))


def create_resources(creations: list[Callable[[], Any]], service: ServiceSpec) -> None:
    """Run the creations `prepare_resources` returned (blocking)."""
    try:
        for create in creations:
            create()
    except ServiceError as error:
        raise DeployError(f"{service.manifest_path.name}: resources: {error}") from None


def _exists(lookup: Callable[[], Any]) -> bool:
    try:
        lookup()
    except ResourceNotFound:
        return False
    return True


def _bucket_creation(hub: ServiceHub, name: str) -> Callable[[], Any]:
    return lambda: hub.store("objects").create_bucket(name)


# Queues


def _queue_settings(queue: QueueResource) -> Any:
    from squall.services.queues import DeadLetterPolicy, QueueSettings

    dead_letter = None
    if queue.dead_letter_queue is not None:
        dead_letter = DeadLetterPolicy(queue.dead_letter_queue, queue.max_receive_count)
    return QueueSettings(
        visibility_timeout_s=queue.visibility_timeout_s,
        retention_s=queue.retention_s,
        delay_s=queue.delay_s,
        receive_wait_s=queue.receive_wait_s,
        dead_letter=dead_letter,
        content_based_deduplication=queue.content_based_deduplication,
    )


def _plan_queues(hub: ServiceHub, service: ServiceSpec) -> list[Callable[[], Any]]:
    store = hub.store("queues")
    declared = {queue.name: queue for queue in service.resources.queues}
    creations = []
    # Dead-letter queues first, since a queue's policy must name an existing queue.
    for queue in creation_order(service.resources.queues):
        settings = _queue_settings(queue)
        key = f"queues.{queue.name}"
        if queue.dead_letter_queue is not None:
            target = queue.dead_letter_queue
            if target in declared:
                target_fifo = target.endswith(".fifo")
            else:
                try:
                    target_fifo = store.get_queue(target).fifo
                except ResourceNotFound:
                    raise DeployError(
                        f"{service.manifest_path.name}: resources.{key}.dead_letter.queue: queue {target!r} "
                        "is neither declared under resources.queues nor created; declare it there"
                    ) from None
            if target_fifo != queue.name.endswith(".fifo"):
                kind = "a FIFO" if queue.name.endswith(".fifo") else "a standard"
                raise DeployError(
                    f"{service.manifest_path.name}: resources.{key}.dead_letter.queue: {target!r} must be "
                    f"{kind} queue like {queue.name!r}"
                )
        try:
            existing = store.get_queue(queue.name)
        except ResourceNotFound:
            creations.append(lambda name=queue.name, settings=settings: store.create_queue(name, settings))
            continue
        if existing.settings != settings:
            # The manifest is the source of truth for the settings a queue may change.
            creations.append(lambda name=queue.name, settings=settings: store.update_queue(name, settings))
    return creations


# Tables and streams


def _plan_tables(hub: ServiceHub, tables: tuple[TableResource, ...]) -> list[Callable[[], Any]]:
    store = hub.store("tables") if tables else None
    creations = []
    for table in tables:
        stream = table.stream_view_type is not None
        view_type = table.stream_view_type or DEFAULT_STREAM_VIEW_TYPE
        try:
            info = store.describe_table(table.name)
        except ResourceNotFound:
            creations.append(lambda table=table, stream=stream, view_type=view_type: store.create_table(
                table.name, partition_key=table.partition_key, sort_key=table.sort_key,
                ttl_attribute=table.ttl_attribute, stream=stream, stream_view_type=view_type,
            ))
            continue
        existing = (
            (info.partition_key.name, info.partition_key.type.value),
            None if info.sort_key is None else (info.sort_key.name, info.sort_key.type.value),
            info.ttl_attribute,
        )
        if existing != (table.partition_key, table.sort_key, table.ttl_attribute):
            raise ServiceError(
                f"table {table.name!r} exists with partition key {existing[0]}, sort key {existing[1]} and TTL "
                f"attribute {existing[2]!r}; change the manifest to match, or delete the table first"
            )
        current = info.stream_view_type.value if info.stream_view_type is not None else None
        if current != table.stream_view_type:
            # CloudFormation changes a table's stream in place, as UpdateTable does.
            creations.append(lambda table=table, current=current: _update_table_stream(store, table, current))
    return creations


def _update_table_stream(store: Any, table: TableResource, current: str | None) -> None:
    view_type = table.stream_view_type
    store.update_stream(table.name, view_type is not None, view_type or DEFAULT_STREAM_VIEW_TYPE)
    if view_type is None:
        logger.warning(
            "table %s: turned its stream (%s) off and deleted its change records, because the manifest "
            "declares the table without a stream", table.name, current,
        )
    else:
        logger.info("table %s: stream view type %s, was %s", table.name, view_type, current or "no stream")


def _plan_streams(hub: ServiceHub, streams: tuple[StreamResource, ...]) -> list[Callable[[], Any]]:
    store = hub.store("streams") if streams else None
    creations = []
    for stream in streams:
        try:
            info = store.describe_stream(stream.name)
        except ResourceNotFound:
            creations.append(lambda stream=stream: store.create_stream(
                stream.name, shard_count=stream.shards, retention_h=stream.retention_h,
            ))
            continue
        if (info.shard_count, info.retention_h) != (stream.shards, stream.retention_h):
            raise ServiceError(
                f"stream {stream.name!r} exists with {info.shard_count} shard(s) and {info.retention_h} h retention; "
                "change the manifest to match, or delete the stream first"
            )
    return creations


# Triggers


def _check_triggers(hub: ServiceHub, service: ServiceSpec, other_functions: Mapping[str, str | None] | None) -> None:
    """Raise one DeployError naming every trigger and destination whose resource or function does not exist.

    Function destinations are checked only with `other_functions`, the
    functions other services deployed, by name, with their AWS names.
    """
    where = service.manifest_path.name
    resources = service.resources
    queues = {queue.name: queue.visibility_timeout_s for queue in resources.queues}
    buckets = {bucket.name for bucket in resources.buckets}
    tables = {table.name for table in resources.tables}
    streams = {stream.name for stream in resources.streams}
    problems: list[str] = []

    for spec in service.functions.values():
        for trigger in spec.triggers:
            # Triggers do not keep their place among the manifest's events, so the event is named by its resource.
            try:
                if isinstance(trigger, QueueTrigger):
                    key = f"{service.function_key(spec.name, 'events')}: the event of queue {trigger.queue!r}"
                    visibility = queues.get(trigger.queue)
                    if visibility is None:
                        visibility = hub.store("queues").get_queue(trigger.queue).settings.visibility_timeout_s
                    _check_visibility(where, key, spec.timeout_s, visibility, trigger.queue)
                elif isinstance(trigger, ObjectTrigger) and trigger.bucket not in buckets:
                    key = f"{service.function_key(spec.name, 'events')}: the event of bucket {trigger.bucket!r}"
                    try:
                        hub.store("objects").head_bucket(trigger.bucket)
                    except ResourceNotFound as error:
                        # Such as serverless.yml's `existing: true`, with which the deploy creates no bucket.
                        raise ResourceNotFound(
                            f"{error} (`squall object mb {trigger.bucket}`, or with --local before the server starts)"
                        ) from None
                elif isinstance(trigger, TableStreamTrigger) and trigger.table not in tables:
                    key = f"{service.function_key(spec.name, 'events')}: the event of table {trigger.table!r}"
                    hub.store("tables").describe_table(trigger.table)
                elif isinstance(trigger, StreamTrigger) and trigger.stream not in streams:
                    key = f"{service.function_key(spec.name, 'events')}: the event of stream {trigger.stream!r}"
                    hub.store("streams").describe_stream(trigger.stream)
            except ResourceNotFound as error:
                problems.append(f"{key}: {error}")
            except DeployError as error:
                problems.append(str(error).removeprefix(f"{where}: "))
        for name, destination in spec.async_config.destinations():
            if destination.kind != "queue" or destination.name in queues:
                continue
            try:
                hub.store("queues").get_queue(destination.name)
            except ResourceNotFound as error:
                problems.append(f"{service.function_key(spec.name, name)}: {error}")
    if other_functions is not None:
        problems += function_destination_problems(service, other_functions)
    if problems:
        raise DeployError(f"{where}: " + "\n  also ".join(problems))


def _check_table_streams(hub: ServiceHub, service: ServiceSpec) -> None:
    """Raise one DeployError naming every table-stream trigger whose table has no stream."""
    where = service.manifest_path.name
    declared = {table.name: table.stream_view_type is not None for table in service.resources.tables}
    problems: list[str] = []
    for spec in service.functions.values():
        for trigger in spec.triggers:
            if not isinstance(trigger, TableStreamTrigger):
                continue
            has_stream = declared.get(trigger.table)
            if has_stream is None:
                try:
                    has_stream = hub.store("tables").describe_table(trigger.table).stream_enabled
                except ResourceNotFound:
                    continue  # _check_triggers reports a missing table
            if not has_stream:
                problems.append(
                    f"{service.function_key(spec.name, 'events')}: the event of table {trigger.table!r}: "
                    f"table {trigger.table!r} has no stream, so the trigger would never receive a record; "
                    "declare the table with a stream: StreamSpecification with a StreamViewType in serverless.yml "
                    "or a SAM template, or the table under resources.tables in squall.yml"
                )
    if problems:
        raise DeployError(f"{where}: " + "\n  also ".join(problems))


def check_fifo_queues(service: ServiceSpec) -> None:
    """Raise one DeployError naming every FIFO queue trigger and destination that Lambda would reject.

    A FIFO queue trigger takes at most 10 messages per batch and no batching
    window, and a FIFO queue cannot be a destination. The manifest readers
    check this at the exact key path. This check of the specification covers
    a reader that does not, and it needs no server.
    """
    where = service.manifest_path.name
    problems: list[str] = []
    for spec in service.functions.values():
        for trigger in spec.triggers:
            if not isinstance(trigger, QueueTrigger) or not is_fifo_queue(trigger.queue):
                continue
            key = f"{service.function_key(spec.name, 'events')}: the event of queue {trigger.queue!r}"
            if trigger.batch_size > MAX_FIFO_QUEUE_BATCH:
                problems.append(
                    f"{key}: batch size {trigger.batch_size} is above {MAX_FIFO_QUEUE_BATCH}, the maximum Lambda "
                    f"allows for a FIFO queue; set a batch size of {MAX_FIFO_QUEUE_BATCH} or less"
                )
            if trigger.batch_window_s > 0:
                problems.append(
                    f"{key}: batching window {trigger.batch_window_s:g} s is not supported by Lambda for a FIFO "
                    "queue; remove the batching window"
                )
        for name, destination in spec.async_config.destinations():
            if destination.kind == "queue" and is_fifo_queue(destination.name):
                problems.append(
                    f"{service.function_key(spec.name, name)}: queue {destination.name!r} is a FIFO queue, which "
                    "cannot be a destination, as on AWS; use a standard queue"
                )
    if problems:
        raise DeployError(f"{where}: " + "\n  also ".join(problems))


def check_declared_queues(service: ServiceSpec) -> None:
    """Raise DeployError for the queue mistakes a deploy rejects that need no server to find.

    They are the FIFO queue rules of `check_fifo_queues`, and a queue the
    manifest declares that hides a message for less than its function's
    timeout. Unlike the deploy's own checks, these need no server, so
    `squall plan` can report them.
    """
    check_fifo_queues(service)
    where = service.manifest_path.name
    queues = {queue.name: queue.visibility_timeout_s for queue in service.resources.queues}
    problems: list[str] = []
    for queue in service.resources.queues:
        target = queue.dead_letter_queue
        if target is None or target not in queues or target.endswith(".fifo") == queue.name.endswith(".fifo"):
            continue
        kind = "a FIFO" if queue.name.endswith(".fifo") else "a standard"
        # SQS requires a dead-letter queue of the same kind as its source queue.
        problems.append(f"resources.queues.{queue.name}.dead_letter.queue: {target!r} must be {kind} queue like {queue.name!r}")
    for spec in service.functions.values():
        for trigger in spec.triggers:
            if not isinstance(trigger, QueueTrigger) or trigger.queue not in queues:
                continue
            key = f"{service.function_key(spec.name, 'events')}: the event of queue {trigger.queue!r}"
            try:
                _check_visibility(where, key, spec.timeout_s, queues[trigger.queue], trigger.queue)
            except DeployError as error:
                problems.append(str(error).removeprefix(f"{where}: "))
    if problems:
        raise DeployError(f"{where}: " + "\n  also ".join(problems))


def _check_visibility(where: str, key: str, timeout_s: int, visibility_s: int, queue: str) -> None:
    # Lambda rejects an SQS trigger whose queue would show a message again
    # while the function may still be working on it.
    if visibility_s < timeout_s:
        raise DeployError(
            f"{where}: {key}: queue {queue!r} has a visibility timeout of {visibility_s} s, less than the "
            f"function's timeout of {timeout_s} s; raise the queue's visibility timeout to at least {timeout_s} s"
        )
