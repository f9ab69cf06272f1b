"""Checks of declared queues, buckets and tables, of object triggers and of function destinations.

A data service checks a queue, bucket or table again when a deploy, the SDK
or the CLI creates it. The checks here apply the same rules to what a
manifest declares, so that `squall plan` and a deploy reject a mistake
before the deploy creates anything. The value checks return the problem as
a message without a key path, or None, and each manifest reader adds the
key path of its own format. The service checks (`service_problems`,
`function_destination_problems`) name keys by `ServiceSpec.function_key`
and resources by kind and name, for the deploy and `squall plan`.

Where a service has a validator function (bucket, queue and attribute
names), the value check calls it, so that the readers accept exactly the
names the services accept. It is imported when first used, so that reading
a manifest without such resources does not import the services' packages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from squall.manifest.spec import ObjectTrigger, QueueResource, Resources, ServiceSpec
from squall.manifest.validate import describe, expected, is_fifo_queue

# The FIFO queue rule of content-based deduplication, as each format states
# it: squall.yml makes a queue FIFO by its name alone, CloudFormation also
# by FifoQueue.
FIFO_BY_NAME = 'a FIFO queue, whose name ends in ".fifo"'
FIFO_BY_PROPERTY = 'a FIFO queue (FifoQueue: true and a QueueName ending in ".fifo")'

# S3's rule for the filters of two notifications on one bucket, from the S3
# user guide ("Configuring event notifications using object key name
# filtering"): they are rejected when they share an event type and some key
# can match both prefixes and both suffixes.
_OVERLAP_RULE = (
    'S3 rejects two notifications of one bucket whose filters overlap for a shared event type ("Configurations '
    'overlap"), because each such change would invoke both; give the two events prefixes or suffixes that no key '
    "can match together, or different event types"
)


# Queues


def deduplication_problem(queue: str, enabled: bool, fifo_rule: str = FIFO_BY_NAME) -> str | None:
    """Return why content-based deduplication cannot be on for `queue`, or None.

    SQS accepts ContentBasedDeduplication only on a FIFO queue, and Squall's
    queue service rejects it on a standard queue too. `fifo_rule` describes
    how the manifest's format makes a queue FIFO.
    """
    if not enabled or is_fifo_queue(queue):
        return None
    return expected(f"false, since content-based deduplication is valid only for {fifo_rule}", enabled)


def queue_name_problem(name: str) -> str | None:
    """Return the queue service's message for an invalid queue name, or None."""
    from squall.services.errors import InvalidParameter
    from squall.services.queues.messages import validate_queue_name

    try:
        validate_queue_name(name)
    except InvalidParameter as error:
        return str(error)
    return None


def dead_letter_problem(queue: str, target: str) -> str | None:
    """Return why `target` cannot be the dead-letter queue of `queue`, or None.

    SQS requires a dead-letter queue of the queue's own type, FIFO or
    standard, which both take from the name. Whether `target` exists is left
    to the deploy, which looks up the queues on the server.
    """
    problem = queue_name_problem(target)
    if problem is not None:
        return problem
    if target == queue:
        return expected("another queue than the queue itself", target)
    if is_fifo_queue(target) != is_fifo_queue(queue):
        kind = "a FIFO" if is_fifo_queue(queue) else "a standard"
        return expected(
            f"{kind} queue like {describe(queue)}, since SQS requires a dead-letter queue of the queue's own type",
            target,
        )
    return None


def dead_letter_cycle(queue: str, targets: Mapping[str, str | None]) -> list[str] | None:
    """Return the queues from `queue` around a cycle of dead-letter queues back to it, or None.

    `targets` maps each declared queue to its dead-letter queue. A queue
    needs its dead-letter queue to exist before it is created, so no queue
    of a cycle can be created first.
    """
    chain = [queue]
    target = targets.get(queue)
    while target is not None and target in targets:
        if target == queue:
            return [*chain, queue]
        if target in chain:
            return None  # a cycle further along, which its own queues report
        chain.append(target)
        target = targets.get(target)
    return None


def dead_letter_cycle_problem(cycle: Sequence[str]) -> str:
    """Describe a cycle that `dead_letter_cycle` found."""
    path = " -> ".join(cycle)
    return (
        f"the dead-letter queues form a cycle ({path}), and each queue needs its dead-letter queue to exist "
        f"before it, so none of them can be created first; end the chain at a queue without a dead-letter queue"
    )


def creation_order(queues: Sequence[QueueResource]) -> list[QueueResource]:
    """Order queues so that each declared dead-letter queue comes before the queues that use it.

    Queues that cannot be ordered, those of a dead-letter cycle and those
    whose dead-letter queue is in one, come last in their declared order.
    """
    declared = {queue.name for queue in queues}
    ordered: dict[str, QueueResource] = {}
    progress = True
    while progress:
        progress = False
        for queue in queues:
            target = queue.dead_letter_queue
            if queue.name in ordered or (target in declared and target not in ordered):
                continue
            ordered[queue.name] = queue
            progress = True
    return [*ordered.values(), *(queue for queue in queues if queue.name not in ordered)]


