"""The data resources of an AWS SAM template: names, references, and Squall's resource records.

A resource keeps the name its template gives it (`QueueName`, `BucketName`,
`TableName`, or `Name` for a Kinesis stream). Without one, CloudFormation
would make up `STACK-LogicalId-RANDOM`; Squall uses `STACK-LogicalId`
without the random part, so the name stays the same across deploys. Bucket
names are lowercased and every name is cut to its service's maximum length.

The resources SAM generates can be referenced where SAM would create them:
a function's role (`HelloFunctionRole`), the implicit APIs
(`ServerlessRestApi`, `ServerlessHttpApi`) and their stages, and the alias
of a function with AutoPublishAlias (`HelloFunction.Alias`). `Ref` of an
API returns the apiId of Squall's route events.

`Ref` of a queue, bucket, table or stream returns its name. For a queue that
differs from CloudFormation, which returns the queue's URL: Squall's queues
are reached by name. `Fn::GetAtt X.Arn` returns an ARN in the server's region
(`squall up --region`, us-east-1 by default) and Squall's account, 000000000000.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from squall.errors import ManifestError
from squall.manifest.sam_intrinsics import (
    ACCOUNT_ID,
    PARTITION,
    Evaluator,
    PropertyReader,
    ResourceRef,
    Unresolvable,
    Warnings,
    arn,
    check_defined_keys,
    name_from_arn,
    read_boolean,
    whole_number,
)
from squall.manifest.resource_checks import (
    FIFO_BY_PROPERTY,
    attribute_name_problem,
    bucket_name_problem,
    dead_letter_cycle,
    dead_letter_cycle_problem,
    dead_letter_problem,
    deduplication_problem,
    sort_key_problem,
)
from squall.manifest.spec import (
    DEFAULT_STREAM_VIEW_TYPE,
    STREAM_VIEW_TYPES,
    BucketResource,
    QueueResource,
    Resources,
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

logger = logging.getLogger(__name__)

FUNCTION_TYPE = "AWS::Serverless::Function"
QUEUE_TYPE = "AWS::SQS::Queue"
BUCKET_TYPE = "AWS::S3::Bucket"
TABLE_TYPE = "AWS::DynamoDB::Table"
SIMPLE_TABLE_TYPE = "AWS::Serverless::SimpleTable"
STREAM_TYPE = "AWS::Kinesis::Stream"
LAYER_TYPE = "AWS::Serverless::LayerVersion"
RULE_TYPE = "AWS::Events::Rule"
REST_API_TYPE = "AWS::Serverless::Api"
HTTP_API_TYPE = "AWS::Serverless::HttpApi"

# Ref of an API returns the apiId that the gateway puts in every route's
# events (squall.gateway.apigw_common.API_ID, which a test compares).
API_ID = "squall"
# The APIs SAM generates for the functions' Api and HttpApi events that name
# no API (no RestApiId, no ApiId), and their stages. The implicit REST API's
# stage is always Prod, and the implicit HTTP API's is $default.
IMPLICIT_REST_API = "ServerlessRestApi"
IMPLICIT_REST_STAGE = "ServerlessRestApiProdStage"
IMPLICIT_HTTP_API = "ServerlessHttpApi"
IMPLICIT_HTTP_STAGE = "ServerlessHttpApiApiGatewayDefaultStage"
# SAM names the role it generates for a function without a Role property <LogicalId>Role.
IMPLICIT_ROLE_SUFFIX = "Role"
# The words SAM puts between a function's logical id and its alias name or
# code hash, in the ids of the alias and version it generates for AutoPublishAlias.
ALIAS_SUFFIX = "Alias"
VERSION_SUFFIX = "Version"
# IAM's maximum length of a role name.
MAX_ROLE_NAME_LENGTH = 64

# Types whose only purpose is to let AWS services call a function or read a
# resource. Squall checks no permissions, so nothing is lost without them.
PERMISSION_TYPES = frozenset(
    {"AWS::Lambda::Permission", "AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::SQS::QueuePolicy",
     "AWS::S3::BucketPolicy"}
)


# The properties CloudFormation (for AWS:: types) or SAM (for AWS::Serverless::
# types) defines for each resource type Squall reads, from their template
# references (2025). Both reject a template with any other property.
RESOURCE_PROPERTIES: dict[str, frozenset[str]] = {
    QUEUE_TYPE: frozenset({
        "ContentBasedDeduplication", "DeduplicationScope", "DelaySeconds", "FifoQueue", "FifoThroughputLimit",
        "KmsDataKeyReusePeriodSeconds", "KmsMasterKeyId", "MaximumMessageSize", "MessageRetentionPeriod", "QueueName",
        "ReceiveMessageWaitTimeSeconds", "RedriveAllowPolicy", "RedrivePolicy", "SqsManagedSseEnabled", "Tags",
        "VisibilityTimeout",
    }),
    BUCKET_TYPE: frozenset({
        "AbacStatus", "AccelerateConfiguration", "AccessControl", "AnalyticsConfigurations", "BucketEncryption",
        "BucketName", "CorsConfiguration", "IntelligentTieringConfigurations", "InventoryConfigurations",
        "LifecycleConfiguration", "LoggingConfiguration", "MetadataConfiguration", "MetadataTableConfiguration",
        "MetricsConfigurations", "NotificationConfiguration", "ObjectLockConfiguration", "ObjectLockEnabled",
        "OwnershipControls", "PublicAccessBlockConfiguration", "ReplicationConfiguration", "Tags",
        "VersioningConfiguration", "WebsiteConfiguration",
    }),
    TABLE_TYPE: frozenset({
        "AttributeDefinitions", "BillingMode", "ContributorInsightsSpecification", "DeletionProtectionEnabled",
        "GlobalSecondaryIndexes", "ImportSourceSpecification", "KeySchema", "KinesisStreamSpecification",
        "LocalSecondaryIndexes", "OnDemandThroughput", "PointInTimeRecoverySpecification", "ProvisionedThroughput",
        "ResourcePolicy", "SSESpecification", "StreamSpecification", "TableClass", "TableName", "Tags",
        "TimeToLiveSpecification", "WarmThroughput",
    }),
    SIMPLE_TABLE_TYPE: frozenset({
        "PointInTimeRecoverySpecification", "PrimaryKey", "ProvisionedThroughput", "SSESpecification", "TableName", "Tags",
    }),
    STREAM_TYPE: frozenset({
        "DesiredShardLevelMetrics", "MaxRecordSizeInKiB", "Name", "RetentionPeriodHours", "ShardCount",
        "StreamEncryption", "StreamModeDetails", "Tags", "WarmThroughputMiBps",
    }),
    LAYER_TYPE: frozenset({
        "CompatibleArchitectures", "CompatibleRuntimes", "ContentUri", "Description", "LayerName", "LicenseInfo",
        "PublishLambdaVersion", "RetentionPolicy",
    }),
    REST_API_TYPE: frozenset({
        "AccessLogSetting", "AlwaysDeploy", "ApiKeySourceType", "Auth", "BinaryMediaTypes", "CacheClusterEnabled",
        "CacheClusterSize", "CanarySetting", "Cors", "DefinitionBody", "DefinitionUri", "Description",
        "DisableExecuteApiEndpoint", "Domain", "EndpointConfiguration", "FailOnWarnings", "GatewayResponses",
        "MergeDefinitions", "MethodSettings", "MinimumCompressionSize", "Mode", "Models", "Name", "OpenApiVersion",
        "Policy", "PropagateTags", "StageName", "Tags", "TracingEnabled", "Variables",
    }),
    # NOTE: SAM's guide spells the log setting AccessLogSettings and its CDK
    # bindings AccessLogSetting, so both are accepted.
    HTTP_API_TYPE: frozenset({
        "AccessLogSetting", "AccessLogSettings", "Auth", "CorsConfiguration", "DefaultRouteSettings", "DefinitionBody",
        "DefinitionUri", "Description", "DisableExecuteApiEndpoint", "Domain", "FailOnWarnings", "Name",
        "PropagateTags", "RouteSettings", "StageName", "StageVariables", "Tags",
    }),
    RULE_TYPE: frozenset({
        "Description", "EventBusName", "EventPattern", "Name", "RoleArn", "ScheduleExpression", "State", "Targets",
    }),
}
# The resource types Squall translates, which a misspelt type is compared with.
TRANSLATED_TYPES = frozenset(RESOURCE_PROPERTIES) | {FUNCTION_TYPE}
# A type at most this many edits from a translated one is reported as its likely misspelling.
_MAX_TYPE_EDITS = 2

# The keys SQS defines in a queue's RedrivePolicy; it requires both.
_REDRIVE_KEYS = ("deadLetterTargetArn", "maxReceiveCount")

_LAMBDA_FUNCTION_ATTRIBUTES = (
    "Arn", "SnapStartResponse", "SnapStartResponse.ApplyOn", "SnapStartResponse.OptimizationStatus"
)
_TABLE_ATTRIBUTES = ("Arn", "StreamArn")
# The attributes Fn::GetAtt accepts for each resource type, from the return
# values in CloudFormation's template reference. A SAM type has those
# of the resource SAM generates for it (AWS::Lambda::Function for a function,
# AWS::DynamoDB::Table for a SimpleTable, ...).
TYPE_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    FUNCTION_TYPE: _LAMBDA_FUNCTION_ATTRIBUTES,
    "AWS::Lambda::Function": _LAMBDA_FUNCTION_ATTRIBUTES,
    QUEUE_TYPE: ("Arn", "QueueName", "QueueUrl"),
    BUCKET_TYPE: (
        "Arn", "DomainName", "DualStackDomainName", "RegionalDomainName", "WebsiteURL",
        "MetadataTableConfiguration.S3TablesDestination.TableArn",
        "MetadataTableConfiguration.S3TablesDestination.TableNamespace",
    ),
    TABLE_TYPE: _TABLE_ATTRIBUTES,
    SIMPLE_TABLE_TYPE: _TABLE_ATTRIBUTES,
    STREAM_TYPE: ("Arn",),
    LAYER_TYPE: ("LayerVersionArn",),
    "AWS::Lambda::LayerVersion": ("LayerVersionArn",),
    RULE_TYPE: ("Arn",),
    "AWS::Lambda::Alias": ("AliasArn",),
    "AWS::Lambda::Version": ("FunctionArn", "Version"),
    "AWS::SNS::Topic": ("TopicArn", "TopicName"),
    "AWS::IAM::Role": ("Arn", "RoleId"),
    REST_API_TYPE: ("RestApiId", "RootResourceId"),
    "AWS::ApiGateway::RestApi": ("RestApiId", "RootResourceId"),
    HTTP_API_TYPE: ("ApiEndpoint", "ApiId"),
    "AWS::ApiGatewayV2::Api": ("ApiEndpoint", "ApiId"),
}


def misspelt_type(kind: str) -> str | None:
    """Return the type Squall translates that `kind` misspells by one or two letters, ignoring case, or None.

    CloudFormation rejects a type it does not define. Squall cannot tell such
    a type from a real one it does not translate, so both get a warning, and
    this names the likely intended type. The two-edit limit keeps real types
    apart: AWS::DynamoDB::GlobalTable is six edits from AWS::DynamoDB::Table.
    """
    if kind in TRANSLATED_TYPES:
        return None
    distances = {known: _edit_distance(kind.casefold(), known.casefold()) for known in TRANSLATED_TYPES}
    closest = min(sorted(distances), key=distances.__getitem__)
    return closest if distances[closest] <= _MAX_TYPE_EDITS else None


def _edit_distance(first: str, second: str) -> int:
    """Return the optimal string alignment distance between two strings.

    It counts the insertions, deletions, substitutions and swaps of
    neighbouring letters that turn one string into the other, so "Queu" and
    "Qeueu" are each one edit from "Queue".
    """
    previous_row: list[int] = []
    row = list(range(len(second) + 1))
    for i, first_char in enumerate(first, start=1):
        earlier_row, previous_row, row = previous_row, row, [i] + [0] * len(second)
        for j, second_char in enumerate(second, start=1):
            cost = 0 if first_char == second_char else 1
            row[j] = min(previous_row[j] + 1, row[j - 1] + 1, previous_row[j - 1] + cost)
            if i > 1 and j > 1 and first_char == second[j - 2] and first[i - 2] == second_char:
                row[j] = min(row[j], earlier_row[j - 2] + 1)
    return row[-1]


@dataclass(frozen=True)
class _NameRule:
    name_property: str  # the property that names the resource, such as QueueName
    pattern: re.Pattern[str]
    rule: str
    max_length: int
    what: str


_NAME_RULES = {
    QUEUE_TYPE: _NameRule("QueueName", re.compile(QUEUE_NAME_PATTERN), QUEUE_NAME_RULE, 80, "queue"),
    BUCKET_TYPE: _NameRule("BucketName", re.compile(BUCKET_NAME_PATTERN), BUCKET_NAME_RULE, 63, "bucket"),
    TABLE_TYPE: _NameRule("TableName", re.compile(TABLE_NAME_PATTERN), TABLE_NAME_RULE, 255, "table"),
    SIMPLE_TABLE_TYPE: _NameRule("TableName", re.compile(TABLE_NAME_PATTERN), TABLE_NAME_RULE, 255, "table"),
    STREAM_TYPE: _NameRule("Name", re.compile(STREAM_NAME_PATTERN), STREAM_NAME_RULE, 128, "stream"),
}

_KEY_TYPES = {"S": "S", "N": "N", "B": "B"}
_SIMPLE_TABLE_KEY_TYPES = {"String": "S", "Number": "N", "Binary": "B"}


@dataclass(frozen=True)
class TemplateResource:
    """One entry of the template's Resources section, before its values are resolved."""

    logical_id: str
    type: str
    properties: dict[str, Any]
    condition: str | None = None

    @property
    def key(self) -> KeyPath:
        return ("Resources", self.logical_id)

    @property
    def properties_key(self) -> KeyPath:
        return ("Resources", self.logical_id, "Properties")


