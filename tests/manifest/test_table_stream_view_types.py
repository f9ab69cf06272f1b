"""A table's stream from a serverless.yml's StreamSpecification, and what a deploy makes of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from squall.errors import DeployError, ManifestError
from squall.events.resources import create_resources, prepare_resources
from squall.manifest import load_service
from squall.manifest.spec import FunctionSpec, Resources, ServiceSpec, TableResource, TableStreamTrigger
from squall.services.hub import ServiceHub
from squall.services.tables import StreamViewType
from tests.manifest.conftest import WriteService

MANIFEST = """
service: orders
provider:
  name: aws
  runtime: python3.12
functions:
  project:
    handler: handler.greet
    events:
      - stream:
          type: dynamodb
          arn: {{"Fn::GetAtt": [OrdersTable, StreamArn]}}
resources:
  Resources:
    OrdersTable:
      Type: AWS::DynamoDB::Table
      Properties:
        TableName: orders
        AttributeDefinitions: [{{AttributeName: id, AttributeType: S}}]
        KeySchema: [{{AttributeName: id, KeyType: HASH}}]
{stream}
"""


def _load(write_service: WriteService, stream: str, manifest: str = MANIFEST) -> ServiceSpec:
    write_service(manifest.format(stream=stream), name="serverless.yml", modules=("handler.py",))
    return load_service(Path("."))


@pytest.mark.parametrize("view_type", ["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"])
def test_stream_specification_sets_view_type(write_service: WriteService, view_type: str) -> None:
    spec = _load(write_service, f"        StreamSpecification: {{StreamViewType: {view_type}}}")

    assert spec.resources.tables == (TableResource("orders", ("id", "S"), stream_view_type=view_type),)
    assert spec.functions["project"].triggers[0].table == "orders"
    assert spec.warnings == ()


def test_stream_arn_without_stream_names_fix(write_service: WriteService) -> None:
    with pytest.raises(ManifestError) as raised:
        _load(write_service, "")

    error = raised.value
    assert error.key == "resources.Resources.OrdersTable.Properties.StreamSpecification"
    assert "Fn::GetAtt [OrdersTable, StreamArn]" in error.detail
    assert "StreamSpecification: {StreamViewType: NEW_AND_OLD_IMAGES}" in error.detail
    assert "not supported" not in error.detail


def test_table_without_stream_spec_has_none(write_service: WriteService) -> None:
    manifest = MANIFEST.replace("    events:\n      - stream:\n          type: dynamodb\n", "").replace(
        '          arn: {{"Fn::GetAtt": [OrdersTable, StreamArn]}}\n', ""
    )

    spec = _load(write_service, "", manifest)

    assert spec.resources.tables == (TableResource("orders", ("id", "S"), stream_view_type=None),)


@pytest.mark.parametrize(
    ("stream", "key", "fragment"),
    [
        ("        StreamSpecification: {StreamViewType: KEYS}", "StreamSpecification.StreamViewType", 'got "KEYS"'),
        ("        StreamSpecification: {}", "StreamSpecification", "missing StreamViewType"),
        ("        StreamSpecification: NEW_IMAGE", "StreamSpecification", "a mapping with StreamViewType"),
    ],
)
def test_invalid_stream_specification(write_service: WriteService, stream: str, key: str, fragment: str) -> None:
    with pytest.raises(ManifestError) as raised:
        _load(write_service, stream)

    assert raised.value.key == f"resources.Resources.OrdersTable.Properties.{key}"
    assert fragment in raised.value.detail


def test_stream_resource_policy_is_warned(write_service: WriteService) -> None:
    stream = "        StreamSpecification: {StreamViewType: KEYS_ONLY, ResourcePolicy: {PolicyDocument: {}}}"

    spec = _load(write_service, stream)

    assert spec.resources.tables[0].stream_view_type == "KEYS_ONLY"
    assert any("StreamSpecification.ResourcePolicy" in warning for warning in spec.warnings)


# ---------------------------------------------------------------- deploy


def _service(tmp_path: Path, table: TableResource, *triggers: TableStreamTrigger) -> ServiceSpec:
    function = FunctionSpec(name="project", handler="app.project", triggers=triggers)
    return ServiceSpec(
        service="s",
        root=tmp_path,
        manifest_path=tmp_path / "serverless.yml",
        functions={"project": function},
        resources=Resources(tables=(table,)),
    )


def _deploy(hub: ServiceHub, service: ServiceSpec) -> None:
    create_resources(prepare_resources(hub, service), service)


def test_deploy_creates_table_with_view_type(tmp_path: Path) -> None:
    hub = ServiceHub(tmp_path / "services")

    _deploy(hub, _service(tmp_path, TableResource("orders", ("id", "S"), stream_view_type="KEYS_ONLY")))
    _deploy(hub, _service(tmp_path, TableResource("quiet", ("id", "S"), stream_view_type=None)))

    assert hub.store("tables").describe_table("orders").stream_view_type is StreamViewType.KEYS_ONLY
    assert hub.store("tables").describe_table("quiet").stream_enabled is False


def test_deploy_changes_view_type_in_place(tmp_path: Path) -> None:
    hub = ServiceHub(tmp_path / "services")
    store = hub.store("tables")
    _deploy(hub, _service(tmp_path, TableResource("orders", ("id", "S"))))
    store.put("orders", {"id": "a", "secret": "x"})

    _deploy(hub, _service(tmp_path, TableResource("orders", ("id", "S"), stream_view_type="KEYS_ONLY")))
    store.put("orders", {"id": "a", "secret": "y"})
    before, after = store.changes("orders")

    assert store.describe_table("orders").stream_view_type is StreamViewType.KEYS_ONLY
    assert store.get("orders", {"id": "a"}) == {"id": "a", "secret": "y"}
    assert before.new_image == {"id": "a", "secret": "x"}
    assert after.new_image is None
    assert after.old_image is None


def test_deploy_turns_stream_off(tmp_path: Path) -> None:
    hub = ServiceHub(tmp_path / "services")
    store = hub.store("tables")
    _deploy(hub, _service(tmp_path, TableResource("orders", ("id", "S"))))
    store.put("orders", {"id": "a"})

    _deploy(hub, _service(tmp_path, TableResource("orders", ("id", "S"), stream_view_type=None)))

    assert store.describe_table("orders").stream_enabled is False
    assert store.get("orders", {"id": "a"}) == {"id": "a"}


def test_deploy_rejects_trigger_on_streamless_table(tmp_path: Path) -> None:
    hub = ServiceHub(tmp_path / "services")
    trigger = TableStreamTrigger(table="orders")

    with pytest.raises(DeployError) as raised:
        _deploy(hub, _service(tmp_path, TableResource("orders", ("id", "S"), stream_view_type=None), trigger))

    message = str(raised.value)
    assert "the event of table 'orders'" in message
    assert "has no stream" in message
    assert "StreamSpecification" in message
    assert hub.store("tables").list_tables() == []


def test_deploy_rejects_existing_streamless_table(tmp_path: Path) -> None:
    hub = ServiceHub(tmp_path / "services")
    hub.store("tables").create_table("legacy", ("id", "S"), stream=False)
    service = _service(tmp_path, TableResource("orders", ("id", "S")), TableStreamTrigger(table="legacy"))

    with pytest.raises(DeployError) as raised:
        _deploy(hub, service)

    assert "table 'legacy' has no stream" in str(raised.value)


SQUALL_YML = """
service: orders
resources:
  tables:
    orders: {{partition_key: id{extra}}}
