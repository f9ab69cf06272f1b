"""Object triggers on one bucket whose filters overlap for a shared event type are rejected, as S3 rejects them.

The cases follow the S3 user guide's examples ("Configuring event
notifications using object key name filtering").
"""

from __future__ import annotations

from pathlib import Path

import pytest

from squall.errors import DeployError, ManifestError
from squall.events.resources import check_declared_resources
from squall.manifest import load_service
from squall.manifest.resource_checks import object_overlap_problem, object_trigger_problems, shared_event_type
from squall.manifest.spec import ObjectTrigger
from tests.manifest.conftest import WriteService

S3_RULE = 'S3 rejects two notifications of one bucket whose filters overlap for a shared event type ("Configurations overlap")'


@pytest.mark.parametrize(
    ("first", "second"),
    [
        # Prefixes no key starts with both of.
        (ObjectTrigger("b", ("created",), prefix="images/"), ObjectTrigger("b", ("created",), prefix="logs/")),
        # Suffixes no key ends with both of, though they share the last letter.
        (ObjectTrigger("b", ("created",), suffix=".jpg"), ObjectTrigger("b", ("created",), suffix=".png")),
        # One prefix, with suffixes that do not overlap.
        (
            ObjectTrigger("b", ("created",), prefix="images", suffix=".jpg"),
            ObjectTrigger("b", ("created",), prefix="images", suffix=".png"),
        ),
        # The same filter for different event types.
        (ObjectTrigger("b", ("created",), prefix="image/"), ObjectTrigger("b", ("removed",), prefix="image/")),
        (ObjectTrigger("b", ("s3:ObjectCreated:Put",)), ObjectTrigger("b", ("s3:ObjectCreated:Copy",))),
        # Other buckets.
        (ObjectTrigger("one"), ObjectTrigger("two")),
    ],
)
def test_overlap_accepted(first: ObjectTrigger, second: ObjectTrigger) -> None:
    assert object_overlap_problem("the first event", first, second) is None


@pytest.mark.parametrize(
    ("first", "second", "keys"),
    [
        # The root prefix overlaps every other prefix.
        (ObjectTrigger("b", ("s3:ObjectCreated:*",)), ObjectTrigger("b", ("s3:ObjectCreated:*",), prefix="images"), '"images"'),
        # A key can end with both "jpg" and "pg".
        (ObjectTrigger("b", ("s3:ObjectCreated:*",), suffix="jpg"), ObjectTrigger("b", ("s3:ObjectCreated:Put",), suffix="pg"), '"jpg"'),
        (
            ObjectTrigger("b", ("s3:ObjectCreated:*",), prefix="images", suffix="jpg"),
            ObjectTrigger("b", ("s3:ObjectCreated:Put",), suffix="jpg"),
            '"imagesjpg"',
        ),
        (ObjectTrigger("b", ("created",), prefix="img/"), ObjectTrigger("b", ("created",), suffix=".jpg"), '"img/.jpg"'),
    ],
)
def test_overlap_rejected(first: ObjectTrigger, second: ObjectTrigger, keys: str) -> None:
    problem = object_overlap_problem("the first event", first, second)

    assert problem is not None
    assert problem.startswith("overlaps the first event: both take ")
    assert f"events of keys such as {keys} in bucket" in problem
    assert S3_RULE in problem


@pytest.mark.parametrize(
    ("first", "second", "shared"),
    [
        (("created",), ("s3:ObjectCreated:Put",), "s3:ObjectCreated:Put"),
        (("s3:ObjectCreated:Copy",), ("s3:ObjectCreated:*",), "s3:ObjectCreated:Copy"),
        (("s3:ObjectRemoved:Delete",), ("removed",), "s3:ObjectRemoved:Delete"),
        # A trigger without event kinds takes every change.
        ((), ("removed",), "removed"),
        (("created",), ("removed",), None),
        (("s3:ObjectCreated:Put",), ("s3:ObjectRemoved:*",), None),
    ],
)
def test_shared_event_type(first: tuple[str, ...], second: tuple[str, ...], shared: str | None) -> None:
    assert shared_event_type(first, second) == shared


def load_error(write_service: WriteService, manifest: str, name: str) -> ManifestError:
    write_service(manifest, name=name)
    with pytest.raises(ManifestError) as raised:
        load_service(Path("."))
    return raised.value


