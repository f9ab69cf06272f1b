"""The `resources` section of a serverless.yml: CloudFormation resources that become Squall's.

Queues, buckets, tables and streams declared as `AWS::SQS::Queue`,
`AWS::S3::Bucket`, `AWS::DynamoDB::Table` and `AWS::Kinesis::Stream` become
Squall resources; every other type is listed in the warnings.
"""

from __future__ import annotations

import json
import re
from typing import Any

from squall.manifest.serverless_common import Warnings, check_number
from squall.manifest.serverless_resources import (
    BUCKET_TYPE,
    QUEUE_TYPE,
    STREAM_TYPE,
    TABLE_TYPE,
    Catalog,
    DeclaredResource,
    StackContext,
    queue_name_from_arn,
)
from squall.manifest.spec import (
    DEFAULT_STREAM_VIEW_TYPE,
    STREAM_VIEW_TYPES,
    QueueResource,
    StreamResource,
    TableResource,
)
from squall.manifest.squall_events import (
    BUCKET_NAME_PATTERN,
    BUCKET_NAME_RULE,
    QUEUE_NAME_PATTERN,
    QUEUE_NAME_RULE,
    STREAM_NAME_PATTERN,
    STREAM_NAME_RULE,
    TABLE_NAME_PATTERN,
    TABLE_NAME_RULE,
)
from squall.manifest.validate import KeyPath, ManifestSource, describe, expected

# Each type's name property and name limits, as the AWS services set them.
_NAMING: dict[str, tuple[str, str, str, int]] = {
    QUEUE_TYPE: ("QueueName", QUEUE_NAME_PATTERN, QUEUE_NAME_RULE, 80),
    BUCKET_TYPE: ("BucketName", BUCKET_NAME_PATTERN, BUCKET_NAME_RULE, 63),
    TABLE_TYPE: ("TableName", TABLE_NAME_PATTERN, TABLE_NAME_RULE, 255),
    STREAM_TYPE: ("Name", STREAM_NAME_PATTERN, STREAM_NAME_RULE, 128),
}
_TEMPLATE_SECTIONS = ("Resources", "Outputs", "Conditions", "Parameters", "Mappings", "Description", "Metadata")
_FIFO_SUFFIX = ".fifo"

def read_resources(
    source: ManifestSource, resources: Any, context: StackContext, warnings: Warnings
) -> Catalog:
    """Read `resources` (a CloudFormation template fragment, or a list of them) into a Catalog."""
    catalog = Catalog(context)
    key: KeyPath = ("resources",)
    fragments = resources if isinstance(resources, list) else [resources]
    declared: dict[str, tuple[KeyPath, dict[str, Any]]] = {}
    for index, fragment in enumerate(fragments):
        fragment_key = (*key, index) if isinstance(resources, list) else key
        if fragment is None:
            continue
        if not isinstance(fragment, dict):
            raise source.error(fragment_key, expected("a CloudFormation template fragment with Resources", fragment))
        for section, content in fragment.items():
            if section != "Resources":
                reason = "section" if section in _TEMPLATE_SECTIONS else "key"
                warnings.unsupported((*fragment_key, str(section)), f"CloudFormation {reason}")
                continue
            if not isinstance(content, dict):
                raise source.error((*fragment_key, "Resources"), expected("a mapping of logical ids to resources", content))
            for logical_id, resource in content.items():
                declared[str(logical_id)] = ((*fragment_key, "Resources", str(logical_id)), resource)

    # Names first, so that a property may refer to any declared resource.
    for logical_id, (resource_key, resource) in declared.items():
        if not isinstance(resource, dict) or not isinstance(resource.get("Type"), str):
            raise source.error(resource_key, expected('a resource mapping with "Type" and "Properties"', resource))
        resource_type = resource["Type"]
        if resource_type not in _NAMING:
            warnings.unsupported(resource_key, f"resource type {describe(resource_type)}")
            continue
        properties = _properties(source, resource_key, resource)
        name = _resource_name(source, catalog, resource_key, logical_id, resource_type, properties)
        catalog.declared[logical_id] = DeclaredResource(logical_id, resource_type, name)
        warnings.unsupported_keys(resource_key, resource, ("Type", "Properties"))

    for logical_id, resource in catalog.declared.items():
        resource_key, settings = declared[logical_id]
        properties = _properties(source, resource_key, settings)
        reader = {
            QUEUE_TYPE: _read_queue,
            BUCKET_TYPE: _read_bucket,
            TABLE_TYPE: _read_table,
            STREAM_TYPE: _read_stream,
        }[resource.type]
        reader(source, catalog, (*resource_key, "Properties"), resource, properties, warnings)
    return catalog


