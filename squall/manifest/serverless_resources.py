"""The resources a serverless.yml declares, and the CloudFormation intrinsic functions that refer to them.

Intrinsic functions are evaluated where a name or an ARN is needed and the
result can be computed without AWS: `Ref` and `Fn::GetAtt` of a declared resource
or of a pseudo parameter, and `Fn::Sub` and `Fn::Join` over those.

`Ref` of a queue, bucket, table or stream returns its name, as it does in a
SAM template (see sam_resources). For a queue that differs from
CloudFormation, whose `Ref` returns the queue's URL: Squall's queues are
reached by name, and the SDK's `Queue()` takes the name or a URL.
`Fn::GetAtt [Queue, QueueUrl]` returns the name too.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

from squall.errors import ManifestError
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
from squall.manifest.serverless_common import CloudFormationTag
from squall.manifest.serverless_variables import DEFAULT_ACCOUNT_ID
from squall.manifest.spec import BucketResource, QueueResource, Resources, StreamResource, TableResource
from squall.manifest.validate import KeyPath, ManifestSource, combine_errors

logger = logging.getLogger(__name__)

QUEUE_TYPE = "AWS::SQS::Queue"
BUCKET_TYPE = "AWS::S3::Bucket"
TABLE_TYPE = "AWS::DynamoDB::Table"
STREAM_TYPE = "AWS::Kinesis::Stream"

_QUEUE_ARN_RE = re.compile(r"^arn:aws[a-z-]*:sqs:[^:]*:[^:]*:([^:/]+)$")

# The Fn::GetAtt attributes Squall evaluates, by resource type. CloudFormation
# defines more for some types (a bucket's DomainName, ...), which need AWS.
ATTRIBUTES: dict[str, tuple[str, ...]] = {
    QUEUE_TYPE: ("Arn", "QueueName", "QueueUrl"),
    BUCKET_TYPE: ("Arn",),
    TABLE_TYPE: ("Arn", "StreamArn"),
    STREAM_TYPE: ("Arn",),
}


@dataclass(frozen=True)
class StackContext:
    """The stack CloudFormation would deploy: its service, stage, region and account."""

    service: str
    stage: str
    region: str
    account: str = DEFAULT_ACCOUNT_ID

    @property
    def stack_name(self) -> str:
        # The Serverless Framework names a service's stack "<service>-<stage>".
        return f"{self.service}-{self.stage}"


@dataclass(frozen=True)
class DeclaredResource:
    """A resource of `resources.Resources` that Squall creates, by its logical id."""

    logical_id: str
    type: str
    name: str


@dataclass
class Catalog:
    """The resources a serverless.yml declares, looked up by logical id when events refer to them."""

    context: StackContext
    declared: dict[str, DeclaredResource] = field(default_factory=dict)
    queues: list[QueueResource] = field(default_factory=list)
    buckets: list[BucketResource] = field(default_factory=list)
    tables: list[TableResource] = field(default_factory=list)
    streams: list[StreamResource] = field(default_factory=list)
    # The error a reference to the stream of a table without one raises, by the table's logical id.
    missing_streams: dict[str, ManifestError] = field(default_factory=dict)

    def add_bucket(self, name: str) -> None:
        if all(bucket.name != name for bucket in self.buckets):
            self.buckets.append(BucketResource(name))

    def to_resources(self) -> Resources:
        return Resources(tuple(self.queues), tuple(self.buckets), tuple(self.tables), tuple(self.streams))

    def arn(self, resource: DeclaredResource, attribute: str = "Arn") -> str | None:
        """Return the ARN `Fn::GetAtt` would give, or the queue name for `QueueName` and `QueueUrl`.

        Returns None for an attribute Squall does not evaluate. Raises
        ManifestError for the StreamArn of a table declared without a stream.
        """
        region, account, name = self.context.region, self.context.account, resource.name
        if resource.type == QUEUE_TYPE:
            if attribute in ("QueueName", "QueueUrl"):
                return name
            return f"arn:aws:sqs:{region}:{account}:{name}" if attribute == "Arn" else None
        if resource.type == BUCKET_TYPE:
            return f"arn:aws:s3:::{name}" if attribute == "Arn" else None
        if resource.type == TABLE_TYPE:
            table_arn = f"arn:aws:dynamodb:{region}:{account}:table/{name}"
            if attribute == "StreamArn" and resource.logical_id in self.missing_streams:
                raise self.missing_streams[resource.logical_id]
            # A real stream ARN ends in the stream's creation time, which exists only after a deploy.
            return {"Arn": table_arn, "StreamArn": f"{table_arn}/stream/squall"}.get(attribute)
        if resource.type == STREAM_TYPE:
            return f"arn:aws:kinesis:{region}:{account}:stream/{name}" if attribute == "Arn" else None
        return None

    def evaluate(self, value: Any) -> str | None:
        """Return the text a name- or ARN-valued property evaluates to, or None if that needs AWS."""
        value = as_intrinsic(value)
        if isinstance(value, str):
            return value
        if not isinstance(value, dict) or len(value) != 1:
            return None
        function, argument = next(iter(value.items()))
        if function == "Ref" and isinstance(argument, str):
            return self._ref(argument)
        if function == "Fn::GetAtt":
            return self._get_att(argument)
        if function == "Fn::Sub":
            return self._sub(argument)
        if function == "Fn::Join" and isinstance(argument, list) and len(argument) == 2:
            delimiter, parts = argument
            if not isinstance(delimiter, str) or not isinstance(parts, list):
                return None
            texts = [self.evaluate(part) for part in parts]
            return None if any(text is None for text in texts) else delimiter.join(texts)  # type: ignore[arg-type]
        return None

    def _ref(self, name: str) -> str | None:
        pseudo = {
            "AWS::Region": self.context.region,
            "AWS::AccountId": self.context.account,
            "AWS::StackName": self.context.stack_name,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name in pseudo:
            return pseudo[name]
        resource = self.declared.get(name)
        return None if resource is None else resource.name

    def refers_to(self, value: Any, resource_type: str) -> bool:
        """Return False when `value` is a Ref of a declared resource of another type than `resource_type`."""
        value = as_intrinsic(value)
        if not isinstance(value, dict) or set(value) != {"Ref"} or not isinstance(value["Ref"], str):
            return True
        resource = self.declared.get(value["Ref"])
        return resource is None or resource.type == resource_type

    def unevaluated_reason(self, value: Any) -> str:
        """Return why `evaluate` returns None for `value`, naming the logical id or attribute at fault."""
        value = as_intrinsic(value)
        function, argument = next(iter(value.items())) if isinstance(value, dict) and len(value) == 1 else (None, None)
        if function == "Fn::GetAtt" and isinstance(argument, str):
            argument = argument.split(".", 1)
        if function == "Ref" and isinstance(argument, str):
            logical_id, attribute = argument, None
        elif function == "Fn::GetAtt" and isinstance(argument, list) and len(argument) == 2:
            logical_id, attribute = str(argument[0]), str(argument[1])
        else:
            return (
                "Squall evaluates only Ref, Fn::GetAtt, Fn::Sub and Fn::Join of the queues, buckets, tables "
                "and streams under resources.Resources and of pseudo parameters"
            )

        resource = self.declared.get(logical_id)
        if resource is None:
            return (
                f"{logical_id} is neither a queue, bucket, table or stream under resources.Resources "
                "nor a pseudo parameter such as AWS::Region"
            )
        return (
            f"{logical_id} is an {resource.type}, and Squall evaluates its attributes "
            f"{', '.join(ATTRIBUTES[resource.type])}, not {attribute}"
        )

    def _get_att(self, argument: Any) -> str | None:
        if isinstance(argument, str):
            argument = argument.split(".", 1)
        if not isinstance(argument, list) or len(argument) != 2:
            return None
        logical_id, attribute = argument
        resource = self.declared.get(str(logical_id))
        return None if resource is None else self.arn(resource, str(attribute))

    def _sub(self, argument: Any) -> str | None:
        variables: dict[str, Any] = {}
        if isinstance(argument, list) and len(argument) == 2 and isinstance(argument[1], dict):
            argument, variables = argument
        if not isinstance(argument, str):
            return None
        unresolved = False

        def replace(match: re.Match[str]) -> str:
            nonlocal unresolved
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                text = self.evaluate(variables[name])
            elif "." in name:
                text = self._get_att(name)
            else:
                text = self._ref(name)
            if text is None:
                unresolved = True
                return ""
            return text

        text = re.sub(r"\$\{([^}]*)\}", replace, argument)
        return None if unresolved else text


def check_catalog_resources(source: ManifestSource, catalog: Catalog) -> None:
    """Raise one ManifestError for the declared queues, buckets and tables their services would reject when created.

    Buckets that s3 events add are checked where the events name them.
    NOTE: the key paths assume one template fragment under `resources`. For
    a list of fragments they lack the fragment's index, because the catalog
    does not keep it.
    """
    errors: list[ManifestError] = []
    queues = {queue.name: queue for queue in catalog.queues}
    tables = {table.name: table for table in catalog.tables}
    targets = {queue.name: queue.dead_letter_queue for queue in catalog.queues}
    order = list(targets)
    for logical_id, resource in catalog.declared.items():
        key: KeyPath = ("resources", "Resources", logical_id, "Properties")
        problems: list[tuple[KeyPath, str | None]] = []
        if resource.type == QUEUE_TYPE and resource.name in queues:
            queue = queues[resource.name]
            problems.append((
                (*key, "ContentBasedDeduplication"),
                deduplication_problem(queue.name, queue.content_based_deduplication, FIFO_BY_PROPERTY),
            ))
            if queue.dead_letter_queue is not None:
                cycle = dead_letter_cycle(queue.name, targets)
                problem = dead_letter_problem(queue.name, queue.dead_letter_queue)
                # A cycle is reported once, at the queue of it that is declared first.
                if problem is None and cycle is not None and min(cycle, key=order.index) == queue.name:
                    problem = dead_letter_cycle_problem(cycle)
                problems.append(((*key, "RedrivePolicy", "deadLetterTargetArn"), problem))
        elif resource.type == BUCKET_TYPE:
            problems.append(((*key, "BucketName"), bucket_name_problem(resource.name)))
        elif resource.type == TABLE_TYPE and resource.name in tables:
            table = tables[resource.name]
            problems.append(((*key, "KeySchema"), attribute_name_problem("partition key", table.partition_key[0])))
            if table.sort_key is not None:
                problems.append(((*key, "KeySchema"), attribute_name_problem("sort key", table.sort_key[0])))
                problems.append(((*key, "KeySchema"), sort_key_problem(table.partition_key[0], table.sort_key[0])))
            if table.ttl_attribute is not None:
                problems.append((
                    (*key, "TimeToLiveSpecification", "AttributeName"), attribute_name_problem("TTL", table.ttl_attribute)
                ))
        errors += [source.error(problem_key, problem) for problem_key, problem in problems if problem is not None]
    if errors:
        # Without the document to sort by, the errors keep the order of the resources.
        raise combine_errors(None, errors)


def as_intrinsic(value: Any) -> Any:
    """Turn a short-form tag (`!GetAtt Queue.Arn`) into its long form (`{"Fn::GetAtt": [...]}`)."""
    if not isinstance(value, CloudFormationTag):
        return value
    if value.tag == "Ref":
        return {"Ref": value.value}
    if value.tag == "GetAtt" and isinstance(value.value, str):
        return {"Fn::GetAtt": value.value.split(".", 1)}
    return {f"Fn::{value.tag}": value.value}


def intrinsic_text(value: Any) -> Any:
    """Return a value as a message shows it: a CloudFormation function in its long form, such as "Ref Jobs"."""
    value = as_intrinsic(value)
    if isinstance(value, dict) and len(value) == 1:
        function, argument = next(iter(value.items()))
        if isinstance(argument, list):
            argument = "[" + ", ".join(str(part) for part in argument) + "]"
        return f"{function} {argument}"
    return value


def queue_name_from_arn(arn: str) -> str | None:
    match = _QUEUE_ARN_RE.match(arn)
    return match.group(1) if match else None