# Buckets


def bucket_name_problem(name: str) -> str | None:
    """Return the object service's message for a bucket name S3 rejects, or None.

    Besides the characters and length that the manifest schemas check, S3
    rejects a name formatted as an IP address ("192.168.1.1") and names
    with a prefix or suffix that it reserves ("xn--", "-s3alias").
    """
    from squall.services.objects.errors import InvalidBucketName
    from squall.services.objects.validation import validate_bucket_name

    try:
        validate_bucket_name(name)
    except InvalidBucketName as error:
        return str(error)
    return None


# Tables


def attribute_name_problem(role: str, name: str) -> str | None:
    """Return the table service's message for an attribute name it rejects, or None.

    `role` is "partition key", "sort key" or "TTL". DynamoDB limits these
    names to 1 to 255 bytes of UTF-8, so a name of fewer characters can
    still be too long.
    """
    from squall.services.errors import InvalidParameter
    from squall.services.tables.model import validate_attribute_name

    try:
        validate_attribute_name(role, name)
    except InvalidParameter as error:
        return str(error)
    return None


def sort_key_problem(partition_key: str, sort_key: str) -> str | None:
    """Return why a table cannot have `sort_key` beside `partition_key`, or None."""
    if sort_key != partition_key:
        return None
    return expected(
        f"an attribute other than the partition key {describe(partition_key)}, since a table's partition key "
        "and sort key are two attributes",
        sort_key,
    )


# Object triggers


@dataclass(frozen=True)
class _EventType:
    """One event selector of an object trigger: an S3 event family, with "*" for all of its events."""

    family: str  # "ObjectCreated" or "ObjectRemoved"
    name: str  # "Put", or "*" for every event of the family
    written: str  # as the manifest wrote it: "created", "s3:ObjectCreated:*", "s3:ObjectCreated:Put"


_SQUALL_EVENT_FAMILIES = {"created": "ObjectCreated", "removed": "ObjectRemoved"}


def _event_types(events: Sequence[str]) -> list[_EventType]:
    if not events:
        # A trigger without event kinds takes every change, as `squall.services.objects.matches` does.
        return [_EventType("ObjectCreated", "*", "created"), _EventType("ObjectRemoved", "*", "removed")]
    types = []
    for event in events:
        if event in _SQUALL_EVENT_FAMILIES:
            types.append(_EventType(_SQUALL_EVENT_FAMILIES[event], "*", event))
            continue
        family, _, name = event.removeprefix("s3:").partition(":")
        if name:
            types.append(_EventType(family, name, event))
    return types


def shared_event_type(first: Sequence[str], second: Sequence[str]) -> str | None:
    """Return an event type that both lists of object events select, as one of them writes it, or None.

    "s3:ObjectCreated:*" (or "created") selects every "s3:ObjectCreated:..."
    event, so it shares "s3:ObjectCreated:Put" with a list that names that.
    """
    for mine in _event_types(first):
        for other in _event_types(second):
            if mine.family != other.family:
                continue
            if mine.name == "*":
                return other.written
            if other.name in ("*", mine.name):
                return mine.written
    return None


def object_overlap_problem(first_where: str, first: ObjectTrigger, second: ObjectTrigger) -> str | None:
    """Return why `second` cannot be an object trigger beside `first`, which `first_where` names, or None.

    Two filters overlap when some key starts with both prefixes and ends
    with both suffixes, which is when one prefix starts the other and one
    suffix ends the other. An empty prefix or suffix matches every key.
    """
    if first.bucket != second.bucket:
        return None
    event = shared_event_type(first.events, second.events)
    if event is None:
        return None
    prefixes = sorted((first.prefix, second.prefix), key=len)
    suffixes = sorted((first.suffix, second.suffix), key=len)
    if not prefixes[1].startswith(prefixes[0]) or not suffixes[1].endswith(suffixes[0]):
        return None
    # The longer prefix followed by the longer suffix starts and ends with all four.
    example = prefixes[1] + suffixes[1]
    keys = f"keys such as {describe(example)}" if example else "every key"
    return (
        f"overlaps {first_where}: both take {describe(event)} events of {keys} in bucket "
        f"{describe(second.bucket)}; {_OVERLAP_RULE}"
    )


def describe_object_trigger(trigger: ObjectTrigger) -> str:
    """Describe an object trigger's filter in a message: 'bucket "uploads", events created, prefix "img/"'."""
    text = f"bucket {describe(trigger.bucket)}, events {', '.join(trigger.events) or 'all'}"
    if trigger.prefix:
        text += f", prefix {describe(trigger.prefix)}"
    if trigger.suffix:
        text += f", suffix {describe(trigger.suffix)}"
    return text


# Whole services, for the deploy and `squall plan`