def test_squall_yml_overlap_names_both_events(write_service: WriteService) -> None:
    manifest = (
        "service: shop\n"
        "resources: {buckets: {uploads: {}}}\n"
        "functions:\n"
        "  thumbs:\n    handler: app.greet\n    events:\n      - objects: {bucket: uploads, prefix: img/}\n"
        "  scans:\n    handler: app.greet\n    events:\n"
        "      - objects: {bucket: uploads, prefix: docs/}\n"
        "      - objects: {bucket: uploads, events: [created], suffix: .jpg}\n"
    )

    error = load_error(write_service, manifest, "squall.yml")

    assert error.key == "functions.scans.events[1].objects"
    assert error.detail.startswith(
        'overlaps functions.thumbs.events[0].objects: both take "created" events of keys such as "img/.jpg" in bucket "uploads"; '
    )


SERVERLESS = """\
service: shop
provider: {{name: aws, runtime: python3.12}}
functions:
  worker:
    handler: app.greet
    events:
      - s3: {{bucket: uploads, event: "s3:ObjectCreated:Put"}}
  other:
    handler: app.greet
    events:
      - s3: {{bucket: uploads, event: "{event}"}}
"""


def test_serverless_overlap_rejected(write_service: WriteService) -> None:
    error = load_error(write_service, SERVERLESS.format(event="s3:ObjectCreated:*"), "serverless.yml")

    assert error.key == "functions.other.events[0].s3"
    assert error.detail.startswith('overlaps functions.worker.events[0].s3: both take "s3:ObjectCreated:Put" events')


def test_serverless_other_event_types_accepted(write_service: WriteService) -> None:
    write_service(SERVERLESS.format(event="s3:ObjectCreated:Copy"), name="serverless.yml")

    service = load_service(Path("."))

    assert service.functions["other"].triggers == (ObjectTrigger("uploads", ("created",)),)


SAM = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Uploads: {{Type: AWS::S3::Bucket, Properties: {{BucketName: uploads}}}}
  Thumbs:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.greet
      Runtime: python3.12
      Events:
        All: {{Type: S3, Properties: {{Bucket: !Ref Uploads, Events: s3:ObjectCreated:*}}}}
{more}"""
SAM_IMAGES = (
    "        Images:\n"
    "          Type: S3\n"
    "          Properties:\n"
    "            Bucket: !Ref Uploads\n"
    "            Events: [s3:ObjectCreated:Put]\n"
    "            Filter: {S3Key: {Rules: [{Name: prefix, Value: img/}]}}\n"
)
SAM_SECOND_FUNCTION = (
    "  Scans:\n"
    "    Type: AWS::Serverless::Function\n"
    "    Properties:\n"
    "      Handler: app.greet\n"
    "      Runtime: python3.12\n"
    "      Events:\n"
    "        Docs: {Type: S3, Properties: {Bucket: !Ref Uploads, Events: s3:ObjectCreated:Copy}}\n"
)


def test_sam_overlap_in_function_rejected(write_service: WriteService) -> None:
    error = load_error(write_service, SAM.format(more=SAM_IMAGES), "template.yaml")

    assert error.key == "Resources.Thumbs.Properties.Events.Images"
    assert error.detail.startswith(
        'overlaps Resources.Thumbs.Properties.Events.All: both take "s3:ObjectCreated:Put" events of keys such as "img/"'
    )


def test_sam_overlap_across_functions_rejected(write_service: WriteService) -> None:
    write_service(SAM.format(more=SAM_SECOND_FUNCTION), name="template.yaml")
    service = load_service(Path("."))

    # The template reader compares the events of one function; `squall plan` and the deploy compare all of them.
    problems = object_trigger_problems(service)
    with pytest.raises(DeployError) as raised:
        check_declared_resources(service)

    assert problems == [
        'Resources.Scans.Properties.Events (bucket "uploads", events s3:ObjectCreated:Copy): overlaps '
        'Resources.Thumbs.Properties.Events (bucket "uploads", events s3:ObjectCreated:*): both take '
        f'"s3:ObjectCreated:Copy" events of every key in bucket "uploads"; {S3_RULE}, because each such change '
        "would invoke both; give the two events prefixes or suffixes that no key can match together, or different "
        "event types"
    ]
    assert str(raised.value) == f"template.yaml: {problems[0]}"
