"""`squall plan` reports the function destinations, resources and object triggers a deploy cannot serve."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from squall.cli import cli


def write(folder: Path, manifest: str, name: str = "squall.yml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "app.py").write_text("def handler(event, context):\n    return 'ok'\n")
    (folder / name).write_text(manifest)
    return folder


def unused_port() -> int:
    """Return a loopback port nothing listens on: one the kernel picked and this test released."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_plan_flags_missing_function_destination(serve: Any, tmp_path: Path) -> None:
    audit = write(tmp_path / "audit", "service: audit\nfunctions:\n  audit: {handler: app.handler}\n")
    server = serve(audit, "--no-watch")
    shop = write(
        tmp_path / "shop",
        "service: shop\n"
        "functions:\n"
        "  worker: {handler: app.handler, on_failure: {function: nosuchfn}, on_success: {function: audit}}\n"
        "  retry: {handler: app.handler, on_failure: {function: worker}}\n",
    )

    result = CliRunner().invoke(cli, ["plan", str(shop), "--endpoint", server.endpoint])

    assert result.exit_code == 0, result.output
    lines = [" ".join(line.split()) for line in result.output.splitlines()]
    missing = [line for line in lines if line.startswith("missing")]
    assert missing == [
        "missing function nosuchfn the deploy would fail: used by worker (on_failure): function 'nosuchfn' is neither a function of this "
        "service (retry, worker) nor deployed on the server, so the records sent to it would be lost; name one that "
        "is, or deploy the function's service first"
    ]


def test_plan_rejects_overlapping_object_triggers(tmp_path: Path) -> None:
    template = (
        "Transform: AWS::Serverless-2016-10-31\n"
        "Resources:\n"
        "  Uploads: {Type: AWS::S3::Bucket, Properties: {BucketName: uploads}}\n"
        "  Thumbs:\n"
        "    Type: AWS::Serverless::Function\n"
        "    Properties:\n"
        "      Handler: app.handler\n"
        "      Runtime: python3.12\n"
        "      Events: {All: {Type: S3, Properties: {Bucket: !Ref Uploads, Events: s3:ObjectCreated:*}}}\n"
        "  Scans:\n"
        "    Type: AWS::Serverless::Function\n"
        "    Properties:\n"
        "      Handler: app.handler\n"
        "      Runtime: python3.12\n"
        "      Events: {Put: {Type: S3, Properties: {Bucket: !Ref Uploads, Events: s3:ObjectCreated:Put}}}\n"
    )
    app = write(tmp_path / "shop", template, "template.yaml")

    # The deploy would fail on this, so plan reports it without a server.
    result = CliRunner().invoke(cli, ["plan", str(app), "--endpoint", f"http://127.0.0.1:{unused_port()}"])

    assert result.exit_code == 1
    assert "template.yaml: Resources.Scans.Properties.Events (bucket \"uploads\", events s3:ObjectCreated:Put): " in result.output
    assert "overlaps Resources.Thumbs.Properties.Events" in result.output


def test_plan_rejects_resource_the_deploy_rejects(tmp_path: Path) -> None:
    manifest = (
        "service: res\n"
        "functions: {rf: {handler: app.handler}}\n"
        "resources:\n"
        "  queues: {stdq: {}}\n"
        "  tables: {samekey: {partition_key: id, sort_key: id}}\n"
    )
    app = write(tmp_path / "res", manifest)

    result = CliRunner().invoke(cli, ["plan", str(app), "--endpoint", f"http://127.0.0.1:{unused_port()}"])

    assert result.exit_code == 1
    assert "squall.yml: resources.tables.samekey.sort_key: expected an attribute other than the partition key" in result.output