@dataclass
class ResourceCatalog:
    """The template's resources, with the names and ARNs that Ref and Fn::GetAtt return.

    `evaluator` is set once the Evaluator exists, because resource names may
    themselves use intrinsic functions (`QueueName: !Sub ${AWS::StackName}-jobs`).
    `function_globals` is the template's Globals.Function, which may give
    every function a Role.
    """

    source: ManifestSource
    stack_name: str
    resources: dict[str, TemplateResource]
    warnings: Warnings
    evaluator: Evaluator | None = None
    function_globals: dict[str, Any] = field(default_factory=dict)
    _refs: dict[str, ResourceRef] = field(default_factory=dict)
    _in_progress: list[str] = field(default_factory=list)

    @property
    def resolver(self) -> Evaluator:
        if self.evaluator is None:
            raise RuntimeError("ResourceCatalog.evaluator is used before it is set")
        return self.evaluator

    def is_created(self, resource: TemplateResource) -> bool:
        """Return whether the resource's Condition, if it has one, holds."""
        if resource.condition is None:
            return True
        return self.resolver.condition(resource.condition, (*resource.key, "Condition"))

    def lookup(self, logical_id: str, key: KeyPath) -> ResourceRef | None:
        """Return what references to `logical_id` resolve to, or None if no resource has that id.

        The resources SAM generates (a function's role, the implicit APIs and
        their stages) count where the template would have them on AWS.
        """
        resource = self.resources.get(logical_id)
        if resource is None:
            return self._generated(logical_id)
        if logical_id in self._refs:
            return self._refs[logical_id]
        if logical_id in self._in_progress:
            cycle = " -> ".join([*self._in_progress, logical_id])
            raise self.source.error(key, f"resource names refer to each other in a cycle: {cycle}")
        if not self.is_created(resource):
            raise self.source.error(
                key,
                f"resource {logical_id} is not created because its condition {resource.condition} is false, "
                "expected a reference to a resource that exists (use Fn::If with the same condition)",
            )

        self._in_progress.append(logical_id)
        try:
            reference = self._reference(resource)
        finally:
            self._in_progress.pop()
        reference = dataclasses.replace(reference, type_attributes=TYPE_ATTRIBUTES.get(resource.type, ()))
        self._refs[logical_id] = reference
        return reference

    def _reference(self, resource: TemplateResource) -> ResourceRef:
        kind = resource.type
        logical_id = resource.logical_id
        if kind == FUNCTION_TYPE:
            # Functions are named by their logical id (see sam.py), and Lambda's ARN uses that name.
            return ResourceRef(logical_id, kind, logical_id, {"Arn": arn("lambda", f"function:{logical_id}")})
        if kind == QUEUE_TYPE:
            name = self.name_of(resource)
            # NOTE: QueueUrl is the name too, because Squall's queues have no URLs.
            return ResourceRef(
                logical_id, kind, name, {"Arn": arn("sqs", name), "QueueName": name, "QueueUrl": name}
            )
        if kind == BUCKET_TYPE:
            name = self.name_of(resource)
            return ResourceRef(logical_id, kind, name, {"Arn": arn("s3", name)})
        if kind in (TABLE_TYPE, SIMPLE_TABLE_TYPE):
            name = self.name_of(resource)
            attributes = {"Arn": arn("dynamodb", f"table/{name}")}
            absent: dict[str, str] = {}
            if kind == TABLE_TYPE and resource.properties.get("StreamSpecification") is not None:
                # A real stream ARN ends in a label made of the stream's creation
                # time, unknown before the table exists. Triggers only read the
                # table's name out of it.
                attributes["StreamArn"] = arn("dynamodb", f"table/{name}/stream/latest")
            elif kind == SIMPLE_TABLE_TYPE:
                # The table SAM generates for a SimpleTable has no StreamSpecification, so on AWS it has no stream.
                absent["StreamArn"] = (
                    f"{logical_id} is an {SIMPLE_TABLE_TYPE}, which has no stream on AWS either, so it has no "
                    f"StreamArn; declare it as an {TABLE_TYPE} with StreamSpecification: "
                    f"{{StreamViewType: {DEFAULT_STREAM_VIEW_TYPE}}} to read its changes"
                )
            else:
                # On AWS a table without StreamSpecification has no stream, so no StreamArn.
                absent["StreamArn"] = (
                    f"{logical_id} has no stream, because its Properties have no StreamSpecification, so it has no "
                    f"StreamArn; add StreamSpecification: {{StreamViewType: {DEFAULT_STREAM_VIEW_TYPE}}} to "
                    f"{logical_id} (or {', '.join(STREAM_VIEW_TYPES[:-1])})"
                )
            return ResourceRef(logical_id, kind, name, attributes, absent=absent)
        if kind == STREAM_TYPE:
            name = self.name_of(resource)
            return ResourceRef(logical_id, kind, name, {"Arn": arn("kinesis", f"stream/{name}")})
        if kind == LAYER_TYPE:
            layer = self._optional_string(resource, "LayerName") or f"{self.stack_name}-{logical_id}"
            layer_arn = arn("lambda", f"layer:{layer}:1")
            return ResourceRef(logical_id, kind, layer_arn, {"LayerVersionArn": layer_arn})
        if kind == RULE_TYPE:
            name = self._optional_string(resource, "Name") or f"{self.stack_name}-{logical_id}"
            return ResourceRef(logical_id, kind, name, {"Arn": arn("events", f"rule/{name}")})
        if kind == REST_API_TYPE:
            return ResourceRef(logical_id, kind, API_ID, {"RestApiId": API_ID})
        if kind == HTTP_API_TYPE:
            return ResourceRef(logical_id, kind, API_ID, {"ApiId": API_ID})
        meant = misspelt_type(kind)
        hint = f", did you mean {meant}?" if meant else ""
        return ResourceRef(logical_id, kind, None, unsupported=f"Squall does not create {kind} resources{hint}")

    def declares(self, logical_id: str) -> bool:
        """Return whether `logical_id` names a resource of the template or one SAM generates, whatever its Condition."""
        if logical_id in self.resources:
            return True
        try:
            return self._generated(logical_id) is not None
        except (ManifestError, Unresolvable):
            return True  # it is SAM's, and its own mistake is reported where it is read

    def _generated(self, logical_id: str) -> ResourceRef | None:
        """Return the reference of a resource SAM would generate under `logical_id`, or None if it would not."""
        if logical_id in (IMPLICIT_REST_API, IMPLICIT_REST_STAGE) and self._has_implicit_api("Api", "RestApiId"):
            if logical_id == IMPLICIT_REST_STAGE:
                return ResourceRef(logical_id, "AWS::ApiGateway::Stage", "Prod")
            return ResourceRef(
                logical_id, "AWS::ApiGateway::RestApi", API_ID, {"RestApiId": API_ID},
                type_attributes=TYPE_ATTRIBUTES["AWS::ApiGateway::RestApi"],
            )
        if logical_id in (IMPLICIT_HTTP_API, IMPLICIT_HTTP_STAGE) and self._has_implicit_api("HttpApi", "ApiId"):
            if logical_id == IMPLICIT_HTTP_STAGE:
                return ResourceRef(logical_id, "AWS::ApiGatewayV2::Stage", "$default")
            # NOTE: ApiEndpoint is left unresolved, because the server's URL is not known when the template is read.
            return ResourceRef(
                logical_id, "AWS::ApiGatewayV2::Api", API_ID, {"ApiId": API_ID},
                type_attributes=TYPE_ATTRIBUTES["AWS::ApiGatewayV2::Api"],
            )
        published = self._published(logical_id)
        if published is not None:
            return published
        if logical_id.endswith(IMPLICIT_ROLE_SUFFIX):
            function = self.resources.get(logical_id.removesuffix(IMPLICIT_ROLE_SUFFIX))
            if function is not None and function.type == FUNCTION_TYPE and self._has_implicit_role(function):
                # CloudFormation names it STACK-LogicalId-RANDOM; Squall leaves out the random part.
                name = f"{self.stack_name}-{logical_id}"[:MAX_ROLE_NAME_LENGTH]
                return ResourceRef(
                    logical_id, "AWS::IAM::Role", name, {"Arn": f"arn:{PARTITION}:iam::{ACCOUNT_ID}:role/{name}"},
                    type_attributes=TYPE_ATTRIBUTES["AWS::IAM::Role"],
                )
        return None

    def _published(self, logical_id: str) -> ResourceRef | None:
        """Return the alias or version SAM generates for a function with AutoPublishAlias, or None.

        SAM names them `<Function>Alias<alias>` and `<Function>Version<hash>`,
        and also resolves `<Function>.Alias` and `<Function>.Version` to them.
        Ref of the alias returns its ARN. Ref of the version returns the ARN
        with the version number, which Squall assigns only when it publishes
        at deploy, so it stays unresolved.
        """
        for function_id, function in self.resources.items():
            if function.type != FUNCTION_TYPE or not logical_id.startswith(function_id):
                continue
            rest = logical_id.removeprefix(function_id)
            alias = self._auto_publish_alias(function) if rest in (".Alias", ".Version") or rest.isalnum() else None
            if alias is None:
                continue
            if rest == ".Alias" or rest == ALIAS_SUFFIX + re.sub(r"[^A-Za-z0-9]", "", alias):
                alias_arn = arn("lambda", f"function:{function_id}:{alias}")
                return ResourceRef(
                    logical_id, "AWS::Lambda::Alias", alias_arn, {"AliasArn": alias_arn},
                    type_attributes=TYPE_ATTRIBUTES["AWS::Lambda::Alias"],
                )
            if rest == ".Version" or (rest.startswith(VERSION_SUFFIX) and len(rest) > len(VERSION_SUFFIX)):
                return ResourceRef(
                    logical_id, "AWS::Lambda::Version", None,
                    unsupported="its version number is assigned when Squall publishes the version at deploy",
                    type_attributes=TYPE_ATTRIBUTES["AWS::Lambda::Version"],
                )
        return None

    def _auto_publish_alias(self, function: TemplateResource) -> str | None:
        """Return the function's AutoPublishAlias, from its properties or the Globals, or None without one."""
        value = function.properties.get("AutoPublishAlias", self.function_globals.get("AutoPublishAlias"))
        if value is None or not self.is_created(function):
            return None
        return self.resolver.resolve_string(value, (*function.properties_key, "AutoPublishAlias"), "an alias name")

    def _has_implicit_api(self, event_type: str, api_property: str) -> bool:
        """Return whether a created function has an event of `event_type` without `api_property`, so SAM creates the API."""
        for resource in self.resources.values():
            if resource.type != FUNCTION_TYPE or not self.is_created(resource):
                continue
            events = resource.properties.get("Events")
            for event in events.values() if isinstance(events, dict) else ():
                if not isinstance(event, dict) or event.get("Type") != event_type:
                    continue
                properties = event.get("Properties")
                if not isinstance(properties, dict) or api_property not in properties:
                    return True
        return False

    def _has_implicit_role(self, function: TemplateResource) -> bool:
        """Return whether SAM generates a role for the function: it exists and sets no Role, nor do the Globals."""
        if "Role" in function.properties or "Role" in self.function_globals:
            return False
        return self.is_created(function)

    def _optional_string(self, resource: TemplateResource, name: str) -> str | None:
        value = resource.properties.get(name)
        if value is None:
            return None
        return self.resolver.resolve_string(value, (*resource.properties_key, name), f"a {name}")

    def name_of(self, resource: TemplateResource) -> str:
        """Return the resource's name: its name property, else one derived from the stack name and logical id."""
        rule = _NAME_RULES[resource.type]
        explicit = self._optional_string(resource, rule.name_property)
        fifo = resource.type == QUEUE_TYPE and self._fifo(resource)
        if explicit is not None:
            key = (*resource.properties_key, rule.name_property)
            if not rule.pattern.match(explicit):
                raise self.source.error(key, expected(f"a {rule.what} name of {rule.rule}", explicit))
            if fifo and not explicit.endswith(".fifo"):
                raise self.source.error(key, expected('a FIFO queue name ending in ".fifo"', explicit))
            return explicit

        derived = f"{self.stack_name}-{resource.logical_id}"
        suffix = ".fifo" if fifo else ""
        if resource.type == BUCKET_TYPE:
            derived = re.sub(r"[^a-z0-9.-]", "-", derived.lower()).strip("-.")
        derived = derived[: rule.max_length - len(suffix)] + suffix
        if not rule.pattern.match(derived):
            raise self.source.error(
                resource.key,
                f"the {rule.what} name derived from the stack and logical id, {describe(derived)}, is invalid; "
                f"set {rule.name_property} to a name of {rule.rule}",
            )
        return derived

    def _fifo(self, resource: TemplateResource) -> bool:
        value = resource.properties.get("FifoQueue")
        if value is None:
            return False
        key = (*resource.properties_key, "FifoQueue")
        return read_boolean(self.resolver, key, self.resolver.resolve(value, key))

    # Resource records ------------------------------------------------------

    def build_resources(self) -> Resources:
        """Read the queues, buckets, tables and streams the template declares into a Resources record."""
        queues: list[QueueResource] = []
        buckets: list[BucketResource] = []
        tables: list[TableResource] = []
        streams: list[StreamResource] = []
        queue_keys: dict[str, KeyPath] = {}
        for resource in self.resources.values():
            if not self.is_created(resource):
                continue
            if resource.type == QUEUE_TYPE:
                queues.append(self._queue(resource))
                queue_keys[queues[-1].name] = (*resource.properties_key, "RedrivePolicy", "deadLetterTargetArn")
            elif resource.type == BUCKET_TYPE:
                buckets.append(self._bucket(resource))
            elif resource.type == TABLE_TYPE:
                tables.append(self._table(resource))
            elif resource.type == SIMPLE_TABLE_TYPE:
                tables.append(self._simple_table(resource))
            elif resource.type == STREAM_TYPE:
                streams.append(self._stream(resource))
        self._check_dead_letter_queues(queues, queue_keys)
        return Resources(tuple(queues), tuple(buckets), tuple(tables), tuple(streams))

    def _check_dead_letter_queues(self, queues: list[QueueResource], keys: dict[str, KeyPath]) -> None:
        """Reject a dead-letter queue of the other type, FIFO or standard, and a cycle of dead-letter queues.

        `keys` contains the key path of each queue's deadLetterTargetArn.
        """
        targets = {queue.name: queue.dead_letter_queue for queue in queues}
        for queue in queues:
            if queue.dead_letter_queue is None:
                continue
            problem = dead_letter_problem(queue.name, queue.dead_letter_queue)
            cycle = dead_letter_cycle(queue.name, targets)
            if problem is None and cycle is not None:
                problem = dead_letter_cycle_problem(cycle)
            if problem is not None:
                raise self.source.error(keys[queue.name], problem)

    def check_properties(self, resource: TemplateResource, read: Iterable[str]) -> None:
        """Reject a property the resource's type does not define, and list each defined one Squall ignores."""
        check_defined_keys(
            self.source, resource.properties_key, resource.properties, RESOURCE_PROPERTIES[resource.type],
            f"{resource.type}", self.warnings, read,
        )

    def _queue(self, resource: TemplateResource) -> QueueResource:
        known = {"QueueName", "FifoQueue", "VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds",
                 "ReceiveMessageWaitTimeSeconds", "RedrivePolicy", "ContentBasedDeduplication"}
        self.check_properties(resource, known)
        read = PropertyReader(self.resolver, resource.properties, resource.properties_key)
        name = self.name_of(resource)

        dead_letter_queue: str | None = None
        max_receive_count = 5
        redrive = read.value("RedrivePolicy")
        if redrive is not None:
            dead_letter_queue, max_receive_count = self._redrive_policy(resource, redrive)
            if dead_letter_queue == name:
                raise self.source.error(
                    (*resource.properties_key, "RedrivePolicy"),
                    expected("another queue than the queue itself as deadLetterTargetArn", name),
                )
        deduplication = read.boolean("ContentBasedDeduplication", False)
        problem = deduplication_problem(name, deduplication, FIFO_BY_PROPERTY)
        if problem is not None:
            raise self.source.error(read.key("ContentBasedDeduplication"), problem)
        # SQS's defaults and ranges for each attribute.
        return QueueResource(
            name=name,
            visibility_timeout_s=read.integer("VisibilityTimeout", 30, 0, 43_200, "whole seconds"),
            retention_s=read.integer("MessageRetentionPeriod", 4 * 24 * 3600, 60, 1_209_600, "whole seconds"),
            delay_s=read.integer("DelaySeconds", 0, 0, 900, "whole seconds"),
            receive_wait_s=read.integer("ReceiveMessageWaitTimeSeconds", 0, 0, 20, "whole seconds"),
            dead_letter_queue=dead_letter_queue,
            max_receive_count=max_receive_count,
            content_based_deduplication=deduplication,
        )

    def _redrive_policy(self, resource: TemplateResource, redrive: Any) -> tuple[str, int]:
        key = (*resource.properties_key, "RedrivePolicy")
        # CloudFormation takes the policy as a mapping or as its JSON text.
        if isinstance(redrive, str):
            try:
                redrive = json.loads(redrive)
            except ValueError:
                raise self.source.error(key, expected("a mapping or JSON text", redrive)) from None
        if not isinstance(redrive, dict):
            raise self.source.error(key, expected('a mapping with "deadLetterTargetArn" and "maxReceiveCount"', redrive))
        check_defined_keys(self.source, key, redrive, _REDRIVE_KEYS, "a RedrivePolicy")
        for required in _REDRIVE_KEYS:
            if required not in redrive:
                raise self.source.error((*key, required), f"missing, SQS requires both {' and '.join(_REDRIVE_KEYS)}")
        target = redrive["deadLetterTargetArn"]
        queue = name_from_arn(target, "sqs") if isinstance(target, str) else None
        if queue is None:
            raise self.source.error(
                (*key, "deadLetterTargetArn"), expected("the ARN of a queue, such as !GetAtt DeadLetterQueue.Arn", target)
            )
        count = whole_number(redrive["maxReceiveCount"])
        if count is None or not 1 <= count <= 1000:
            raise self.source.error(
                (*key, "maxReceiveCount"),
                expected("a whole number of receives between 1 and 1000", redrive.get("maxReceiveCount")),
            )
        return queue, count

    def _bucket(self, resource: TemplateResource) -> BucketResource:
        self.check_properties(resource, {"BucketName"})
        name = self.name_of(resource)
        problem = bucket_name_problem(name)
        if problem is not None:
            # A name derived from the stack and logical id is the resource's own mistake.
            key = (*resource.properties_key, "BucketName") if "BucketName" in resource.properties else resource.key
            raise self.source.error(key, problem)
        return BucketResource(name=name)

    def _table(self, resource: TemplateResource) -> TableResource:
        known = {"TableName", "KeySchema", "AttributeDefinitions", "TimeToLiveSpecification", "StreamSpecification"}
        self.check_properties(resource, known)
        read = PropertyReader(self.resolver, resource.properties, resource.properties_key)
        name = self.name_of(resource)

        types = self._attribute_types(resource, read.value("AttributeDefinitions"))
        partition_key, sort_key = self._key_schema(resource, read.value("KeySchema"), types)

        ttl_attribute: str | None = None
        ttl = read.value("TimeToLiveSpecification")
        if ttl is not None:
            ttl_key = (*resource.properties_key, "TimeToLiveSpecification")
            if not isinstance(ttl, dict):
                raise self.source.error(ttl_key, expected('a mapping with "AttributeName" and "Enabled"', ttl))
            if read_boolean(self.resolver, (*ttl_key, "Enabled"), ttl.get("Enabled", False)):
                attribute = ttl.get("AttributeName")
                if not isinstance(attribute, str) or not attribute:
                    raise self.source.error((*ttl_key, "AttributeName"), expected("an attribute name", attribute))
                problem = attribute_name_problem("TTL", attribute)
                if problem is not None:
                    raise self.source.error((*ttl_key, "AttributeName"), problem)
                ttl_attribute = attribute

        stream_view_type = self._stream_view_type(resource, read.value("StreamSpecification"))
        return TableResource(
            name=name,
            partition_key=partition_key,
            sort_key=sort_key,
            ttl_attribute=ttl_attribute,
            stream_view_type=stream_view_type,
        )

    def _stream_view_type(self, resource: TemplateResource, stream: Any) -> str | None:
        """Return the table's StreamViewType, or None without StreamSpecification: such a table has no stream on AWS."""
        if stream is None:
            return None
        key = (*resource.properties_key, "StreamSpecification")
        if not isinstance(stream, dict):
            raise self.source.error(key, expected('a mapping with "StreamViewType"', stream))
        check_defined_keys(self.source, key, stream, ("StreamViewType", "ResourcePolicy"), "a StreamSpecification")
        if "ResourcePolicy" in stream:
            self.warnings.add((*key, "ResourcePolicy"), "ignored, because Squall checks no permissions")
        if "StreamViewType" not in stream:
            raise self.source.error(
                key, f"missing StreamViewType, which CloudFormation requires: one of {', '.join(STREAM_VIEW_TYPES)}"
            )
        view_type = stream["StreamViewType"]
        if view_type not in STREAM_VIEW_TYPES:
            raise self.source.error((*key, "StreamViewType"), expected(", ".join(STREAM_VIEW_TYPES), view_type))
        return str(view_type)

    def _attribute_types(self, resource: TemplateResource, definitions: Any) -> dict[str, str]:
        key = (*resource.properties_key, "AttributeDefinitions")
        if not isinstance(definitions, list):
            raise self.source.error(key, expected("a list of {AttributeName, AttributeType}", definitions))
        types: dict[str, str] = {}
        for index, definition in enumerate(definitions):
            if not isinstance(definition, dict) or not isinstance(definition.get("AttributeName"), str):
                raise self.source.error((*key, index), expected("a mapping with AttributeName and AttributeType", definition))
            kind = definition.get("AttributeType")
            if kind not in _KEY_TYPES:
                raise self.source.error(
                    (*key, index, "AttributeType"), expected('"S" (string), "N" (number) or "B" (binary)', kind)
                )
            types[definition["AttributeName"]] = _KEY_TYPES[kind]
        return types

    def _key_schema(
        self, resource: TemplateResource, schema: Any, types: dict[str, str]
    ) -> tuple[tuple[str, str], tuple[str, str] | None]:
        key = (*resource.properties_key, "KeySchema")
        if not isinstance(schema, list) or not 1 <= len(schema) <= 2:
            raise self.source.error(key, expected("a list of one HASH key and optionally one RANGE key", schema))
        found: dict[str, tuple[str, str]] = {}
        indexes: dict[str, int] = {}  # the place of each KeyType in the list
        for index, entry in enumerate(schema):
            if not isinstance(entry, dict):
                raise self.source.error((*key, index), expected("a mapping with AttributeName and KeyType", entry))
            name, kind = entry.get("AttributeName"), entry.get("KeyType")
            if kind not in ("HASH", "RANGE") or kind in found:
                raise self.source.error((*key, index, "KeyType"), expected('one "HASH" and at most one "RANGE"', kind))
            if name not in types:
                raise self.source.error(
                    (*key, index, "AttributeName"),
                    expected("an attribute declared in AttributeDefinitions (" + ", ".join(types) + ")", name),
                )
            problem = attribute_name_problem("partition key" if kind == "HASH" else "sort key", name)
            if problem is not None:
                raise self.source.error((*key, index, "AttributeName"), problem)
            found[kind] = (name, types[name])
            indexes[kind] = index
        if "HASH" not in found:
            raise self.source.error(key, 'missing the "HASH" key, expected one partition key')
        if "RANGE" in found:
            problem = sort_key_problem(found["HASH"][0], found["RANGE"][0])
            if problem is not None:
                raise self.source.error((*key, indexes["RANGE"], "AttributeName"), problem)
        return found["HASH"], found.get("RANGE")

    def _simple_table(self, resource: TemplateResource) -> TableResource:
        self.check_properties(resource, {"TableName", "PrimaryKey"})
        read = PropertyReader(self.resolver, resource.properties, resource.properties_key)
        # SimpleTable's documented default primary key: a string attribute named "id".
        primary = read.value("PrimaryKey")
        if primary is None:
            primary = {"Name": "id", "Type": "String"}
        key = (*resource.properties_key, "PrimaryKey")
        if not isinstance(primary, dict) or not isinstance(primary.get("Name"), str) or not primary["Name"]:
            raise self.source.error(key, expected('a mapping with "Name" and "Type" (String, Number or Binary)', primary))
        kind = primary.get("Type")
        if kind not in _SIMPLE_TABLE_KEY_TYPES:
            raise self.source.error((*key, "Type"), expected('"String", "Number" or "Binary"', kind))
        problem = attribute_name_problem("partition key", primary["Name"])
        if problem is not None:
            raise self.source.error((*key, "Name"), problem)
        # The table SAM generates for a SimpleTable has no StreamSpecification, so no stream.
        return TableResource(
            name=self.name_of(resource),
            partition_key=(primary["Name"], _SIMPLE_TABLE_KEY_TYPES[kind]),
            stream_view_type=None,
        )

    def _stream(self, resource: TemplateResource) -> StreamResource:
        known = {"Name", "ShardCount", "RetentionPeriodHours", "StreamModeDetails"}
        self.check_properties(resource, known)
        read = PropertyReader(self.resolver, resource.properties, resource.properties_key)
        mode = read.value("StreamModeDetails")
        if isinstance(mode, dict) and mode.get("StreamMode") == "ON_DEMAND":
            self.warnings.add(
                (*resource.properties_key, "StreamModeDetails"),
                "on-demand capacity is not supported by Squall, the stream gets ShardCount shards (default 1)",
            )
        return StreamResource(
            name=self.name_of(resource),
            # Squall's limit on shards; Kinesis keeps records for 24 hours to 365 days.
            shards=read.integer("ShardCount", 1, 1, 64, "a whole number of shards"),
            retention_h=read.integer("RetentionPeriodHours", 24, 24, 8760, "whole hours"),
        )