functions:
  greet:
    handler: app.greet
"""


@pytest.mark.parametrize(("extra", "view_type"), [("", "NEW_AND_OLD_IMAGES"), (", stream_view_type: KEYS_ONLY", "KEYS_ONLY")])
def test_squall_yml_stream_view_type(write_service: WriteService, extra: str, view_type: str) -> None:
    spec = load_service(write_service(SQUALL_YML.format(extra=extra)))

    assert spec.resources.tables[0].stream_view_type == view_type


def test_squall_yml_invalid_stream_view_type(write_service: WriteService) -> None:
    with pytest.raises(ManifestError) as raised:
        load_service(write_service(SQUALL_YML.format(extra=", stream_view_type: KEYS")))

    message = str(raised.value)
    assert "resources.tables.orders.stream_view_type" in message
    assert '"KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE" or "NEW_AND_OLD_IMAGES"' in message


SAM_TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Orders:
    Type: AWS::DynamoDB::Table
    Properties:
      AttributeDefinitions: [{{AttributeName: id, AttributeType: S}}]
      KeySchema: [{{AttributeName: id, KeyType: HASH}}]
      BillingMode: PAY_PER_REQUEST
{stream}
  Users:
    Type: AWS::Serverless::SimpleTable
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.greet
      Runtime: python3.12
      Environment:
        Variables:
          STREAM: !GetAtt Orders.StreamArn
"""


def test_sam_stream_view_type(write_service: WriteService) -> None:
    stream = "      StreamSpecification: {StreamViewType: KEYS_ONLY}"
    spec = load_service(write_service(SAM_TEMPLATE.format(stream=stream), name="template.yaml"))

    view_types = {table.name.rsplit("-", 1)[-1]: table.stream_view_type for table in spec.resources.tables}
    # A SimpleTable has no stream, as on AWS.
    assert view_types == {"Orders": "KEYS_ONLY", "Users": None}


def test_sam_stream_arn_needs_stream_specification(write_service: WriteService) -> None:
    with pytest.raises(ManifestError) as raised:
        load_service(write_service(SAM_TEMPLATE.format(stream=""), name="template.yaml"))

    message = str(raised.value)
    assert "Orders has no stream" in message
    assert "StreamSpecification" in message