def _properties(source: ManifestSource, key: KeyPath, resource: dict[str, Any]) -> dict[str, Any]:
    properties = resource.get("Properties") or {}
    if not isinstance(properties, dict):
        raise source.error((*key, "Properties"), expected("a mapping of resource properties", properties))
    return properties


def _resource_name(
    source: ManifestSource,
    catalog: Catalog,
    key: KeyPath,
    logical_id: str,
    resource_type: str,
    properties: dict[str, Any],
) -> str:
    name_property, pattern, rule, limit = _NAMING[resource_type]
    fifo = resource_type == QUEUE_TYPE and _boolean(source, (*key, "Properties", "FifoQueue"), properties.get("FifoQueue", False))
    if name_property not in properties:
        return _derived_name(catalog.context, logical_id, resource_type, limit, fifo)

    name_key = (*key, "Properties", name_property)
    name = catalog.evaluate(properties[name_property])
    if name is None:
        raise source.error(
            name_key,
            expected(f"a name, or Ref, Fn::Sub or Fn::Join over pseudo parameters, giving {rule}", properties[name_property]),
        )
    if not re.match(pattern, name):
        raise source.error(name_key, expected(f"a name of {rule}", name))
    if resource_type == QUEUE_TYPE and fifo != name.endswith(_FIFO_SUFFIX):
        raise source.error(
            name_key,
            f"queue name {describe(name)} and FifoQueue {describe(fifo)} disagree, expected a name ending in "
            ".fifo exactly when FifoQueue is true",
        )
    return name


def _derived_name(context: StackContext, logical_id: str, resource_type: str, limit: int, fifo: bool) -> str:
    # CloudFormation names an unnamed resource "<stack>-<logical id>-<random
    # suffix>". Squall leaves out the random part so that a redeploy finds the
    # same resource, and, like CloudFormation, adds ".fifo" for a FIFO queue
    # and lowercases a bucket name.
    name = f"{context.stack_name}-{logical_id}"
    if resource_type == BUCKET_TYPE:
        name = re.sub(r"[^a-z0-9.-]", "-", name.lower())
    elif resource_type == QUEUE_TYPE:
        name = re.sub(r"[^A-Za-z0-9_-]", "-", name)
    else:
        name = re.sub(r"[^A-Za-z0-9_.-]", "-", name)
    suffix = _FIFO_SUFFIX if fifo else ""
    return name[: limit - len(suffix)].strip("-.") + suffix


def _integer(source: ManifestSource, key: KeyPath, value: Any, low: int, high: int, unit: str) -> int:
    # CloudFormation templates often quote numbers ("60"), and CloudFormation accepts them.
    return check_number(source, key, value, low, high, f"{unit} between {low} and {high}")