def resource_problems(resources: Resources, fifo_rule: str = FIFO_BY_NAME) -> list[str]:
    """Return a message for each declared queue, bucket or table that its service would reject when created.

    Each message starts with the resource's kind and name ("queue 'jobs': ").
    """
    problems: list[str] = []
    targets = {queue.name: queue.dead_letter_queue for queue in resources.queues}
    for queue in resources.queues:
        where = f"queue {queue.name!r}: "
        problem = deduplication_problem(queue.name, queue.content_based_deduplication, fifo_rule)
        if problem is not None:
            problems.append(where + problem)
        if queue.dead_letter_queue is not None:
            problem = dead_letter_problem(queue.name, queue.dead_letter_queue)
            cycle = dead_letter_cycle(queue.name, targets)
            if problem is not None:
                problems.append(f"{where}dead-letter queue: {problem}")
            elif cycle is not None and queue.name == min(cycle):
                # Once per cycle, from its first queue by name.
                problems.append(where + dead_letter_cycle_problem(cycle))
    for bucket in resources.buckets:
        problem = bucket_name_problem(bucket.name)
        if problem is not None:
            problems.append(f"bucket {bucket.name!r}: {problem}")
    for table in resources.tables:
        checks = [
            attribute_name_problem("partition key", table.partition_key[0]),
            attribute_name_problem("sort key", table.sort_key[0]) if table.sort_key else None,
            sort_key_problem(table.partition_key[0], table.sort_key[0]) if table.sort_key else None,
            attribute_name_problem("TTL", table.ttl_attribute) if table.ttl_attribute is not None else None,
        ]
        problems += [f"table {table.name!r}: {problem}" for problem in checks if problem is not None]
    return problems


def object_trigger_problems(service: ServiceSpec) -> list[str]:
    """Return a message for each object trigger on an invalid bucket name or overlapping an earlier one.

    Triggers do not keep their place among the manifest's events, so each is
    named by its function's events key and its filter. The name of a
    declared bucket is left to `resource_problems`.
    """
    declared = {bucket.name for bucket in service.resources.buckets}
    problems: list[str] = []
    seen: list[tuple[str, ObjectTrigger]] = []
    for spec in service.functions.values():
        for trigger in spec.triggers:
            if not isinstance(trigger, ObjectTrigger):
                continue
            where = f"{service.function_key(spec.name, 'events')} ({describe_object_trigger(trigger)})"
            problem = None if trigger.bucket in declared else bucket_name_problem(trigger.bucket)
            if problem is None:
                overlaps = (object_overlap_problem(first_where, first, trigger) for first_where, first in seen)
                problem = next((overlap for overlap in overlaps if overlap is not None), None)
            if problem is not None:
                problems.append(f"{where}: {problem}")
            seen.append((where, trigger))
    return problems


def service_problems(service: ServiceSpec) -> list[str]:
    """Return a message for each mistake of `resource_problems` and `object_trigger_problems`.

    These need no server. A SAM template or serverless.yml makes a queue
    FIFO with FifoQueue, which the messages name.
    """
    fifo_rule = FIFO_BY_NAME if service.manifest_path.name.startswith("squall.") else FIFO_BY_PROPERTY
    problems = [f"resources: {problem}" for problem in resource_problems(service.resources, fifo_rule)]
    return problems + object_trigger_problems(service)


# Function destinations


@dataclass(frozen=True)
class MissingDestination:
    """A destination that names a function Squall cannot deliver its records to."""

    function: str  # the function whose setting names the destination
    setting: str  # "on_success" or "on_failure"
    name: str  # the function the destination names
    reason: str  # why, and what to do


def missing_function_destinations(
    service: ServiceSpec, other_functions: Mapping[str, str | None]
) -> list[MissingDestination]:
    """Return each destination that names a function neither `service` nor another service on the server has.

    `other_functions` maps the name of each function that other services
    deployed to its AWS name (`FunctionSpec.aws_name`), or None. A
    destination may name a function by either name, as the Invoke API takes both.
    """
    own = set(service.functions)
    aws_names = {spec.aws_name for spec in service.functions.values()} | set(other_functions.values())
    known = own | set(other_functions) | {name for name in aws_names if name}
    missing = []
    for spec in service.functions.values():
        for setting, destination in spec.async_config.destinations():
            if destination.kind != "function" or destination.name in known:
                continue
            reason = (
                f"function {destination.name!r} is neither a function of this service "
                f"({', '.join(sorted(own))}) nor deployed on the server, so the records sent to it would be "
                "lost; name one that is, or deploy the function's service first"
            )
            missing.append(MissingDestination(spec.name, setting, destination.name, reason))
    return missing


def function_destination_problems(service: ServiceSpec, other_functions: Mapping[str, str | None]) -> list[str]:
    """Return a message, starting with the setting's key path, for each of `missing_function_destinations`."""
    return [
        f"{service.function_key(missing.function, missing.setting)}: {missing.reason}"
        for missing in missing_function_destinations(service, other_functions)
    ]