def _boolean(source: ManifestSource, key: KeyPath, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise source.error(key, expected("true or false", value))


_QUEUE_PROPERTIES = (
    "QueueName",
    "VisibilityTimeout",
    "MessageRetentionPeriod",
    "DelaySeconds",
    "ReceiveMessageWaitTimeSeconds",
    "RedrivePolicy",
    "FifoQueue",
    "ContentBasedDeduplication",
)


def _read_queue(
    source: ManifestSource,
    catalog: Catalog,
    key: KeyPath,
    resource: DeclaredResource,
    properties: dict[str, Any],
    warnings: Warnings,
) -> None:
    warnings.unsupported_keys(key, properties, _QUEUE_PROPERTIES)

    # SQS's ranges for each queue attribute.
    settings: dict[str, Any] = {}
    for name, field_name, low, high in (
        ("VisibilityTimeout", "visibility_timeout_s", 0, 43_200),
        ("MessageRetentionPeriod", "retention_s", 60, 1_209_600),
        ("DelaySeconds", "delay_s", 0, 900),
        ("ReceiveMessageWaitTimeSeconds", "receive_wait_s", 0, 20),
    ):
        if name in properties:
            settings[field_name] = _integer(source, (*key, name), properties[name], low, high, "whole seconds")
    if "ContentBasedDeduplication" in properties:
        settings["content_based_deduplication"] = _boolean(
            source, (*key, "ContentBasedDeduplication"), properties["ContentBasedDeduplication"]
        )
    if "RedrivePolicy" in properties:
        settings.update(_read_redrive_policy(source, catalog, (*key, "RedrivePolicy"), resource, properties["RedrivePolicy"]))
    catalog.queues.append(QueueResource(name=resource.name, **settings))


def _read_redrive_policy(
    source: ManifestSource, catalog: Catalog, key: KeyPath, resource: DeclaredResource, policy: Any
) -> dict[str, Any]:
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except ValueError:
            raise source.error(key, expected("a mapping or JSON object with deadLetterTargetArn and maxReceiveCount", policy)) from None
    if not isinstance(policy, dict):
        raise source.error(key, expected("a mapping with deadLetterTargetArn and maxReceiveCount", policy))

    if "deadLetterTargetArn" not in policy:
        raise source.error((*key, "deadLetterTargetArn"), "missing, expected the dead-letter queue's ARN or Fn::GetAtt [Queue, Arn]")
    target = policy["deadLetterTargetArn"]
    arn = catalog.evaluate(target)
    dead_letter = queue_name_from_arn(arn) if arn else None
    if dead_letter is None:
        raise source.error(
            (*key, "deadLetterTargetArn"),
            expected("an SQS queue ARN, or Fn::GetAtt [LogicalId, Arn] of a queue under resources.Resources", target),
        )
    if dead_letter == resource.name:
        raise source.error((*key, "deadLetterTargetArn"), expected("another queue than the queue itself", dead_letter))
    if "maxReceiveCount" not in policy:
        raise source.error((*key, "maxReceiveCount"), "missing, expected a whole number of receives between 1 and 1000")
    count = _integer(source, (*key, "maxReceiveCount"), policy["maxReceiveCount"], 1, 1000, "a whole number of receives")
    return {"dead_letter_queue": dead_letter, "max_receive_count": count}


def _read_bucket(
    source: ManifestSource,
    catalog: Catalog,
    key: KeyPath,
    resource: DeclaredResource,
    properties: dict[str, Any],
    warnings: Warnings,
) -> None:
    warnings.unsupported_keys(key, properties, ("BucketName",))
    catalog.add_bucket(resource.name)


def _read_table(
    source: ManifestSource,
    catalog: Catalog,
    key: KeyPath,
    resource: DeclaredResource,
    properties: dict[str, Any],
    warnings: Warnings,
) -> None:
    for name in properties:
        if name in ("BillingMode", "ProvisionedThroughput"):
            warnings.add((*key, name), "Squall tables have no capacity settings, ignored")
        elif name not in ("TableName", "KeySchema", "AttributeDefinitions", "TimeToLiveSpecification", "StreamSpecification"):
            warnings.unsupported((*key, name))

    types: dict[str, str] = {}
    definitions = properties.get("AttributeDefinitions") or []
    if not isinstance(definitions, list):
        raise source.error((*key, "AttributeDefinitions"), expected("a list of {AttributeName, AttributeType}", definitions))
    for index, definition in enumerate(definitions):
        item_key = (*key, "AttributeDefinitions", index)
        if not isinstance(definition, dict) or not isinstance(definition.get("AttributeName"), str):
            raise source.error(item_key, expected("a mapping with AttributeName and AttributeType", definition))
        attribute_type = definition.get("AttributeType")
        if attribute_type not in ("S", "N", "B"):
            raise source.error((*item_key, "AttributeType"), expected('"S", "N" or "B"', attribute_type))
        types[definition["AttributeName"]] = attribute_type

    keys: dict[str, tuple[str, str]] = {}
    schema = properties.get("KeySchema")
    if not isinstance(schema, list) or not 1 <= len(schema) <= 2:
        raise source.error((*key, "KeySchema"), expected("a list of one HASH key and at most one RANGE key", schema))
    for index, element in enumerate(schema):
        item_key = (*key, "KeySchema", index)
        if not isinstance(element, dict) or element.get("KeyType") not in ("HASH", "RANGE"):
            raise source.error(item_key, expected('a mapping with AttributeName and KeyType "HASH" or "RANGE"', element))
        attribute = element.get("AttributeName")
        if attribute not in types:
            raise source.error(
                (*item_key, "AttributeName"),
                expected("an attribute listed in AttributeDefinitions (" + ", ".join(types) + ")", attribute),
            )
        if element["KeyType"] in keys:
            raise source.error((*item_key, "KeyType"), expected("one HASH key and at most one RANGE key", element["KeyType"]))
        keys[element["KeyType"]] = (attribute, types[attribute])
    if "HASH" not in keys:
        raise source.error((*key, "KeySchema"), "missing a key with KeyType HASH, expected one partition key")

    ttl_attribute = None
    ttl = properties.get("TimeToLiveSpecification")
    if ttl is not None:
        if not isinstance(ttl, dict) or not isinstance(ttl.get("AttributeName"), str):
            raise source.error((*key, "TimeToLiveSpecification"), expected("a mapping with AttributeName and Enabled", ttl))
        if _boolean(source, (*key, "TimeToLiveSpecification", "Enabled"), ttl.get("Enabled", False)):
            ttl_attribute = ttl["AttributeName"]
    view_type = _read_stream_specification(source, catalog, key, resource, properties.get("StreamSpecification"), warnings)
    catalog.tables.append(TableResource(resource.name, keys["HASH"], keys.get("RANGE"), ttl_attribute, view_type))


def _read_stream_specification(
    source: ManifestSource,
    catalog: Catalog,
    key: KeyPath,
    resource: DeclaredResource,
    specification: Any,
    warnings: Warnings,
) -> str | None:
    """Return the table's stream view type, or None when it declares no stream, as on AWS."""
    stream_key = (*key, "StreamSpecification")
    if specification is None:
        # On AWS a table without StreamSpecification has no stream, so its
        # StreamArn has no value. A reference to it raises this error, which
        # names the place to fix.
        catalog.missing_streams[resource.logical_id] = source.error(
            stream_key,
            f"missing, but Fn::GetAtt [{resource.logical_id}, StreamArn] refers to the table's stream, and a table "
            f"has a stream only with StreamSpecification; add StreamSpecification: {{StreamViewType: "
            f"{DEFAULT_STREAM_VIEW_TYPE}}} (or {', '.join(STREAM_VIEW_TYPES[:-1])})",
        )
        return None
    if not isinstance(specification, dict):
        raise source.error(stream_key, expected("a mapping with StreamViewType", specification))
    warnings.unsupported_keys(stream_key, specification, ("StreamViewType",))
    if "StreamViewType" not in specification:
        raise source.error(
            stream_key, f"missing StreamViewType, which CloudFormation requires: one of {', '.join(STREAM_VIEW_TYPES)}"
        )
    view_type = specification["StreamViewType"]
    if view_type not in STREAM_VIEW_TYPES:
        raise source.error((*stream_key, "StreamViewType"), expected(", ".join(STREAM_VIEW_TYPES), view_type))
    return str(view_type)


def _read_stream(
    source: ManifestSource,
    catalog: Catalog,
    key: KeyPath,
    resource: DeclaredResource,
    properties: dict[str, Any],
    warnings: Warnings,
) -> None:
    warnings.unsupported_keys(key, properties, ("Name", "ShardCount", "RetentionPeriodHours"))
    shards = 1
    if "ShardCount" in properties:
        shards = _integer(source, (*key, "ShardCount"), properties["ShardCount"], 1, 64, "a whole number of shards")
    retention_h = 24
    if "RetentionPeriodHours" in properties:
        # Kinesis keeps records between 24 hours and 365 days.
        retention_h = _integer(source, (*key, "RetentionPeriodHours"), properties["RetentionPeriodHours"], 24, 8760, "whole hours")
    catalog.streams.append(StreamResource(resource.name, shards, retention_h))
